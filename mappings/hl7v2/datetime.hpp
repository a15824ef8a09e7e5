// HL7 v2 date/time values (DTM, and the first component of TS/DR):
//   YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]
// The precision and the UTC offset are kept as sent; a value without an offset has none, and the
// caller decides (the mapping layer applies the sending facility's time zone).
#pragma once

#include "mappings/hl7v2/error.hpp"

#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace carebridge::mappings::hl7v2 {

struct hl7_datetime {
  enum class precision : std::uint8_t { year, month, day, hour, minute, second, fraction };

  int year = 0;
  int month = 1;   // 1–12
  int day = 1;     // 1–31
  int hour = 0;    // 0–23
  int minute = 0;  // 0–59
  int second = 0;  // 0–59 (60 accepted for a leap second)
  std::uint32_t fraction = 0;      // the digits after the point, as an integer
  std::uint8_t fraction_digits = 0;  // 1–4
  precision prec = precision::year;
  std::optional<int> utc_offset_minutes;  // e.g. -300 for -0500

  /// ISO 8601 / FHIR text at the precision sent: "2026", "2026-11", "2026-11-20",
  /// "2026-11-20T14:30", "2026-11-20T14:30:05", "2026-11-20T14:30:05.25", followed by the offset
  /// when there is one ("-05:00", "Z" is never used for +0000 so that the sender's form is kept).
  /// Hour and minute precision are written with ":00" seconds when `fhir` is true, since FHIR
  /// dateTime has no minute precision.
  std::string to_iso8601(bool fhir = false) const;
  /// The same into `out`, which has room for iso8601_max bytes; returns the length written.
  std::size_t write_iso8601(char* out, bool fhir = false) const;
  static constexpr std::size_t iso8601_max = 40;
};

/// Parses a DTM. Spaces around the value are ignored; anything else that is not of the form above
/// (including out-of-range parts such as month 13 or 31 April) is error::bad_datetime.
boost::system::result<hl7_datetime> parse_datetime(std::string_view text);

}  // namespace carebridge::mappings::hl7v2
