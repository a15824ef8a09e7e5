#include "adapters/fhir_rest/http_server.hpp"

#include "gateway/obs/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <atomic>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <variant>

namespace carebridge::adapters::fhir_rest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace obs = gateway::obs;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const std::size_t end = path.find('/', i);
    out.push_back(path.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
    if (end == std::string_view::npos) break;
    i = end;
  }
  return out;
}

// True when `path` is `prefix` or below it.
bool under(const std::string& path, const std::string& prefix) {
  return path == prefix ||
         (path.starts_with(prefix) && path.size() > prefix.size() && path[prefix.size()] == '/');
}

http_response plain(unsigned status, std::string_view text) {
  return {status, "text/plain; charset=utf-8", std::string(text) + "\n", {}};
}

// One answer to wait for: the reply handler posts the response to the connection's strand and
// cancels the timer the session coroutine waits on.
struct pending_reply {
  explicit pending_reply(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::optional<http_response> response;
  std::atomic<bool> answered{false};
};

}  // namespace

std::string_view http_request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

std::optional<std::string> http_request::query_param(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    const std::size_t amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    const std::size_t eq = pair.find('=');
    const auto key = percent_decode(pair.substr(0, eq), true);
    if (key && *key == name)
      return percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1),
                            true);
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int h = hex(s[i + 1]), l = hex(s[i + 2]);
      if (h < 0 || l < 0) return std::nullopt;
      out.push_back(static_cast<char>(h * 16 + l));
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct http_server::impl : std::enable_shared_from_this<impl> {
  impl(asio::io_context& io, obs::registry& r, http_options o)
      : ioc(io),
        opts(std::move(o)),
        acceptor(io),
        requests(r.counters("carebridge_http_requests_total", "HTTP requests by route and status")),
        tls_failures(r.counters("carebridge_tls_handshake_failures_total", "")
                         .series(obs::labels({{"listener", "http"}}))) {}

  struct route_entry {
    std::string method;
    std::string pattern;
    std::vector<std::string> parts;  // "{x}" for a parameter
    std::variant<route, async_route> handler;
  };
  struct match {
    const route_entry* entry = nullptr;
    std::map<std::string, std::string, std::less<>> params;
    std::string allow;  // methods of the routes that match the path (for 405)
  };

  // What one session shares with stop(): its stream, whether a request is in hand, and the answer
  // it waits for. Touched under `mu` only.
  struct session_ctl {
    asio::any_io_executor executor;
    beast::tcp_stream* stream = nullptr;
    bool busy = false;
    std::shared_ptr<pending_reply> waiting;
  };

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(tcp::socket sock, std::uint64_t id);
  template <typename Stream>
  asio::awaitable<void> serve(Stream& stream, beast::tcp_stream& lowest, std::uint64_t id,
                              gateway::ingest::connection_info info);
  match find(const std::string& method, const std::string& path) const;
  http_response error(const std::string& path, unsigned status, std::string_view text) const;
  const guard* guard_of(const std::string& path) const;
  void cancel_session(std::uint64_t id, bool only_idle);

  asio::io_context& ioc;
  http_options opts;
  std::shared_ptr<tls::server_context_holder> ssl;  // reloadable (reload_tls())
  tcp::acceptor acceptor;
  std::vector<route_entry> routes;
  std::vector<std::pair<std::string, error_formatter>> formatters;
  std::vector<std::pair<std::string, guard>> guards;
  std::vector<completion_observer> observers;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::unordered_map<std::uint64_t, session_ctl> sessions;
  std::uint64_t next_id = 0;
  std::unique_ptr<asio::steady_timer> grace_timer;
  obs::registry::family<obs::counter>& requests;
  obs::counter& tls_failures;
};

http_server::impl::match http_server::impl::find(const std::string& method,
                                                 const std::string& path) const {
  const auto segs = segments(path);
  match best;
  int best_literals = -1;
  for (const route_entry& r : routes) {
    if (r.parts.size() != segs.size()) continue;
    int literals = 0;
    bool ok = true;
    for (std::size_t i = 0; i < segs.size() && ok; ++i) {
      const std::string& p = r.parts[i];
      if (p.size() > 2 && p.front() == '{' && p.back() == '}') continue;
      ok = p == segs[i];
      ++literals;
    }
    if (!ok) continue;
    if (best.allow.find(r.method) == std::string::npos)
      best.allow += (best.allow.empty() ? "" : ", ") + r.method;
    if (r.method != method || literals <= best_literals) continue;
    best_literals = literals;
    best.entry = &r;
    best.params.clear();
    for (std::size_t i = 0; i < segs.size(); ++i) {
      const std::string& p = r.parts[i];
      if (p.size() > 2 && p.front() == '{' && p.back() == '}')
        best.params.emplace(p.substr(1, p.size() - 2), std::string(segs[i]));
    }
  }
  return best;
}

http_response http_server::impl::error(const std::string& path, unsigned status,
                                       std::string_view text) const {
  for (const auto& [prefix, f] : formatters) {
    if (under(path, prefix)) return f(status, text);
  }
  return plain(status, text);
}

const guard* http_server::impl::guard_of(const std::string& path) const {
  const guard* best = nullptr;
  std::size_t best_len = 0;
  for (const auto& [prefix, g] : guards) {
    if (under(path, prefix) && (best == nullptr || prefix.size() > best_len)) {
      best = &g;
      best_len = prefix.size();
    }
  }
  return best;
}

asio::awaitable<void> http_server::impl::accept_loop() {
  auto self = shared_from_this();
  while (!stopping) {
    auto [ec, sock] = co_await acceptor.async_accept(asio::make_strand(ioc), use_tuple);
    if (ec) {
      if (stopping || ec == asio::error::operation_aborted) break;
      continue;
    }
    std::uint64_t id = 0;
    {
      std::lock_guard lock(mu);
      id = next_id++;
      sessions[id].executor = sock.get_executor();
    }
    asio::co_spawn(sock.get_executor(), session(std::move(sock), id),
                   [self, id](std::exception_ptr e) {
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         obs::error("http.session_failed", {{"error", ex.what()}});
                       }
                     }
                     std::lock_guard lock(self->mu);
                     self->sessions.erase(id);
                     if (self->sessions.empty() && self->grace_timer) self->grace_timer->cancel();
                   });
  }
}

asio::awaitable<void> http_server::impl::session(tcp::socket sock, std::uint64_t id) {
  gateway::ingest::connection_info info;
  info.listener = "http";
  boost::system::error_code ec;
  const auto remote = sock.remote_endpoint(ec);
  if (ec) co_return;
  info.peer_address =
      remote.address().is_v6() && remote.address().to_v6().is_v4_mapped()
          ? asio::ip::make_address_v4(asio::ip::v4_mapped, remote.address().to_v6()).to_string()
          : remote.address().to_string();
  info.peer_port = remote.port();
  beast::tcp_stream stream(std::move(sock));
  if (!ssl) {
    co_await serve(stream, stream, id, std::move(info));
    co_return;
  }
  // This connection keeps the context it started with, whatever a reload does meanwhile.
  const auto context = ssl->current();
  beast::ssl_stream<beast::tcp_stream> tls_stream(std::move(stream), *context);
  auto& lowest = beast::get_lowest_layer(tls_stream);
  {
    std::lock_guard lock(mu);
    sessions[id].stream = &lowest;
  }
  lowest.expires_after(opts.request_timeout);
  auto [hec] = co_await tls_stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
  if (hec) {
    tls_failures.inc();
    std::lock_guard lock(mu);
    sessions[id].stream = nullptr;
    co_return;
  }
  info.tls = true;
  const tls::peer_identity who = tls::identity_of(tls_stream.native_handle());
  info.certificate_subject = who.subject;
  info.certificate_names = who.names;
  co_await serve(tls_stream, lowest, id, std::move(info));
  lowest.expires_after(std::chrono::seconds(1));
  co_await tls_stream.async_shutdown(use_tuple);
}

template <typename Stream>
asio::awaitable<void> http_server::impl::serve(Stream& stream, beast::tcp_stream& lowest,
                                               std::uint64_t id,
                                               gateway::ingest::connection_info info) {
  {
    std::lock_guard lock(mu);
    sessions[id].stream = &lowest;
  }
  auto set_busy = [&](bool b, std::shared_ptr<pending_reply> waiting = {}) {
    std::lock_guard lock(mu);
    auto& s = sessions[id];
    s.busy = b;
    s.waiting = std::move(waiting);
  };
  beast::flat_buffer buffer;
  while (!stopping) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(opts.max_body_bytes);
    parser.header_limit(16 * 1024);
    lowest.expires_after(buffer.size() == 0 ? opts.idle_timeout : opts.request_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    if (!ec && !parser.is_done()) {
      // Clients that send "Expect: 100-continue" (many HTTP libraries, for large bodies) wait for
      // the go-ahead before the body.
      if (iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
        auto [cec, cn] = co_await http::async_write(stream, go_on, use_tuple);
        ec = cec;
      }
      lowest.expires_after(opts.request_timeout);
      if (!ec) std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, use_tuple);
    }
    if (ec) {
      if (ec == http::error::body_limit) {
        const std::string target(parser.get().target());
        const std::string path =
            percent_decode(target.substr(0, target.find('?'))).value_or(target);
        http_response out = error(path, 413, "request body too large");
        requests.series(obs::labels({{"path", "other"}, {"status", "413"}})).inc();
        http::response<http::string_body> res{http::status::payload_too_large, 11};
        res.set(http::field::server, "carebridge");
        res.set(http::field::content_type, out.content_type);
        res.set(http::field::connection, "close");
        res.body() = std::move(out.body);
        res.prepare_payload();
        lowest.expires_after(opts.request_timeout);
        auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
        if (!wec) {
          // Lingering close: stop sending, then read and drop what the client is still sending for
          // a moment, so that closing with unread bytes does not reset the connection before the
          // client has read the 413.
          boost::system::error_code ignored;
          lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
          lowest.expires_after(std::chrono::seconds(1));
          std::array<char, 16384> sink;
          std::size_t drained = 0;
          while (drained < opts.max_body_bytes + (1u << 20)) {
            auto [rec, rn] = co_await lowest.async_read_some(asio::buffer(sink), use_tuple);
            if (rec) break;
            drained += rn;
          }
        }
      }
      break;
    }
    auto& req = parser.get();
    http_request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    const std::size_t q = r.target.find('?');
    r.query = q == std::string::npos ? std::string() : r.target.substr(q + 1);
    const auto decoded = percent_decode(std::string_view(r.target).substr(0, q));
    r.path = decoded.value_or(std::string());
    r.body = std::move(req.body());
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (char& c : name) c = lower(c);
      r.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    r.connection = info;

    http_response out;
    std::string label = "other";
    set_busy(true);
    if (!decoded) {
      out = plain(400, "malformed percent-encoding in the path");
    } else if (match m = find(r.method, r.path); m.entry == nullptr) {
      out = m.allow.empty() ? error(r.path, 404, "not found")
                            : error(r.path, 405, "method not allowed");
      if (!m.allow.empty()) out.headers.emplace_back("Allow", m.allow);
    } else {
      label = m.entry->pattern;
      r.params = std::move(m.params);
      try {
        std::optional<http_response> refused;
        if (const guard* g = guard_of(r.path)) refused = (*g)(r, m.entry->method, m.entry->pattern);
        if (refused) {
          out = std::move(*refused);
        } else if (const auto* sync = std::get_if<route>(&m.entry->handler)) {
          out = (*sync)(r);
        } else {
          auto waiting = std::make_shared<pending_reply>(lowest.get_executor());
          waiting->timer.expires_after(opts.handler_timeout);
          set_busy(true, waiting);
          std::weak_ptr<pending_reply> weak = waiting;
          auto ex = lowest.get_executor();
          std::get<async_route>(m.entry->handler)(r, [weak, ex](http_response resp) {
            auto w = weak.lock();
            if (!w || w->answered.exchange(true)) return;
            asio::post(ex, [w, resp = std::move(resp)]() mutable {
              w->response = std::move(resp);
              w->timer.cancel();
            });
          });
          co_await waiting->timer.async_wait(use_tuple);
          if (waiting->response) {
            out = std::move(*waiting->response);
          } else {
            waiting->answered = true;  // a late answer is dropped
            obs::warn("http.handler_timeout", {{"path", label}});
            out = error(r.path, 503, "the request could not be answered in time; retry");
          }
        }
      } catch (const std::exception& e) {
        obs::error("http.handler_failed", {{"path", label}, {"error", e.what()}});
        out = error(r.path, 500, "internal error");
      }
      for (const auto& o : observers) {
        try {
          o(r, out, label);
        } catch (const std::exception& e) {
          obs::error("http.observer_failed", {{"path", label}, {"error", e.what()}});
        }
      }
    }
    requests.series(obs::labels({{"path", label}, {"status", std::to_string(out.status)}})).inc();
    http::response<http::string_body> res{static_cast<http::status>(out.status), req.version()};
    res.set(http::field::server, "carebridge");
    if (!out.content_type.empty() && !(out.body.empty() && out.status == 204))
      res.set(http::field::content_type, out.content_type);
    res.set(http::field::cache_control, "no-store");
    for (const auto& [k, v] : out.headers) res.insert(k, v);
    res.keep_alive(req.keep_alive() && !stopping);
    res.body() = std::move(out.body);
    res.prepare_payload();
    lowest.expires_after(opts.request_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
    set_busy(false);
    if (wec || !res.keep_alive()) break;
  }
  std::lock_guard lock(mu);
  sessions[id].stream = nullptr;
}

void http_server::impl::cancel_session(std::uint64_t id, bool only_idle) {
  std::lock_guard lock(mu);
  const auto it = sessions.find(id);
  if (it == sessions.end()) return;
  if (only_idle && it->second.busy) return;
  if (it->second.stream != nullptr) it->second.stream->cancel();
  if (it->second.waiting) it->second.waiting->timer.cancel();
}

http_server::http_server(asio::io_context& ioc, obs::registry& metrics, http_options opts)
    : impl_(std::make_shared<impl>(ioc, metrics, std::move(opts))) {}

http_server::~http_server() = default;

namespace {
std::vector<std::string> pattern_parts(const std::string& path) {
  std::vector<std::string> out;
  for (std::string_view s : segments(path)) out.emplace_back(s);
  return out;
}
}  // namespace

void http_server::add(std::string method, std::string path, route handler) {
  auto parts = pattern_parts(path);
  impl_->routes.push_back(
      {std::move(method), std::move(path), std::move(parts), std::move(handler)});
}

void http_server::add_async(std::string method, std::string path, async_route handler) {
  auto parts = pattern_parts(path);
  impl_->routes.push_back(
      {std::move(method), std::move(path), std::move(parts), std::move(handler)});
}

void http_server::set_error_formatter(std::string prefix, error_formatter f) {
  impl_->formatters.emplace_back(std::move(prefix), std::move(f));
}

void http_server::set_guard(std::string prefix, guard g) {
  impl_->guards.emplace_back(std::move(prefix), std::move(g));
}

void http_server::observe(completion_observer o) { impl_->observers.push_back(std::move(o)); }

std::vector<std::pair<std::string, std::string>> http_server::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : impl_->routes) out.emplace_back(r.method, r.pattern);
  return out;
}

tcp::endpoint http_server::bind() {
  auto& d = *impl_;
  if (d.opts.tls) d.ssl = std::make_shared<tls::server_context_holder>(*d.opts.tls);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(d.opts.host, ec);
  if (ec)
    throw std::runtime_error("HTTP listen address '" + d.opts.host + "' is not an IP address");
  const tcp::endpoint ep(address, d.opts.port);
  d.acceptor.open(ep.protocol(), ec);
  if (!ec) d.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) d.acceptor.bind(ep, ec);
  if (!ec) d.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen for HTTP on " + d.opts.host + ":" +
                             std::to_string(d.opts.port) + ": " + ec.message());
  return d.acceptor.local_endpoint();
}

void http_server::reload_tls() {
  if (impl_->ssl) impl_->ssl->reload();
}

void http_server::start() {
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), [](std::exception_ptr) {});
}

void http_server::stop(std::chrono::milliseconds grace) {
  auto self = impl_;
  asio::post(self->ioc, [self, grace] {
    self->stopping = true;
    boost::system::error_code ec;
    self->acceptor.close(ec);
    std::vector<std::pair<std::uint64_t, asio::any_io_executor>> all;
    asio::steady_timer* timer = nullptr;
    {
      std::lock_guard lock(self->mu);
      for (auto& [id, s] : self->sessions) all.emplace_back(id, s.executor);
      if (all.empty()) return;
      self->grace_timer = std::make_unique<asio::steady_timer>(self->ioc, grace);
      timer = self->grace_timer.get();
    }
    // Idle connections close now; one with a request in hand may answer within the grace period.
    for (auto& [id, ex] : all) asio::post(ex, [self, id = id] { self->cancel_session(id, true); });
    timer->async_wait([self, all](boost::system::error_code) {
      for (auto& [id, ex] : all)
        asio::post(ex, [self, id = id] { self->cancel_session(id, false); });
    });
  });
}

}  // namespace carebridge::adapters::fhir_rest
