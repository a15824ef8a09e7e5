// The FHIR date/dateTime/instant reader (mappings/fhir/datetime_text.hpp) that the FHIR ingest's
// checks and the risk core's length of stay share.
#include "mappings/fhir/datetime_text.hpp"

#include <gtest/gtest.h>

namespace {

namespace f = carebridge::mappings::fhir;

TEST(DatetimeText, ReadsEveryPrecision) {
  const auto y = f::read_datetime_text("2026");
  ASSERT_TRUE(y);
  EXPECT_EQ(y->year, 2026);
  EXPECT_EQ(y->month, 0);
  const auto d = f::read_datetime_text("2024-02-29");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->day, 29);
  EXPECT_FALSE(d->has_time);
  const auto t = f::read_datetime_text("2026-11-19T11:15:00.123-06:00");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->has_time);
  EXPECT_TRUE(t->has_zone);
  EXPECT_EQ(t->fraction_digits, 3u);
  const auto no_zone = f::read_datetime_text("2026-11-19T11:15:00");
  ASSERT_TRUE(no_zone);
  EXPECT_TRUE(no_zone->has_time);
  EXPECT_FALSE(no_zone->has_zone);
  EXPECT_TRUE(f::read_datetime_text("2026-11-19T23:59:60Z"));
  EXPECT_TRUE(f::read_datetime_text("2026-11-19T00:00:00+14:00"));
}

TEST(DatetimeText, RefusesWhatIsNotOfTheForm) {
  for (const char* bad : {"", "202", "2026-", "2026-13", "2026-00-10", "2023-02-29", "2026-04-31",
                          "2026-11-19T", "2026-11-19T11:15", "2026-11-19T24:00:00Z",
                          "2026-11-19T11:60:00Z", "2026-11-19T11:15:61Z", "2026-11-19T11:15:00.",
                          "2026-11-19T11:15:00+14:30", "2026-11-19T11:15:00+05", "2026-11-19T11:15:00ZZ",
                          "2026-11-19 11:15:00", "20261119"})
    EXPECT_FALSE(f::read_datetime_text(bad)) << bad;
}

}  // namespace
