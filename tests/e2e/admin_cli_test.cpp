// The operators' admin commands end to end, against a running `carebridge serve`: a message that
// errors in the pipeline is listed by `store messages --state errored`, `store reprocess --errored`
// makes the running gateway run it again (its metrics count a second run), and `subscriptions
// list` shows a subscription made over the FHIR API without its endpoint's path or header values.
// `store replay` sends a file of messages (blank lines, an MLLP frame, an unparseable one, a resend)
// to the running gateway, which stores and processes them; `store reprocess --since` replays a
// time range; `subscriptions deliveries` shows a subscription in error with its backlog and
// `subscriptions retry` makes the running notifier deliver it; `members show` prints a member's
// attributions and outcomes (ids and codes only).
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
  // The counter moves when the pipeline decides; the store's indexer writes the state a moment
  // later: a command run beside the gateway sees it once that commit is in.
  const auto eventually = [](const std::vector<std::string>& cmd, const std::string& needle) {
    process_result r;
    for (int i = 0; i < 200; ++i) {
      r = run_process(cmd);
      if (r.exit_code == 0 && r.out.find(needle) != std::string::npos) break;
      std::this_thread::sleep_for(50ms);
    }
    return r;
  };
  (void)eventually({bin, "store", "messages", "--data-dir", dir, "--json"},
                   R"("state": "processed")");

  auto listed = eventually({bin, "store", "messages", "--data-dir", dir, "--state", "errored"},
                           "NOPID-1");
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
  auto stats = eventually({bin, "store", "stats", "--data-dir", dir, "--json"}, R"("errored": 1)");
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

const std::string processed_metric = "carebridge_pipeline_messages_total\\{outcome=\"processed\"\\}";

std::string with_control_id(std::string m, const std::string& from, const std::string& to) {
  const auto at = m.find("|" + from + "|");
  return m.replace(at + 1, from.size(), to);
}

TEST(AdminCliReplay, AFileIsReplayedToTheRunningGatewayAndATimeRangeReprocessed) {
  setup su;
  int mllp = 0;
  std::string base;
  auto gw = su.serve("gateway.log", mllp, base);
  ASSERT_GT(mllp, 0) << gw->log();
  const std::string dir = su.data_dir.string();
  const std::string to = "127.0.0.1:" + std::to_string(mllp);
  write_file(su.dir / "good.hl7", good);
  const auto sent = run_process({bin, "send", to, (su.dir / "good.hl7").string()});
  ASSERT_EQ(sent.exit_code, 0) << sent.out << sent.err;
  ASSERT_TRUE(metric_becomes(base, processed_metric, 1)) << gw->log();

  // The file: GOOD-1 again (a resend), a blank line, GOOD-2 in an MLLP frame, one without a
  // control id (rejected, and stored with its reason), one of another facility (not sent).
  const std::string no_control_id = with_control_id(good, "GOOD-1", "");
  const std::string other = with_control_id(good, "GOOD-1", "OTHER-1").replace(14, 5, "STJOHN");
  ASSERT_NE(other.find("|STJOHN|"), std::string::npos) << other;
  std::string file = good + "\n\n" + '\x0b' + with_control_id(good, "GOOD-1", "GOOD-2") +
                     "\x1c\r" + no_control_id + "\r\n" + other;
  for (char& c : file)  // as a text editor keeps it: LF
    if (c == '\r') c = '\n';
  write_file(su.dir / "replay.hl7", file);
  auto replayed = run_process({bin, "store", "replay", (su.dir / "replay.hl7").string(), "--to",
                               to, "--facility", "MERCY", "--data-dir", dir});
  EXPECT_EQ(replayed.exit_code, 1) << replayed.out << replayed.err;  // one was rejected
  EXPECT_EQ(lines(replayed.err), 1) << replayed.err;
  EXPECT_THAT(replayed.out, HasSubstr("4 messages")) << replayed.out;
  EXPECT_TRUE(std::regex_search(replayed.out, std::regex("GOOD-1 +AA +duplicate \\(message \\d+\\)")))
      << replayed.out;
  EXPECT_TRUE(std::regex_search(replayed.out, std::regex("GOOD-2 +AA +accepted\n"))) << replayed.out;
  EXPECT_THAT(replayed.out, HasSubstr("rejected: MSH-10 (message control id) is empty"));
  EXPECT_TRUE(std::regex_search(replayed.out, std::regex("STJOHN .*OTHER-1 .*skipped")))
      << replayed.out;
  EXPECT_TRUE(metric_becomes(base, processed_metric, 2)) << gw->log();
  for (const auto* phi : {"Testpatient", "19500101", "12345"}) {
    EXPECT_THAT(replayed.out, Not(HasSubstr(phi)));
    EXPECT_THAT(replayed.err, Not(HasSubstr(phi)));
  }
  // Stored as received: GOOD-1 once, GOOD-2 processed, the rejected one with its reason.
  auto all = run_process({bin, "store", "messages", "--data-dir", dir, "--json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const auto count = [&](const std::string& needle) {
    int n = 0;
    for (auto p = all.out.find(needle); p != std::string::npos; p = all.out.find(needle, p + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count(R"("control_id": "GOOD-1")"), 1) << all.out;
  EXPECT_EQ(count(R"("control_id": "GOOD-2")"), 1) << all.out;
  EXPECT_EQ(count(R"("control_id": "OTHER-1")"), 0) << all.out;
  EXPECT_EQ(count(R"("state": "rejected")"), 1) << all.out;
  EXPECT_EQ(count(R"("state": "processed")"), 2) << all.out;

  // A batch file, dry run: split and listed, nothing sent.
  write_file(su.dir / "batch.hl7", "FHS|^~\\&|EPIC|MERCY\rBHS|^~\\&|EPIC|MERCY\r" +
                                       with_control_id(good, "GOOD-1", "B-1") +
                                       with_control_id(good, "GOOD-1", "B-2") + "BTS|2\rFTS|1\r");
  auto dry = run_process({bin, "store", "replay", (su.dir / "batch.hl7").string(), "--to", to,
                          "--dry-run", "--json"});
  EXPECT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  EXPECT_THAT(dry.out, HasSubstr(R"("control_id": "B-2")"));
  EXPECT_THAT(dry.out, HasSubstr(R"("would be sent": 2)"));
  // No gateway there: one clear line.
  auto nobody = run_process({bin, "store", "replay", (su.dir / "good.hl7").string(), "--to",
                             "127.0.0.1:1"});
  EXPECT_EQ(nobody.exit_code, 1);
  EXPECT_EQ(lines(nobody.err), 1) << nobody.err;

  // A time range: processed ones need --force; the dry run lists them; then for real.
  auto unforced = run_process({bin, "store", "reprocess", "--data-dir", dir, "--since",
                               "2020-01-01", "--facility", "MERCY"});
  EXPECT_EQ(unforced.exit_code, 1) << unforced.out << unforced.err;
  EXPECT_THAT(unforced.out, HasSubstr("2 processed messages in the range left as they are"));
  EXPECT_EQ(lines(unforced.err), 1) << unforced.err;
  auto preview = run_process({bin, "store", "reprocess", "--data-dir", dir, "--since",
                              "2020-01-01T00:00:00Z", "--until", "2100-01-01", "--facility",
                              "MERCY", "--force", "--dry-run"});
  EXPECT_EQ(preview.exit_code, 0) << preview.err;
  EXPECT_THAT(preview.out, HasSubstr("GOOD-1"));
  EXPECT_THAT(preview.out, HasSubstr("GOOD-2"));
  EXPECT_THAT(preview.out, HasSubstr("would reprocess 2 messages (processed 2)"));
  EXPECT_EQ(metric(base, processed_metric), 2);  // nothing changed
  auto forced = run_process({bin, "store", "reprocess", "--data-dir", dir, "--since", "2020-01-01",
                             "--facility", "MERCY", "--force", "--json"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_THAT(forced.out, HasSubstr(R"("reprocessed": 2)"));
  EXPECT_TRUE(metric_becomes(base, processed_metric, 4)) << gw->log();
  auto rejected = run_process({bin, "store", "reprocess", "--data-dir", dir, "--since",
                               "2020-01-01", "--state", "rejected", "--dry-run"});
  EXPECT_EQ(rejected.exit_code, 1);  // needs --force
  EXPECT_THAT(rejected.out, HasSubstr("1 rejected message in the range left as it is"));

  const std::vector<std::vector<std::string>> bad{
      {bin, "store", "reprocess", "--data-dir", dir, "--since", "2020-01-01", "--id", "1"},
      {bin, "store", "reprocess", "--data-dir", dir, "--since", "2020-01-01", "--state", "pending"},
      {bin, "store", "reprocess", "--data-dir", dir, "--until", "2020-01-01"},
      {bin, "store", "replay"},
      {bin, "store", "replay", (su.dir / "missing.hl7").string()},
      {bin, "store", "replay", (su.dir / "good.hl7").string(), "--to", "nowhere"},
      {bin, "store", "replay", (su.dir / "good.hl7").string(), "--cert", "x"}};
  for (const auto& argv : bad) {
    const auto r = run_process(argv);
    EXPECT_EQ(r.exit_code, 1) << argv[2] << " " << argv.back();
    EXPECT_EQ(lines(r.err), 1) << r.err;
  }

  gw->signal(SIGTERM);
  EXPECT_EQ(gw->wait_for_exit(20s), 0) << gw->log();
}

TEST(AdminCliDeliveries, ASubscriptionInErrorIsListedAndRetriedAndItsMemberShown) {
  setup su{R"(, "backoff_initial_ms": 50, "backoff_max_ms": 200)"};
  endpoint hook(su.dir.path(), "hook", su.certs, 0, "--fail-first 1 --fail-status 400");
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
  const auto sent = run_process({bin, "send", "127.0.0.1:" + std::to_string(mllp),
                                 data + "/hl7/adt/stbrigid_v24_A01_02.hl7",
                                 data + "/hl7/adt/stbrigid_v24_A03_03.hl7"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  ASSERT_TRUE(becomes(base, id, "error")) << gw->log() << hook.proc->log();

  const std::string dir = su.data_dir.string();
  auto dead = run_process({bin, "subscriptions", "deliveries", "--data-dir", dir, "--status",
                           "error"});
  ASSERT_EQ(dead.exit_code, 0) << dead.err;
  EXPECT_TRUE(std::regex_search(dead.out, std::regex(id + " +G-SB +error +0 +1 +1 +[0-9.]+ s\n")))
      << dead.out;
  EXPECT_THAT(dead.out, HasSubstr("error-response"));
  auto dead_json = run_process({bin, "subscriptions", "deliveries", "--data-dir", dir, "--id", id,
                                "--json"});
  ASSERT_EQ(dead_json.exit_code, 0) << dead_json.err;
  EXPECT_THAT(dead_json.out, HasSubstr(R"("delivered_through": 0)"));
  EXPECT_THAT(dead_json.out, HasSubstr(R"("highest_event": 1)"));
  EXPECT_THAT(dead_json.out, HasSubstr(R"("backlog": 1)"));
  EXPECT_THAT(dead_json.out, Not(HasSubstr(R"("oldest_undelivered_age_seconds": null)")));
  auto active = run_process({bin, "subscriptions", "deliveries", "--data-dir", dir, "--status",
                             "active"});
  EXPECT_THAT(active.out, HasSubstr("no subscriptions in active"));

  // Retried beside the running gateway: a new handshake, then the event it missed.
  auto retried = run_process({bin, "subscriptions", "retry", "--data-dir", dir, "--errored"});
  ASSERT_EQ(retried.exit_code, 0) << retried.err;
  EXPECT_THAT(retried.out, HasSubstr("retrying 1 subscription"));
  ASSERT_TRUE(hook.wait_for_events(1)) << gw->log() << hook.proc->log();
  EXPECT_TRUE(becomes(base, id, "active"));
  int handshakes = 0;
  for (const auto& b : hook.bundles()) handshakes += type_of(b) == "handshake";
  EXPECT_EQ(handshakes, 2);
  bool drained = false;
  for (int i = 0; i < 500 && !drained; ++i) {  // delivered_through is written just after
    const auto now = run_process({bin, "subscriptions", "deliveries", "--data-dir", dir, "--json"});
    drained = now.out.find(R"("backlog": 0)") != std::string::npos;
    if (!drained) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(drained);
  auto again = run_process({bin, "subscriptions", "retry", "--data-dir", dir, "--id", id});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.out, HasSubstr("not in error"));
  EXPECT_EQ(lines(again.err), 1) << again.err;

  // The member of the stay: attribution, the outcomes that linked it; ids and codes only.
  auto shown = run_process({bin, "members", "show", "HMA300481772", "--data-dir", dir});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("group=G-SB period=2026-01-01..open"));
  EXPECT_THAT(shown.out, HasSubstr("match=linked"));
  EXPECT_THAT(shown.out, HasSubstr("event=discharge"));
  EXPECT_THAT(shown.out, HasSubstr("attribution=attributed group=G-SB"));
  auto shown_json = run_process({bin, "members", "show", "HMA300481772", "--data-dir", dir,
                                 "--json"});
  ASSERT_EQ(shown_json.exit_code, 0) << shown_json.err;
  EXPECT_THAT(shown_json.out, HasSubstr(R"("attribution": "attributed")"));
  EXPECT_THAT(shown_json.out, HasSubstr(R"("in_roster": true)"));
  for (const auto& out : {shown.out, shown_json.out, dead.out, dead_json.out}) {
    EXPECT_THAT(out, Not(HasSubstr("Doherty")));
    EXPECT_THAT(out, Not(HasSubstr("Francis")));
    EXPECT_THAT(out, Not(HasSubstr("1947")));
    EXPECT_THAT(out, Not(HasSubstr("02127")));
    EXPECT_THAT(out, Not(HasSubstr("group-token")));
  }
  auto reviews = run_process({bin, "members", "reviews", "--data-dir", dir, "--json"});
  EXPECT_EQ(reviews.exit_code, 0) << reviews.err;
  EXPECT_EQ(reviews.out, "[]\n");

  const std::vector<std::vector<std::string>> bad{
      {bin, "members", "show", "NOBODY-1", "--data-dir", dir},
      {bin, "members", "stats", "--data-dir", dir, "--json"},
      {bin, "subscriptions", "retry", "--data-dir", dir},
      {bin, "subscriptions", "retry", "--data-dir", dir, "--id", "nope"},
      {bin, "subscriptions", "deliveries", "--data-dir", dir, "--id", "nope"},
      {bin, "subscriptions", "deliveries", "--data-dir", dir, "--status", "broken"},
      {bin, "subscriptions", "deliveries"}};
  for (const auto& argv : bad) {
    const auto r = run_process(argv);
    EXPECT_EQ(r.exit_code, 1) << argv[1] << " " << argv[2] << " " << argv.back();
    EXPECT_EQ(lines(r.err), 1) << r.err;
  }

  gw->signal(SIGTERM);
  EXPECT_EQ(gw->wait_for_exit(20s), 0) << gw->log();
  hook.proc->signal(SIGTERM);
}

}  // namespace
