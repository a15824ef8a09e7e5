// carebridge_alerts_bench: the two alert benchmarks of issue 6. They report figures; they never
// fail on speed (exit 0 unless the run itself could not be made or lost or misrouted an alert).
//
//   carebridge_alerts_bench latency  --rate R --seconds S [--warmup S]
//   carebridge_alerts_bench delivery --alerts N [--subscribers K] [--max-count M]
//
// latency: the real binary end to end. A generated roster (one member per discharge, all of group
// G-BENCH, alert threshold low), `carebridge serve` on loopback ports, a loopback HTTPS subscriber
// (our HTTP server with the dev CA's server certificate) subscribed to attributed-discharge
// (id-only, maxCount 100). ADT^A03s go over one MLLP connection at R per second on a fixed
// schedule (open loop: a slow gateway does not slow the sender); each discharge's latency is from
// the moment its frame is written to the arrival, at the subscriber, of the notification that
// carries its event. One connection and one pipeline keep the order, so event k is discharge k;
// a sample of events is checked by reading the Encounter each names (its visit number) from the
// FHIR API. Reported with the MLLP ACK round trip of the same run as the reference.
//
// delivery: the fan-out and the notifier in process, on a real store (fsync on): N discharge
// alerts already in the outbox, K subscriptions of their group (readmission-risk, id-only,
// maxCount M), K loopback HTTPS subscribers. Reports the fan-out's rate (outbox entries and
// events recorded per second) and the delivery rate (alerts delivered to every subscriber per
// second, and event deliveries per second), against the floor of the same run: the same
// client posting bodies of the same size to the same subscribers, one in flight per subscriber,
// with no store, no fan-out and no Bundle building.
#include "adapters/fhir_rest/http_server.hpp"
#include "adapters/notify/notifier.hpp"
#include "adapters/notify/rest_hook_client.hpp"
#include "gateway/alerts/fan_out.hpp"
#include "gateway/obs/log.hpp"
#include "gateway/obs/metrics.hpp"
#include "gateway/store/sqlite_store.hpp"
#include "tests/e2e/process.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <fstream>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace rest = carebridge::adapters::fhir_rest;
namespace notify = carebridge::adapters::notify;
namespace store = carebridge::gateway::store;
namespace alerts = carebridge::gateway::alerts;
namespace obs = carebridge::gateway::obs;
using carebridge::test::background_process;
using carebridge::test::run_process;
using carebridge::test::slurp;
using carebridge::test::temp_dir;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

const std::string bin = CAREBRIDGE_BIN;
const std::string source = CAREBRIDGE_SOURCE_DIR;
const std::string data = CAREBRIDGE_TEST_DATA;

[[noreturn]] void die(const std::string& why) {
  std::cerr << "carebridge_alerts_bench: " << why << '\n';
  std::exit(1);
}

fs::path make_certs(const fs::path& dir) {
  const auto r = run_process({"/usr/bin/env", "bash", source + "/certs/make-dev-certs.sh",
                              dir.string()});
  if (r.exit_code != 0) die("make-dev-certs.sh failed: " + r.err);
  return dir;
}

double ms_of(steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// A loopback HTTPS subscriber: POST /hook answers 200 at once and records, per event number, when
// it first arrived and the event's focus reference. Handshakes and heartbeats are counted.
class sink {
 public:
  sink(asio::io_context& ioc, const fs::path& certs) {
    rest::http_options ho;
    ho.host = "127.0.0.1";
    ho.port = 0;
    ho.max_body_bytes = 64u << 20;
    ho.idle_timeout = 600s;
    ho.tls = carebridge::adapters::tls::server_options{(certs / "server.crt").string(),
                                                       (certs / "server.key").string(), "",
                                                       false};
    http_ = std::make_unique<rest::http_server>(ioc, metrics_, ho);
    http_->add("POST", "/hook", [this](const rest::http_request& r) {
      record(r.body);
      return rest::http_response{200, "application/fhir+json", "{}"};
    });
    port_ = http_->bind().port();
    http_->start();
  }
  void stop() { http_->stop(100ms); }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/hook"; }

  void record(const std::string& body) {
    const auto now = steady::now();
    static constexpr std::string_view number_at = R"("name":"event-number","valueString":")";
    static constexpr std::string_view focus_at = R"("name":"focus","valueReference":{"reference":")";
    std::lock_guard lock(mu_);
    ++posts_;
    if (body.find("\"handshake\"") != std::string::npos) ++handshakes_;
    if (sample_.empty() && body.find("\"event-notification\"") != std::string::npos) sample_ = body;
    for (std::size_t at = body.find(number_at); at != std::string::npos;
         at = body.find(number_at, at + 1)) {
      const std::size_t n = std::strtoull(body.c_str() + at + number_at.size(), nullptr, 10);
      if (n >= arrived_.size()) {
        arrived_.resize(std::max(n + 1, arrived_.size() * 2));
        focus_.resize(arrived_.size());
      }
      if (arrived_[n] == steady::time_point{}) {
        arrived_[n] = now;
        ++distinct_;
        const std::size_t f = body.find(focus_at, at);
        if (f != std::string::npos) {
          const std::size_t b = f + focus_at.size();
          focus_[n] = body.substr(b, body.find('"', b) - b);
        }
      } else {
        ++repeated_;
      }
    }
    cv_.notify_all();
  }
  bool wait_events(std::size_t n, std::chrono::seconds patience) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, patience, [&] { return distinct_ >= n; });
  }
  bool wait_handshake(std::chrono::seconds patience) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, patience, [&] { return handshakes_ > 0; });
  }
  std::optional<steady::time_point> arrival(std::size_t n) const {
    std::lock_guard lock(mu_);
    if (n >= arrived_.size() || arrived_[n] == steady::time_point{}) return std::nullopt;
    return arrived_[n];
  }
  steady::time_point last_arrival() const {
    std::lock_guard lock(mu_);
    steady::time_point t{};
    for (const auto& a : arrived_) t = std::max(t, a);
    return t;
  }
  std::string focus(std::size_t n) const {
    std::lock_guard lock(mu_);
    return n < focus_.size() ? focus_[n] : std::string();
  }
  std::size_t distinct() const {
    std::lock_guard lock(mu_);
    return distinct_;
  }
  std::size_t repeated() const {
    std::lock_guard lock(mu_);
    return repeated_;
  }
  std::size_t posts() const {
    std::lock_guard lock(mu_);
    return posts_;
  }
  std::string sample() const {
    std::lock_guard lock(mu_);
    return sample_;
  }

 private:
  obs::registry metrics_;
  std::unique_ptr<rest::http_server> http_;
  std::uint16_t port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<steady::time_point> arrived_;
  std::vector<std::string> focus_;
  std::size_t distinct_ = 0, repeated_ = 0, posts_ = 0, handshakes_ = 0;
  std::string sample_;
};

std::string subscription_json(const std::string& topic, const std::string& endpoint,
                              unsigned max_count) {
  return R"({"resourceType":"Subscription","status":"requested","reason":"benchmark",
    "criteria":"https://carebridge.example/fhir/SubscriptionTopic/)" + topic + R"(",
    "channel":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-max-count","valuePositiveInt":)" +
         std::to_string(max_count) + R"(}],
      "type":"rest-hook","endpoint":")" + endpoint + R"(","payload":"application/fhir+json",
      "header":["Authorization: Bearer bench-token"]}})";
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

// Letters for a number (names must differ between members).
std::string letters(std::size_t i) {
  std::string s;
  do {
    s.push_back(static_cast<char>('A' + i % 26));
    i /= 26;
  } while (i != 0);
  return s;
}

int port_of(const std::string& line) {
  static const std::regex re(R"re("address":"[^"]*:(\d+)")re");
  std::smatch m;
  return std::regex_search(line, m, re) ? std::stoi(m[1]) : -1;
}

std::string curl(const std::string& method, const std::string& url, const std::string& body = {}) {
  std::vector<std::string> argv{"/usr/bin/curl", "-s", "--interface", "127.0.0.1", "-X", method,
                                "-w", "\n%{http_code}", url};
  if (!body.empty())
    argv.insert(argv.end(), {"-H", "Content-Type: application/fhir+json", "--data-binary", body});
  return run_process(argv).out;
}

// --- latency ---------------------------------------------------------------------------------

int latency(double rate, double seconds, double warmup) {
  const std::size_t warm = static_cast<std::size_t>(rate * warmup);
  const std::size_t total = warm + static_cast<std::size_t>(rate * seconds);
  temp_dir dir;
  const fs::path certs = make_certs(dir.path() / "certs");
  const fs::path data_dir = dir.path() / "data";
  fs::create_directories(data_dir);

  // One member of G-BENCH per discharge.
  {
    std::ofstream f(dir.path() / "roster.csv");
    f << "member_id,family,given,birth_date,sex,postal_code,group_id,group_name,period_start,"
         "period_end\n";
    for (std::size_t i = 0; i < total; ++i)
      f << "HMB" << 100000000 + i << ",Fam" << letters(i) << ",Giv" << letters(i * 7 + 3)
        << ",1947-06-03,male,02127,G-BENCH,Bench Physicians,2026-01-01,\n";
  }
  auto r = run_process({bin, "roster", "import", (dir.path() / "roster.csv").string(),
                        "--data-dir", data_dir.string()});
  if (r.exit_code != 0) die("roster import: " + r.err);
  r = run_process({bin, "group", "set", "G-BENCH", "--risk-threshold", "low", "--data-dir",
                   data_dir.string()});
  if (r.exit_code != 0) die("group set: " + r.err);
  std::string cfg = slurp(data + "/fhir/facilities.json");
  cfg.insert(cfg.rfind('}'), R"(,
    "auth": {"mode": "certificate"},
    "group_clients": [{"name": "bench-group", "group": "G-BENCH", "addresses": ["127.0.0.1"]}],
    "notify": {"ca_file": ")" + (certs / "ca.crt").string() + R"("}
  )");
  std::ofstream(dir.path() / "config.json") << cfg;

  // The discharges: the St. Brigid A03 sample, made one member's and one stay's each.
  const std::string tmpl =
      replace_all(slurp(data + "/hl7/adt/stbrigid_v24_A03_03.hl7"),
                  "~987364419^^^SSA^SS~7TQ2GD5VH38^^^CMS^MC", "");
  std::vector<std::string> frames;
  frames.reserve(total);
  for (std::size_t i = 0; i < total; ++i) {
    std::string m = tmpl;
    m = replace_all(m, "STB202611041152030008", "BENCH" + std::to_string(10000000 + i));
    m = replace_all(m, "SB21288734", "SB" + std::to_string(50000000 + i));
    m = replace_all(m, "HMA300481772", "HMB" + std::to_string(100000000 + i));
    m = replace_all(m, "Doherty^Francis", "Fam" + letters(i) + "^Giv" + letters(i * 7 + 3));
    m = replace_all(m, "4471782215", std::to_string(7000000000 + i));
    m = replace_all(m, "987-36-4419", "");
    frames.push_back("\x0b" + m + "\x1c\x0d");
  }

  background_process gw({bin, "serve", "--data-dir", data_dir.string(), "--config",
                         (dir.path() / "config.json").string(), "--mllp-listen", "127.0.0.1:0",
                         "--http-listen", "127.0.0.1:0"},
                        dir.path() / "gateway.log");
  const int mllp = port_of(gw.wait_for_log("\"listener\":\"mllp\"", 30s));
  const int http_port = port_of(gw.wait_for_log("\"listener\":\"http\"", 30s));
  gw.wait_for_log("\"event\":\"started\"", 60s);
  if (mllp <= 0 || http_port <= 0) die("the gateway did not start: " + gw.log());
  const std::string base = "http://127.0.0.1:" + std::to_string(http_port) + "/fhir";

  asio::io_context sink_ioc;
  auto guard = asio::make_work_guard(sink_ioc);
  sink s(sink_ioc, certs);
  std::thread sink_thread([&] { sink_ioc.run(); });

  const auto created = curl("POST", base + "/Subscription",
                            subscription_json("attributed-discharge", s.url(), 100));
  if (created.find("\n201") == std::string::npos) die("subscription refused: " + created);
  if (!s.wait_handshake(30s)) die("no handshake: " + gw.log());
  std::this_thread::sleep_for(500ms);  // active in the store

  asio::io_context mllp_ioc;
  asio::ip::tcp::socket sock(mllp_ioc);
  sock.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(mllp)});
  sock.set_option(asio::ip::tcp::no_delay(true));
  std::vector<steady::time_point> sent(total), acked(total);
  std::atomic<std::size_t> not_aa{0};
  std::thread reader([&] {
    std::string buf;
    std::array<char, 65536> chunk{};
    std::size_t k = 0;
    boost::system::error_code ec;
    while (k < total) {
      const std::size_t n = sock.read_some(asio::buffer(chunk), ec);
      if (ec) break;
      buf.append(chunk.data(), n);
      for (std::size_t end = buf.find("\x1c\x0d"); end != std::string::npos;
           end = buf.find("\x1c\x0d")) {
        if (k < total) acked[k] = steady::now();
        if (std::string_view(buf).substr(0, end).find("MSA|AA") == std::string_view::npos)
          ++not_aa;
        ++k;
        buf.erase(0, end + 2);
      }
    }
  });
  const auto period = std::chrono::duration_cast<steady::duration>(
      std::chrono::duration<double>(1.0 / rate));
  const auto t0 = steady::now() + 50ms;
  std::size_t late = 0;  // frames written more than 1 ms after their slot (the sender fell behind)
  for (std::size_t i = 0; i < total; ++i) {
    const auto slot = t0 + period * static_cast<long>(i);
    std::this_thread::sleep_until(slot);
    sent[i] = steady::now();
    if (sent[i] - slot > 1ms) ++late;
    asio::write(sock, asio::buffer(frames[i]));
  }
  const auto send_end = steady::now();
  reader.join();
  const bool all = s.wait_events(total, 120s);

  std::vector<double> lat, ack;
  std::size_t missing = 0;
  for (std::size_t i = warm; i < total; ++i) {
    const auto a = s.arrival(i + 1);
    if (!a) {
      ++missing;
      continue;
    }
    lat.push_back(ms_of(*a - sent[i]));
    if (acked[i] != steady::time_point{}) ack.push_back(ms_of(acked[i] - sent[i]));
  }
  // Event k is discharge k: the Encounter a sample of events names has that stay's visit number.
  std::size_t checked = 0, wrong = 0;
  for (std::size_t i = 0; i < total; i += std::max<std::size_t>(1, total / 10)) {
    const std::string focus = s.focus(i + 1);
    const auto at = focus.find("/Encounter/");
    if (at == std::string::npos) {
      ++wrong;
      continue;
    }
    const std::string enc = curl("GET", base + focus.substr(at));
    ++checked;
    if (enc.find(std::to_string(7000000000 + i)) == std::string::npos) ++wrong;
  }
  std::printf(
      "latency rate=%.0f/s discharges=%zu (measured %zu after %zu warm-up) sent_in=%.2fs late_sends=%zu\n"
      "  MLLP frame -> notification at the subscriber: p50 %.1f ms  p99 %.1f ms  max %.1f ms\n"
      "  reference, MLLP ACK round trip:               p50 %.2f ms  p99 %.2f ms\n"
      "  delivered %zu/%zu (missing %zu, repeated %zu, posts %zu), non-AA ACKs %zu, "
      "order checks %zu/%zu\n",
      rate, total, lat.size() + missing, warm, std::chrono::duration<double>(send_end - t0).count(),
      late, percentile(lat, 50), percentile(lat, 99),
      lat.empty() ? 0.0 : *std::max_element(lat.begin(), lat.end()), percentile(ack, 50),
      percentile(ack, 99), s.distinct(), total, missing, s.repeated(), s.posts(), not_aa.load(),
      checked - wrong, checked);
  gw.signal(SIGTERM);
  gw.wait_for_exit(30s);
  std::uintmax_t store_bytes = 0;  // for the operations guide's sizing
  for (const auto& e : fs::recursive_directory_iterator(data_dir))
    if (e.is_regular_file() && e.path().filename() != "members.db") store_bytes += e.file_size();
  std::printf("  store after the run: %.1f MB, %.1f KB per discharge (members.db not counted)\n",
              static_cast<double>(store_bytes) / 1e6,
              static_cast<double>(store_bytes) / 1e3 / static_cast<double>(total));
  if (const char* keep = std::getenv("CAREBRIDGE_BENCH_LOG"))  // the gateway's log, to look into
    fs::copy_file(dir.path() / "gateway.log", keep, fs::copy_options::overwrite_existing);
  s.stop();
  guard.reset();
  sink_thread.join();
  if (!all || missing != 0 || wrong != 0 || not_aa != 0) {
    std::cerr << "carebridge_alerts_bench: alerts lost or misordered\n";
    return 1;
  }
  return 0;
}

// --- delivery --------------------------------------------------------------------------------

template <class Op>
bool wait_done(Op op) {
  std::promise<bool> p;
  op([&p](bool ok) { p.set_value(ok); });
  return p.get_future().get();
}

int delivery(std::size_t n, std::size_t k, unsigned max_count) {
  temp_dir dir;
  const fs::path certs = make_certs(dir.path() / "certs");
  obs::configure(std::getenv("CAREBRIDGE_BENCH_DEBUG") ? obs::level::info : obs::level::warn, &std::cerr);
  auto db = store::sqlite_store::open(dir.path() / "data", {});

  asio::io_context sink_ioc;
  auto sink_guard = asio::make_work_guard(sink_ioc);
  std::vector<std::unique_ptr<sink>> sinks;
  for (std::size_t i = 0; i < k; ++i) sinks.push_back(std::make_unique<sink>(sink_ioc, certs));
  std::thread sink_thread([&] { sink_ioc.run(); });

  // The subscriptions first: an outbox entry is an event of the subscriptions made before it.
  for (std::size_t i = 0; i < k; ++i) {
    store::subscription_row row;
    row.id = "sub-" + std::to_string(i);
    row.group_id = "G1";
    row.topic = "https://carebridge.example/fhir/SubscriptionTopic/readmission-risk";
    row.status = "requested";
    row.json = subscription_json("readmission-risk", sinks[i]->url(), max_count);
    if (!wait_done([&](auto d) { db->save_subscription(row, d); })) die("save_subscription");
  }

  // N discharge alerts of G1 in the outbox, one message each.
  {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::int64_t> ids;
    for (std::size_t i = 0; i < n; ++i) {
      store::inbound_record r;
      r.sending_application = "EPIC";
      r.sending_facility = "MERCY";
      r.control_id = "D" + std::to_string(i);
      r.message_type = "ADT^A03";
      r.ack_code = "AA";
      r.raw = "MSH|^~\\&|EPIC|MERCY|||||ADT^A03|" + r.control_id + "|P|2.5\r";
      db->submit(std::move(r), [&](store::commit_result c) {
        std::lock_guard lock(mu);
        ids.push_back(c.id);
        cv.notify_all();
      });
    }
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return ids.size() == n; });
    }
    std::sort(ids.begin(), ids.end());
    std::atomic<std::size_t> settled{0};
    for (std::size_t i = 0; i < n; ++i) {
      store::processing_result pr;
      store::alert_row a;
      a.kind = "alert";
      a.event_kind = "discharge";
      a.group_id = "G1";
      a.patient_id = "patient-" + std::to_string(i);
      a.encounter_id = "encounter-" + std::to_string(i);
      a.risk_assessment_id = "risk-" + std::to_string(i);
      a.task_id = "task-" + std::to_string(i);
      a.risk_band = "high";
      a.occurred = "2026-11-20T10:00:00Z";
      pr.alerts.push_back(std::move(a));
      db->settle_processed(ids[i], std::move(pr), [&](bool) {
        settled.fetch_add(1);
        std::lock_guard lock(mu);
        cv.notify_all();
      });
    }
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return settled.load() == n; });
  }

  // The fan-out and the notifier together, as in `carebridge serve`: the fan-out numbers the
  // outbox's entries as the K subscriptions' events, the notifier handshakes and sends them.
  asio::io_context ioc;
  auto guard = asio::make_work_guard(ioc);
  obs::registry metrics;
  notify::notifier_options no;
  no.base_url = "https://gateway.example/fhir";
  no.client.ca_file = (certs / "ca.crt").string();
  notify::notifier nt(ioc, *db, *db, metrics, no);
  std::vector<std::thread> io;
  for (int i = 0; i < 2; ++i) io.emplace_back([&] { ioc.run(); });
  alerts::fan_out f(*db, *db);
  const auto d0 = steady::now();
  nt.start();
  std::optional<steady::time_point> fanned;
  {
    alerts::fan_out_loop loop(f, 200ms, [&nt] { nt.cue(); });
    loop.cue();
    while (loop.events_recorded() < n * k && steady::now() - d0 < 600s)
      std::this_thread::sleep_for(1ms);
    fanned = steady::now();
    loop.stop();
  }
  const double fan_s = std::chrono::duration<double>(*fanned - d0).count();
  bool all = true;
  for (auto& s : sinks) all = s->wait_events(n, 600s) && all;
  steady::time_point last{};
  for (auto& s : sinks) last = std::max(last, s->last_arrival());
  const double del_s = std::chrono::duration<double>(last - d0).count();
  std::size_t posts = 0, repeated = 0;
  for (auto& s : sinks) {
    posts += s->posts();
    repeated += s->repeated();
  }
  nt.stop();

  // The floor: the same client, bodies of the same size, one in flight per subscriber.
  const std::string body = sinks[0]->sample();
  const std::size_t per_sink = (n + max_count - 1) / max_count;
  double floor_s = 0;
  {
    notify::client_options co;
    co.ca_file = (certs / "ca.crt").string();
    notify::rest_hook_client client(ioc, co);
    std::vector<std::string> urls;
    for (auto& s : sinks) urls.push_back(s->url() + "?floor");
    std::atomic<std::size_t> failed{0};
    const auto t0 = steady::now();
    std::vector<std::future<void>> lanes;
    for (const auto& url : urls)
      lanes.push_back(std::async(std::launch::async, [&client, &failed, url, &body, per_sink] {
        for (std::size_t j = 0; j < per_sink; ++j) {
          notify::delivery_request req;
          req.endpoint = url;
          req.body = body;
          auto r = client.async_post(std::move(req), asio::use_future).get();
          if (r.status != 200) ++failed;
        }
      }));
    for (auto& l : lanes) l.get();
    floor_s = std::chrono::duration<double>(steady::now() - t0).count();
    client.shutdown();
    if (failed) die("floor posts failed");
  }
  guard.reset();
  for (auto& t : io) t.join();
  for (auto& s : sinks) s->stop();
  sink_guard.reset();
  sink_thread.join();

  const double deliveries = static_cast<double>(n * k);
  std::printf(
      "delivery alerts=%zu subscribers=%zu maxCount=%u (%zu notifications of ~%zu bytes each "
      "per subscriber)\n"
      "  fan-out:   %zu entries -> %zu events numbered in %.2fs: %.0f entries/s, %.0f events/s\n"
      "  delivered: every alert at all %zu subscribers in %.2fs: %.0f alerts/s "
      "(%.0f event deliveries/s; %zu posts, %zu repeated events)\n"
      "  floor, same client and bodies without the gateway: %.2fs: %.0f alerts/s "
      "(%.0f event deliveries/s)\n",
      n, k, max_count, per_sink, body.size(), n, n * k, fan_s, static_cast<double>(n) / fan_s,
      static_cast<double>(n * k) / fan_s, k, del_s,
      static_cast<double>(n) / del_s, deliveries / del_s, posts, repeated, floor_s,
      static_cast<double>(n) / floor_s, deliveries / floor_s);
  db->close();
  return all ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  auto opt = [&](const std::string& name, double def) {
    for (std::size_t i = 0; i + 1 < a.size(); ++i)
      if (a[i] == name) return std::stod(a[i + 1]);
    return def;
  };
  if (!a.empty() && a[0] == "latency")
    return latency(opt("--rate", 100), opt("--seconds", 10), opt("--warmup", 1));
  if (!a.empty() && a[0] == "delivery")
    return delivery(static_cast<std::size_t>(opt("--alerts", 20000)),
                    static_cast<std::size_t>(opt("--subscribers", 10)),
                    static_cast<unsigned>(opt("--max-count", 100)));
  std::cerr << "usage: carebridge_alerts_bench latency --rate R --seconds S [--warmup S]\n"
               "       carebridge_alerts_bench delivery --alerts N [--subscribers K] "
               "[--max-count M]\n";
  return 2;
}
