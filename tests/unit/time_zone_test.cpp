// HL7 v2 date/times as FHIR dateTime with the sending facility's IANA zone (mappings/fhir/time_zone).
// US rules 2026: DST starts Sunday 8 March at 02:00 local, ends Sunday 1 November at 02:00 local.
#include "mappings/fhir/time_zone.hpp"

#include <gtest/gtest.h>

#include <date/tz.h>

#include <chrono>
#include <regex>
#include <string>

namespace {

namespace fhir = carebridge::mappings::fhir;

fhir::zone zone_of(const char* name) {
  auto z = fhir::zone::locate(name);
  if (!z) throw std::runtime_error(std::string("tz database lacks ") + name);
  return *z;
}

struct result {
  std::string text;
  bool degraded = false;
  bool invalid = false;
};

result convert(std::string_view dtm, const fhir::zone& z) {
  result r;
  r.text = fhir::to_fhir_datetime(dtm, z, &r.degraded, &r.invalid);
  return r;
}

// FHIR R4 dateTime (the regex of the spec, datatypes.html#dateTime).
bool is_fhir_datetime(const std::string& s) {
  static const std::regex re(
      R"(([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?)");
  return std::regex_match(s, re);
}

TEST(TimeZone, LocateKnownUnknownAndEmpty) {
  auto chicago = fhir::zone::locate("America/Chicago");
  ASSERT_TRUE(chicago.has_value());
  EXPECT_TRUE(chicago->known());
  EXPECT_EQ(chicago->name(), "America/Chicago");
  EXPECT_FALSE(fhir::zone::locate("Mars/Olympus_Mons").has_value());
  EXPECT_FALSE(fhir::zone::locate("").has_value());
  EXPECT_FALSE(fhir::zone{}.known());
  EXPECT_EQ(fhir::zone{}.name(), "");
}

TEST(TimeZone, SentOffsetIsKeptWhateverTheZone) {
  const auto chicago = zone_of("America/Chicago");
  // -0500 in November, where Chicago is at -06:00: the sender's offset wins.
  EXPECT_EQ(convert("20261120143000-0500", chicago).text, "2026-11-20T14:30:00-05:00");
  EXPECT_EQ(convert("20261120143000+0000", chicago).text, "2026-11-20T14:30:00+00:00");
  EXPECT_EQ(convert("20261120143000+0530", chicago).text, "2026-11-20T14:30:00+05:30");
  // With no zone at all an offset still gives the full time, without a degradation.
  const auto r = convert("20261120143000-0800", fhir::zone{});
  EXPECT_EQ(r.text, "2026-11-20T14:30:00-08:00");
  EXPECT_FALSE(r.degraded);
}

TEST(TimeZone, NoOffsetGetsTheZoneOffsetOfThatLocalDate) {
  const auto chicago = zone_of("America/Chicago");
  EXPECT_EQ(convert("20260715143000", chicago).text, "2026-07-15T14:30:00-05:00");  // CDT
  EXPECT_EQ(convert("20261120143000", chicago).text, "2026-11-20T14:30:00-06:00");  // CST
  EXPECT_EQ(convert("20260101000000", chicago).text, "2026-01-01T00:00:00-06:00");
  const auto ny = zone_of("America/New_York");
  EXPECT_EQ(convert("20261029162500", ny).text, "2026-10-29T16:25:00-04:00");
  EXPECT_EQ(convert("20261104114000", ny).text, "2026-11-04T11:40:00-05:00");
}

TEST(TimeZone, DstTransitionsAroundTheSpringGap) {
  const auto chicago = zone_of("America/Chicago");
  EXPECT_EQ(chicago.offset_at_local(2026, 3, 8, 1, 59, 59), -360);
  EXPECT_EQ(chicago.offset_at_local(2026, 3, 8, 3, 0, 0), -300);
  // 02:30 does not exist on 8 March 2026: the offset in force before the gap (CST).
  EXPECT_EQ(chicago.offset_at_local(2026, 3, 8, 2, 30, 0), -360);
  const auto r = convert("20260308023000", chicago);
  EXPECT_EQ(r.text, "2026-03-08T02:30:00-06:00");
  EXPECT_FALSE(r.degraded);
  EXPECT_TRUE(is_fhir_datetime(r.text));
}

TEST(TimeZone, AmbiguousFallBackHourTakesTheEarlierDaylightOffset) {
  const auto chicago = zone_of("America/Chicago");
  EXPECT_EQ(chicago.offset_at_local(2026, 11, 1, 0, 59, 59), -300);
  // 01:30 happens twice on 1 November 2026: the first (CDT, -05:00).
  EXPECT_EQ(chicago.offset_at_local(2026, 11, 1, 1, 30, 0), -300);
  EXPECT_EQ(chicago.offset_at_local(2026, 11, 1, 2, 0, 0), -360);
  EXPECT_EQ(convert("20261101013000", chicago).text, "2026-11-01T01:30:00-05:00");
  EXPECT_EQ(convert("20261101023000", chicago).text, "2026-11-01T02:30:00-06:00");
  const auto ny = zone_of("America/New_York");
  EXPECT_EQ(convert("20261101013000", ny).text, "2026-11-01T01:30:00-04:00");
}

// offset_at_local() remembers the last answer's span of local time per thread. Walking local time
// forwards and backwards through whole years, and jumping between zones, must give exactly what the
// tz database says for each instant asked about on its own (first offset for gaps and overlaps).
TEST(TimeZone, RememberedSpansNeverChangeAnAnswer) {
  using namespace std::chrono;
  struct walk {
    const char* zone;
    int year;
  };
  // Chicago (US rules), Sydney (southern hemisphere), Lord Howe (a 30-minute shift), Apia in 2011
  // (skipped 30 December entirely), Kolkata (no transitions).
  const walk walks[] = {{"America/Chicago", 2026}, {"Australia/Sydney", 2026},
                        {"Australia/Lord_Howe", 2026}, {"Pacific/Apia", 2011},
                        {"Asia/Kolkata", 2026}};
  auto reference = [](const date::time_zone* tz, date::local_seconds t) {
    const date::local_info info = tz->get_info(t);
    return static_cast<int>(duration_cast<minutes>(info.first.offset).count());
  };
  auto ask = [](const fhir::zone& z, date::local_seconds t) {
    const auto day = date::floor<date::days>(t);
    const date::year_month_day ymd{day};
    const date::hh_mm_ss<seconds> hms{t - day};
    return z.offset_at_local(static_cast<int>(ymd.year()), static_cast<int>(unsigned(ymd.month())),
                             static_cast<int>(unsigned(ymd.day())),
                             static_cast<int>(hms.hours().count()),
                             static_cast<int>(hms.minutes().count()),
                             static_cast<int>(hms.seconds().count()));
  };
  int checked = 0;
  for (const walk& w : walks) {
    const fhir::zone z = zone_of(w.zone);
    const fhir::zone other = zone_of("Europe/London");
    const date::time_zone* tz = date::locate_zone(w.zone);
    const date::local_seconds begin{date::local_days{date::year{w.year} / 1 / 1}};
    const date::local_seconds end{date::local_days{date::year{w.year + 1} / 1 / 1}};
    for (date::local_seconds t = begin; t < end; t += minutes{17}) {
      ASSERT_EQ(ask(z, t), reference(tz, t)) << w.zone << " forwards " << date::format("%F %T", t);
      ++checked;
    }
    for (date::local_seconds t = end - minutes{1}; t >= begin; t -= minutes{23}) {
      ASSERT_EQ(ask(z, t), reference(tz, t)) << w.zone << " backwards " << date::format("%F %T", t);
      if ((t.time_since_epoch().count() / 60) % 7 == 0) (void)ask(other, t);  // evicts the span
    }
  }
  EXPECT_GT(checked, 100000);
}

TEST(TimeZone, PhoenixHasNoDaylightSavingTime) {
  const auto phoenix = zone_of("America/Phoenix");
  EXPECT_EQ(convert("20260715143000", phoenix).text, "2026-07-15T14:30:00-07:00");
  EXPECT_EQ(convert("20261025194210", phoenix).text, "2026-10-25T19:42:10-07:00");
  EXPECT_EQ(convert("20260308023000", phoenix).text, "2026-03-08T02:30:00-07:00");
  EXPECT_EQ(convert("20261101013000", phoenix).text, "2026-11-01T01:30:00-07:00");
}

TEST(TimeZone, SouthernHemisphereAndHalfHourZones) {
  // Sydney: DST in January (+11:00), none in July (+10:00); Kolkata +05:30 all year.
  const auto sydney = zone_of("Australia/Sydney");
  EXPECT_EQ(convert("20260115120000", sydney).text, "2026-01-15T12:00:00+11:00");
  EXPECT_EQ(convert("20260715120000", sydney).text, "2026-07-15T12:00:00+10:00");
  EXPECT_EQ(convert("20260715120000", zone_of("Asia/Kolkata")).text, "2026-07-15T12:00:00+05:30");
}

TEST(TimeZone, HistoricLocalTimes) {
  const auto chicago = zone_of("America/Chicago");
  // 1965: Chicago kept DST; 1974: year-round DST (Emergency Daylight Saving Time), January at -05:00.
  EXPECT_EQ(convert("19650715120000", chicago).text, "1965-07-15T12:00:00-05:00");
  EXPECT_EQ(convert("19740115120000", chicago).text, "1974-01-15T12:00:00-05:00");
  EXPECT_EQ(convert("20370715120000", chicago).text, "2037-07-15T12:00:00-05:00");
}

TEST(TimeZone, RulesStillApplyAfter2037) {
  // The tz files list transitions up to 2037 and the rule after that in a POSIX TZ footer: a
  // planned date (PV2-9, IN1-13 with a time) in 2040 is still in daylight saving time in July.
  const auto chicago = zone_of("America/Chicago");
  EXPECT_EQ(convert("20400715120000", chicago).text, "2040-07-15T12:00:00-05:00");
  EXPECT_EQ(convert("20401215120000", chicago).text, "2040-12-15T12:00:00-06:00");
}

TEST(TimeZone, NoZoneDegradesToTheDateAndSaysSo) {
  const fhir::zone none;
  auto r = convert("20261120143000", none);
  EXPECT_EQ(r.text, "2026-11-20");
  EXPECT_TRUE(r.degraded);
  EXPECT_FALSE(r.invalid);
  r = convert("202611201430", none);
  EXPECT_EQ(r.text, "2026-11-20");
  EXPECT_TRUE(r.degraded);
  // Nothing to degrade: a date is a date.
  r = convert("20261120", none);
  EXPECT_EQ(r.text, "2026-11-20");
  EXPECT_FALSE(r.degraded);
  r = convert("202611", none);
  EXPECT_EQ(r.text, "2026-11");
  EXPECT_FALSE(r.degraded);
  // A date with a zone gets no offset (FHIR has no date with an offset).
  r = convert("20261120", zone_of("America/Chicago"));
  EXPECT_EQ(r.text, "2026-11-20");
  EXPECT_FALSE(r.degraded);
}

TEST(TimeZone, MinuteAndHourPrecisionGetZeroSeconds) {
  const auto chicago = zone_of("America/Chicago");
  EXPECT_EQ(convert("202611191115", chicago).text, "2026-11-19T11:15:00-06:00");
  EXPECT_EQ(convert("2026111911", chicago).text, "2026-11-19T11:00:00-06:00");
  EXPECT_EQ(convert("202611191115-0600", fhir::zone{}).text, "2026-11-19T11:15:00-06:00");
}

TEST(TimeZone, FractionalSecondsAreKept) {
  const auto la = zone_of("America/Los_Angeles");
  EXPECT_EQ(convert("20261120163000.000-0800", la).text, "2026-11-20T16:30:00.000-08:00");
  EXPECT_EQ(convert("20261110230540.112", la).text, "2026-11-10T23:05:40.112-08:00");
  EXPECT_EQ(convert("20260610230540.1234", la).text, "2026-06-10T23:05:40.1234-07:00");
  EXPECT_EQ(convert("20260610230540.5", la).text, "2026-06-10T23:05:40.5-07:00");
  // Without a zone the time and its fraction go together.
  EXPECT_EQ(convert("20261110230540.112", fhir::zone{}).text, "2026-11-10");
}

TEST(TimeZone, BadValuesAreLeftOutAndFlagged) {
  const auto chicago = zone_of("America/Chicago");
  for (const char* bad : {"2026-11-20", "20261320", "20260431", "202611201460", "2026112014300",
                          "20261120143000-05", "20261120143000-2500", "NOTADATE", "2026112014300x"}) {
    SCOPED_TRACE(bad);
    const auto r = convert(bad, chicago);
    EXPECT_EQ(r.text, "");
    EXPECT_TRUE(r.invalid);
    EXPECT_FALSE(r.degraded);
  }
  const auto empty = convert("", chicago);
  EXPECT_EQ(empty.text, "");
  EXPECT_FALSE(empty.invalid);
}

TEST(TimeZone, EveryOutputIsAFhirDateTime) {
  const auto chicago = zone_of("America/Chicago");
  for (const char* v : {"2026", "202611", "20261120", "2026112014", "202611201430", "20261120143059",
                        "20261120143059.1", "20261120143059.1234", "20261120143059-0600",
                        "20260308023000", "20261101013000", "19000101000000", "99991231235959"}) {
    SCOPED_TRACE(v);
    const auto with_zone = convert(v, chicago);
    EXPECT_TRUE(is_fhir_datetime(with_zone.text)) << with_zone.text;
    const auto without = convert(v, fhir::zone{});
    EXPECT_TRUE(is_fhir_datetime(without.text)) << without.text;
  }
}

TEST(TimeZone, ToFhirDateDropsTimeAndOffset) {
  bool invalid = false;
  EXPECT_EQ(fhir::to_fhir_date("19470603", &invalid), "1947-06-03");
  EXPECT_EQ(fhir::to_fhir_date("194706", &invalid), "1947-06");
  EXPECT_EQ(fhir::to_fhir_date("1947", &invalid), "1947");
  EXPECT_EQ(fhir::to_fhir_date("19470603101500-0500", &invalid), "1947-06-03");
  EXPECT_FALSE(invalid);
  EXPECT_EQ(fhir::to_fhir_date("19470631", &invalid), "");
  EXPECT_TRUE(invalid);
  invalid = false;
  EXPECT_EQ(fhir::to_fhir_date("", &invalid), "");
  EXPECT_FALSE(invalid);
}

}  // namespace
