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

#include <mutex>
#include <unordered_map>

namespace carebridge::adapters::fhir_rest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace obs = gateway::obs;
using tcp = asio::ip::tcp;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}

struct http_server::impl : std::enable_shared_from_this<impl> {
  impl(asio::io_context& io, obs::registry& r, http_options o)
      : ioc(io),
        opts(std::move(o)),
        acceptor(io),
        requests(r.counters("carebridge_http_requests_total", "HTTP requests by path and status")),
        tls_failures(r.counters("carebridge_tls_handshake_failures_total", "")
                         .series(obs::labels({{"listener", "http"}}))) {}

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(tcp::socket sock, std::uint64_t id);
  template <typename Stream>
  asio::awaitable<void> serve(Stream& stream, beast::tcp_stream& lowest, std::uint64_t id);
  http_response dispatch(const http_request& req) const;

  asio::io_context& ioc;
  http_options opts;
  std::shared_ptr<asio::ssl::context> ssl;
  tcp::acceptor acceptor;
  std::map<std::pair<std::string, std::string>, route> routes;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::unordered_map<std::uint64_t, beast::tcp_stream*> live;  // touched on each session's strand
  std::unordered_map<std::uint64_t, asio::any_io_executor> executors;
  std::uint64_t next_id = 0;
  obs::registry::family<obs::counter>& requests;
  obs::counter& tls_failures;
};

http_response http_server::impl::dispatch(const http_request& req) const {
  const auto it = routes.find({req.method, req.path});
  if (it != routes.end()) return it->second(req);
  for (const auto& [key, handler] : routes)
    if (key.second == req.path) return {405, "text/plain; charset=utf-8", "method not allowed\n"};
  return {404, "text/plain; charset=utf-8", "not found\n"};
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
      executors.emplace(id, sock.get_executor());
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
                     self->executors.erase(id);
                     self->live.erase(id);
                   });
  }
}

asio::awaitable<void> http_server::impl::session(tcp::socket sock, std::uint64_t id) {
  beast::tcp_stream stream(std::move(sock));
  if (!ssl) {
    co_await serve(stream, stream, id);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> tls_stream(std::move(stream), *ssl);
  auto& lowest = beast::get_lowest_layer(tls_stream);
  lowest.expires_after(opts.request_timeout);
  auto [hec] = co_await tls_stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
  if (hec) {
    tls_failures.inc();
    co_return;
  }
  co_await serve(tls_stream, lowest, id);
  lowest.expires_after(std::chrono::seconds(1));
  co_await tls_stream.async_shutdown(use_tuple);
}

template <typename Stream>
asio::awaitable<void> http_server::impl::serve(Stream& stream, beast::tcp_stream& lowest,
                                                std::uint64_t id) {
  {
    std::lock_guard lock(mu);
    live[id] = &lowest;
  }
  beast::flat_buffer buffer;
  while (!stopping) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(opts.max_body_bytes);
    parser.header_limit(16 * 1024);
    lowest.expires_after(buffer.size() == 0 ? opts.idle_timeout : opts.request_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec) {
      if (ec == http::error::body_limit) {
        http::response<http::string_body> res{http::status::payload_too_large, 11};
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.body() = "request body too large\n";
        res.prepare_payload();
        lowest.expires_after(opts.request_timeout);
        co_await http::async_write(stream, res, use_tuple);
      }
      break;
    }
    const auto& req = parser.get();
    http_request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.path = r.target.substr(0, r.target.find('?'));
    r.body = req.body();
    http_response out;
    try {
      out = dispatch(r);
    } catch (const std::exception& e) {
      obs::error("http.handler_failed", {{"path", r.path}, {"error", e.what()}});
      out = {500, "text/plain; charset=utf-8", "internal error\n"};
    }
    requests.series(obs::labels({{"path", routes.count({r.method, r.path}) ? r.path : "other"},
                                 {"status", std::to_string(out.status)}}))
        .inc();
    http::response<http::string_body> res{static_cast<http::status>(out.status), req.version()};
    res.set(http::field::server, "carebridge");
    res.set(http::field::content_type, out.content_type);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive() && !stopping);
    res.body() = std::move(out.body);
    res.prepare_payload();
    lowest.expires_after(opts.request_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
    if (wec || !res.keep_alive()) break;
  }
  std::lock_guard lock(mu);
  live.erase(id);
}

http_server::http_server(asio::io_context& ioc, obs::registry& metrics, http_options opts)
    : impl_(std::make_shared<impl>(ioc, metrics, std::move(opts))) {}

http_server::~http_server() = default;

void http_server::add(std::string method, std::string path, route handler) {
  impl_->routes[{std::move(method), std::move(path)}] = std::move(handler);
}

tcp::endpoint http_server::bind() {
  auto& d = *impl_;
  if (d.opts.tls) d.ssl = tls::make_server_context(*d.opts.tls);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(d.opts.host, ec);
  if (ec) throw std::runtime_error("HTTP listen address '" + d.opts.host + "' is not an IP address");
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

void http_server::start() {
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), [](std::exception_ptr) {});
}

void http_server::stop(std::chrono::milliseconds grace) {
  auto self = impl_;
  (void)grace;  // requests are short: open connections are closed at once
  asio::post(self->ioc, [self] {
    self->stopping = true;
    boost::system::error_code ec;
    self->acceptor.close(ec);
    std::lock_guard lock(self->mu);
    for (auto& [id, ex] : self->executors) {
      asio::post(ex, [self, id = id] {
        std::lock_guard l(self->mu);
        const auto it = self->live.find(id);
        if (it != self->live.end()) it->second->cancel();
      });
    }
  });
}

}  // namespace carebridge::adapters::fhir_rest
