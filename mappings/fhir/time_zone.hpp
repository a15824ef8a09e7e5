// HL7 v2 date/times as FHIR dateTime text, with the sending facility's time zone.
//
// A v2 value with a UTC offset keeps it. A value with a time but no offset gets the offset of the
// sending facility's configured IANA zone at that local time (DST-aware: the tz database of the
// operating system, read once through Howard Hinnant's date/tz library), never the host's zone.
// With no zone configured, a time without an offset degrades to its date: FHIR dateTime requires a
// zone with a time, and inventing one would shift the event by hours.
#pragma once

#include "mappings/hl7v2/datetime.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;
}

namespace carebridge::mappings::fhir {

/// A resolved IANA time zone, or none. Cheap to copy.
class zone {
 public:
  zone() = default;
  /// Looks the name up in the system tz database; nullopt when it is not a known zone.
  static std::optional<zone> locate(std::string_view iana_name);
  bool known() const { return tz_ != nullptr; }
  std::string_view name() const;
  /// The UTC offset (minutes) in this zone at a local time. For a local time that occurs twice
  /// (DST ends) the earlier (daylight) offset; for one that does not exist (DST starts) the offset
  /// in force before the gap.
  int offset_at_local(int year, int month, int day, int hour, int minute, int second) const;

 private:
  const date::time_zone* tz_ = nullptr;
};

/// FHIR dateTime text for a v2 DTM: "2026-11-20T14:30:00-06:00", "2026-11-20", "2026-11", "2026".
/// `degraded` (optional) is set when a time was dropped for want of a zone.
std::string to_fhir_datetime(const hl7v2::hl7_datetime& dt, const zone& z,
                             bool* degraded = nullptr);

/// The same from text; empty when the text is not a valid DTM (`invalid` set when it was not
/// empty).
std::string to_fhir_datetime(std::string_view dtm, const zone& z, bool* degraded = nullptr,
                             bool* invalid = nullptr);

/// FHIR date (YYYY, YYYY-MM or YYYY-MM-DD) of a DTM, for birthDate and the like.
std::string to_fhir_date(std::string_view dtm, bool* invalid = nullptr);

/// The values the functions above write, before they are written (hl7_datetime::write_iso8601 with
/// `fhir` true gives the same text), for callers that write into their own buffers. nullopt for
/// empty or invalid text.
hl7v2::hl7_datetime fhir_datetime_of(const hl7v2::hl7_datetime& dt, const zone& z,
                                     bool* degraded = nullptr);
std::optional<hl7v2::hl7_datetime> fhir_datetime_of(std::string_view dtm, const zone& z,
                                                    bool* degraded = nullptr,
                                                    bool* invalid = nullptr);
std::optional<hl7v2::hl7_datetime> fhir_date_of(std::string_view dtm, bool* invalid = nullptr);

}  // namespace carebridge::mappings::fhir
