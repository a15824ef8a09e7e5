// carebridge_mllp_floor: the floor for the MLLP benchmark.
//
//   carebridge_mllp_floor --listen HOST:PORT        (port 0: any free port)
//
// A minimal MLLP receiver: every frame (anything ending in 0x1C 0x0D) is answered with one fixed,
// pre-built ACK frame. No parsing, no storage, no copying of the input: it only scans the bytes for
// the end-of-frame pair, so its memory per connection is constant. It is what MLLP over loopback
// costs on this machine with this load tool: the bound a real receiver is measured against.
//
// Prints {"event":"listening","address":"127.0.0.1:PORT"} on stderr once bound. Runs one io_context
// on one thread (the bench script pins it with taskset), each connection a coroutine on it; stops
// on SIGINT/SIGTERM.
//
// On purpose there are no read timeouts: a timer per read would make the floor slower than the
// bound it stands for. It is a bench tool for loopback, not a server to expose.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <sys/resource.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto tok = asio::as_tuple(asio::use_awaitable);

constexpr std::string_view ack_frame =
    "\x0b"
    "MSH|^~\\&|FLOOR|BENCH|LOADGEN|BENCH|20250101120000||ACK^A01^ACK|FLOOR1|P|2.5.1\r"
    "MSA|AA|LOAD0001\r"
    "\x1c\x0d";

asio::awaitable<void> serve_connection(tcp::socket sock) {
  boost::system::error_code ignored;
  sock.set_option(tcp::no_delay(true), ignored);
  // In the coroutine frame: 8 KiB per connection, which matters with thousands of idle ones.
  std::array<char, std::size_t{8} * 1024> buf{};
  bool after_fs = false;  // the last byte read was 0x1C (the pair may straddle two reads)
  for (;;) {
    auto [ec, n] = co_await sock.async_read_some(asio::buffer(buf), tok);
    if (ec) break;
    // Count the 0x1C 0x0D pairs; memchr keeps the scan cheap for large messages.
    std::size_t frames = 0;
    const char* p = buf.data();
    const char* const end = p + n;
    if (after_fs && n > 0 && *p == '\x0d') ++frames;
    while (p < end) {
      const auto* fs =
          static_cast<const char*>(std::memchr(p, '\x1c', static_cast<std::size_t>(end - p)));
      if (fs == nullptr) break;
      if (fs + 1 < end && fs[1] == '\x0d') ++frames;
      p = fs + 1;
    }
    after_fs = n > 0 && buf[n - 1] == '\x1c';
    for (; frames > 0; --frames) {
      auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(ack_frame), tok);
      if (wec) co_return;
    }
  }
  sock.shutdown(tcp::socket::shutdown_both, ignored);
}

asio::awaitable<void> accept_loop(tcp::acceptor acceptor) {
  auto ex = co_await asio::this_coro::executor;
  for (;;) {
    auto [ec, sock] = co_await acceptor.async_accept(tok);
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return;
    if (ec) continue;  // e.g. EMFILE: keep serving the connections we have
    asio::co_spawn(ex, serve_connection(std::move(sock)), asio::detached);
  }
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "carebridge_mllp_floor: %s\nusage: carebridge_mllp_floor --listen HOST:PORT\n", why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string_view listen;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--listen" && i + 1 < argc)
      listen = argv[++i];
    else
      usage("unknown or incomplete argument");
  }
  if (listen.empty()) usage("--listen is required");
  auto colon = listen.rfind(':');
  if (colon == std::string_view::npos) usage("--listen wants HOST:PORT");
  std::string host(listen.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  std::string_view port_text = listen.substr(colon + 1);
  std::uint16_t port = 0;
  auto [p, pec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (pec != std::errc{} || p != port_text.data() + port_text.size()) usage("bad port");

  try {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    asio::io_context ioc(1);
    tcp::endpoint ep(asio::ip::make_address(host), port);
    tcp::acceptor acceptor(ioc);
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(asio::socket_base::max_listen_connections);
    auto bound = acceptor.local_endpoint();
    std::string addr = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                               : bound.address().to_string();
    std::fprintf(stderr, "{\"event\":\"listening\",\"address\":\"%s:%u\"}\n", addr.c_str(),
                 static_cast<unsigned>(bound.port()));
    std::fflush(stderr);

    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&ioc](const boost::system::error_code&, int) { ioc.stop(); });
    asio::co_spawn(ioc, accept_loop(std::move(acceptor)), [](const std::exception_ptr& e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        std::fprintf(stderr, "carebridge_mllp_floor: accept loop ended: %s\n", x.what());
      }
    });
    ioc.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "carebridge_mllp_floor: %s\n", e.what());
    return 1;
  }
  return 0;
}
