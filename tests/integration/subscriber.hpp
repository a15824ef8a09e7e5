// A subscriber endpoint for the integration tests: our HTTP server (TLS with the dev CA, or plain)
// with one async route, POST /hook, answering what the test
// says for each request and recording what it saw.
#pragma once

#include "adapters/fhir_rest/http_server.hpp"
#include "adapters/tls/tls.hpp"
#include "gateway/obs/metrics.hpp"
#include "tests/integration/http_client.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace carebridge::test_http {

namespace rest = carebridge::adapters::fhir_rest;
namespace tls = carebridge::adapters::tls;
using steady = std::chrono::steady_clock;

// Only to notice a hang; never an assertion about speed.
inline constexpr auto patience = 30s;

inline std::string cert(const char* name) {
  return (certs_dir() / name).string();
}

// What the subscriber saw of one request.
struct seen {
  std::string target;
  std::string body;
  rest::header_list headers;
  std::uint16_t peer_port = 0;
  std::vector<std::string> certificate_names;
  steady::time_point at;

  std::string header(const std::string& lower_name) const {
    for (const auto& [k, v] : headers)
      if (k == lower_name) return v;
    return {};
  }
};

struct subscriber_options {
  bool tls = true;
  bool require_client_certificate = false;
  std::string host = "127.0.0.1";
  std::chrono::milliseconds idle_timeout = 60s;
  std::string path = "/hook";  // the route (a Da Vinci recipient: "<base>/$process-message")
};

// A subscriber endpoint: our HTTP server with one async route, POST /hook (or options.path),
// answering what the test's `answer` says for each request (nullopt: hold the answer until
// release()).
class subscriber {
 public:
  using answer_fn = std::function<std::optional<rest::http_response>(const seen&, std::size_t n)>;

  explicit subscriber(subscriber_options o = {}, answer_fn answer = {})
      : answer_(std::move(answer)) {
    rest::http_options ho;
    ho.host = o.host;
    ho.port = 0;
    ho.idle_timeout = o.idle_timeout;
    ho.handler_timeout = 120s;
    if (o.tls)
      ho.tls = tls::server_options{cert("server.crt"), cert("server.key"),
                                   o.require_client_certificate ? cert("ca.crt") : std::string(),
                                   o.require_client_certificate};
    tls_ = o.tls;
    host_ = o.host;
    http_ = std::make_unique<rest::http_server>(ioc_, metrics_, ho);
    http_->add_async(
        "POST", o.path, [this](const rest::http_request& r, rest::reply_handler reply) {
          seen s{r.target,
                 r.body,
                 r.headers,
                 r.connection.peer_port,
                 r.connection.certificate_names,
                 steady::now()};
          std::optional<rest::http_response> out;
          {
            std::lock_guard lock(mu_);
            requests_.push_back(s);
            out = answer_ ? answer_(s, requests_.size() - 1) : rest::http_response{200, "", ""};
            if (!out) held_.push_back(reply);
          }
          cv_.notify_all();
          if (out) reply(std::move(*out));
        });
    port_ = http_->bind().port();
    http_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~subscriber() {
    http_->stop(100ms);
    thread_.join();
  }

  std::string url(const std::string& target = "/hook") const {
    return std::string(tls_ ? "https://" : "http://") + host_ + ":" + std::to_string(port_) +
           target;
  }
  std::uint16_t port() const { return port_; }

  std::vector<seen> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::vector<std::string> bodies() const {
    std::vector<std::string> out;
    for (const auto& r : requests()) out.push_back(r.body);
    return out;
  }
  std::size_t connections() const {
    std::set<std::uint16_t> ports;
    for (const auto& r : requests()) ports.insert(r.peer_port);
    return ports.size();
  }
  bool wait_requests(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, patience, [&] { return requests_.size() >= n; });
  }
  bool wait_held(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, patience, [&] { return held_.size() >= n; });
  }
  void release(const rest::http_response& r) {
    std::vector<rest::reply_handler> h;
    {
      std::lock_guard lock(mu_);
      h.swap(held_);
    }
    for (auto& reply : h) reply(r);
  }
  void set_answer(answer_fn f) {
    std::lock_guard lock(mu_);
    answer_ = std::move(f);
  }

 private:
  carebridge::gateway::obs::registry metrics_;
  asio::io_context ioc_;
  std::unique_ptr<rest::http_server> http_;
  bool tls_ = true;
  std::string host_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<seen> requests_;
  std::vector<rest::reply_handler> held_;
  answer_fn answer_;
};

}  // namespace carebridge::test_http
