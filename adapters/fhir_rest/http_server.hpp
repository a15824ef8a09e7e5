// The gateway's HTTP server: operations endpoints (/healthz, /readyz, /metrics) and the FHIR REST
// API (fhir_api.hpp). Beast HTTP/1.1, keep-alive, a coroutine per connection on its own strand.
//
// Lifecycle as mllp_listener: bind() (throws one clear line), start(), stop(grace). Routes are
// added before start(). A synchronous route is called on the connection's strand and must not
// block. An asynchronous route starts its work and returns; it answers later by calling its `reply`
// exactly once, from any thread (the store's writer thread, typically): the response is posted back
// to the connection's strand and written there. The connection reads no further request until then
// (HTTP/1.1 answers in order); a route that has not answered within `handler_timeout` gets 503.
//
// Paths are exact ("/fhir/metadata") or patterns whose `{name}` segments match one path segment
// each ("/fhir/{type}/{id}"), captured in http_request::params; a literal segment beats a pattern.
// A path some route matches with another method gets 405 (with Allow); no match, 404. Those, 413
// (body over max_body_bytes), 500 (a route threw) and 503 are plain text, or whatever the error
// formatter registered for the path's prefix makes of them (the FHIR API answers
// OperationOutcomes).
#pragma once

#include "adapters/tls/tls.hpp"
#include "gateway/auth/principal.hpp"
#include "gateway/ingest/sender_policy.hpp"
#include "gateway/obs/metrics.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace carebridge::adapters::fhir_rest {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_request {
  std::string method;  // "GET"
  std::string target;  // "/metrics?x=1"
  std::string path;    // "/metrics", percent-decoded
  std::string query;   // "x=1"
  std::string body;
  header_list headers;                                     // as received; names lower-case
  std::map<std::string, std::string, std::less<>> params;  // {name} segments of the route
  gateway::ingest::connection_info connection;  // peer address, TLS, client certificate names
  /// Who the request acts as: set by the guard of its path (set_guard), else null.
  std::shared_ptr<const gateway::auth::principal> principal;

  /// The first value of a header (name in any case), or "" when absent.
  std::string_view header(std::string_view name) const;
  /// The first value of a query parameter (percent-decoded), or nullopt.
  std::optional<std::string> query_param(std::string_view name) const;
};

struct http_response {
  http_response() = default;
  http_response(unsigned s, std::string type, std::string b, header_list h = {})
      : status(s), content_type(std::move(type)), body(std::move(b)), headers(std::move(h)) {}

  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  header_list headers;  // extra headers: Location, ETag, Last-Modified…
};

using route = std::function<http_response(const http_request&)>;
/// Answers an asynchronous request; call exactly once, from any thread (later calls are ignored).
using reply_handler = std::function<void(http_response)>;
using async_route = std::function<void(const http_request&, reply_handler reply)>;
/// Makes the response for an error the server itself answers (404, 405, 413, 500, 503) under a
/// path prefix; `text` is a short PHI-free description.
using error_formatter = std::function<http_response(unsigned status, std::string_view text)>;

/// Runs before a matched route under its prefix: authenticates and authorizes the request for the
/// route (`method`, `pattern` as registered), setting `r.principal`; returns the refusal to answer
/// instead (401, 403…), or nullopt to let the route run.
using guard = std::function<std::optional<http_response>(http_request& r, std::string_view method,
                                                          std::string_view pattern)>;
/// Sees every request a route or a guard answered (not the server's own 404/405/413), with the
/// pattern it matched, on the connection's strand before the response is written: must not block.
using completion_observer =
    std::function<void(const http_request&, const http_response&, std::string_view pattern)>;

struct http_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::size_t max_body_bytes = 1u << 20;
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds handler_timeout{std::chrono::seconds(30)};  // asynchronous routes
  std::optional<tls::server_options> tls;
};

class http_server {
 public:
  http_server(boost::asio::io_context& ioc, gateway::obs::registry& metrics, http_options opts);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Adds a synchronous route for a method ("GET", "POST"…) and an exact path or pattern.
  void add(std::string method, std::string path, route handler);
  /// Adds an asynchronous route.
  void add_async(std::string method, std::string path, async_route handler);
  /// Formats the server's own errors for paths equal to `prefix` or below it ("/fhir").
  void set_error_formatter(std::string prefix, error_formatter f);
  /// Guards the routes whose path is `prefix` or below it; one guard per prefix, before start().
  void set_guard(std::string prefix, guard g);
  /// Adds an observer of answered requests (the audit trail), before start().
  void observe(completion_observer o);
  /// The routes as (method, pattern), in the order they were added (the authorization tests walk
  /// them).
  std::vector<std::pair<std::string, std::string>> routes() const;

  boost::asio::ip::tcp::endpoint bind();
  void start();
  /// Stops accepting; idle connections close at once, a request in hand may finish (its reply be
  /// written) within `grace`; then everything left is cancelled.
  void stop(std::chrono::milliseconds grace);
  /// As mllp_listener::reload_tls(): new connections use the TLS files as they are now.
  void reload_tls();

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

/// Percent-decodes a path or query component; nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

}  // namespace carebridge::adapters::fhir_rest
