// Shared setup of the alert end-to-end tests (alerts_serve_test.cpp, alerts_faults_test.cpp): a
// roster with one member of G-SB, the dev certificates, a config with two group clients told
// apart by loopback address, `carebridge serve` on free ports, group endpoints run by
// deploy/demo_subscriber.py over HTTPS (optionally misbehaving), and what those endpoints
// received: the Bundles in arrival order, the event numbers, and — when $CAREBRIDGE_DUMP_DIR is set
// — each received Bundle written there for conformance/fhir/subscriptions_check.mjs.
#pragma once

#include "tests/e2e/http_client.hpp"
#include "tests/e2e/process.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace carebridge::test::alerts_e2e {

using namespace std::chrono_literals;

inline const std::string bin = CAREBRIDGE_BIN;
inline const std::string data = CAREBRIDGE_TEST_DATA;
inline const std::string source = CAREBRIDGE_SOURCE_DIR;

// curl from a given loopback source address (the group clients are told apart by address).
inline process_result http(const std::string& from, const std::string& method,
                           const std::string& url, const std::string& body = {}) {
  std::vector<std::string> argv{"/usr/bin/curl", "-s",  "--interface", from, "-X", method,
                                "-w",            "\n%{http_code}", url};
  if (!body.empty()) {
    argv.insert(argv.end(), {"-H", "Content-Type: application/fhir+json", "--data-binary", body});
  }
  return run_process(argv);
}

// A rest-hook Subscription to the readmission-risk topic (id-only), with the group's token as a
// channel header; `channel_extensions` are JSON objects for channel.extension (e.g. a timeout).
inline std::string subscription(const std::string& endpoint,
                                const std::string& channel_extensions = {}) {
  return R"({"resourceType":"Subscription","status":"requested","reason":"care coordination",
    "criteria":"https://carebridge.example/fhir/SubscriptionTopic/readmission-risk",
    "channel":{)" +
         (channel_extensions.empty() ? std::string()
                                     : R"("extension":[)" + channel_extensions + "],") +
         R"("type":"rest-hook","endpoint":")" + endpoint +
         R"(","payload":"application/fhir+json",
      "header":["Authorization: Bearer group-token"]}})";
}

// The id a create answered with ("" when none).
inline std::string id_of(const std::string& created) {
  std::smatch id;
  return std::regex_search(created, id, std::regex(R"re("id":"([0-9a-f-]{36})")re")) ? id[1].str()
                                                                                      : "";
}

// A group's endpoint: deploy/demo_subscriber.py with the dev CA's server certificate, recording
// what it accepted (record) and every request with its answer (attempts). `options` are more
// demo_subscriber.py options, e.g. "--fail-first 2 --fail-status 500".
struct endpoint {
  std::unique_ptr<background_process> proc;
  std::filesystem::path record;
  std::filesystem::path attempts;
  int port = -1;
  endpoint(const std::filesystem::path& dir, const std::string& name,
           const std::filesystem::path& certs, int fixed_port = 0,
           const std::string& options = {}) {
    record = dir / (name + ".jsonl");
    attempts = dir / (name + ".attempts.jsonl");
    proc = std::make_unique<background_process>(
        std::vector<std::string>{"/usr/bin/env", "bash", "-c",
                                 "exec python3 " + source + "/deploy/demo_subscriber.py "
                                 "--listen 127.0.0.1:" + std::to_string(fixed_port) +
                                 " --tls-cert " + (certs / "server.crt").string() +
                                 " --tls-key " + (certs / "server.key").string() +
                                 " --token group-token --record " + record.string() +
                                 " --attempts " + attempts.string() + " " + options + " 1>&2"},
        dir / (name + ".log"));
    port = port_from(proc->wait_for_log("\"listening\"", 20s));
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port) + "/hook"; }
  std::string received() const { return slurp(record); }
  bool wait_for(const std::string& needle) const {
    for (int i = 0; i < 1500; ++i) {  // 30 s: only to notice a hang
      if (std::filesystem::exists(record) && received().find(needle) != std::string::npos)
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  // The accepted Bundles, one per line, in arrival order.
  std::vector<std::string> bundles() const {
    std::vector<std::string> out;
    std::istringstream in(received());
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(line);
    return out;
  }
  // The event numbers of the accepted event-notifications, in arrival order.
  std::vector<int> event_numbers() const {
    static const std::regex re(R"re("name":"event-number","valueString":"(\d+)")re");
    std::vector<int> out;
    for (const auto& b : bundles())
      for (std::sregex_iterator it(b.begin(), b.end(), re), end; it != end; ++it)
        out.push_back(std::stoi((*it)[1]));
    return out;
  }
  // Whether events 1..n have all been accepted.
  bool wait_for_events(int n) const {
    for (int i = 0; i < 1500; ++i) {  // 30 s: only to notice a hang
      const auto got = event_numbers();
      if (std::set<int>(got.begin(), got.end()).size() >= static_cast<std::size_t>(n)) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  // Every request with its answer, as demo_subscriber.py --attempts wrote them (JSON lines).
  std::vector<std::string> attempt_lines() const {
    std::vector<std::string> out;
    std::istringstream in(slurp(attempts));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(line);
    return out;
  }
};

// "" when `numbers` (event numbers in arrival order) are events 1..n, each first arriving after
// all lower ones (in order, no gap), repeats of already delivered ones allowed (at-least-once
// retries); otherwise what is wrong.
inline std::string in_order_without_gaps(const std::vector<int>& numbers, int n) {
  std::vector<int> first;
  std::set<int> seen;
  for (int x : numbers) {
    if (x < 1 || x > n) return "event " + std::to_string(x) + " is outside 1.." + std::to_string(n);
    if (seen.insert(x).second) first.push_back(x);
  }
  std::vector<int> want(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) want[static_cast<std::size_t>(i)] = i + 1;
  if (first != want) {
    std::string got;
    for (int x : numbers) got += std::to_string(x) + " ";
    return "first arrivals are not 1.." + std::to_string(n) + " in order: " + got;
  }
  return "";
}

// The notification type of a received Bundle ("handshake", "event-notification", ...).
inline std::string type_of(const std::string& bundle) {
  static const std::regex re(R"re("name":"type","valueCode":"([a-z-]+)")re");
  std::smatch m;
  return std::regex_search(bundle, m, re) ? m[1].str() : "unknown";
}

// With $CAREBRIDGE_DUMP_DIR set: each Bundle `e` received, as
// notification-<type>[-id-only]-e2e-<label>-<n>.json (the name tells subscriptions_check.mjs what
// to expect: the subscriptions here are id-only). Nothing otherwise.
inline void dump_received(const endpoint& e, const std::string& label) {
  const char* dir = std::getenv("CAREBRIDGE_DUMP_DIR");
  if (dir == nullptr || *dir == 0) return;
  std::filesystem::create_directories(dir);
  int n = 0;
  for (const auto& b : e.bundles()) {
    const std::string type = type_of(b);
    const std::string kind = type == "event-notification" ? "event-id-only" : type;
    write_file(std::filesystem::path(dir) /
                   ("notification-" + kind + "-e2e-" + label + "-" + std::to_string(++n) + ".json"),
               b);
  }
}

// A roster (one member of G-SB), dev certificates, and a config with two group clients by address
// (127.0.0.1 for G-SB, 127.0.0.2 for G-OTHER) and the dev CA for the endpoints; `notify_extra`
// adds members to the config's "notify" object (e.g. R"(, "backoff_max_ms": 200)").
struct setup {
  temp_dir dir;
  std::filesystem::path certs = dir / "certs";
  std::filesystem::path data_dir = dir / "data";
  explicit setup(const std::string& notify_extra = {}) {
    EXPECT_EQ(run_process({"/usr/bin/env", "bash", source + "/certs/make-dev-certs.sh",
                           certs.string()})
                  .exit_code,
              0);
    std::filesystem::create_directories(data_dir);
    {
      std::ofstream f(dir / "roster.csv");
      f << "member_id,family,given,birth_date,sex,postal_code,group_id,group_name,period_start,"
           "period_end\n"
           "HMA300481772,Doherty,Francis,1947-06-03,male,02127,G-SB,St Brigid Primary Care,"
           "2026-01-01,\n";
    }
    auto imported = run_process({bin, "roster", "import", (dir / "roster.csv").string(),
                                 "--data-dir", data_dir.string()});
    EXPECT_EQ(imported.exit_code, 0) << imported.err;
    EXPECT_EQ(run_process({bin, "group", "set", "G-SB", "--risk-threshold", "low", "--data-dir",
                           data_dir.string()})
                  .exit_code,
              0);
    // The config: the sample facilities, two group clients by address (auth mode "certificate";
    // SMART tokens are the e2e subject of smart_serve_test.cpp), the dev CA for endpoints.
    std::string cfg = slurp(data + "/fhir/facilities.json");
    const auto last = cfg.rfind('}');
    cfg.insert(last, R"(,
    "auth": {"mode": "certificate"},
    "group_clients": [
      {"name": "st-brigid-pcp", "group": "G-SB", "addresses": ["127.0.0.1"]},
      {"name": "other-group", "group": "G-OTHER", "addresses": ["127.0.0.2"]}],
    "notify": {"ca_file": ")" + (certs / "ca.crt").string() + "\"" + notify_extra + R"(}
  )");
    std::ofstream(dir / "config.json") << cfg;
  }
  // `carebridge serve` on free ports; the HTTP base and the MLLP port once it has started.
  std::unique_ptr<background_process> serve(const std::string& log, int& mllp, std::string& base) {
    auto gw = std::make_unique<background_process>(
        std::vector<std::string>{bin, "serve", "--data-dir", data_dir.string(), "--config",
                                 (dir / "config.json").string(), "--mllp-listen", "127.0.0.1:0",
                                 "--http-listen", "127.0.0.1:0"},
        dir / log);
    mllp = port_from(gw->wait_for_log("\"listener\":\"mllp\"", 20s));
    const int http_port = port_from(gw->wait_for_log("\"listener\":\"http\"", 20s));
    gw->wait_for_log("\"event\":\"started\"", 20s);
    base = "http://127.0.0.1:" + std::to_string(http_port) + "/fhir";
    return gw;
  }
};

// Whether a subscription's status, as its group's client reads it, becomes `want` (30 s at most:
// only to notice a hang).
inline bool becomes(const std::string& base, const std::string& id, const std::string& want) {
  for (int i = 0; i < 1500; ++i) {
    if (http("127.0.0.1", "GET", base + "/Subscription/" + id).out.find(
            "\"status\":\"" + want + "\"") != std::string::npos)
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

}  // namespace carebridge::test::alerts_e2e
