// `carebridge serve` end to end: the real binary, real MLLP in, HTTP ops endpoints, graceful stop,
// config errors, and a crash test (SIGKILL under load, restart, every acknowledged message stored
// exactly once and processed).
#include "tests/e2e/http_client.hpp"
#include "tests/e2e/process.hpp"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>

namespace {

using namespace carebridge::test;
using ::testing::HasSubstr;

const std::string bin = CAREBRIDGE_BIN;
using namespace std::chrono_literals;

struct gateway {
  std::unique_ptr<background_process> proc;
  int mllp_port = -1;
  int http_port = -1;

  gateway(const std::filesystem::path& data, const std::filesystem::path& log,
          std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{bin, "serve", "--data-dir", data.string(), "--mllp-listen",
                                  "127.0.0.1:0", "--http-listen", "127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc = std::make_unique<background_process>(argv, log);
    mllp_port = port_from(proc->wait_for_log("\"listener\":\"mllp\"", 10s));
    http_port = port_from(proc->wait_for_log("\"listener\":\"http\"", 10s));
  }
};

// True once the gateway's pipeline has nothing pending (polled on /metrics for up to 10 s).
bool wait_drained(int http_port) {
  using namespace std::chrono_literals;
  for (int i = 0; i < 500; ++i) {
    if (http_exchange(http_port, "GET", "/metrics").find("carebridge_store_pending_messages 0\n") !=
        std::string::npos)
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::string a03(const std::string& control_id) {
  return "MSH|^~\\&|EPIC|MERCY|CB|PLAN|20261120143005-0500||ADT^A03^ADT_A03|" + control_id +
         "|P|2.5.1\rPID|1||12345^^^MERCY^MR||Testpatient^Ann||19500101|F\rPV1|1|I\r";
}

TEST(Serve, SendHealthReadyMetricsAndGracefulStop) {
  temp_dir dir;
  gateway g(dir / "data", dir / "log");
  ASSERT_GT(g.mllp_port, 0) << g.proc->log();
  write_file(dir / "m1.hl7", a03("E2E-1") + a03("E2E-2"));
  const auto sent = run_process({bin, "send", "127.0.0.1:" + std::to_string(g.mllp_port),
                                 (dir / "m1.hl7").string()});
  EXPECT_EQ(sent.exit_code, 0) << sent.err;
  EXPECT_THAT(sent.out, HasSubstr("MSA|AA|E2E-1"));
  EXPECT_THAT(sent.out, HasSubstr("MSA|AA|E2E-2"));

  EXPECT_THAT(http_exchange(g.http_port, "GET", "/healthz"), HasSubstr("200 OK"));
  const std::string ready = http_exchange(g.http_port, "GET", "/readyz");
  EXPECT_THAT(ready, HasSubstr("200 OK"));
  EXPECT_THAT(ready, HasSubstr("\"store_writable\":true"));
  const std::string metrics = http_exchange(g.http_port, "GET", "/metrics");
  EXPECT_THAT(metrics, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(metrics, HasSubstr("carebridge_mllp_frames_total 2"));
  EXPECT_THAT(metrics, HasSubstr("carebridge_ingest_acks_total{code=\"AA\"} 2"));
  EXPECT_THAT(metrics, HasSubstr("carebridge_mllp_ack_seconds_bucket"));
  EXPECT_THAT(http_exchange(g.http_port, "GET", "/nothing"), HasSubstr("404"));

  g.proc->signal(SIGTERM);
  EXPECT_EQ(g.proc->wait_for_exit(15s), 0) << g.proc->log();
  const std::string log = g.proc->log();
  EXPECT_THAT(log, HasSubstr("\"event\":\"stopped\""));
  // Every log line is one JSON object, and no PHI reaches the log.
  EXPECT_THAT(log, ::testing::Not(HasSubstr("Testpatient")));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("19500101")));

  const auto stats = run_process({bin, "store", "stats", "--data-dir", (dir / "data").string(), "--json"});
  EXPECT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_THAT(stats.out, HasSubstr("\"accepted\": 2"));
  EXPECT_THAT(stats.out, HasSubstr("\"MERCY\""));
  const auto human = run_process({bin, "store", "stats", "--data-dir", (dir / "data").string()});
  EXPECT_THAT(human.out, HasSubstr("accepted   2"));
}

TEST(Serve, BadConfigIsRefusedWithOneLine) {
  temp_dir dir;
  write_file(dir / "bad.json", R"({"mllp": {"max_frame_bytes": 0, "colour": 1}})");
  const auto r = run_process({bin, "serve", "--config", (dir / "bad.json").string(), "--data-dir",
                              (dir / "d").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("mllp.max_frame_bytes"));
  write_file(dir / "unknown.json", R"({"mllp": {"colour": 1}})");
  const auto u = run_process({bin, "serve", "--config", (dir / "unknown.json").string()});
  EXPECT_EQ(u.exit_code, 1);
  EXPECT_THAT(u.err, HasSubstr("unknown key 'colour'"));
  const auto flag = run_process({bin, "serve", "--mllp-listen", "nonsense"});
  EXPECT_EQ(flag.exit_code, 1);
  // A port someone else holds: a clear line, not a crash.
  const int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(holder, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(holder, reinterpret_cast<sockaddr*>(&a), &len);
  const auto port = run_process({bin, "serve", "--data-dir", (dir / "d2").string(), "--mllp-listen",
                                 "127.0.0.1:" + std::to_string(ntohs(a.sin_port)),
                                 "--http-listen", "127.0.0.1:0"});
  ::close(holder);
  EXPECT_EQ(port.exit_code, 1);
  EXPECT_EQ(std::count(port.err.begin(), port.err.end(), '\n'), 1) << port.err;
  EXPECT_THAT(port.err, HasSubstr("cannot listen for MLLP"));
}

TEST(Serve, SendReportsRejectionsWithExitOne) {
  temp_dir dir;
  gateway g(dir / "data", dir / "log");
  write_file(dir / "junk.hl7", "MSH|^~\\&|X|Y|||||ADT^A03||P|2.5\r");  // no MSH-10
  const auto r = run_process({bin, "send", "127.0.0.1:" + std::to_string(g.mllp_port),
                              (dir / "junk.hl7").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("MSA|AR|"));
  EXPECT_THAT(r.err, HasSubstr("1 of 1 messages were not accepted"));
  // A port nobody listens on: bind one, note it, close it.
  const int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(probe);
  const auto none = run_process({bin, "send", "127.0.0.1:" + std::to_string(ntohs(a.sin_port)),
                                 (dir / "junk.hl7").string()});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.err, HasSubstr("cannot connect"));
}

// Sends unique messages in a closed loop over one connection; records the ids that were ACKed.
void sender_loop(int port, const std::string& prefix, std::atomic<bool>& stop,
                 std::mutex& mu, std::set<std::string>& acked) {
  const int fd = connect_loopback(port, 5);
  if (fd < 0) return;
  std::string pending;
  for (int i = 0; !stop; ++i) {
    const std::string id = prefix + "-" + std::to_string(i);
    const std::string frame = "\x0B" + a03(id) + "\x1C\x0D";
    if (::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) < 0) break;
    std::string ack;
    while (true) {
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        ::close(fd);
        return;
      }
      pending.append(buf, static_cast<std::size_t>(n));
      const auto end = pending.find('\x1C');
      if (end != std::string::npos) {
        ack = pending.substr(0, end);
        pending.erase(0, end + 1);
        break;
      }
    }
    if (ack.find("MSA|AA|" + id) != std::string::npos) {
      std::lock_guard lock(mu);
      acked.insert(id);
    }
  }
  ::close(fd);
}

// The pipeline maps what arrives: after an admission and a discharge of one stay, the store holds one
// Encounter (finished, version 2) and two clinical events for the patient; no PHI in the log.
TEST(Serve, MessagesAreMappedToFhirResourcesAndEvents) {
  temp_dir dir;
  const std::string data = CAREBRIDGE_TEST_DATA;
  gateway g(dir / "data", dir / "log", {"--config", data + "/fhir/facilities.json"});
  ASSERT_GT(g.mllp_port, 0) << g.proc->log();
  const auto sent = run_process({bin, "send", "127.0.0.1:" + std::to_string(g.mllp_port),
                                 data + "/hl7/adt/stbrigid_v24_A01_02.hl7",
                                 data + "/hl7/adt/stbrigid_v24_A03_03.hl7"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  ASSERT_TRUE(wait_drained(g.http_port));
  const std::string metrics = http_exchange(g.http_port, "GET", "/metrics");
  EXPECT_THAT(metrics, HasSubstr("carebridge_pipeline_events_total{kind=\"discharge\",source=\"hl7v2\"} 1"));
  g.proc->signal(SIGTERM);
  ASSERT_EQ(g.proc->wait_for_exit(15s), 0);
  const std::string log = g.proc->log();
  EXPECT_THAT(log, ::testing::Not(HasSubstr("Doherty")));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("19470603")));

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((dir / "data" / "carebridge.db").c_str(), &db, SQLITE_OPEN_READONLY,
                            nullptr),
            SQLITE_OK);
  auto scalar = [&](const char* sql) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
    std::string v;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr)
      v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
  };
  EXPECT_EQ(scalar("SELECT count(*) FROM resources WHERE type='Encounter'"), "1");
  EXPECT_EQ(scalar("SELECT version FROM resources WHERE type='Encounter'"), "2");
  EXPECT_THAT(scalar("SELECT json FROM resources WHERE type='Encounter'"),
              HasSubstr("\"status\":\"finished\""));
  EXPECT_EQ(scalar("SELECT group_concat(kind) FROM (SELECT kind FROM events ORDER BY message_id)"),
            "admission,discharge");
  EXPECT_EQ(scalar("SELECT count(DISTINCT patient_id) FROM events"), "1");
  sqlite3_close(db);
}

TEST(Serve, CrashTestEveryAcknowledgedMessageIsStoredExactlyOnce) {
  temp_dir dir;
  std::mutex mu;
  std::set<std::string> acked;
  std::mt19937 rng(20261122);
  for (int round = 0; round < 5; ++round) {
    gateway g(dir / "data", dir / ("log" + std::to_string(round)));
    ASSERT_GT(g.mllp_port, 0) << g.proc->log();
    std::atomic<bool> stop{false};
    std::vector<std::thread> senders;
    for (int c = 0; c < 4; ++c)
      senders.emplace_back(sender_loop, g.mllp_port,
                           "R" + std::to_string(round) + "C" + std::to_string(c), std::ref(stop),
                           std::ref(mu), std::ref(acked));
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 500));
    g.proc->signal(SIGKILL);  // mid-load: frames in flight, commits in progress
    EXPECT_EQ(g.proc->wait_for_exit(5s), 128 + SIGKILL);
    stop = true;
    for (auto& t : senders) t.join();
  }
  ASSERT_GT(acked.size(), 50u) << "the load did not get going";

  // A last, clean run: the pipeline resumes what was committed but not processed.
  {
    gateway g(dir / "data", dir / "log-final");
    EXPECT_TRUE(wait_drained(g.http_port)) << "pending messages were not resumed";
    g.proc->signal(SIGTERM);
    EXPECT_EQ(g.proc->wait_for_exit(15s), 0);
  }

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((dir / "data" / "carebridge.db").c_str(), &db, SQLITE_OPEN_READONLY,
                            nullptr),
            SQLITE_OK);
  std::map<std::string, int> stored;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT control_id, state FROM messages", -1, &st, nullptr);
  int unprocessed = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const std::string id = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    const std::string state = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
    ++stored[id];
    if (state != "processed") ++unprocessed;
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  std::size_t missing = 0, doubled = 0;
  for (const auto& id : acked) {
    const auto it = stored.find(id);
    if (it == stored.end()) ++missing;
    else if (it->second != 1) ++doubled;
  }
  EXPECT_EQ(missing, 0u) << "acknowledged but not stored";
  EXPECT_EQ(doubled, 0u) << "stored more than once";
  EXPECT_EQ(unprocessed, 0);
  std::cout << "crash test: " << acked.size() << " acknowledged, " << stored.size()
            << " stored (the rest were in flight when killed)\n";
}

}  // namespace

namespace {

// Sends one message with `carebridge send --tls`, trusting `ca`; the exit code.
int send_tls(int port, const std::filesystem::path& file, const std::filesystem::path& ca) {
  return run_process({bin, "send", "127.0.0.1:" + std::to_string(port), file.string(), "--tls",
                      "--ca", ca.string(), "--timeout", "5"})
      .exit_code;
}

}  // namespace

// Renewed TLS certificates are taken on SIGHUP without a restart; files that do not load leave the
// listener as it was, with one log line and a metric.
TEST(Serve, SighupReloadsTheTlsCertificates) {
  temp_dir dir;
  const auto make = [&](const char* name) {
    const auto d = dir / name;
    EXPECT_EQ(run_process({"/usr/bin/env", "bash", std::string(CAREBRIDGE_SOURCE_DIR) +
                                                       "/certs/make-dev-certs.sh",
                           d.string()})
                  .exit_code,
              0);
    return d;
  };
  const auto first = make("first"), renewed = make("renewed");
  const auto live = dir / "live";
  std::filesystem::create_directories(live);
  const auto put = [&](const std::filesystem::path& from) {
    for (const char* f : {"server.crt", "server.key"})
      std::filesystem::copy_file(from / f, live / f,
                                 std::filesystem::copy_options::overwrite_existing);
  };
  put(first);
  write_file(dir / "config.json", R"({"mllp": {"tls": {"certificate": ")" +
                                      (live / "server.crt").string() + R"(", "private_key": ")" +
                                      (live / "server.key").string() +
                                      R"(", "require_client_certificate": false}}})");
  gateway g(dir / "data", dir / "log", {"--config", (dir / "config.json").string()});
  ASSERT_GT(g.mllp_port, 0) << g.proc->log();
  write_file(dir / "m.hl7", a03("TLS-1"));
  EXPECT_EQ(send_tls(g.mllp_port, dir / "m.hl7", first / "ca.crt"), 0) << g.proc->log();
  EXPECT_NE(send_tls(g.mllp_port, dir / "m.hl7", renewed / "ca.crt"), 0);

  put(renewed);
  g.proc->signal(SIGHUP);
  g.proc->wait_for_log("\"event\":\"tls.reloaded\"", 10s);
  EXPECT_EQ(send_tls(g.mllp_port, dir / "m.hl7", renewed / "ca.crt"), 0) << g.proc->log();
  EXPECT_NE(send_tls(g.mllp_port, dir / "m.hl7", first / "ca.crt"), 0);

  write_file(live / "server.key", "not a key\n");
  g.proc->signal(SIGHUP);
  g.proc->wait_for_log("\"event\":\"tls.reload_failed\"", 10s);
  EXPECT_EQ(send_tls(g.mllp_port, dir / "m.hl7", renewed / "ca.crt"), 0) << g.proc->log();
  const std::string metrics = http_exchange(g.http_port, "GET", "/metrics");
  EXPECT_THAT(metrics,
              HasSubstr("carebridge_tls_reloads_total{listener=\"mllp\",outcome=\"reloaded\"} 1"));
  EXPECT_THAT(metrics,
              HasSubstr("carebridge_tls_reloads_total{listener=\"mllp\",outcome=\"failed\"} 1"));
  g.proc->signal(SIGTERM);
  EXPECT_EQ(g.proc->wait_for_exit(15s), 0) << g.proc->log();
}
