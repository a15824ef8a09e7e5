// Reading FHIR R4 date, dateTime and instant text: YYYY[-MM[-DD[Thh:mm:ss[.f+][Z|±hh:mm]]]], with
// real calendar days and clock times. One reader for every place that checks or uses such text
// (the FHIR ingest's checks, the risk core's length of stay); each applies its own policy on top
// (whether a time needs a zone, how many fraction digits it takes).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace carebridge::mappings::fhir {

struct datetime_text {
  int year = 0;
  int month = 0;  // 0 when the text stops at the year
  int day = 0;    // 0 when it stops before the day
  bool has_time = false;
  bool has_zone = false;            // Z or ±hh:mm after the time
  std::size_t fraction_digits = 0;  // digits after the seconds' point
};

/// The parts of `s`, or nullopt when it is not of the form above: month 01–12, a day that exists
/// in that month, hours 00–23, minutes 00–59, seconds 00–60, at least one fraction digit after a
/// point, offsets up to ±14:00. A time without a zone is read (has_zone false): FHIR requires one,
/// and the caller decides.
std::optional<datetime_text> read_datetime_text(std::string_view s) noexcept;

}  // namespace carebridge::mappings::fhir
