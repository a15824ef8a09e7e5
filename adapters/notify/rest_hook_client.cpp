#include "adapters/notify/rest_hook_client.hpp"

#include "adapters/tls/tls.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <set>
#include <unordered_map>

namespace carebridge::adapters::notify {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_loopback(const std::string& host) {
  if (host == "localhost") return true;
  error_code ec;
  const auto a = asio::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

}  // namespace

std::string endpoint_url::origin() const {
  return std::string(tls ? "https://" : "http://") +
         (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::string endpoint_url::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

boost::system::result<endpoint_url> parse_endpoint(std::string_view url,
                                                   bool allow_insecure_loopback) {
  endpoint_url e;
  const std::string scheme = lowered(url.substr(0, url.find("://")));
  if (url.find("://") == std::string_view::npos) return error::bad_endpoint;
  if (scheme == "https") {
    e.tls = true;
    e.port = 443;
  } else if (scheme == "http" && allow_insecure_loopback) {
    e.tls = false;
    e.port = 80;
  } else {
    return error::bad_endpoint;
  }
  std::string_view rest = url.substr(scheme.size() + 3);
  rest = rest.substr(0, rest.find('#'));
  // Controls, spaces and non-ASCII bytes would need encoding; an endpoint that has them is not a
  // URL we can put on a request line unchanged.
  for (char c : rest)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return error::bad_endpoint;
  const std::size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  const std::string_view tail =
      end == std::string_view::npos ? std::string_view() : rest.substr(end);
  // Credentials in the URL would end up in logs and Host-less places; the IG passes them as
  // channel headers instead.
  if (authority.find('@') != std::string_view::npos || authority.empty())
    return error::bad_endpoint;
  std::string_view port_text;
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return error::bad_endpoint;
    e.host = lowered(authority.substr(1, close - 1));
    error_code ec;
    asio::ip::make_address_v6(e.host, ec);
    if (ec) return error::bad_endpoint;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return error::bad_endpoint;
      port_text = after.substr(1);
      if (port_text.empty()) return error::bad_endpoint;
    }
  } else {
    const std::size_t colon = authority.find(':');
    e.host = lowered(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return error::bad_endpoint;
    }
    for (char c : e.host)
      if (!(is_tchar(c) && c != '%')) return error::bad_endpoint;
  }
  if (e.host.empty()) return error::bad_endpoint;
  if (!port_text.empty()) {
    if (port_text.size() > 5) return error::bad_endpoint;
    unsigned p = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return error::bad_endpoint;
      p = p * 10 + static_cast<unsigned>(c - '0');
    }
    if (p == 0 || p > 65535) return error::bad_endpoint;
    e.port = static_cast<std::uint16_t>(p);
  }
  if (!e.tls && !is_loopback(e.host)) return error::bad_endpoint;
  e.target = tail.empty() ? "/" : tail.front() == '?' ? "/" + std::string(tail) : std::string(tail);
  return e;
}

boost::system::result<header_field> parse_channel_header(std::string_view line) {
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return error::bad_header;
  header_field h;
  std::string_view name = line.substr(0, colon);
  // A name with blanks around it is refused rather than trimmed: "Name :" is a request smuggling
  // classic (RFC 9112 §5.1).
  if (!std::all_of(name.begin(), name.end(), is_tchar)) return error::bad_header;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return error::bad_header;
  }
  const std::string n = lowered(name);
  static constexpr std::string_view owned[] = {
      "host",       "content-length", "content-type", "transfer-encoding",
      "connection", "keep-alive",     "te",           "trailer",
      "upgrade",    "expect"};
  if (std::find(std::begin(owned), std::end(owned), n) != std::end(owned) ||
      n.starts_with("proxy-"))
    return error::bad_header;
  h.name = std::string(name);
  h.value = std::string(value);
  return h;
}

namespace {

// One connection to an origin: plain TCP or TLS over TCP. Owned by the pool while idle, by one
// attempt while in use.
struct connection {
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  steady::time_point idle_since{};

  beast::tcp_stream& lowest() { return plain ? *plain : beast::get_lowest_layer(*tls); }

  // Whether an idle connection can carry another request: nothing unread (an idle HTTP/1.1
  // connection has nothing to say; bytes or EOF mean a close_notify, an error page or a FIN), and
  // the socket still open. Non-blocking; does not consume anything.
  bool usable() {
    auto& sock = lowest().socket();
    if (!sock.is_open() || buffer.size() != 0) return false;
    char probe = 0;
    const auto n = ::recv(sock.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  void close() {
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().socket().close(ignored);
  }
};

struct host_pool {
  std::deque<std::unique_ptr<connection>> idle;  // oldest first
  std::size_t open = 0;  // idle + in use + being connected: what the per-host limit counts
  std::deque<std::shared_ptr<asio::steady_timer>> waiters;  // attempts waiting for a slot
};

struct lease {
  std::unique_ptr<connection> conn;  // null with !ec: a slot was granted, connect a new one
  error_code ec;
};

struct exchange_result {
  error_code ec;
  bool got_response = false;  // some byte of a response arrived
  bool reusable = false;
  unsigned status = 0;
  std::string retry_after;
  std::string body;  // when keep_body and read whole
  bool body_complete = false;
  std::string cache_control, content_type;
};

bool is_http_parse_error(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

template <typename Stream>
asio::awaitable<exchange_result> exchange(Stream& stream, connection& c,
                                          const http::request<http::string_body>& req,
                                          steady::time_point deadline, std::size_t body_limit,
                                          bool keep_body) {
  exchange_result x;
  auto& lowest = c.lowest();
  lowest.expires_at(deadline);
  auto [wec, wn] = co_await http::async_write(stream, req, use_tuple);
  if (wec) {
    x.ec = wec;
    co_return x;
  }
  std::optional<http::response_parser<http::string_body>> parser;
  // Interim 1xx answers (an unasked-for 100 Continue) are skipped; a few at most.
  for (int interim = 0;; ++interim) {
    parser.emplace();
    parser->header_limit(16 * 1024);
    parser->body_limit(body_limit);
    auto [hec, hn] = co_await http::async_read_header(stream, c.buffer, *parser, use_tuple);
    x.got_response = x.got_response || parser->got_some();
    // A Content-Length over the limit is refused right after the header, which is all we need.
    if (hec == http::error::body_limit && parser->is_header_done()) {
      x.status = parser->get().result_int();
      x.retry_after = std::string(parser->get()[http::field::retry_after]);
      co_return x;  // not reusable: the body is left unread
    }
    if (hec) {
      x.ec = hec;
      co_return x;
    }
    const unsigned s = parser->get().result_int();
    if (s < 100 || s >= 200 || s == 101 || interim >= 4) break;
  }
  x.status = parser->get().result_int();
  x.retry_after = std::string(parser->get()[http::field::retry_after]);
  error_code bec;
  if (!parser->is_done()) {
    auto [rec, rn] = co_await http::async_read(stream, c.buffer, *parser, use_tuple);
    bec = rec;
  }
  if (keep_body) {
    x.cache_control = std::string(parser->get()[http::field::cache_control]);
    x.content_type = std::string(parser->get()[http::field::content_type]);
    x.body_complete = !bec && parser->is_done();
    if (x.body_complete) x.body = std::move(parser->get().body());
  }
  // The status line is what counts; a body cut short (over the limit, or the peer closing early)
  // only means the connection cannot be used again.
  x.reusable = !bec && parser->keep_alive() && c.buffer.size() == 0;
  co_return x;
}

}  // namespace

struct rest_hook_client::impl : std::enable_shared_from_this<impl> {
  impl(asio::io_context& ioc, client_options o)
      : strand(asio::make_strand(ioc)),
        opts(std::move(o)),
        ssl(tls::make_client_context(opts.ca_file, opts.certificate_file, opts.private_key_file)),
        sweep_timer(strand) {
    if (opts.max_connections_per_host == 0) opts.max_connections_per_host = 1;
  }

  executor_type strand;
  client_options opts;
  std::shared_ptr<asio::ssl::context> ssl;
  std::unordered_map<std::string, host_pool> pools;
  std::set<connection*> active;  // in use by an attempt: shutdown() cancels them
  bool closed = false;
  asio::steady_timer sweep_timer;
  bool sweeping = false;
  std::atomic<std::uint64_t> opened{0}, reused{0}, stale{0};

  // Closes idle connections that expired or that the peer closed.
  void prune(host_pool& p, steady::time_point now) {
    for (auto it = p.idle.begin(); it != p.idle.end();) {
      const bool expired = now - (*it)->idle_since >= opts.idle_timeout;
      if (expired || !(*it)->usable()) {
        if (!expired) ++stale;
        (*it)->close();
        it = p.idle.erase(it);
        --p.open;
      } else {
        ++it;
      }
    }
  }

  static void wake_one(host_pool& p) {
    if (p.waiters.empty()) return;
    p.waiters.front()->cancel();
    p.waiters.pop_front();
  }

  asio::awaitable<lease> acquire(std::string key, steady::time_point deadline) {
    for (;;) {
      if (closed) co_return lease{nullptr, error::shut_down};
      auto& p = pools[key];
      const auto now = steady::now();
      prune(p, now);
      if (!p.idle.empty()) {
        // The most recently used one: the least likely to have been closed by the peer.
        auto c = std::move(p.idle.back());
        p.idle.pop_back();
        co_return lease{std::move(c), {}};
      }
      if (p.open < opts.max_connections_per_host) {
        ++p.open;
        co_return lease{nullptr, {}};
      }
      if (now >= deadline) co_return lease{nullptr, error::timeout};
      auto waiter = std::make_shared<asio::steady_timer>(strand, deadline);
      p.waiters.push_back(waiter);
      co_await waiter->async_wait(use_tuple);
      auto& q = pools[key];
      q.waiters.erase(std::remove(q.waiters.begin(), q.waiters.end(), waiter), q.waiters.end());
    }
  }

  // Gives a connection slot back: to the idle list when the connection can be reused, else closes
  // it (conn may be null: the slot of a connection that never connected).
  void release(const std::string& key, std::unique_ptr<connection> conn, bool reusable) {
    auto& p = pools[key];
    if (conn && reusable && !closed) {
      conn->idle_since = steady::now();
      p.idle.push_back(std::move(conn));
      while (p.idle.size() > opts.max_idle_per_host) {
        p.idle.front()->close();
        p.idle.pop_front();
        --p.open;
      }
      start_sweep();
    } else {
      if (conn) conn->close();
      --p.open;
    }
    wake_one(p);
  }

  void start_sweep() {
    if (sweeping || closed) return;
    sweeping = true;
    asio::co_spawn(strand, sweep(shared_from_this()), asio::detached);
  }

  // Closes expired idle connections now and then, while there are any, so that a quiet endpoint's
  // sockets do not linger in CLOSE_WAIT until the next notification.
  static asio::awaitable<void> sweep(std::shared_ptr<impl> self) {
    const auto period = std::max<std::chrono::milliseconds>(self->opts.idle_timeout / 2,
                                                            std::chrono::milliseconds(50));
    while (!self->closed) {
      self->sweep_timer.expires_after(period);
      co_await self->sweep_timer.async_wait(use_tuple);
      if (self->closed) break;
      bool any = false;
      for (auto& [key, p] : self->pools) {
        self->prune(p, steady::now());
        any = any || !p.idle.empty();
        while (!p.waiters.empty() && p.open < self->opts.max_connections_per_host) wake_one(p);
      }
      if (!any) break;
    }
    self->sweeping = false;
  }

  void close_all() {
    closed = true;
    for (auto& [key, p] : pools) {
      for (auto& c : p.idle) c->close();
      p.open -= p.idle.size();
      p.idle.clear();
      while (!p.waiters.empty()) wake_one(p);
    }
    for (connection* c : active) c->lowest().cancel();
    sweep_timer.cancel();
  }

  asio::awaitable<error_code> connect(connection& c, const endpoint_url& ep,
                                      steady::time_point deadline, std::string& detail) {
    tcp::resolver resolver(strand);
    // getaddrinfo cannot be interrupted: resolution is bounded by the system resolver's own
    // timeouts, and the deadline is checked when it returns. IP literals are not looked up.
    auto flags = tcp::resolver::numeric_service;
    error_code aec;
    asio::ip::make_address(ep.host, aec);
    if (!aec) flags |= tcp::resolver::numeric_host;
    auto [rec, results] =
        co_await resolver.async_resolve(ep.host, std::to_string(ep.port), flags, use_tuple);
    if (closed) co_return error::shut_down;
    if (rec) {
      detail = rec.message();
      co_return error::resolve_failed;
    }
    if (steady::now() >= deadline) co_return error::timeout;
    auto& lowest = c.lowest();
    lowest.expires_at(deadline);
    auto [cec, where] = co_await lowest.async_connect(results, use_tuple);
    if (cec) {
      if (closed) co_return error::shut_down;
      if (cec == beast::error::timeout) co_return error::timeout;
      detail = cec.message();
      co_return error::connect_failed;
    }
    error_code ignored;
    lowest.socket().set_option(tcp::no_delay(true), ignored);
    if (!c.tls) co_return error_code{};
    if (!tls::expect_server_name(c.tls->native_handle(), ep.host)) {
      detail = "the host name cannot be used for TLS";
      co_return error::tls_failed;
    }
    lowest.expires_at(deadline);
    auto [hec] = co_await c.tls->async_handshake(asio::ssl::stream_base::client, use_tuple);
    if (hec) {
      if (closed) co_return error::shut_down;
      if (hec == beast::error::timeout) co_return error::timeout;
      const long verify = SSL_get_verify_result(c.tls->native_handle());
      if (verify != X509_V_OK) {
        detail = X509_verify_cert_error_string(verify);
        co_return error::certificate_rejected;
      }
      detail = hec.message();
      co_return error::tls_failed;
    }
    co_return error_code{};
  }
};

namespace {

// Errors that mean "the peer closed a connection we thought open": worth one resend on a new one.
bool peer_closed(const error_code& ec) {
  return ec == asio::error::eof || ec == http::error::end_of_stream ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == asio::ssl::error::stream_truncated ||
         ec == http::error::partial_message;
}

void finish(delivery_result& r, steady::time_point started, const std::string& origin,
            const std::string& detail) {
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started);
  r.classified = classify(r.status, r.error);
  if (r.error) {
    r.error_text = r.error.message();
    if (!origin.empty()) r.error_text += " (" + origin + ")";
    if (!detail.empty()) r.error_text += ": " + detail;
  }
}

}  // namespace

rest_hook_client::rest_hook_client(asio::io_context& ioc, client_options options)
    : impl_(std::make_shared<impl>(ioc, std::move(options))) {}

rest_hook_client::~rest_hook_client() {
  shutdown();
}

rest_hook_client::executor_type rest_hook_client::get_executor() const noexcept {
  return impl_->strand;
}

void rest_hook_client::shutdown() {
  asio::post(impl_->strand, [self = impl_] { self->close_all(); });
}

pool_stats rest_hook_client::stats() const noexcept {
  return {impl_->opened.load(), impl_->reused.load(), impl_->stale.load()};
}

asio::awaitable<delivery_result> rest_hook_client::attempt(std::shared_ptr<impl> self,
                                                           delivery_request request) {
  impl& d = *self;
  const auto started = steady::now();
  const auto budget = request.timeout && *request.timeout > std::chrono::milliseconds::zero()
                          ? std::min(*request.timeout, d.opts.attempt_timeout)
                          : d.opts.attempt_timeout;
  const auto deadline = started + budget;
  delivery_result r;
  std::string detail;
  const auto ep = parse_endpoint(request.endpoint, d.opts.allow_insecure_loopback);
  if (!ep) {
    r.error = ep.error();
    finish(r, started, {}, detail);
    co_return r;
  }
  const std::string origin = ep->origin();
  if (d.closed) {
    r.error = error::shut_down;
    finish(r, started, origin, detail);
    co_return r;
  }

  const bool get = request.method == "GET";
  http::request<http::string_body> req{get ? http::verb::get : http::verb::post, ep->target, 11};
  req.set(http::field::host, ep->host_header());
  req.set(http::field::user_agent, d.opts.user_agent);
  req.set(http::field::accept, get ? "application/json, application/jwk-set+json;q=0.9"
                                   : "application/fhir+json, application/json;q=0.9, */*;q=0.1");
  for (std::size_t i = 0; i < request.headers.size(); ++i) {
    const auto h = parse_channel_header(request.headers[i]);
    if (!h) {
      r.error = h.error();
      // Which entry, never what it holds.
      finish(r, started, origin, "channel.header[" + std::to_string(i) + "]");
      co_return r;
    }
    req.insert(h->name, h->value);
  }
  if (!get) {
    req.set(http::field::content_type,
            request.content_type.empty() ? "application/fhir+json" : request.content_type);
    req.body() = std::move(request.body);
  }
  req.keep_alive(true);
  req.prepare_payload();

  for (int round = 0;; ++round) {
    lease l = co_await d.acquire(origin, deadline);
    if (l.ec) {
      r.error = l.ec;
      break;
    }
    const bool reused = l.conn != nullptr;
    std::unique_ptr<connection> conn = std::move(l.conn);
    if (!reused) {
      conn = std::make_unique<connection>();
      if (ep->tls)
        conn->tls.emplace(d.strand, *d.ssl);
      else
        conn->plain.emplace(d.strand);
      d.active.insert(conn.get());
      const error_code cec = co_await d.connect(*conn, *ep, deadline, detail);
      d.active.erase(conn.get());
      if (cec) {
        d.release(origin, std::move(conn), false);
        r.error = cec;
        break;
      }
      ++d.opened;
    } else {
      ++d.reused;
    }
    d.active.insert(conn.get());
    exchange_result x;
    if (conn->tls)
      x = co_await exchange(*conn->tls, *conn, req, deadline, d.opts.max_response_body, get);
    else
      x = co_await exchange(*conn->plain, *conn, req, deadline, d.opts.max_response_body, get);
    d.active.erase(conn.get());
    if (x.ec && reused && round == 0 && !x.got_response && peer_closed(x.ec) && !d.closed) {
      // The peer closed the pooled connection under us: once more on a new one (see the header
      // on why a resend is acceptable).
      d.release(origin, std::move(conn), false);
      ++d.stale;
      continue;
    }
    d.release(origin, std::move(conn), !x.ec && x.reusable);
    r.reused_connection = reused;
    if (x.status != 0) {
      r.status = x.status;
      r.body = std::move(x.body);
      r.body_complete = x.body_complete;
      r.cache_control = std::move(x.cache_control);
      r.content_type = std::move(x.content_type);
      if (!x.retry_after.empty())
        r.retry_after = parse_retry_after(x.retry_after, std::chrono::system_clock::now());
    } else if (d.closed) {
      r.error = error::shut_down;
    } else if (x.ec == beast::error::timeout) {
      r.error = error::timeout;
    } else if (is_http_parse_error(x.ec)) {
      r.error = error::bad_response;
    } else {
      r.error = error::connection_lost;
      detail = x.ec.message();
    }
    break;
  }
  finish(r, started, origin, detail);
  co_return r;
}

}  // namespace carebridge::adapters::notify
