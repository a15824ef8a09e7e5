// carebridge_mllp_load: a closed-loop MLLP load generator, and an idle-connection holder.
//
//   carebridge_mllp_load --connect HOST:PORT --connections N --seconds S [--warmup S]
//                        [--messages DIR_OR_FILE...] [--unique-ids] [--timeout S] [--json]
//   carebridge_mllp_load --connect HOST:PORT --idle N --hold S [--sources K] [--json]
//
// Load mode: every connection sends one framed message (0x0B msg 0x1C 0x0D), reads until the 0x1C
// 0x0D that ends the ACK, checks it holds "MSA|AA" or "MSA|CA", records the round trip, and only
// then sends the next one. Messages that start after the warm-up and finish before the end are
// measured; throughput is their count over the measured seconds. Latencies go into a log-bucket
// histogram (relative error under 0.4 %, fixed memory), the maximum is exact.
//
// Idle mode: opens N connections that send nothing (giving up on those not open within 60 s), tells
// stderr {"event":"idle_held",...} once they are open, holds them S seconds (noticing any the
// server closes), then closes them. Used to read the server's resident memory with 10,000 idle
// connections. --sources K spreads them over K loopback source addresses (127.0.0.2 and up), as
// from K peers, for servers that cap connections per peer.
//
// One io_context on one thread (the bench script pins it with taskset); every connection is a
// coroutine on that thread, so no strands are needed. Every wait is bounded: connects and reads
// time out, and a watchdog closes whatever is left shortly after the end.
//
// A benchmark tool, not a test: it reports figures and exits 0 unless it could not run
// (bad arguments, no connection at all).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr auto tok = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_ack_bytes = 1u << 20;
constexpr auto idle_connect_budget = std::chrono::seconds(60);  // idle mode: time to open them all

// ---------------------------------------------------------------------------------------------
// Latency histogram: values in nanoseconds. Values below 2^9 have a bucket each; above, every
// power of two is split in 256 buckets, so a bucket is at most 1/256 of its value wide.
class log_histogram {
 public:
  static constexpr unsigned sub_bits = 8;  // 256 sub-buckets per power of two
  static constexpr std::uint64_t linear_limit = std::uint64_t{1} << (sub_bits + 1);
  static constexpr std::size_t bucket_count =
      linear_limit + (64 - sub_bits - 1) * (std::size_t{1} << sub_bits);

  log_histogram() : counts_(bucket_count, 0) {}

  void record(std::uint64_t v) {
    ++counts_[index_of(v)];
    ++total_;
    max_ = std::max(max_, v);
  }
  void merge(const log_histogram& o) {
    for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
  }
  std::uint64_t count() const { return total_; }
  std::uint64_t max() const { return max_; }

  // The value at quantile q (0..1): the middle of the bucket holding the sample of that rank,
  // never above the exact maximum.
  double quantile(double q) const {
    if (total_ == 0) return 0.0;
    auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
    rank = std::clamp<std::uint64_t>(rank, 1, total_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        auto [lo, hi] = bounds_of(i);
        double mid = (static_cast<double>(lo) + static_cast<double>(hi)) / 2.0;
        return std::min(mid, static_cast<double>(max_));
      }
    }
    return static_cast<double>(max_);
  }

 private:
  static std::size_t index_of(std::uint64_t v) {
    if (v < linear_limit) return static_cast<std::size_t>(v);
    auto shift = static_cast<unsigned>(std::bit_width(v)) - (sub_bits + 1);  // >= 1
    auto top = static_cast<std::size_t>(v >> shift);  // in [2^sub_bits, 2^(sub_bits+1))
    return static_cast<std::size_t>(linear_limit) + (shift - 1) * (std::size_t{1} << sub_bits) +
           (top - (std::size_t{1} << sub_bits));
  }
  static std::pair<std::uint64_t, std::uint64_t> bounds_of(std::size_t i) {
    if (i < linear_limit) return {i, i};
    std::size_t k = i - static_cast<std::size_t>(linear_limit);
    auto shift = static_cast<unsigned>(k >> sub_bits) + 1;
    std::uint64_t top = (std::uint64_t{1} << sub_bits) + (k & ((std::size_t{1} << sub_bits) - 1));
    std::uint64_t lo = top << shift;
    std::uint64_t hi = ((top + 1) << shift) - 1;
    return {lo, hi};
  }

  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Messages: each template is split around MSH-10 so a unique control id can be put in per send.
struct message_template {
  std::string prefix;  // "MSH|^~\&|...|" up to and including the separator before MSH-10
  std::string id;      // the original MSH-10
  std::string suffix;  // from the separator after MSH-10 to the end (ends with '\r')
};

std::string normalize_segments(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\x0b' || c == '\x1c') continue;  // a file that holds MLLP framing already
    if (c == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;  // CR LF -> CR
    out.push_back(c == '\n' ? '\r' : c);
  }
  return out;
}

// Splits a file's text into messages (a file may hold one, several, or an FHS/BHS batch).
std::vector<std::string> split_messages(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\r', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view seg = text.substr(pos, end - pos);
    pos = end + 1;
    if (seg.empty()) continue;
    std::string_view tag = seg.substr(0, 3);
    if (tag == "FHS" || tag == "BHS" || tag == "BTS" || tag == "FTS") continue;
    if (tag == "MSH") {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else if (current.empty()) {
      continue;  // text before the first MSH
    }
    current.append(seg);
    current.push_back('\r');
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

std::optional<message_template> make_template(std::string msg) {
  if (msg.size() < 8 || msg.compare(0, 3, "MSH") != 0) return std::nullopt;
  const char fs = msg[3];
  std::size_t seg_end = msg.find('\r');
  if (seg_end == std::string::npos) seg_end = msg.size();
  // MSH-1 is the separator itself, so MSH-10 follows the 9th separator.
  std::size_t p = 3;
  for (int k = 1; k < 9; ++k) {
    p = msg.find(fs, p + 1);
    if (p == std::string::npos || p >= seg_end) return std::nullopt;
  }
  std::size_t id_begin = p + 1;
  std::size_t id_end = msg.find(fs, id_begin);
  if (id_end == std::string::npos || id_end > seg_end) id_end = seg_end;
  message_template t;
  t.prefix = msg.substr(0, id_begin);
  t.id = msg.substr(id_begin, id_end - id_begin);
  t.suffix = msg.substr(id_end);
  return t;
}

// Used when no --messages are given: a small synthetic ADT^A01 (no real person).
constexpr std::string_view builtin_message =
    "MSH|^~\\&|LOADGEN|BENCH|CAREBRIDGE|BENCH|20250101120000||ADT^A01^ADT_A01|LOAD0001|P|2.5.1\r"
    "EVN|A01|20250101120000\r"
    "PID|1||BENCH0001^^^BENCH^MR||Load^Test^A||19700101|U\r"
    "PV1|1|I|WARD^101^A^BENCH||||1234567890^Doctor^Bench^^^^MD\r";

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<message_template> load_messages(const std::vector<std::string>& paths) {
  std::vector<std::filesystem::path> files;
  for (const auto& s : paths) {
    std::filesystem::path p(s);
    if (std::filesystem::is_directory(p)) {
      std::vector<std::filesystem::path> in_dir;
      for (const auto& e : std::filesystem::directory_iterator(p))
        if (e.is_regular_file() && e.path().extension() == ".hl7") in_dir.push_back(e.path());
      std::sort(in_dir.begin(), in_dir.end());
      if (in_dir.empty()) throw std::runtime_error("no *.hl7 files in " + s);
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else {
      files.push_back(p);
    }
  }
  std::vector<message_template> out;
  auto add = [&out](std::string_view text, const std::string& where) {
    for (auto& m : split_messages(normalize_segments(text))) {
      auto t = make_template(std::move(m));
      if (!t) throw std::runtime_error(where + ": a message whose MSH has no MSH-10");
      out.push_back(std::move(*t));
    }
  };
  for (const auto& f : files) add(read_file(f), f.string());
  if (paths.empty()) add(builtin_message, "built-in message");
  if (out.empty()) throw std::runtime_error("no HL7 messages found");
  return out;
}

// ---------------------------------------------------------------------------------------------
// Options

struct options {
  std::string host = "127.0.0.1";
  std::string port;
  std::size_t connections = 1;
  double seconds = 10;
  double warmup = 1;
  double timeout = 5;  // per connect and per ACK
  std::vector<std::string> messages;
  bool unique_ids = false;
  bool json = false;
  std::size_t idle = 0;
  double hold = 10;
  std::size_t sources = 0;  // idle mode: spread over 127.0.0.2 .. 127.0.0.(1+K) as source addresses
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "carebridge_mllp_load: %s\n"
               "usage: carebridge_mllp_load --connect HOST:PORT --connections N --seconds S\n"
               "         [--warmup S] [--timeout S] [--messages DIR_OR_FILE...] [--unique-ids] "
               "[--json]\n"
               "       carebridge_mllp_load --connect HOST:PORT --idle N --hold S [--sources K] "
               "[--json]\n",
               why.c_str());
  std::exit(2);
}

template <class T>
T parse_number(std::string_view name, std::string_view s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) usage("bad value for " + std::string(name));
  return v;
}

options parse_args(int argc, char** argv) {
  options o;
  bool have_connect = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) usage(std::string(a) + " needs a value");
      return argv[++i];
    };
    if (a == "--connect") {
      std::string_view hp = value();
      auto colon = hp.rfind(':');
      if (colon == std::string_view::npos) usage("--connect wants HOST:PORT");
      std::string_view host = hp.substr(0, colon);
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
      o.host = host == "localhost" ? "127.0.0.1" : std::string(host);
      o.port = std::string(hp.substr(colon + 1));
      parse_number<std::uint16_t>("--connect port", o.port);
      have_connect = true;
    } else if (a == "--connections") {
      o.connections = parse_number<std::size_t>(a, value());
    } else if (a == "--seconds") {
      o.seconds = parse_number<double>(a, value());
    } else if (a == "--warmup") {
      o.warmup = parse_number<double>(a, value());
    } else if (a == "--timeout") {
      o.timeout = parse_number<double>(a, value());
    } else if (a == "--messages") {
      if (i + 1 >= argc) usage("--messages needs a value");
      while (i + 1 < argc && std::string_view(argv[i + 1]).substr(0, 2) != "--")
        o.messages.emplace_back(argv[++i]);
    } else if (a == "--unique-ids") {
      o.unique_ids = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--idle") {
      o.idle = parse_number<std::size_t>(a, value());
    } else if (a == "--hold") {
      o.hold = parse_number<double>(a, value());
    } else if (a == "--sources") {
      o.sources = parse_number<std::size_t>(a, value());
    } else if (a == "--help" || a == "-h") {
      usage("help");
    } else {
      usage("unknown argument " + std::string(a));
    }
  }
  if (!have_connect) usage("--connect is required");
  if (o.idle == 0 && (o.connections == 0 || o.connections > 100'000))
    usage("--connections must be 1..100000");
  if (!(o.seconds > 0 && o.seconds <= 86'400) || !(o.warmup >= 0 && o.warmup <= 3600) ||
      !(o.timeout > 0 && o.timeout <= 600) || !(o.hold >= 0 && o.hold <= 86'400))
    usage("a duration is out of range");
  if (o.sources > 250) usage("--sources must be 0..250");
  return o;
}

clock_type::duration to_duration(double seconds) {
  return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
}

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// CPU seconds this process has used (user + system), so a script can tell what else ran.
double cpu_seconds() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

std::size_t fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  return static_cast<std::size_t>(rl.rlim_cur);
}

// Five hex digits from the clock and the pid, so that ids stay unique across runs against one store
// while "L<tag>-<connection>-<sequence>" still fits MSH-10's 20 characters (v2.5).
std::string make_run_tag() {
  auto ms = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch() /
                                       std::chrono::milliseconds(1));
  auto mixed = (ms ^ (static_cast<std::uint64_t>(getpid()) << 12)) & 0xfffff;
  char tag[8];
  std::snprintf(tag, sizeof tag, "%05llx", static_cast<unsigned long long>(mixed));
  return tag;
}

// Connects with a timeout, from `source` when it is not unspecified. Returns the socket, or the
// error (timed_out when the timer won).
asio::awaitable<std::pair<boost::system::error_code, tcp::socket>> async_connect_within(
    tcp::endpoint ep, clock_type::duration timeout, asio::ip::address source = {}) {
  using namespace asio::experimental::awaitable_operators;
  auto ex = co_await asio::this_coro::executor;
  tcp::socket sock(ex);
  if (!source.is_unspecified()) {
    boost::system::error_code ec;
    sock.open(ep.protocol(), ec);
    if (!ec) sock.bind(tcp::endpoint(source, 0), ec);
    if (ec) co_return std::pair{ec, std::move(sock)};
  }
  asio::steady_timer timer(ex, timeout);
  auto result = co_await (sock.async_connect(ep, tok) || timer.async_wait(tok));
  if (result.index() == 1)
    co_return std::pair{make_error_code(asio::error::timed_out), std::move(sock)};
  auto [ec] = std::get<0>(result);
  if (!ec) {
    boost::system::error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    sock.non_blocking(true, ignored);
  }
  co_return std::pair{ec, std::move(sock)};
}

// Logs an exception that escaped a coroutine; the tool counts it as a failed connection.
struct report_exception {
  std::size_t* failures;
  void operator()(const std::exception_ptr& e) const {
    if (!e) return;
    ++*failures;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      std::fprintf(stderr, "carebridge_mllp_load: connection failed: %s\n", x.what());
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Load mode

struct connection_state {
  tcp::socket* socket = nullptr;           // while the session runs
  clock_type::time_point waiting_since{};  // set while an ACK is awaited
  bool timed_out = false;
};

struct load_run {
  options opts;
  std::vector<message_template> templates;
  std::string run_tag;  // keeps ids unique across runs against the same store
  tcp::endpoint endpoint;
  clock_type::time_point warmup_end{};
  clock_type::time_point end{};
  clock_type::duration timeout{};
  std::vector<connection_state> conns;
  log_histogram histogram;
  std::uint64_t measured = 0;   // ACKed messages inside the measured window
  std::uint64_t sent = 0;       // all round trips, warm-up included
  std::uint64_t nacks = 0;      // ACKs without MSA|AA or MSA|CA
  std::uint64_t io_errors = 0;  // connections lost (reset, EOF, oversized ACK)
  std::uint64_t timeouts = 0;   // ACKs not back within --timeout
  std::size_t connect_failures = 0;
  std::size_t sessions_running = 0;
  std::size_t exceptions = 0;
};

void build_frame(std::string& frame, const message_template& t, std::string_view id) {
  frame.clear();
  frame.push_back('\x0b');
  frame.append(t.prefix);
  frame.append(id);
  frame.append(t.suffix);
  frame.push_back('\x1c');
  frame.push_back('\x0d');
}

bool ack_accepts(std::string_view ack) {
  return ack.find("MSA|AA") != std::string_view::npos ||
         ack.find("MSA|CA") != std::string_view::npos;
}

asio::awaitable<void> run_session(std::shared_ptr<load_run> run, std::size_t index,
                                  tcp::socket sock) {
  connection_state& cs = run->conns[index];
  cs.socket = &sock;
  // However the session ends (an exception too), the watchdog must stop seeing its socket.
  struct session_guard {
    load_run& run;
    connection_state& cs;
    ~session_guard() {
      cs.socket = nullptr;
      --run.sessions_running;
    }
  } guard{*run, cs};
  const auto& templates = run->templates;
  std::size_t next = index % templates.size();
  std::string frame;
  std::string ack;
  std::array<char, std::size_t{16} * 1024> buf{};
  std::string id;
  std::uint64_t seq = 0;
  bool failed = false;

  while (!failed && clock_type::now() < run->end) {
    const message_template& t = templates[next];
    next = next + 1 == templates.size() ? 0 : next + 1;
    if (run->opts.unique_ids) {
      id = "L" + run->run_tag + "-" + std::to_string(index) + "-" + std::to_string(++seq);
      build_frame(frame, t, id);
    } else {
      build_frame(frame, t, t.id);
    }

    const auto t0 = clock_type::now();
    cs.waiting_since = t0;
    auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(frame), tok);
    if (wec) {
      failed = true;
      break;
    }
    // Read until the 0x1C 0x0D that ends the ACK; the ACK is small, a copy is cheap. The ACK is
    // never there yet right after the write, so wait for readiness and then read without blocking:
    // this saves the speculative read (EAGAIN) that async_read_some would make for every message.
    std::size_t end_at = ack.find("\x1c\x0d");
    std::size_t scan_from = ack.empty() ? 0 : ack.size() - 1;
    while (end_at == std::string::npos) {
      auto [aec] = co_await sock.async_wait(tcp::socket::wait_read, tok);
      boost::system::error_code rec = aec;
      std::size_t rn = 0;
      if (!rec) rn = sock.read_some(asio::buffer(buf), rec);
      if (rec == asio::error::would_block || rec == asio::error::try_again) continue;
      if (rec) {
        failed = true;
        break;
      }
      ack.append(buf.data(), rn);
      auto p = ack.find("\x1c\x0d", scan_from);
      if (p != std::string::npos) {
        end_at = p + 2;
      } else if (ack.size() > max_ack_bytes) {
        failed = true;
        break;
      } else {
        scan_from = ack.size() - 1;
      }
    }
    if (failed) break;
    const auto t1 = clock_type::now();
    cs.waiting_since = {};
    ++run->sent;
    if (!ack_accepts(std::string_view(ack).substr(0, end_at))) ++run->nacks;
    if (t0 >= run->warmup_end && t1 <= run->end) {
      ++run->measured;
      run->histogram.record(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
    }
    ack.erase(0, end_at);
  }
  if (failed) {
    if (cs.timed_out)
      ++run->timeouts;
    else
      ++run->io_errors;
  }
  boost::system::error_code ignored;
  sock.shutdown(tcp::socket::shutdown_both, ignored);
  sock.close(ignored);
}

// Connects every connection, then starts the clock and runs the sessions; meanwhile acts as the
// watchdog: closes a connection whose ACK is late, and everything shortly after the end. Returns
// when every session is done.
asio::awaitable<void> run_load(std::shared_ptr<load_run> run) {
  auto ex = co_await asio::this_coro::executor;
  const std::size_t n = run->opts.connections;
  std::vector<tcp::socket> sockets;
  sockets.reserve(n);
  // Connect all first, so the measured window has every connection.
  for (std::size_t i = 0; i < n; ++i) {
    auto [ec, sock] = co_await async_connect_within(run->endpoint, run->timeout);
    if (ec) {
      if (++run->connect_failures == 1)
        std::fprintf(stderr, "carebridge_mllp_load: connect %s:%u: %s\n",
                     run->endpoint.address().to_string().c_str(), run->endpoint.port(),
                     ec.message().c_str());
      continue;
    }
    sockets.push_back(std::move(sock));
  }
  if (sockets.empty()) co_return;
  const auto start = clock_type::now();
  run->warmup_end = start + to_duration(run->opts.warmup);
  run->end = run->warmup_end + to_duration(run->opts.seconds);
  run->sessions_running = sockets.size();
  for (std::size_t i = 0; i < sockets.size(); ++i)
    asio::co_spawn(ex, run_session(run, i, std::move(sockets[i])),
                   report_exception{&run->exceptions});

  asio::steady_timer timer(ex);
  const auto hard_stop = run->end + run->timeout + 1s;
  while (run->sessions_running > 0 && clock_type::now() < hard_stop + 5s) {
    timer.expires_after(100ms);
    co_await timer.async_wait(tok);
    const auto now = clock_type::now();
    for (auto& cs : run->conns) {
      if (!cs.socket) continue;
      bool late =
          cs.waiting_since != clock_type::time_point{} && now - cs.waiting_since > run->timeout;
      if (late || now > hard_stop) {
        cs.timed_out = true;
        boost::system::error_code ignored;
        cs.socket->close(ignored);
      }
    }
  }
}

void print_load_result(const load_run& run) {
  const auto& o = run.opts;
  const auto& h = run.histogram;
  double mps = static_cast<double>(run.measured) / o.seconds;
  auto us = [](double ns) { return ns / 1000.0; };
  std::uint64_t errors =
      run.nacks + run.io_errors + run.timeouts + run.connect_failures + run.exceptions;
  if (o.json) {
    std::printf(
        "{\"connections\":%zu,\"messages\":%llu,\"seconds\":%.3f,\"msgs_per_sec\":%.1f,"
        "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
        "\"errors\":%llu,\"nacks\":%llu,\"io_errors\":%llu,\"timeouts\":%llu,"
        "\"connect_failures\":%zu,\"round_trips\":%llu,\"warmup\":%.3f,\"unique_ids\":%s,"
        "\"templates\":%zu,\"cpu_s\":%.3f}\n",
        o.connections, static_cast<unsigned long long>(run.measured), o.seconds, mps,
        us(h.quantile(0.50)), us(h.quantile(0.90)), us(h.quantile(0.99)), us(h.quantile(0.999)),
        us(static_cast<double>(h.max())), static_cast<unsigned long long>(errors),
        static_cast<unsigned long long>(run.nacks), static_cast<unsigned long long>(run.io_errors),
        static_cast<unsigned long long>(run.timeouts), run.connect_failures,
        static_cast<unsigned long long>(run.sent), o.warmup, o.unique_ids ? "true" : "false",
        run.templates.size(), cpu_seconds());
  } else {
    std::printf(
        "connections=%zu messages=%llu seconds=%.1f msgs/s=%.0f latency_us p50=%.1f p90=%.1f "
        "p99=%.1f p99.9=%.1f max=%.1f errors=%llu (nacks=%llu io=%llu timeouts=%llu "
        "connect=%zu)\n",
        o.connections, static_cast<unsigned long long>(run.measured), o.seconds, mps,
        us(h.quantile(0.50)), us(h.quantile(0.90)), us(h.quantile(0.99)), us(h.quantile(0.999)),
        us(static_cast<double>(h.max())), static_cast<unsigned long long>(errors),
        static_cast<unsigned long long>(run.nacks), static_cast<unsigned long long>(run.io_errors),
        static_cast<unsigned long long>(run.timeouts), run.connect_failures);
  }
  std::fflush(stdout);
}

// ---------------------------------------------------------------------------------------------
// Idle mode

struct idle_run {
  options opts;
  tcp::endpoint endpoint;
  clock_type::duration timeout{};
  std::vector<std::unique_ptr<tcp::socket>> sockets;
  clock_type::time_point connect_deadline{};  // no new connects after this
  std::size_t next = 0;
  std::size_t connected = 0;
  std::size_t connect_failures = 0;
  std::size_t closed_by_peer = 0;
  bool closing = false;
  std::size_t exceptions = 0;
};

// Notices a connection the server closes (or writes to) while it should be idle.
asio::awaitable<void> watch_idle(std::shared_ptr<idle_run> run, tcp::socket* sock) {
  std::array<char, 64> buf{};
  [[maybe_unused]] auto [ec, n] = co_await sock->async_read_some(asio::buffer(buf), tok);
  if (!run->closing) ++run->closed_by_peer;
}

asio::awaitable<void> idle_connector(std::shared_ptr<idle_run> run) {
  auto ex = co_await asio::this_coro::executor;
  while (run->next < run->opts.idle) {
    if (clock_type::now() >= run->connect_deadline) {
      // A server that stops accepting leaves connects to time out one by one: give up on the rest.
      run->connect_failures += run->opts.idle - run->next;
      run->next = run->opts.idle;
      break;
    }
    const std::size_t i = run->next++;
    asio::ip::address source;
    if (run->opts.sources > 0) {
      // Many peers rather than one: a server may cap connections per peer address.
      auto last = static_cast<unsigned char>(2 + i % run->opts.sources);
      source = asio::ip::address_v4({127, 0, 0, last});
    }
    auto [ec, sock] = co_await async_connect_within(run->endpoint, run->timeout, source);
    if (ec) {
      if (++run->connect_failures == 1)
        std::fprintf(stderr, "carebridge_mllp_load: idle connect: %s\n", ec.message().c_str());
      continue;
    }
    ++run->connected;
    run->sockets.push_back(std::make_unique<tcp::socket>(std::move(sock)));
    asio::co_spawn(ex, watch_idle(run, run->sockets.back().get()),
                   report_exception{&run->exceptions});
  }
}

asio::awaitable<void> run_idle(std::shared_ptr<idle_run> run) {
  auto ex = co_await asio::this_coro::executor;
  run->sockets.reserve(run->opts.idle);
  run->connect_deadline = clock_type::now() + idle_connect_budget;
  // A few connects in flight at once: quick, yet gentle on the server's accept backlog.
  constexpr std::size_t parallel = 32;
  std::size_t done = 0;
  asio::steady_timer timer(ex);
  for (std::size_t i = 0; i < parallel; ++i)
    asio::co_spawn(ex, idle_connector(run), [&done](const std::exception_ptr&) { ++done; });
  while (done < parallel) {
    timer.expires_after(10ms);
    co_await timer.async_wait(tok);
  }
  std::fprintf(stderr,
               "{\"event\":\"idle_held\",\"connected\":%zu,\"connect_failures\":%zu,"
               "\"closed_by_peer\":%zu}\n",
               run->connected, run->connect_failures, run->closed_by_peer);
  std::fflush(stderr);
  timer.expires_after(to_duration(run->opts.hold));
  co_await timer.async_wait(tok);
  run->closing = true;
  for (auto& s : run->sockets) {
    boost::system::error_code ignored;
    s->close(ignored);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    options opts = parse_args(argc, argv);
    raise_fd_limit();
    asio::io_context ioc(1);
    boost::system::error_code ec;
    auto address = asio::ip::make_address(opts.host, ec);
    if (ec) usage("--connect wants a numeric address or localhost, got " + opts.host);
    tcp::endpoint endpoint(address, parse_number<std::uint16_t>("port", opts.port));

    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&ioc](const boost::system::error_code& e, int) {
      if (!e) ioc.stop();
    });

    if (opts.idle > 0) {
      if (opts.idle + 64 > fd_limit())
        std::fprintf(stderr,
                     "carebridge_mllp_load: warning: %zu connections, open-file limit %zu\n",
                     opts.idle, fd_limit());
      auto run = std::make_shared<idle_run>();
      run->opts = opts;
      run->endpoint = endpoint;
      run->timeout = to_duration(opts.timeout);
      asio::co_spawn(ioc, run_idle(run), [&](const std::exception_ptr& e) {
        report_exception{&run->exceptions}(e);
        signals.cancel();
      });
      ioc.run();
      if (opts.json)
        std::printf(
            "{\"mode\":\"idle\",\"requested\":%zu,\"connected\":%zu,\"connect_failures\":%zu,"
            "\"closed_by_peer\":%zu,\"open_at_end\":%zu,\"hold_seconds\":%.3f}\n",
            opts.idle, run->connected, run->connect_failures, run->closed_by_peer,
            run->connected - std::min(run->connected, run->closed_by_peer), opts.hold);
      else
        std::printf(
            "idle: requested=%zu connected=%zu connect_failures=%zu closed_by_peer=%zu "
            "hold=%.1fs\n",
            opts.idle, run->connected, run->connect_failures, run->closed_by_peer, opts.hold);
      return run->connected > 0 ? 0 : 1;
    }

    auto run = std::make_shared<load_run>();
    run->opts = opts;
    run->templates = load_messages(opts.messages);
    run->run_tag = make_run_tag();
    run->endpoint = endpoint;
    run->timeout = to_duration(opts.timeout);
    run->conns.resize(opts.connections);
    asio::co_spawn(ioc, run_load(run), [&](const std::exception_ptr& e) {
      report_exception{&run->exceptions}(e);
      signals.cancel();  // nothing else keeps run() going
    });
    ioc.run();
    print_load_result(*run);
    return run->connect_failures == opts.connections ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "carebridge_mllp_load: %s\n", e.what());
    return 1;
  }
}
