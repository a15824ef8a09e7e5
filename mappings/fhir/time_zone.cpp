#include "mappings/fhir/time_zone.hpp"

#include <date/tz.h>

#include <chrono>
#include <stdexcept>

namespace carebridge::mappings::fhir {

std::optional<zone> zone::locate(std::string_view iana_name) {
  if (iana_name.empty()) return std::nullopt;
  try {
    zone z;
    z.tz_ = date::locate_zone(iana_name);
    return z;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string_view zone::name() const {
  return tz_ ? tz_->name() : std::string_view();
}

int zone::offset_at_local(int year, int month, int day, int hour, int minute, int second) const {
  using namespace std::chrono;
  // The system tz files list transitions up to 2037 and give later ones as a rule that this version
  // of the date library does not apply (HowardHinnant/date#760): later dates use 2037's rules,
  // which is what the zone's current rules say too. (29 February becomes 28.)
  if (year > 2037) {
    year = 2037;
    if (month == 2 && day == 29) day = 28;
  }
  const date::local_seconds local = date::local_days{date::year{year} / month / day} + hours{hour} +
                                    minutes{minute} + seconds{second};
  // A message holds a dozen times, mostly days apart: the last answer's span of local time usually
  // covers the next one, and get_info() (a search plus a std::string) is then skipped. The span is
  // narrowed by two days at each end so that no gap or overlap at a transition is ever inside it.
  struct span_cache {
    const date::time_zone* tz = nullptr;
    date::local_seconds from{}, to{};
    int offset = 0;
  };
  thread_local span_cache last;
  if (last.tz == tz_ && local >= last.from && local < last.to) return last.offset;
  const date::local_info info = tz_->get_info(local);
  if (info.result == date::local_info::unique) {
    const auto off = info.first.offset;
    last.tz = tz_;
    last.from = date::local_seconds{info.first.begin.time_since_epoch() + off} + days{2};
    last.to = date::local_seconds{info.first.end.time_since_epoch() + off} - days{2};
    last.offset = static_cast<int>(duration_cast<minutes>(off).count());
  }
  switch (info.result) {
    case date::local_info::unique:
    case date::local_info::nonexistent:
      return static_cast<int>(duration_cast<minutes>(info.first.offset).count());
    case date::local_info::ambiguous:
      return static_cast<int>(duration_cast<minutes>(info.first.offset).count());
  }
  return static_cast<int>(duration_cast<minutes>(info.first.offset).count());
}

hl7v2::hl7_datetime fhir_datetime_of(const hl7v2::hl7_datetime& dt, const zone& z,
                                     bool* degraded) {
  using p = hl7v2::hl7_datetime::precision;
  if (dt.prec < p::hour || dt.utc_offset_minutes) return dt;
  hl7v2::hl7_datetime d = dt;
  if (!z.known()) {
    if (degraded) *degraded = true;
    d.prec = p::day;
    return d;
  }
  d.utc_offset_minutes = z.offset_at_local(dt.year, dt.month, dt.day, dt.hour, dt.minute,
                                           dt.second > 59 ? 59 : dt.second);
  return d;
}

std::optional<hl7v2::hl7_datetime> fhir_datetime_of(std::string_view dtm, const zone& z,
                                                    bool* degraded, bool* invalid) {
  if (dtm.empty()) return std::nullopt;
  auto dt = hl7v2::parse_datetime(dtm);
  if (!dt) {
    if (invalid) *invalid = true;
    return std::nullopt;
  }
  return fhir_datetime_of(*dt, z, degraded);
}

std::optional<hl7v2::hl7_datetime> fhir_date_of(std::string_view dtm, bool* invalid) {
  if (dtm.empty()) return std::nullopt;
  auto dt = hl7v2::parse_datetime(dtm);
  if (!dt) {
    if (invalid) *invalid = true;
    return std::nullopt;
  }
  hl7v2::hl7_datetime d = *dt;
  using p = hl7v2::hl7_datetime::precision;
  if (d.prec > p::day) d.prec = p::day;
  d.utc_offset_minutes.reset();
  return d;
}

std::string to_fhir_datetime(const hl7v2::hl7_datetime& dt, const zone& z, bool* degraded) {
  return fhir_datetime_of(dt, z, degraded).to_iso8601(true);
}

std::string to_fhir_datetime(std::string_view dtm, const zone& z, bool* degraded, bool* invalid) {
  const auto d = fhir_datetime_of(dtm, z, degraded, invalid);
  return d ? d->to_iso8601(true) : std::string();
}

std::string to_fhir_date(std::string_view dtm, bool* invalid) {
  const auto d = fhir_date_of(dtm, invalid);
  return d ? d->to_iso8601(true) : std::string();
}

}  // namespace carebridge::mappings::fhir
