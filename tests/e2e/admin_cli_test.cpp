// The operators' admin commands end to end, against a running `carebridge serve`: a message that
// errors in the pipeline is listed by `store messages --state errored`, `store reprocess --errored`
// makes the running gateway run it again (its metrics count a second run), and `subscriptions
// list` shows a subscription made over the FHIR API without its endpoint's path or header values.
#include "tests/e2e/alerts_setup.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <regex>

namespace {

using namespace carebridge::test;
using namespace carebridge::test::alerts_e2e;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// An A03 the conversion stage refuses (no PID: "cannot map to FHIR"), and one it maps.
const std::string no_pid =
    "MSH|^~\\&|EPIC|MERCY|CB|PLAN|20261120143005-0500||ADT^A03^ADT_A03|NOPID-1|P|2.5.1\r"
    "PV1|1|I\r";
const std::string good =
    "MSH|^~\\&|EPIC|MERCY|CB|PLAN|20261120143005-0500||ADT^A03^ADT_A03|GOOD-1|P|2.5.1\r"
    "PID|1||12345^^^MERCY^MR||Testpatient^Ann||19500101|F\rPV1|1|I\r";

// The value of an unlabelled counter on /metrics (-1 when it is not there).
long metric(const std::string& base, const std::string& name) {
  const std::string metrics_url = base.substr(0, base.rfind("/fhir")) + "/metrics";
  const std::string text = http("127.0.0.1", "GET", metrics_url).out;
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("\n" + name + " (\\d+)"))) return -1;
  return std::stol(m[1]);
}

bool metric_becomes(const std::string& base, const std::string& name, long want) {
  for (int i = 0; i < 500; ++i) {  // 10 s
    if (metric(base, name) == want) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST(AdminCli, AnErroredMessageIsListedAndReprocessedWhileTheGatewayRuns) {
  setup su;
  int mllp = 0;
  std::string base;
  auto gw = su.serve("gateway.log", mllp, base);
  ASSERT_GT(mllp, 0) << gw->log();
  const std::string dir = su.data_dir.string();
  write_file(su.dir / "no_pid.hl7", no_pid);
  write_file(su.dir / "good.hl7", good);
  const auto sent = run_process({bin, "send", "127.0.0.1:" + std::to_string(mllp),
                                 (su.dir / "no_pid.hl7").string(), (su.dir / "good.hl7").string()});
  ASSERT_EQ(sent.exit_code, 0) << sent.out << sent.err;  // both accepted (AA): stored first
  ASSERT_TRUE(metric_becomes(base, "carebridge_pipeline_errors_total", 1)) << gw->log();

  auto listed = run_process({bin, "store", "messages", "--data-dir", dir, "--state", "errored"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("NOPID-1"));
  EXPECT_THAT(listed.out, HasSubstr("cannot map to FHIR"));
  EXPECT_THAT(listed.out, HasSubstr("MERCY"));
  EXPECT_THAT(listed.out, Not(HasSubstr("GOOD-1")));
  auto all = run_process({bin, "store", "messages", "--data-dir", dir, "--json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_THAT(all.out, HasSubstr(R"("control_id": "GOOD-1")"));
  EXPECT_THAT(all.out, HasSubstr(R"("state": "processed")"));
  EXPECT_THAT(all.out, HasSubstr(R"("state": "errored")"));
  // Never the body: no name, birth date or record number.
  for (const auto* phi : {"Testpatient", "19500101", "12345", "PV1"}) {
    EXPECT_THAT(all.out, Not(HasSubstr(phi)));
    EXPECT_THAT(listed.out, Not(HasSubstr(phi)));
  }

  // Set back to pending while serve runs: it runs the message again (and it errors again).
  auto again = run_process({bin, "store", "reprocess", "--data-dir", dir, "--errored",
                            "--facility", "MERCY", "--since", "2020-01-01"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("reprocessing 1 message"));
  EXPECT_TRUE(metric_becomes(base, "carebridge_pipeline_errors_total", 2)) << gw->log();
  auto stats = run_process({bin, "store", "stats", "--data-dir", dir, "--json"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_THAT(stats.out, HasSubstr(R"("errored": 1)"));
  EXPECT_THAT(stats.out, HasSubstr(R"("processed": 1)"));
  EXPECT_THAT(stats.out, HasSubstr(R"("pending": 0)"));

  // A processed message only with --force, by id: the stages run it again (idempotent).
  std::smatch id;
  ASSERT_TRUE(std::regex_search(all.out, id,
                                std::regex(R"re("id": (\d+),\s*"received_at": "[^"]*",\s*"received_at_us": \d+,\s*"sending_application": "EPIC",\s*"sending_facility": "MERCY",\s*"message_type": "ADT\^A03",\s*"control_id": "GOOD-1")re")))
      << all.out;
  const long processed_before = metric(base, "carebridge_pipeline_messages_total\\{outcome=\"processed\"\\}");
  auto unforced = run_process({bin, "store", "reprocess", "--data-dir", dir, "--id", id[1]});
  EXPECT_EQ(unforced.exit_code, 1);
  EXPECT_THAT(unforced.out, HasSubstr("needs --force"));
  EXPECT_EQ(lines(unforced.err), 1) << unforced.err;
  auto forced =
      run_process({bin, "store", "reprocess", "--data-dir", dir, "--id", id[1], "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_TRUE(metric_becomes(base, "carebridge_pipeline_messages_total\\{outcome=\"processed\"\\}",
                             processed_before + 1))
      << gw->log();

  // Usage and input errors: exit 1, one line on stderr.
  const std::vector<std::vector<std::string>> bad{
      {bin, "store", "reprocess", "--data-dir", dir},
      {bin, "store", "reprocess", "--data-dir", dir, "--id", "999999"},
      {bin, "store", "reprocess", "--data-dir", dir, "--id", "x"},
      {bin, "store", "reprocess", "--data-dir", dir, "--errored", "--force"},
      {bin, "store", "reprocess", "--data-dir", (su.dir / "nowhere").string(), "--errored"},
      {bin, "store", "messages", "--data-dir", dir, "--state", "lost"},
      {bin, "store", "messages", "--data-dir", dir, "--since", "yesterday"},
      {bin, "store", "messages", "--data-dir", dir, "--limit", "0"},
      {bin, "store", "messages"},
      {bin, "subscriptions", "list"},
      {bin, "subscriptions"}};
  for (const auto& argv : bad) {
    const auto r = run_process(argv);
    EXPECT_EQ(r.exit_code, 1) << argv[1] << " " << argv.back();
    EXPECT_EQ(lines(r.err), 1) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(su.dir / "nowhere"));

  gw->signal(SIGTERM);
  EXPECT_EQ(gw->wait_for_exit(20s), 0) << gw->log();
}

TEST(AdminCli, SubscriptionsListShowsStatusBacklogAndTheEndpointOriginOnly) {
  setup su;
  endpoint hook(su.dir.path(), "hook", su.certs);
  ASSERT_GT(hook.port, 0) << hook.proc->log();
  int mllp = 0;
  std::string base;
  auto gw = su.serve("gateway.log", mllp, base);
  ASSERT_GT(mllp, 0) << gw->log();
  auto created = http("127.0.0.1", "POST", base + "/Subscription", subscription(hook.url()));
  ASSERT_THAT(created.out, HasSubstr("\n201")) << created.out;
  const std::string id = id_of(created.out);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(becomes(base, id, "active")) << gw->log();

  const std::string dir = su.data_dir.string();
  auto listed = run_process({bin, "subscriptions", "list", "--data-dir", dir});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr(id));
  EXPECT_THAT(listed.out, HasSubstr("G-SB"));
  EXPECT_THAT(listed.out, HasSubstr("readmission-risk"));
  EXPECT_THAT(listed.out, HasSubstr("active"));
  EXPECT_THAT(listed.out, HasSubstr("https://127.0.0.1:" + std::to_string(hook.port) + "\n"));
  auto json = run_process({bin, "subscriptions", "list", "--data-dir", dir, "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr(R"("id": ")" + id + "\""));
  EXPECT_THAT(json.out, HasSubstr(R"("status": "active")"));
  EXPECT_THAT(json.out, HasSubstr(R"("endpoint_origin": "https://127.0.0.1:)" +
                                  std::to_string(hook.port) + "\""));
  EXPECT_THAT(json.out, HasSubstr(R"("events_since_start": 0)"));
  EXPECT_THAT(json.out, HasSubstr(R"("backlog": 0)"));
  for (const auto& out : {listed.out, json.out}) {
    EXPECT_THAT(out, Not(HasSubstr("group-token")));
    EXPECT_THAT(out, Not(HasSubstr("Bearer")));
    EXPECT_THAT(out, Not(HasSubstr("Authorization")));
    EXPECT_THAT(out, Not(HasSubstr("/hook")));
  }
  auto other = run_process({bin, "subscriptions", "list", "--data-dir", dir, "--group", "G-OTHER"});
  EXPECT_EQ(other.exit_code, 0);
  EXPECT_THAT(other.out, HasSubstr("no subscriptions for this group"));

  gw->signal(SIGTERM);
  EXPECT_EQ(gw->wait_for_exit(20s), 0) << gw->log();
}

}  // namespace
