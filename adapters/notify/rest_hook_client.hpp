// The rest-hook sender: POSTs an already-built notification body to a subscriber's endpoint over
// HTTPS (Beast HTTP/1.1 over Asio SSL) and says what came of it. One attempt per call; retries
// are the caller's (delivery_worker.hpp).
//
// Lifecycle and threads: construct with an io_context (any number of threads may run it); all of
// the client's work — every attempt, the connection pool, the idle sweep — runs on one strand of
// its own (get_executor()), so the pool needs no lock. async_post() may be called from any thread;
// its completion is delivered as the completion token says (use_awaitable resumes the caller on its
// own executor). shutdown() (also from any thread) closes idle connections, abandons attempts in
// flight (they complete with error::shut_down) and refuses new ones. The io_context must outlive
// the client; the destructor calls shutdown().
//
// Each attempt has one deadline covering the wait for a pooled connection, connect, TLS
// handshake, writing the request and reading the response, so a dead or slow endpoint only ever
// holds its own attempts: the request's own timeout (the Subscription's backport-timeout) when it
// has one, at most client_options::attempt_timeout, which is also the default. Connections are kept alive and reused per
// (scheme, host, port), at most max_connections_per_host open at once (further attempts to that
// origin wait, within their deadline, for one to come free); idle ones are closed after
// idle_timeout. An idle connection the peer has closed is noticed before use (a non-blocking peek)
// and replaced. If a reused connection fails anyway before any byte of a response arrived — the
// peer closed it while we were writing — the request is sent once more on a new connection; at that
// point the peer may have received and even processed it, which is acceptable because receivers
// de-duplicate notifications on (subscription, event number) (Backport IG; fhir.md §1.4). A
// timeout is never resent within the attempt.
//
// Privacy: the results, errors and logs name the endpoint's origin (scheme://host:port) at most;
// never its path or query, a channel header's value or the body.
#pragma once

#include "adapters/notify/backoff.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/result.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace carebridge::adapters::notify {

struct client_options {
  std::string ca_file;           // PEM bundle to verify servers against; empty: the system store
  std::string certificate_file;  // PEM chain presented for mutual TLS; empty: none
  std::string private_key_file;  // its PEM key
  /// One attempt at the most: the default for requests without a timeout of their own, and the
  /// cap of those with one (delivery_request::timeout).
  std::chrono::milliseconds attempt_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(50)};     // pooled idle connection
  std::size_t max_connections_per_host = 4;   // open at once per origin (idle ones included)
  std::size_t max_idle_per_host = 2;          // kept idle per origin; more are closed
  std::size_t max_response_body = 64 * 1024;  // read and dropped; a longer body ends the connection
  /// Accept `http://` endpoints whose host is loopback (localhost, 127.0.0.0/8, ::1): tests and
  /// the demo only. Never for a real subscriber: notifications carry PHI references.
  bool allow_insecure_loopback = false;
  std::string user_agent = "CareBridge-notify/0.1";
};

/// A parsed endpoint URL.
struct endpoint_url {
  bool tls = true;
  std::string host;  // lower-case; an IPv6 literal without brackets
  std::uint16_t port = 443;
  std::string target;  // path and query, "/hook?x=1"; "/" when the URL has no path

  /// "https://host:port": the pool key, and all of the URL that logs and errors may name.
  std::string origin() const;
  /// The Host header value: host, [v6], with ":port" when not the scheme's default.
  std::string host_header() const;
};

/// `https://host[:port][/path][?query]` (a fragment is dropped; user-info is refused);
/// `http://` only with allow_insecure_loopback and a loopback host. error::bad_endpoint otherwise.
boost::system::result<endpoint_url> parse_endpoint(std::string_view url,
                                                   bool allow_insecure_loopback);

struct header_field {
  std::string name;
  std::string value;
};

/// One Subscription `channel.header` entry, "Name: value" (split at the first colon, blanks around
/// the value removed, as HAPI does). error::bad_header when the name is not an HTTP token, the
/// value holds CR, LF, NUL or another control character but tab, or the name is one the client
/// sets itself (Host, Content-Length, Content-Type, Transfer-Encoding, Connection, Keep-Alive, TE,
/// Trailer, Upgrade, Expect, Proxy-*). The error never repeats the value.
boost::system::result<header_field> parse_channel_header(std::string_view line);

struct delivery_request {
  /// "POST" (notifications) or "GET" (documents the gateway reads, such as a SMART client's JWK
  /// Set: no body is sent, and the response body is kept).
  std::string method = "POST";
  std::string endpoint;                                // Subscription.channel.endpoint
  std::string body;                                    // the notification Bundle, as sent
  std::string content_type = "application/fhir+json";  // Subscription.channel.payload
  std::vector<std::string> headers;                    // Subscription.channel.header entries
  /// This attempt's deadline (the Subscription's backport-timeout) instead of
  /// client_options::attempt_timeout, which caps it; unset or not positive: that default.
  std::optional<std::chrono::milliseconds> timeout;
};

struct delivery_result {
  unsigned status = 0;  // the HTTP status; 0 when no response arrived
  /// The server's Retry-After as a wait from when the response arrived (not clamped).
  std::optional<std::chrono::milliseconds> retry_after;
  std::chrono::milliseconds elapsed{0};  // this attempt, from the call to its completion
  classification classified;             // delivered / retry / permanent + subscription-error
  boost::system::error_code error;       // notify::error; empty when a response arrived
  std::string error_text;                // PHI-free: the error and the endpoint's origin
  bool reused_connection = false;        // sent on a pooled connection
  /// GET only: the response body when it was read whole within max_response_body (body_complete),
  /// and the response's Cache-Control and Content-Type.
  std::string body;
  bool body_complete = false;
  std::string cache_control;
  std::string content_type;
};

/// Counters of the connection pool (monotonic, readable from any thread).
struct pool_stats {
  std::uint64_t connections_opened = 0;  // TCP (+TLS) connections established
  std::uint64_t connections_reused = 0;  // attempts that used a pooled connection
  std::uint64_t stale_reconnects = 0;    // pooled connections found closed and replaced
};

class rest_hook_client {
 public:
  using executor_type = boost::asio::strand<boost::asio::io_context::executor_type>;

  /// Throws std::runtime_error (one line) when a TLS file cannot be loaded.
  rest_hook_client(boost::asio::io_context& ioc, client_options options);
  ~rest_hook_client();
  rest_hook_client(const rest_hook_client&) = delete;
  rest_hook_client& operator=(const rest_hook_client&) = delete;

  executor_type get_executor() const noexcept;

  /// Makes one attempt. Completion signature: void(std::exception_ptr, delivery_result) (the
  /// exception only for std::bad_alloc and the like: every expected failure is in the result).
  template <typename CompletionToken>
  auto async_post(delivery_request request, CompletionToken&& token) {
    return boost::asio::co_spawn(get_executor(), attempt(impl_, std::move(request)),
                                 std::forward<CompletionToken>(token));
  }

  /// Closes the pool and abandons attempts in flight; later attempts fail with error::shut_down.
  void shutdown();

  pool_stats stats() const noexcept;

  struct impl;

 private:
  static boost::asio::awaitable<delivery_result> attempt(std::shared_ptr<impl> self,
                                                         delivery_request request);
  std::shared_ptr<impl> impl_;
};

}  // namespace carebridge::adapters::notify
