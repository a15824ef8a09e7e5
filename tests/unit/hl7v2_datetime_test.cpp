// Unit tests of HL7 v2 DTM/TS parsing (mappings/hl7v2/datetime.hpp):
//   YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]

#include "mappings/hl7v2/datetime.hpp"
#include "mappings/hl7v2/message.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace {

namespace h = carebridge::mappings::hl7v2;
using prec = h::hl7_datetime::precision;

h::hl7_datetime must_parse_dt(std::string_view text) {
  auto r = h::parse_datetime(text);
  if (!r) throw std::runtime_error("parse_datetime failed for '" + std::string(text) + "'");
  return *r;
}

TEST(Hl7v2Datetime, YearPrecision) {
  const auto d = must_parse_dt("2026");
  EXPECT_EQ(d.year, 2026);
  EXPECT_EQ(d.month, 1);
  EXPECT_EQ(d.day, 1);
  EXPECT_EQ(d.prec, prec::year);
  EXPECT_FALSE(d.utc_offset_minutes.has_value());
  EXPECT_EQ(d.to_iso8601(), "2026");
  EXPECT_EQ(d.to_iso8601(true), "2026");
}

TEST(Hl7v2Datetime, MonthPrecision) {
  const auto d = must_parse_dt("202611");
  EXPECT_EQ(d.year, 2026);
  EXPECT_EQ(d.month, 11);
  EXPECT_EQ(d.prec, prec::month);
  EXPECT_FALSE(d.utc_offset_minutes.has_value());
  EXPECT_EQ(d.to_iso8601(), "2026-11");
  EXPECT_EQ(d.to_iso8601(true), "2026-11");
}

TEST(Hl7v2Datetime, DayPrecision) {
  const auto d = must_parse_dt("20261122");
  EXPECT_EQ(d.year, 2026);
  EXPECT_EQ(d.month, 11);
  EXPECT_EQ(d.day, 22);
  EXPECT_EQ(d.prec, prec::day);
  EXPECT_EQ(d.to_iso8601(), "2026-11-22");
  EXPECT_EQ(d.to_iso8601(true), "2026-11-22");
}

TEST(Hl7v2Datetime, HourPrecision) {
  const auto d = must_parse_dt("2026112214");
  EXPECT_EQ(d.day, 22);
  EXPECT_EQ(d.hour, 14);
  EXPECT_EQ(d.minute, 0);
  EXPECT_EQ(d.prec, prec::hour);
  EXPECT_FALSE(d.utc_offset_minutes.has_value());
  EXPECT_EQ(d.to_iso8601(true), "2026-11-22T14:00:00");
  EXPECT_TRUE(d.to_iso8601().starts_with("2026-11-22T14"));
}

TEST(Hl7v2Datetime, MinutePrecision) {
  const auto d = must_parse_dt("202611221430");
  EXPECT_EQ(d.hour, 14);
  EXPECT_EQ(d.minute, 30);
  EXPECT_EQ(d.second, 0);
  EXPECT_EQ(d.prec, prec::minute);
  EXPECT_EQ(d.to_iso8601(), "2026-11-22T14:30");
  EXPECT_EQ(d.to_iso8601(true), "2026-11-22T14:30:00");
}

TEST(Hl7v2Datetime, SecondPrecision) {
  const auto d = must_parse_dt("20261122143005");
  EXPECT_EQ(d.hour, 14);
  EXPECT_EQ(d.minute, 30);
  EXPECT_EQ(d.second, 5);
  EXPECT_EQ(d.prec, prec::second);
  EXPECT_EQ(d.fraction_digits, 0);
  EXPECT_EQ(d.to_iso8601(), "2026-11-22T14:30:05");
  EXPECT_EQ(d.to_iso8601(true), "2026-11-22T14:30:05");
}

TEST(Hl7v2Datetime, FractionPrecisionKeepsTheDigitsSent) {
  {
    const auto d = must_parse_dt("20261122143005.1234");
    EXPECT_EQ(d.prec, prec::fraction);
    EXPECT_EQ(d.second, 5);
    EXPECT_EQ(d.fraction, 1234u);
    EXPECT_EQ(d.fraction_digits, 4);
    EXPECT_EQ(d.to_iso8601(), "2026-11-22T14:30:05.1234");
  }
  {
    const auto d = must_parse_dt("20261122143005.1");
    EXPECT_EQ(d.fraction, 1u);
    EXPECT_EQ(d.fraction_digits, 1);
    EXPECT_EQ(d.to_iso8601(), "2026-11-22T14:30:05.1");
  }
  {
    const auto d = must_parse_dt("20261120143005.25");
    EXPECT_EQ(d.fraction, 25u);
    EXPECT_EQ(d.fraction_digits, 2);
    EXPECT_EQ(d.to_iso8601(), "2026-11-20T14:30:05.25");
  }
  {
    // Leading zeros are digits too.
    const auto d = must_parse_dt("20261122143005.05");
    EXPECT_EQ(d.fraction, 5u);
    EXPECT_EQ(d.fraction_digits, 2);
    EXPECT_EQ(d.to_iso8601(), "2026-11-22T14:30:05.05");
  }
  {
    const auto d = must_parse_dt("20261122143005.007");
    EXPECT_EQ(d.fraction, 7u);
    EXPECT_EQ(d.fraction_digits, 3);
    EXPECT_EQ(d.to_iso8601(true), "2026-11-22T14:30:05.007");
  }
}

TEST(Hl7v2Datetime, PositiveOffset) {
  const auto d = must_parse_dt("20261122143005+0100");
  ASSERT_TRUE(d.utc_offset_minutes.has_value());
  EXPECT_EQ(*d.utc_offset_minutes, 60);
  EXPECT_EQ(d.prec, prec::second);
  EXPECT_EQ(d.hour, 14);  // kept as sent, not converted to UTC
  EXPECT_EQ(d.to_iso8601(), "2026-11-22T14:30:05+01:00");
}

TEST(Hl7v2Datetime, NegativeOffset) {
  const auto d = must_parse_dt("20261122143005-0500");
  ASSERT_TRUE(d.utc_offset_minutes.has_value());
  EXPECT_EQ(*d.utc_offset_minutes, -300);
  EXPECT_EQ(d.to_iso8601(), "2026-11-22T14:30:05-05:00");
}

TEST(Hl7v2Datetime, OffsetWithMinutes) {
  EXPECT_EQ(*must_parse_dt("20261122143005+0530").utc_offset_minutes, 330);
  EXPECT_EQ(*must_parse_dt("20261122143005-0330").utc_offset_minutes, -210);
  EXPECT_EQ(must_parse_dt("20261122143005+0545").to_iso8601(), "2026-11-22T14:30:05+05:45");
}

TEST(Hl7v2Datetime, ZeroOffsetIsKeptAndNeverWrittenAsZ) {
  const auto d = must_parse_dt("20261122143005+0000");
  ASSERT_TRUE(d.utc_offset_minutes.has_value());
  EXPECT_EQ(*d.utc_offset_minutes, 0);
  EXPECT_EQ(d.to_iso8601(), "2026-11-22T14:30:05+00:00");
}

TEST(Hl7v2Datetime, OffsetOnEveryPrecision) {
  EXPECT_EQ(*must_parse_dt("2026-0500").utc_offset_minutes, -300);
  EXPECT_EQ(must_parse_dt("2026-0500").prec, prec::year);
  EXPECT_EQ(*must_parse_dt("20261122+0100").utc_offset_minutes, 60);
  EXPECT_EQ(must_parse_dt("20261122+0100").prec, prec::day);
  EXPECT_EQ(*must_parse_dt("2026112214+0100").utc_offset_minutes, 60);
  EXPECT_EQ(must_parse_dt("2026112214+0100").to_iso8601(true), "2026-11-22T14:00:00+01:00");
  EXPECT_EQ(must_parse_dt("202611221430-0500").to_iso8601(), "2026-11-22T14:30-05:00");
  EXPECT_EQ(must_parse_dt("202611221430-0500").to_iso8601(true), "2026-11-22T14:30:00-05:00");
  const auto f = must_parse_dt("20261122143005.1234-0500");
  EXPECT_EQ(f.prec, prec::fraction);
  EXPECT_EQ(f.fraction, 1234u);
  EXPECT_EQ(*f.utc_offset_minutes, -300);
  EXPECT_EQ(f.to_iso8601(), "2026-11-22T14:30:05.1234-05:00");
}

TEST(Hl7v2Datetime, SurroundingSpacesAreIgnored) {
  const auto d = must_parse_dt("  20261122143005-0500 ");
  EXPECT_EQ(d.second, 5);
  EXPECT_EQ(*d.utc_offset_minutes, -300);
}

TEST(Hl7v2Datetime, CalendarEdges) {
  EXPECT_EQ(must_parse_dt("20240229").day, 29);  // leap year
  EXPECT_EQ(must_parse_dt("20000229").day, 29);  // divisible by 400
  EXPECT_EQ(must_parse_dt("20261231").day, 31);
  EXPECT_EQ(must_parse_dt("20260430").day, 30);
  EXPECT_EQ(must_parse_dt("20260101000000").hour, 0);
  const auto end = must_parse_dt("20261231235959.9999");
  EXPECT_EQ(end.hour, 23);
  EXPECT_EQ(end.minute, 59);
  EXPECT_EQ(end.second, 59);
  EXPECT_EQ(end.fraction, 9999u);
  EXPECT_EQ(must_parse_dt("20161231235960").second, 60);  // leap second
}

TEST(Hl7v2Datetime, ValuesFromAMessage) {
  std::string pv1 = "PV1";
  for (int f = 1; f <= 45; ++f) {
    pv1 += '|';
    if (f == 19) pv1 += "V1";
    if (f == 44) pv1 += "20261115080000-0500^S";
  }
  const std::string in =
      "MSH|^~\\&|A|B|C|D|20261120143005.123-0500||ADT^A01|X1|P|2.5.1\r" + pv1 + "\r";
  auto r = h::parse(in);
  ASSERT_TRUE(r.has_value());
  const auto ts = must_parse_dt(r->get("MSH.7").value());
  EXPECT_EQ(ts.to_iso8601(), "2026-11-20T14:30:05.123-05:00");
  const auto admit = must_parse_dt(r->get("PV1.44.1").value());
  EXPECT_EQ(admit.to_iso8601(), "2026-11-15T08:00:00-05:00");
}

class Hl7v2BadDatetime : public ::testing::TestWithParam<std::string_view> {};

TEST_P(Hl7v2BadDatetime, IsBadDatetime) {
  const auto r = h::parse_datetime(GetParam());
  ASSERT_FALSE(r.has_value()) << "'" << GetParam() << "' was accepted";
  EXPECT_EQ(r.error(), h::error::bad_datetime);
}

INSTANTIATE_TEST_SUITE_P(
    Values, Hl7v2BadDatetime,
    ::testing::Values(
        // empty / blank
        std::string_view(""), std::string_view("   "),
        // out of range
        std::string_view("202613"), std::string_view("202600"), std::string_view("20261100"),
        std::string_view("20261132"), std::string_view("20260230"), std::string_view("20250229"),
        std::string_view("19000229"), std::string_view("20260431"), std::string_view("20260631"),
        std::string_view("2026112224"), std::string_view("202611221460"),
        std::string_view("20261122143061"),
        // letters and other forms
        std::string_view("2026AB"), std::string_view("abcd"), std::string_view("20261122T1430"),
        std::string_view("2026-11-22"), std::string_view("2026 1122"), std::string_view("x2026"),
        std::string_view("2026x"),
        // digit counts that are not a precision
        std::string_view("202"), std::string_view("20261"), std::string_view("2026112"),
        std::string_view("202611221"), std::string_view("20261122143"),
        std::string_view("2026112214300"),
        // fractions
        std::string_view("20261122143005."), std::string_view("20261122143005.12345"),
        std::string_view("202611221430.5"), std::string_view("20261122.5"),
        std::string_view("20261122143005.1a"),
        // offsets
        std::string_view("20261122143005+050"), std::string_view("20261122143005-05"),
        std::string_view("20261122143005+05000"), std::string_view("20261122143005+"),
        std::string_view("20261122143005-05:00"), std::string_view("20261122143005+05a0"),
        std::string_view("20261122143005+0560"), std::string_view("20261122143005Z"),
        std::string_view("+0500"), std::string_view("20261122143005+0100+0100")));

TEST(Hl7v2Datetime, ErrorIsInTheCodecCategory) {
  const auto r = h::parse_datetime("20261301");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(&r.error().category(), &h::error_category());
  EXPECT_EQ(r.error().value(), static_cast<int>(h::error::bad_datetime));
}

}  // namespace
