// The gateway's HTTP server: operations endpoints now (/healthz, /readyz, /metrics), the FHIR REST
// API with later issues. Beast HTTP/1.1, keep-alive, a coroutine per connection on its own strand.
//
// Lifecycle as mllp_listener: bind() (throws one clear line), start(), stop(grace). Routes are added
// before start() and are called on the connection's strand: they must not block.
#pragma once

#include "adapters/tls/tls.hpp"
#include "gateway/obs/metrics.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace carebridge::adapters::fhir_rest {

struct http_request {
  std::string method;  // "GET"
  std::string target;  // "/metrics?x=1"
  std::string path;    // "/metrics"
  std::string body;
};

struct http_response {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using route = std::function<http_response(const http_request&)>;

struct http_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::size_t max_body_bytes = 1u << 20;
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
  std::optional<tls::server_options> tls;
};

class http_server {
 public:
  http_server(boost::asio::io_context& ioc, gateway::obs::registry& metrics, http_options opts);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Adds a route for an exact path and method ("GET", "POST"…).
  void add(std::string method, std::string path, route handler);
  boost::asio::ip::tcp::endpoint bind();
  void start();
  void stop(std::chrono::milliseconds grace);

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace carebridge::adapters::fhir_rest
