#include "adapters/mllp/mllp_listener.hpp"

#include "adapters/mllp/mllp_framer.hpp"
#include "gateway/obs/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <map>
#include <mutex>
#include <span>
#include <type_traits>
#include <unordered_map>

namespace carebridge::adapters::mllp {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace obs = gateway::obs;
using tcp = asio::ip::tcp;
using gateway::ingest::connection_info;
using gateway::ingest::ingest_result;
using gateway::ingest::ingest_service;
using gateway::ingest::sender_grant;
using mappings::hl7v2::disposition;

namespace {

constexpr std::size_t read_chunk = 8192;
constexpr std::size_t oversize_keep = 64 * 1024;  // head of an oversize frame kept in the store
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Completion of an ingest call: resumes the waiting coroutine on its own executor.
template <typename Handler>
struct resume_on_executor {
  std::shared_ptr<Handler> handler;
  asio::executor_work_guard<asio::any_io_executor> work;

  void operator()(ingest_result r) {
    auto ex = work.get_executor();
    asio::post(ex, [h = handler, r = std::move(r), w = work]() mutable { (*h)(std::move(r)); });
  }
};

// The initiation for async_ingest: a named type, not a lambda, because GCC 12 destroys lambda
// captures inside co_await expressions twice.
struct ingest_initiation {
  ingest_service* service;
  const connection_info* info;
  const sender_grant* grant;
  bool oversize;
  std::size_t size;

  template <typename Handler>
  void operator()(Handler handler, std::string frame) const {
    auto ex = asio::get_associated_executor(handler);
    resume_on_executor<Handler> done{std::make_shared<Handler>(std::move(handler)),
                                     asio::make_work_guard(asio::any_io_executor(ex))};
    if (oversize) {
      service->reject_oversize(std::move(frame), size, *info, *grant, std::move(done));
    } else {
      service->ingest(std::move(frame), *info, *grant, std::move(done));
    }
  }
};

// Runs ingest (the store commits on its own thread) and resumes on the caller's strand.
asio::awaitable<ingest_result> async_ingest(ingest_service& svc, std::string frame,
                                            const connection_info& info, const sender_grant& grant,
                                            bool oversize = false, std::size_t size = 0) {
  asio::use_awaitable_t<> token;
  auto op = asio::async_initiate<asio::use_awaitable_t<>, void(ingest_result)>(
      ingest_initiation{&svc, &info, &grant, oversize, size}, token, std::move(frame));
  ingest_result r = co_await std::move(op);
  co_return r;
}

}  // namespace

// Shared between a session coroutine and stop(); touched only on the session's strand.
struct session_ctl {
  explicit session_ctl(asio::any_io_executor ex) : executor(std::move(ex)) {}
  asio::any_io_executor executor;
  beast::tcp_stream* tcp = nullptr;
  bool busy = false;      // a frame is being stored and answered
  bool in_frame = false;  // a frame has started and is incomplete
  bool closing = false;   // stop() asked this session to end
};

struct mllp_listener::impl : std::enable_shared_from_this<impl> {
  impl(asio::io_context& io, ingest_service& in, obs::registry& r, options o)
      : ioc(io),
        ingest(in),
        opts(std::move(o)),
        acceptor(io),
        frames(r.counters("carebridge_mllp_frames_total", "MLLP frames received").series()),
        bytes(r.counters("carebridge_mllp_bytes_total", "Bytes of MLLP frames received").series()),
        framing_errors(r.counters("carebridge_mllp_framing_errors_total",
                                  "MLLP framing problems by kind (junk_bytes counts bytes)")),
        tls_failures(r.counters("carebridge_tls_handshake_failures_total",
                                "TLS handshakes that failed (bad or missing client certificate, "
                                "protocol mismatch, timeout)")
                         .series(obs::labels({{"listener", "mllp"}}))),
        refused(r.counters("carebridge_mllp_connections_refused_total",
                           "Connections closed at once because a limit was reached")),
        accepted_total(r.counters("carebridge_mllp_connections_total", "MLLP connections accepted")
                           .series()),
        timeouts(r.counters("carebridge_mllp_timeouts_total", "Connections closed by a timeout")),
        ack_seconds(r.histograms("carebridge_mllp_ack_seconds",
                                 "From a complete frame to its ACK written (includes the commit)",
                                 obs::latency_bounds())
                        .series()) {
    r.callback_gauge("carebridge_mllp_open_connections", "Open MLLP connections",
                     [this] { return static_cast<double>(open_connections()); });
  }

  std::size_t open_connections() {
    std::lock_guard lock(mu);
    return open;
  }

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(tcp::socket sock, std::shared_ptr<session_ctl> ctl);
  template <typename Stream>
  asio::awaitable<void> serve(Stream& stream, beast::tcp_stream& lowest, connection_info info,
                              std::shared_ptr<session_ctl> ctl);
  template <typename Stream>
  asio::awaitable<bool> answer(Stream& stream, beast::tcp_stream& lowest, const ingest_result& r,
                               std::chrono::steady_clock::time_point t0,
                               const connection_info& info);

  asio::io_context& ioc;
  ingest_service& ingest;
  options opts;
  std::shared_ptr<tls::server_context_holder> ssl;  // reloadable (reload_tls())
  tcp::acceptor acceptor;
  std::atomic<bool> stopping{false};
  std::atomic<bool> is_listening{false};

  std::mutex mu;
  std::size_t open = 0;
  std::map<std::string, std::size_t> per_peer;
  std::unordered_map<std::uint64_t, std::shared_ptr<session_ctl>> sessions;
  std::uint64_t next_id = 0;
  std::shared_ptr<asio::steady_timer> grace_timer;  // during stop(); cancelled by the last session

  obs::counter& frames;
  obs::counter& bytes;
  obs::registry::family<obs::counter>& framing_errors;
  obs::counter& tls_failures;
  obs::registry::family<obs::counter>& refused;
  obs::counter& accepted_total;
  obs::registry::family<obs::counter>& timeouts;
  obs::histogram& ack_seconds;
};

asio::awaitable<void> mllp_listener::impl::accept_loop() {
  auto self = shared_from_this();
  asio::steady_timer backoff(ioc);
  while (!stopping) {
    auto [ec, sock] = co_await acceptor.async_accept(asio::make_strand(ioc), use_tuple);
    if (ec) {
      if (stopping || ec == asio::error::operation_aborted) break;
      // Out of descriptors or similar: wait a little rather than spin.
      obs::warn("mllp.accept_failed", {{"error", ec.message()}});
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    boost::system::error_code aec;
    const auto remote = sock.remote_endpoint(aec);
    if (aec) continue;
    const std::string addr = remote.address().to_string();
    std::shared_ptr<session_ctl> ctl;
    std::uint64_t id = 0;
    {
      std::lock_guard lock(mu);
      std::string_view why;
      if (open >= opts.max_connections) why = "max_connections";
      else if (per_peer[addr] >= opts.max_connections_per_peer) why = "max_connections_per_peer";
      if (!why.empty()) {
        refused.series(obs::labels({{"reason", why}})).inc();
        obs::warn("mllp.connection_refused", {{"peer", addr}, {"reason", why}});
        sock.close(aec);
        continue;
      }
      ++open;
      ++per_peer[addr];
      id = next_id++;
      ctl = std::make_shared<session_ctl>(sock.get_executor());
      sessions.emplace(id, ctl);
    }
    accepted_total.inc();
    sock.set_option(tcp::no_delay(true), aec);
    if (opts.tcp_keepalive) sock.set_option(asio::socket_base::keep_alive(true), aec);
    asio::co_spawn(sock.get_executor(), session(std::move(sock), ctl),
                   [self, id, addr](std::exception_ptr e) {
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         obs::error("mllp.session_failed", {{"peer", addr}, {"error", ex.what()}});
                       }
                     }
                     std::lock_guard lock(self->mu);
                     --self->open;
                     if (--self->per_peer[addr] == 0) self->per_peer.erase(addr);
                     self->sessions.erase(id);
                     if (self->sessions.empty() && self->grace_timer) self->grace_timer->cancel();
                   });
  }
}

asio::awaitable<void> mllp_listener::impl::session(tcp::socket sock,
                                                    std::shared_ptr<session_ctl> ctl) {
  connection_info info;
  info.listener = "mllp";
  boost::system::error_code ec;
  const auto remote = sock.remote_endpoint(ec);
  if (ec) co_return;
  info.peer_address = remote.address().is_v6() && remote.address().to_v6().is_v4_mapped()
                          ? asio::ip::make_address_v4(asio::ip::v4_mapped, remote.address().to_v6())
                                .to_string()
                          : remote.address().to_string();
  info.peer_port = remote.port();
  beast::tcp_stream tcp_stream(std::move(sock));
  if (!ssl) {
    ctl->tcp = &tcp_stream;
    co_await serve(tcp_stream, tcp_stream, std::move(info), ctl);
    ctl->tcp = nullptr;
    co_return;
  }
  // This connection keeps the context it started with, whatever a reload does meanwhile.
  const auto context = ssl->current();
  beast::ssl_stream<beast::tcp_stream> tls_stream(std::move(tcp_stream), *context);
  auto& lowest = beast::get_lowest_layer(tls_stream);
  ctl->tcp = &lowest;
  lowest.expires_after(opts.handshake_timeout);
  auto [hec] = co_await tls_stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
  if (hec) {
    tls_failures.inc();
    obs::warn("mllp.tls_handshake_failed", {{"peer", info.describe()}, {"error", hec.message()}});
    ctl->tcp = nullptr;
    co_return;
  }
  info.tls = true;
  const tls::peer_identity id = tls::identity_of(tls_stream.native_handle());
  info.certificate_subject = id.subject;
  info.certificate_names = id.names;
  co_await serve(tls_stream, lowest, std::move(info), ctl);
  if (!ctl->closing || !ctl->busy) {
    lowest.expires_after(std::chrono::seconds(1));
    co_await tls_stream.async_shutdown(use_tuple);
  }
  ctl->tcp = nullptr;
}

// Writes the answer to one frame (commit bytes, ACK); false when the connection should end.
template <typename Stream>
asio::awaitable<bool> mllp_listener::impl::answer(Stream& stream, beast::tcp_stream& lowest,
                                                   const ingest_result& r,
                                                   std::chrono::steady_clock::time_point t0,
                                                   const connection_info& info) {
  static constexpr std::array<char, 4> commit_ok{start_block, commit_ack, end_block,
                                                 carriage_return};
  static constexpr std::array<char, 4> commit_bad{start_block, commit_nak, end_block,
                                                  carriage_return};
  static constexpr char frame_head = start_block;
  static constexpr std::array<char, 2> frame_tail{end_block, carriage_return};
  std::array<asio::const_buffer, 4> parts;  // one gathered write, no allocation
  std::size_t count = 0;
  if (opts.release2_commit_bytes) parts[count++] = asio::buffer(r.stored ? commit_ok : commit_bad);
  if (r.ack) {
    parts[count++] = asio::buffer(&frame_head, 1);
    parts[count++] = asio::buffer(*r.ack);
    parts[count++] = asio::buffer(frame_tail);
  }
  if (count == 0) co_return true;  // MSH-15 asked for no ACK
  std::span<const asio::const_buffer> out(parts.data(), count);
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    // Plain TCP: an ACK almost always fits the socket's send buffer, so try to write it at once,
    // without a timer or a suspension; only what is left (rarely anything) goes the async way.
    boost::system::error_code ec;
    auto& sock = stream.socket();
    if (!sock.non_blocking()) sock.non_blocking(true, ec);
    const std::size_t total = asio::buffer_size(out);
    const std::size_t done = ec ? 0 : sock.write_some(out, ec);
    if (!ec && done == total) {
      ack_seconds.observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      co_return true;
    }
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
      obs::warn("mllp.ack_write_failed", {{"peer", info.describe()}, {"error", ec.message()}});
      co_return false;
    }
    if (done > 0) {
      // The rest of a partly written ACK, from where the socket stopped.
      std::size_t skip = done;
      std::size_t first = 0;
      while (skip >= parts[first].size()) skip -= parts[first++].size();
      parts[first] += skip;
      out = std::span<const asio::const_buffer>(parts.data() + first, count - first);
    }
  }
  lowest.expires_after(opts.ack_write_timeout);
  auto [wec, n] = co_await asio::async_write(stream, out, use_tuple);
  if (wec) {
    if (wec == beast::error::timeout) timeouts.series(obs::labels({{"kind", "ack_write"}})).inc();
    obs::warn("mllp.ack_write_failed", {{"peer", info.describe()}, {"error", wec.message()}});
    co_return false;
  }
  ack_seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  co_return true;
}

template <typename Stream>
asio::awaitable<void> mllp_listener::impl::serve(Stream& stream, beast::tcp_stream& lowest,
                                                  connection_info info,
                                                  std::shared_ptr<session_ctl> ctl) {
  const sender_grant grant = ingest.policy().grant(info);
  obs::info("mllp.connected", {{"peer", info.describe()},
                               {"tls", info.tls},
                               {"sender", grant.sender_name()}});
  if (!grant.open && grant.rules.empty())
    obs::warn("mllp.unknown_sender", {{"peer", info.describe()}});

  mllp_framer framer(opts.max_frame_bytes);
  auto buf = std::make_unique<char[]>(read_chunk);
  std::uint64_t junk_seen = 0;
  std::uint64_t restarts_seen = 0;
  auto frame_started = std::chrono::steady_clock::now();
  while (true) {
    // Answer every complete frame already read, in order.
    bool keep_going = true;
    while (keep_going) {
      const auto ev = framer.next();
      if (ev.what == mllp_framer::kind::need_more) break;
      const auto t0 = std::chrono::steady_clock::now();
      ctl->busy = true;
      if (ev.what == mllp_framer::kind::oversize) {
        framing_errors.series(obs::labels({{"kind", "oversize"}})).inc();
        const std::size_t size = ev.payload.size();
        std::string head(ev.payload.substr(0, oversize_keep));
        auto op = async_ingest(ingest, std::move(head), info, grant, true, size);
        ingest_result r = co_await std::move(op);
        auto reply = answer(stream, lowest, r, t0, info);
        co_await std::move(reply);
        co_return;  // the rest of an oversize frame is not read: close
      }
      frames.inc();
      bytes.inc(ev.payload.size());
      auto op = async_ingest(ingest, std::string(ev.payload), info, grant);
      ingest_result r = co_await std::move(op);
      auto reply = answer(stream, lowest, r, t0, info);
      keep_going = co_await std::move(reply);
      ctl->busy = false;
      if (!keep_going) co_return;
    }
    if (ctl->closing && !framer.in_frame()) co_return;

    // Read more, with the timeout that applies now.
    if (framer.in_frame() && !ctl->in_frame) frame_started = std::chrono::steady_clock::now();
    ctl->in_frame = framer.in_frame();
    if (ctl->in_frame) {
      const auto left = opts.frame_timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::steady_clock::now() - frame_started);
      lowest.expires_after(std::max(left, std::chrono::milliseconds(1)));
    } else {
      lowest.expires_after(opts.idle_timeout);
    }
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(buf.get(), read_chunk), use_tuple);
    if (rec) {
      if (rec == beast::error::timeout) {
        const std::string_view kind = framer.in_frame() ? "frame" : "idle";
        timeouts.series(obs::labels({{"kind", kind}})).inc();
        if (framer.in_frame()) framing_errors.series(obs::labels({{"kind", "frame_timeout"}})).inc();
        obs::info("mllp.timeout", {{"peer", info.describe()}, {"kind", kind}});
      }
      framer.finish();
      if (framer.truncated_bytes() != 0)
        framing_errors.series(obs::labels({{"kind", "truncated"}})).inc();
      break;
    }
    framer.feed({buf.get(), n});
    if (framer.junk_bytes() != junk_seen) {
      framing_errors.series(obs::labels({{"kind", "junk_bytes"}})).inc(framer.junk_bytes() - junk_seen);
      junk_seen = framer.junk_bytes();
    }
    if (framer.restarted_frames() != restarts_seen) {
      framing_errors.series(obs::labels({{"kind", "restart"}}))
          .inc(framer.restarted_frames() - restarts_seen);
      restarts_seen = framer.restarted_frames();
    }
  }
  obs::info("mllp.disconnected", {{"peer", info.describe()}});
}

mllp_listener::mllp_listener(asio::io_context& ioc, ingest_service& ingest, obs::registry& metrics,
                             options opts)
    : impl_(std::make_shared<impl>(ioc, ingest, metrics, std::move(opts))) {}

mllp_listener::~mllp_listener() = default;

tcp::endpoint mllp_listener::bind() {
  auto& d = *impl_;
  if (d.opts.tls) d.ssl = std::make_shared<tls::server_context_holder>(*d.opts.tls);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(d.opts.host, ec);
  if (ec) throw std::runtime_error("MLLP listen address '" + d.opts.host + "' is not an IP address");
  const tcp::endpoint ep(address, d.opts.port);
  d.acceptor.open(ep.protocol(), ec);
  if (!ec) d.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) d.acceptor.bind(ep, ec);
  if (!ec) d.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen for MLLP on " + d.opts.host + ":" +
                             std::to_string(d.opts.port) + ": " + ec.message());
  d.is_listening = true;
  return d.acceptor.local_endpoint();
}

void mllp_listener::reload_tls() {
  if (impl_->ssl) impl_->ssl->reload();
}

void mllp_listener::start() {
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), [](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        obs::error("mllp.accept_loop_failed", {{"error", ex.what()}});
      }
    }
  });
}

void mllp_listener::stop(std::chrono::milliseconds grace) {
  auto self = impl_;
  asio::post(self->ioc, [self, grace] {
    self->stopping = true;
    self->is_listening = false;
    boost::system::error_code ec;
    self->acceptor.close(ec);
    std::vector<std::shared_ptr<session_ctl>> live;
    {
      std::lock_guard lock(self->mu);
      for (auto& [id, ctl] : self->sessions) live.push_back(ctl);
    }
    for (auto& ctl : live) {
      asio::post(ctl->executor, [ctl] {
        ctl->closing = true;
        // Idle connections end now; one that is mid-frame or mid-answer finishes first.
        if (ctl->tcp != nullptr && !ctl->busy && !ctl->in_frame) ctl->tcp->cancel();
      });
    }
    auto timer = std::make_shared<asio::steady_timer>(self->ioc, grace);
    {
      std::lock_guard lock(self->mu);
      if (self->sessions.empty()) return;
      self->grace_timer = timer;
    }
    timer->async_wait([self, timer](boost::system::error_code) {
      std::vector<std::shared_ptr<session_ctl>> rest;
      {
        std::lock_guard lock(self->mu);
        for (auto& [id, ctl] : self->sessions) rest.push_back(ctl);
      }
      for (auto& ctl : rest)
        asio::post(ctl->executor, [ctl] {
          if (ctl->tcp != nullptr) ctl->tcp->cancel();
        });
      std::lock_guard lock(self->mu);
      self->grace_timer.reset();
    });
  });
}

std::size_t mllp_listener::open_connections() const { return impl_->open_connections(); }

bool mllp_listener::listening() const { return impl_->is_listening; }

}  // namespace carebridge::adapters::mllp
