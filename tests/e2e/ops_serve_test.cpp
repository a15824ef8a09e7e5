// `carebridge serve` ops routes end to end: the per-sender and per-stage series on /metrics, the
// status page and its files, /status/data's document — and no PHI on any of them.
#include "tests/e2e/http_client.hpp"
#include "tests/e2e/process.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace {

using namespace carebridge::test;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string bin = CAREBRIDGE_BIN;

std::string get(int port, const std::string& path) { return http_exchange(port, "GET", path); }

std::string adt(const std::string& facility, const std::string& control_id) {
  return "MSH|^~\\&|EPIC|" + facility + "|CB|PLAN|20261120143005-0500||ADT^A03^ADT_A03|" +
         control_id + "|P|2.5.1\rPID|1||12345^^^MERCY^MR||Opspatient^Ann||19480202|F\rPV1|1|I\r";
}

struct OpsServe : ::testing::Test {
  temp_dir dir;
  std::unique_ptr<background_process> proc;
  int mllp = -1, http = -1;

  void SetUp() override {
    write_file(dir / "config.json", R"({
      "senders": [{"name": "mercy-feed", "facilities": ["MERCY"], "addresses": ["127.0.0.1"]}]
    })");
    proc = std::make_unique<background_process>(
        std::vector<std::string>{bin, "serve", "--config", (dir / "config.json").string(),
                                 "--data-dir", (dir / "data").string(), "--mllp-listen",
                                 "127.0.0.1:0", "--http-listen", "127.0.0.1:0"},
        dir / "log");
    mllp = port_from(proc->wait_for_log("\"listener\":\"mllp\"", 10s));
    http = port_from(proc->wait_for_log("\"listener\":\"http\"", 10s));
  }
  // Polls /metrics until it holds `text` (10 s at most).
  std::string metrics_with(const std::string& text) {
    std::string m;
    for (int i = 0; i < 500; ++i) {
      m = get(http, "/metrics");
      if (m.find(text) != std::string::npos) break;
      std::this_thread::sleep_for(20ms);
    }
    return m;
  }
};

TEST_F(OpsServe, PerSenderAndPerStageSeriesStatusPageAndData) {
  ASSERT_GT(mllp, 0) << proc->log();
  // Two new messages, a resend of the first, and one for a facility the sender may not send for.
  write_file(dir / "in.hl7", adt("MERCY", "OPS-1") + adt("MERCY", "OPS-2") + adt("MERCY", "OPS-1") +
                                 adt("OTHER", "OPS-3"));
  const auto sent =
      run_process({bin, "send", "127.0.0.1:" + std::to_string(mllp), (dir / "in.hl7").string()});
  EXPECT_THAT(sent.out, HasSubstr("MSA|AR|OPS-3"));

  const std::string m = metrics_with(
      "carebridge_pipeline_stage_outcomes_total{stage=\"care\",sender=\"mercy-feed\","
      "outcome=\"proceed\"} 2\n");
  EXPECT_THAT(m, HasSubstr("carebridge_ingest_sender_messages_total{sender=\"mercy-feed\","
                           "outcome=\"accepted\"} 2\n"));
  EXPECT_THAT(m, HasSubstr("carebridge_ingest_sender_messages_total{sender=\"mercy-feed\","
                           "outcome=\"duplicate\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("carebridge_ingest_sender_messages_total{sender=\"mercy-feed\","
                           "outcome=\"rejected\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("carebridge_ingest_sender_last_message_timestamp_seconds{sender=\""
                           "mercy-feed\"}"));
  EXPECT_THAT(m, HasSubstr("carebridge_pipeline_stage_outcomes_total{stage=\"conversion\","
                           "sender=\"mercy-feed\",outcome=\"proceed\"} 2\n"));
  EXPECT_THAT(m, HasSubstr("carebridge_pipeline_stage_seconds_count{stage=\"conversion\","
                           "sender=\"mercy-feed\"} 2\n"));
  EXPECT_THAT(m, HasSubstr("carebridge_pipeline_stage_seconds_bucket{stage=\"care\","
                           "sender=\"mercy-feed\",le=\"+Inf\"} 2\n"));
  // No roster: nobody matches (the demographic rule finds no candidate).
  EXPECT_THAT(
      m,
      HasSubstr("carebridge_care_matches_total{outcome=\"no_match\",rule=\"demographics\"} 2\n"));
  EXPECT_THAT(m, Not(HasSubstr("Opspatient")));
  EXPECT_THAT(m, Not(HasSubstr("OPS-1")));

  const std::string page = get(http, "/status");
  EXPECT_THAT(page, HasSubstr("200 OK"));
  EXPECT_THAT(page, HasSubstr("text/html"));
  EXPECT_THAT(page, HasSubstr("Content-Security-Policy"));
  EXPECT_THAT(page, HasSubstr("<title>CareBridge"));
  EXPECT_THAT(get(http, "/status/status.js"), HasSubstr("text/javascript"));
  EXPECT_THAT(get(http, "/status/status.css"), HasSubstr("text/css"));
  EXPECT_THAT(get(http, "/status/nothing.js"), HasSubstr("404"));

  // The store's backlog follows its indexer, a little after the pipeline's counters.
  EXPECT_THAT(metrics_with("carebridge_store_pending_messages 0\n"),
              HasSubstr("carebridge_store_pending_messages 0\n"));
  const std::string data = get(http, "/status/data");
  EXPECT_THAT(data, HasSubstr("application/json"));
  EXPECT_THAT(data, HasSubstr("Cache-Control: no-store"));
  EXPECT_THAT(data, Not(HasSubstr("Opspatient")));
  EXPECT_THAT(data, Not(HasSubstr("19480202")));
  rapidjson::Document d;
  const std::string body = body_of(data);
  ASSERT_FALSE(d.Parse(body.c_str()).HasParseError()) << body;
  EXPECT_TRUE(d["health"]["ready"].GetBool());
  EXPECT_EQ(d["totals"]["accepted"].GetUint64(), 3u);  // the resend is answered as accepted
  EXPECT_EQ(d["totals"]["duplicates"].GetUint64(), 1u);
  EXPECT_EQ(d["totals"]["rejected"].GetUint64(), 1u);
  EXPECT_EQ(d["totals"]["processed"].GetUint64(), 2u);
  ASSERT_EQ(d["senders"].Size(), 1u);
  EXPECT_STREQ(d["senders"][0]["name"].GetString(), "mercy-feed");
  EXPECT_EQ(d["senders"][0]["accepted"].GetUint64(), 2u);
  EXPECT_TRUE(d["senders"][0]["last_message_at"].IsString());
  EXPECT_TRUE(d["series"].IsArray());
  EXPECT_TRUE(d["subscriptions"].IsArray());
  EXPECT_EQ(d["backlog"]["pipeline_pending"].GetUint64(), 0u);

  proc->signal(SIGTERM);
  EXPECT_EQ(proc->wait_for_exit(15s), 0) << proc->log();
}

}  // namespace
