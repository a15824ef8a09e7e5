// carebridge_ingest_bench: the durable ingest path without the network, to measure the store.
//
//   carebridge_ingest_bench [--connections N] [--seconds S] [--warmup S] [--data DIR]
//                           [--no-fsync] [--no-pipeline] [--convert] [--pipeline-nice N]
//                           [--messages DIR]
//
// N virtual connections in a closed loop, as the MLLP load tool drives `carebridge serve`: each
// hands its next frame (a sample from tests/data/hl7/adt with a unique MSH-10) to ingest_service
// once the previous one is committed; completions come back to one "io" thread through an
// io_context, as in the listener. The pipeline worker runs as in `carebridge serve` (at nice +10),
// with the header check only, or with the FHIR conversion stage (--convert). Reports one
// JSON line: messages per second, CPU per message (all threads of the process), bytes written per
// message (/proc/self/io), commits, and what the pipeline still had to do at the end.
//
// Pin it to one core (taskset -c 0) to see what one core buys. A report, not a test.
#include "gateway/config/config.hpp"
#include "gateway/ingest/conversion_stage.hpp"
#include "gateway/ingest/ingest_service.hpp"
#include "gateway/ingest/pipeline_worker.hpp"
#include "gateway/obs/log.hpp"
#include "gateway/store/sqlite_store.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace carebridge::gateway;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  std::size_t connections = 16;
  double seconds = 5;
  double warmup = 1;
  fs::path data;
  bool fsync = true;
  bool pipeline = true;
  bool convert =
      false;  // the FHIR conversion stage of `carebridge serve` instead of the header check
  int nice = 10;
  fs::path messages = CAREBRIDGE_TEST_DATA "/hl7/adt";
};

// A sample split around MSH-10, so each send gets a unique control id.
struct message_template {
  std::string prefix, suffix;
};

std::vector<message_template> load_templates(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".hl7") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<message_template> out;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    std::string text = std::move(s).str();
    for (char& c : text)
      if (c == '\n') c = '\r';
    // MSH-10 follows the 9th field separator (the first, at offset 3, is MSH-1 itself).
    std::size_t pos = 3;
    for (int i = 0; i < 8 && pos != std::string::npos; ++i) pos = text.find('|', pos + 1);
    if (pos == std::string::npos) continue;
    const std::size_t end = text.find_first_of("|\r", pos + 1);
    out.push_back({text.substr(0, pos + 1), text.substr(end)});
  }
  return out;
}

struct io_counters {
  std::uint64_t wchar = 0, write_bytes = 0;
};

io_counters read_io() {
  io_counters c;
  std::ifstream in("/proc/self/io");
  std::string key;
  std::uint64_t v = 0;
  while (in >> key >> v) {
    if (key == "wchar:") c.wchar = v;
    if (key == "write_bytes:") c.write_bytes = v;
  }
  return c;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct bench {
  options opts;
  std::vector<message_template> templates;
  asio::io_context ioc;
  ingest::ingest_service* svc = nullptr;
  ingest::connection_info info;
  ingest::sender_grant grant{true, {}};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> failed{0};
  clock_type::time_point end;
  std::size_t running = 0;

  void send(std::size_t conn, std::uint64_t seq) {
    const auto& t = templates[(conn + seq) % templates.size()];
    std::string frame;
    frame.reserve(t.prefix.size() + t.suffix.size() + 24);
    frame.append(t.prefix);
    frame.push_back('B');
    frame.append(std::to_string(conn));
    frame.push_back('-');
    frame.append(std::to_string(seq));
    frame.append(t.suffix);
    svc->ingest(std::move(frame), info, grant, [this, conn, seq](ingest::ingest_result r) {
      asio::post(ioc, [this, conn, seq, ok = r.stored && !r.duplicate] {
        completed.fetch_add(1, std::memory_order_relaxed);
        if (!ok) failed.fetch_add(1, std::memory_order_relaxed);
        if (clock_type::now() < end) {
          send(conn, seq + 1);
        } else if (--running == 0) {
          ioc.stop();
        }
      });
    });
  }
};

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 == argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--connections")
      o.connections = std::stoul(value());
    else if (a == "--seconds")
      o.seconds = std::stod(value());
    else if (a == "--warmup")
      o.warmup = std::stod(value());
    else if (a == "--data")
      o.data = value();
    else if (a == "--messages")
      o.messages = value();
    else if (a == "--no-fsync")
      o.fsync = false;
    else if (a == "--no-pipeline")
      o.pipeline = false;
    else if (a == "--convert")
      o.convert = true;
    else if (a == "--pipeline-nice")
      o.nice = std::stoi(value());
    else {
      std::cerr << "usage: carebridge_ingest_bench [--connections N] [--seconds S] [--warmup S] "
                   "[--data DIR] [--no-fsync] [--no-pipeline] [--convert] [--pipeline-nice N] "
                   "[--messages DIR]\n";
      return 2;
    }
  }
  obs::configure(obs::level::warn);
  const bool own_dir = o.data.empty();
  if (own_dir) o.data = fs::temp_directory_path() / ("ingest_bench." + std::to_string(getpid()));
  fs::remove_all(o.data);

  bench b;
  b.opts = o;
  b.templates = load_templates(o.messages);
  if (b.templates.empty()) {
    std::cerr << "no messages in " << o.messages << '\n';
    return 1;
  }
  b.info.listener = "mllp";
  b.info.peer_address = "127.0.0.1";
  b.info.peer_port = 40000;

  std::uint64_t pending_at_end = 0;
  std::uintmax_t wal_bytes = 0, db_bytes = 0;
  std::uint64_t processed = 0;
  double rate = 0, cpu_per_msg_us = 0, wchar_per_msg = 0, wbytes_per_msg = 0, commits_per_s = 0;
  std::uint64_t measured = 0;
  {
    store::sqlite_store::options so;
    so.fsync = o.fsync;
    auto store = store::sqlite_store::open(o.data, so);
    obs::registry metrics;
    ingest::sender_policy policy;
    config::config cfg;
    ingest::conversion_stage convert(cfg, metrics);
    ingest::pipeline_worker::options wo;
    wo.nice = o.nice;
    ingest::pipeline_worker worker(
        *store, metrics, std::chrono::milliseconds(1000),
        o.convert
            ? ingest::processor([&convert](const store::stored_message& m,
                                           store::processing_result& r) { return convert(m, r); })
            : ingest::processor{},
        wo);
    ingest::ingest_service::options io;
    if (o.pipeline)
      io.on_accepted = [&worker](store::stored_message m) { worker.enqueue(std::move(m)); };
    ingest::ingest_service svc(*store, policy, metrics, io);
    b.svc = &svc;
    if (o.pipeline) worker.start();

    const auto start = clock_type::now();
    b.end = start + std::chrono::duration_cast<clock_type::duration>(
                        std::chrono::duration<double>(o.warmup + o.seconds));
    b.running = o.connections;
    auto work = asio::make_work_guard(b.ioc);
    for (std::size_t c = 0; c < o.connections; ++c) asio::post(b.ioc, [&b, c] { b.send(c, 0); });

    // The measured window starts after the warm-up: sample the counters then, from another thread.
    std::uint64_t n0 = 0, commits0 = 0;
    double cpu0 = 0;
    io_counters io0;
    clock_type::time_point t0;
    std::thread sampler([&] {
      std::this_thread::sleep_until(start + std::chrono::duration_cast<clock_type::duration>(
                                                std::chrono::duration<double>(o.warmup)));
      t0 = clock_type::now();
      n0 = b.completed.load();
      commits0 = store->commits();
      cpu0 = cpu_seconds();
      io0 = read_io();
    });
    b.ioc.run();
    const auto t1 = clock_type::now();
    const std::uint64_t n1 = b.completed.load();
    const double cpu1 = cpu_seconds();
    const io_counters io1 = read_io();
    const std::uint64_t commits1 = store->commits();
    sampler.join();
    measured = n1 - n0;
    const double secs = std::chrono::duration<double>(t1 - t0).count();
    rate = static_cast<double>(measured) / secs;
    const double per = measured ? 1.0 / static_cast<double>(measured) : 0.0;
    cpu_per_msg_us = (cpu1 - cpu0) * 1e6 * per;
    wchar_per_msg = static_cast<double>(io1.wchar - io0.wchar) * per;
    wbytes_per_msg = static_cast<double>(io1.write_bytes - io0.write_bytes) * per;
    commits_per_s = static_cast<double>(commits1 - commits0) / secs;
    pending_at_end = store->backlog().pending;
    std::error_code ec;
    wal_bytes = fs::file_size(o.data / "carebridge.db-wal", ec);
    db_bytes = fs::file_size(o.data / "carebridge.db", ec);
    worker.stop();
    processed = worker.processed();
    if (std::getenv("INGEST_BENCH_METRICS")) std::cerr << metrics.expose();
    store->close();
  }
  std::printf(
      "{\"connections\":%zu,\"fsync\":%s,\"pipeline\":%s,\"messages\":%llu,\"msgs_per_sec\":%.0f,"
      "\"cpu_us_per_msg\":%.1f,\"wchar_per_msg\":%.0f,\"write_bytes_per_msg\":%.0f,"
      "\"commits_per_sec\":%.0f,\"failed\":%llu,\"pipeline_processed\":%llu,"
      "\"pending_at_end\":%llu,\"wal_mib\":%.1f,\"db_mib\":%.1f}\n",
      o.connections, o.fsync ? "true" : "false", o.pipeline ? "true" : "false",
      static_cast<unsigned long long>(measured), rate, cpu_per_msg_us, wchar_per_msg,
      wbytes_per_msg, commits_per_s, static_cast<unsigned long long>(b.failed.load()),
      static_cast<unsigned long long>(processed), static_cast<unsigned long long>(pending_at_end),
      static_cast<double>(wal_bytes) / 1048576.0, static_cast<double>(db_bytes) / 1048576.0);
  if (own_dir) fs::remove_all(o.data);
  return 0;
}
