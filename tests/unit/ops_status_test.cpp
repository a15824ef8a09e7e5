// The status page's server side (gateway/ops): the 10-second sampler and its ring buffer, the
// registry reads it is built on, the scrape-time subscription gauges (on a real store) and the
// shape of the /status/data document.
#include "gateway/obs/metrics.hpp"
#include "gateway/ops/status_data.hpp"
#include "gateway/ops/status_sampler.hpp"
#include "gateway/store/sqlite_store.hpp"
#include "tests/e2e/process.hpp"
#include "tests/support/settled_message.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <future>

namespace {

namespace obs = carebridge::gateway::obs;
namespace ops = carebridge::gateway::ops;
namespace store = carebridge::gateway::store;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

const std::chrono::system_clock::time_point t0{std::chrono::seconds(1'800'000'000)};

TEST(OpsMetricsRegistryRead, LabelsRoundTripAndSums) {
  const std::string l = obs::labels({{"sender", "MERCY \"A\""}, {"outcome", "accepted"}});
  const auto kv = obs::parse_labels(l);
  ASSERT_EQ(kv.size(), 2u);
  EXPECT_EQ(kv[0].second, "MERCY \"A\"");
  EXPECT_EQ(obs::label_value(l, "outcome"), "accepted");
  EXPECT_EQ(obs::label_value(l, "missing"), "");
  EXPECT_TRUE(obs::parse_labels("").empty());

  obs::registry r;
  auto& f = r.counters("x_total", "x");
  f.series(obs::labels({{"a", "1"}, {"b", "y"}})).inc(3);
  f.series(obs::labels({{"a", "2"}, {"b", "y"}})).inc(4);
  f.series(obs::labels({{"a", "2"}, {"b", "z"}})).inc(5);
  EXPECT_EQ(r.sum("x_total"), 12);
  EXPECT_EQ(r.sum("x_total", {{"b", "y"}}), 7);
  EXPECT_EQ(r.sum("x_total", {{"a", "2"}, {"b", "z"}}), 5);
  EXPECT_EQ(r.sum("nothing"), 0);
  r.callback_gauge("cb", "cb", [] { return 2.5; });
  EXPECT_EQ(r.sum("cb"), 2.5);

  auto& g = r.gauges("g", "g");
  g.series(obs::labels({{"s", "gone"}})).set(1);
  g.clear();
  EXPECT_TRUE(r.values("g").empty());
  EXPECT_THAT(r.expose(), Not(HasSubstr("gone")));
}

TEST(OpsStatusSampler, FirstReadingIsTheBaselineThenRatesPerInterval) {
  ops::status_sampler s(360);
  ops::status_counters c;
  c.messages = 100;
  s.add(t0, c);
  EXPECT_TRUE(s.samples().empty());
  c.messages = 150;  // 50 in 10 s
  c.alerts = 5;
  c.notifications = 2;
  c.errors = 3;
  s.add(t0 + 10s, c);
  const auto v = s.samples();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_DOUBLE_EQ(v[0].messages_per_s, 5.0);
  EXPECT_DOUBLE_EQ(v[0].alerts_per_s, 0.5);
  EXPECT_DOUBLE_EQ(v[0].notifications_per_s, 0.2);
  EXPECT_EQ(v[0].errors, 3u);
  EXPECT_EQ(v[0].at_s, 1'800'000'010);
  EXPECT_FALSE(v[0].ack_mean_ms);  // no ACK in the interval
  EXPECT_FALSE(v[0].processing_mean_ms);
}

TEST(OpsStatusSampler, KeepsTheLastHourOnly) {
  ops::status_sampler s(360);
  ops::status_counters c;
  for (int i = 0; i <= 400; ++i) {
    c.messages = i;
    s.add(t0 + std::chrono::seconds(10 * i), c);
  }
  const auto v = s.samples();
  ASSERT_EQ(v.size(), 360u);
  EXPECT_EQ(v.front().at_s, 1'800'000'000 + 10 * 41);  // the oldest 40 dropped
  EXPECT_EQ(v.back().at_s, 1'800'000'000 + 10 * 400);
  for (std::size_t i = 1; i < v.size(); ++i) EXPECT_GT(v[i].at_s, v[i - 1].at_s);
}

TEST(OpsStatusSampler, CountersGoingBackCountAsZeroAndTheClockGoingBackIsIgnored) {
  ops::status_sampler s;
  ops::status_counters c;
  c.messages = 100;
  s.add(t0, c);
  c.messages = 10;
  s.add(t0 + 10s, c);
  c.messages = 30;
  s.add(t0 + 5s, c);  // earlier than the last reading: no sample, baseline kept
  c.messages = 40;
  s.add(t0 + 20s, c);
  const auto v = s.samples();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].messages_per_s, 0.0);
  EXPECT_DOUBLE_EQ(v[1].messages_per_s, 3.0);
}

TEST(OpsStatusSampler, AckLatencyMeanAndP95FromTheIntervalsBuckets) {
  obs::histogram h({0.001, 0.01, 0.1});
  ops::status_counters c;
  for (int i = 0; i < 50; ++i) h.observe(0.05);  // before the interval: not counted
  c.ack = h.read();
  ops::status_sampler s;
  s.add(t0, c);
  for (int i = 0; i < 90; ++i) h.observe(0.0005);
  for (int i = 0; i < 10; ++i) h.observe(0.005);
  c.ack = h.read();
  c.processing_sum_s = 0.2;
  c.processed = 100;
  s.add(t0 + 10s, c);
  const auto v = s.samples();
  ASSERT_EQ(v.size(), 1u);
  ASSERT_TRUE(v[0].ack_mean_ms);
  EXPECT_NEAR(*v[0].ack_mean_ms, (90 * 0.5 + 10 * 5.0) / 100, 0.01);
  ASSERT_TRUE(v[0].ack_p95_ms);
  EXPECT_DOUBLE_EQ(*v[0].ack_p95_ms, 10.0);  // the 95th observation is in the ≤ 10 ms bucket
  ASSERT_TRUE(v[0].processing_mean_ms);
  EXPECT_DOUBLE_EQ(*v[0].processing_mean_ms, 2.0);

  obs::histogram::snapshot empty = h.read();
  EXPECT_FALSE(ops::quantile_ms(empty, empty, 0.95));
  h.observe(30);  // above every bound: reported as the last bound
  EXPECT_DOUBLE_EQ(*ops::quantile_ms(empty, h.read(), 0.95), 100.0);
}

TEST(OpsStatusSampler, ReadsThePipelineCountersFromTheRegistry) {
  obs::registry r;
  r.counters("carebridge_ingest_messages_total", "")
      .series(obs::labels({{"disposition", "accepted"}}))
      .inc(7);
  r.counters("carebridge_ingest_messages_total", "")
      .series(obs::labels({{"disposition", "rejected"}}))
      .inc(1);
  r.counters("carebridge_fhir_inputs_total", "").series(obs::labels({{"route", "x"}})).inc(2);
  r.counters("carebridge_care_alerts_total", "")
      .series(obs::labels({{"kind", "discharge"}, {"risk", "high"}}))
      .inc(3);
  auto& d = r.counters("carebridge_notify_subscription_delivered_total", "");
  d.series(obs::labels({{"group", "g"}, {"subscription", "s"}, {"kind", "event-notification"}}))
      .inc(4);
  d.series(obs::labels({{"group", "g"}, {"subscription", "s"}, {"kind", "heartbeat"}})).inc(9);
  r.counters("carebridge_pipeline_errors_total", "").series().inc(2);
  auto& st = r.histograms("carebridge_pipeline_stage_seconds", "", obs::latency_bounds());
  st.series(obs::labels({{"stage", "conversion"}, {"sender", "A"}})).observe(0.001);
  st.series(obs::labels({{"stage", "care"}, {"sender", "A"}})).observe(0.003);
  const auto c = ops::read_counters(r);
  EXPECT_EQ(c.messages, 10);
  EXPECT_EQ(c.alerts, 3);
  EXPECT_EQ(c.notifications, 4);
  EXPECT_EQ(c.errors, 3);  // a rejected message and two pipeline errors
  EXPECT_EQ(c.processed, 1);
  EXPECT_NEAR(c.processing_sum_s, 0.004, 1e-6);
}

TEST(OpsStatusSampler, ThreadTakesReadingsAndStopsPromptly) {
  obs::registry r;
  ops::status_sampler s;
  const auto began = std::chrono::steady_clock::now();
  {
    ops::sampler_thread t(r, s, 20ms);
    for (int i = 0; i < 200 && s.samples().size() < 2; ++i) std::this_thread::sleep_for(10ms);
  }
  EXPECT_GE(s.samples().size(), 2u);
  EXPECT_LT(std::chrono::steady_clock::now() - began, 3s);
}

template <class Op>
bool wait(Op op) {
  std::promise<bool> p;
  op([&p](bool ok) { p.set_value(ok); });
  return p.get_future().get();
}

struct OpsStoreGauges : ::testing::Test {
  carebridge::test::temp_dir dir;
  std::unique_ptr<store::sqlite_store> s = store::sqlite_store::open(dir.path(), {});

  void subscribe(std::string id, std::string group, std::string status) {
    store::subscription_row r;
    r.id = std::move(id);
    r.group_id = std::move(group);
    r.topic = "https://carebridge.example/fhir/SubscriptionTopic/discharge";
    r.status = std::move(status);
    r.json = "{}";
    ASSERT_TRUE(wait([&](auto d) { s->save_subscription(r, d); }));
  }
  std::int64_t alert(std::string group) {
    store::processing_result pr;
    store::alert_row a;
    a.kind = "alert";
    a.event_kind = "discharge";
    a.group_id = std::move(group);
    a.patient_id = "p" + std::to_string(++n);
    a.encounter_id = "e" + a.patient_id;
    a.task_id = "t" + a.patient_id;
    a.risk_band = "high";
    pr.alerts.push_back(a);
    EXPECT_NE(carebridge::test::settle_message(*s, "C" + std::to_string(n), pr), 0);
    return s->alerts_after(0, 1000).back().seq;
  }
  int n = 0;
};

TEST_F(OpsStoreGauges, BacklogOldestAgeAndStatusPerSubscriptionAndGroup) {
  subscribe("sub-a", "grp-1", "active");
  subscribe("sub-b", "grp-1", "error");
  subscribe("sub-c", "grp-2", "active");
  const auto a1 = alert("grp-1");
  const auto a2 = alert("grp-1");
  ASSERT_TRUE(wait([&](auto d) {
    s->record_events(a2, {{"sub-a", a1}, {"sub-a", a2}, {"sub-b", a1}}, d);
  }));
  ASSERT_TRUE(wait([&](auto d) { s->mark_delivered("sub-a", 1, d); }));

  obs::registry r;
  const auto now = std::chrono::system_clock::now() + 30s;
  auto subs = ops::refresh_store_gauges(r, *s, *s, now);
  ASSERT_EQ(subs.size(), 3u);
  const std::string text = r.expose();
  EXPECT_THAT(text, HasSubstr("carebridge_notify_subscription_backlog_events{group=\"grp-1\","
                              "subscription=\"sub-a\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("carebridge_notify_subscription_backlog_events{group=\"grp-1\","
                              "subscription=\"sub-b\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("carebridge_notify_subscription_backlog_events{group=\"grp-2\","
                              "subscription=\"sub-c\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("carebridge_notify_group_backlog_events{group=\"grp-1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("carebridge_notify_subscription_status{group=\"grp-1\","
                              "subscription=\"sub-b\",status=\"error\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("carebridge_notify_subscription_status{group=\"grp-1\","
                              "subscription=\"sub-b\",status=\"active\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("carebridge_notify_subscription_oldest_undelivered_age_seconds{"
                              "group=\"grp-2\",subscription=\"sub-c\"} 0\n"));
  for (const auto& sub : subs) {
    if (sub.id != "sub-a") continue;
    ASSERT_TRUE(sub.oldest_undelivered_us);
    EXPECT_EQ(sub.backlog(), 1);
  }
  const auto age = r.sum("carebridge_notify_subscription_oldest_undelivered_age_seconds",
                         {{"subscription", "sub-a"}});
  EXPECT_GE(age, 29);
  EXPECT_LT(age, 120);

  // A deleted subscription's series go at the next scrape.
  ASSERT_TRUE(wait([&](auto d) { s->delete_subscription("sub-b", d); }));
  ops::refresh_store_gauges(r, *s, *s, now);
  EXPECT_THAT(r.expose(), Not(HasSubstr("sub-b")));
}

// The follow-up of the alerts' Tasks (the groups' pay-for-performance measure), per group.
TEST_F(OpsStoreGauges, FollowUpOfTheAlertsTasksPerGroup) {
  store::processing_result pr;
  const auto task = [](std::string id, std::string priority, std::string status,
                       std::string started) {
    std::string j = R"({"resourceType":"Task","id":")" + id +
                    R"(","owner":{"identifier":{"value":"grp-9"}},"priority":")" + priority +
                    R"(","status":")" + status +
                    R"(","restriction":{"period":{"end":"2026-11-24"}})";
    if (!started.empty()) j += R"(,"executionPeriod":{"start":")" + started + R"("})";
    return store::resource_row{"Task", std::move(id), j + "}"};
  };
  pr.resources.push_back(task("t1", "urgent", "in-progress", "2026-11-23T10:00:00Z"));
  pr.resources.push_back(task("t2", "urgent", "completed", "2026-11-27T10:00:00Z"));
  pr.resources.push_back(task("t3", "routine", "requested", ""));
  ASSERT_NE(carebridge::test::settle_message(*s, "FU-1", pr), 0);
  obs::registry r;
  ops::refresh_store_gauges(r, *s, *s, std::chrono::system_clock::now());
  const std::string text = r.expose();
  EXPECT_THAT(text, HasSubstr("carebridge_followup_tasks{group=\"grp-9\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("carebridge_followup_high_risk_tasks{group=\"grp-9\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("carebridge_followup_contacted_tasks{group=\"grp-9\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("carebridge_followup_high_risk_contacted_in_time{group=\"grp-9\"} 1\n"));
}

TEST(OpsStatusJson, ShapeAndValues) {
  obs::registry r;
  auto& sm = r.counters("carebridge_ingest_sender_messages_total", "");
  sm.series(obs::labels({{"sender", "mercy"}, {"outcome", "accepted"}})).inc(5);
  sm.series(obs::labels({{"sender", "mercy"}, {"outcome", "rejected"}})).inc(1);
  sm.series(obs::labels({{"sender", "mercy"}, {"outcome", "duplicate"}})).inc(2);
  r.gauges("carebridge_ingest_sender_last_message_timestamp_seconds", "")
      .series(obs::labels({{"sender", "mercy"}}))
      .set(1'800'000'000 - 90);
  r.counters("carebridge_pipeline_stage_outcomes_total", "")
      .series(obs::labels({{"stage", "conversion"}, {"sender", "mercy"}, {"outcome", "error"}}))
      .inc(1);
  r.counters("carebridge_ingest_messages_total", "")
      .series(obs::labels({{"disposition", "accepted"}}))
      .inc(5);
  r.counters("carebridge_care_matches_total", "")
      .series(obs::labels({{"outcome", "linked"}, {"rule", "member_id"}}))
      .inc(4);
  r.counters("carebridge_care_alerts_total", "")
      .series(obs::labels({{"kind", "discharge"}, {"risk", "high"}}))
      .inc(2);
  r.counters("carebridge_notify_subscription_failed_attempts_total", "")
      .series(obs::labels({{"group", "g1"}, {"subscription", "s1"}, {"code", "no-response"}}))
      .inc(3);
  r.gauges("carebridge_notify_subscription_last_failure_timestamp_seconds", "")
      .series(obs::labels({{"group", "g1"}, {"subscription", "s1"}, {"code", "no-response"}}))
      .set(1'800'000'000 - 5);

  ops::status_inputs in;
  in.now = t0;
  in.started = t0 - 3h;
  in.version = "0.1.0";
  in.health = {true, true, false};
  in.pipeline_pending = 3;
  in.pipeline_oldest_us = (1'800'000'000LL - 12) * 1'000'000;
  ops::subscription_state sub;
  sub.id = "s1";
  sub.group_id = "g1";
  sub.status = "active";
  sub.events = 10;
  sub.delivered_through = 7;
  sub.oldest_undelivered_us = (1'800'000'000LL - 60) * 1'000'000;
  in.subscriptions.push_back(sub);
  ops::status_sample smp;
  smp.at_s = 1'800'000'000;
  smp.messages_per_s = 1.5;
  smp.ack_p95_ms = 2.5;
  in.samples.push_back(smp);

  const std::string json = ops::status_json(in, r);
  rapidjson::Document d;
  ASSERT_FALSE(d.Parse(json.c_str()).HasParseError()) << json;
  ASSERT_TRUE(d.IsObject());
  EXPECT_STREQ(d["generated_at"].GetString(), "2027-01-15T08:00:00Z");
  EXPECT_EQ(d["uptime_seconds"].GetInt64(), 3 * 3600);
  EXPECT_EQ(d["interval_seconds"].GetInt64(), 10);
  EXPECT_TRUE(d["health"]["alive"].GetBool());
  EXPECT_FALSE(d["health"]["ready"].GetBool());
  EXPECT_FALSE(d["health"]["http_listening"].GetBool());
  EXPECT_EQ(d["totals"]["accepted"].GetUint64(), 5u);
  EXPECT_EQ(d["care"]["matches"]["linked"].GetUint64(), 4u);
  EXPECT_EQ(d["care"]["alerts_by_risk"]["high"].GetUint64(), 2u);
  EXPECT_EQ(d["care"]["alerts_by_risk"]["low"].GetUint64(), 0u);
  EXPECT_EQ(d["backlog"]["pipeline_pending"].GetUint64(), 3u);
  EXPECT_DOUBLE_EQ(d["backlog"]["pipeline_oldest_age_seconds"].GetDouble(), 12.0);
  EXPECT_EQ(d["backlog"]["notify_undelivered_events"].GetInt64(), 3);
  EXPECT_DOUBLE_EQ(d["backlog"]["notify_oldest_undelivered_age_seconds"].GetDouble(), 60.0);

  ASSERT_EQ(d["series"].Size(), 1u);
  const auto& p = d["series"][0];
  EXPECT_EQ(p["t"].GetInt64(), 1'800'000'000);
  EXPECT_DOUBLE_EQ(p["messages_per_s"].GetDouble(), 1.5);
  EXPECT_DOUBLE_EQ(p["ack_p95_ms"].GetDouble(), 2.5);
  EXPECT_TRUE(p["ack_mean_ms"].IsNull());
  EXPECT_TRUE(p["processing_mean_ms"].IsNull());

  ASSERT_EQ(d["senders"].Size(), 1u);
  const auto& snd = d["senders"][0];
  EXPECT_STREQ(snd["name"].GetString(), "mercy");
  EXPECT_EQ(snd["accepted"].GetUint64(), 5u);
  EXPECT_EQ(snd["rejected"].GetUint64(), 1u);
  EXPECT_EQ(snd["duplicates"].GetUint64(), 2u);
  EXPECT_EQ(snd["conversion_errors"].GetUint64(), 1u);
  EXPECT_EQ(snd["care_errors"].GetUint64(), 0u);
  EXPECT_DOUBLE_EQ(snd["last_message_age_seconds"].GetDouble(), 90.0);
  EXPECT_STREQ(snd["last_message_at"].GetString(), "2027-01-15T07:58:30Z");

  ASSERT_EQ(d["subscriptions"].Size(), 1u);
  const auto& su = d["subscriptions"][0];
  EXPECT_STREQ(su["id"].GetString(), "s1");
  EXPECT_STREQ(su["group"].GetString(), "g1");
  EXPECT_STREQ(su["status"].GetString(), "active");
  EXPECT_EQ(su["backlog"].GetInt64(), 3);
  EXPECT_DOUBLE_EQ(su["oldest_undelivered_age_seconds"].GetDouble(), 60.0);
  EXPECT_EQ(su["failed_attempts"].GetUint64(), 3u);
  EXPECT_STREQ(su["last_error"].GetString(), "no-response");

  ASSERT_TRUE(d["errors"].IsArray());
  bool rejected_kind = false;
  for (const auto& e : d["errors"].GetArray()) {
    ASSERT_TRUE(e["kind"].IsString());
    ASSERT_TRUE(e["count"].IsUint64());
    if (std::string_view(e["kind"].GetString()) == "pipeline_errors") rejected_kind = true;
  }
  EXPECT_TRUE(rejected_kind);
}

}  // namespace
