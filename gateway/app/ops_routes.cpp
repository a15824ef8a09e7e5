#include "gateway/app/ops_routes.hpp"

#include "gateway/app/status_assets.hpp"
#include "gateway/ops/status_data.hpp"
#include "gateway/ops/status_sampler.hpp"

#include <mutex>

namespace carebridge::app {

namespace http = adapters::fhir_rest;
namespace ops = gateway::ops;

namespace {

std::string readiness_json(bool store_ok, bool mllp_ok, bool http_ok) {
  auto b = [](bool v) { return v ? "true" : "false"; };
  return std::string("{\"ready\":") + b(store_ok && mllp_ok && http_ok) +
         ",\"store_writable\":" + b(store_ok) + ",\"mllp_listening\":" + b(mllp_ok) +
         ",\"http_listening\":" + b(http_ok) + "}\n";
}

// What the routes share; they hold it by shared_ptr, the returned object keeps the sampler.
struct state {
  explicit state(ops_ports p) : ports(std::move(p)) {}
  ops_ports ports;
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  ops::status_sampler sampler;
  std::mutex scrape_mu;  // one refresh of the store gauges (and what reads them) at a time

  ops::health_state health() const {
    return {ports.messages.writable(), ports.mllp_listening && ports.mllp_listening(),
            ports.http_listening && ports.http_listening()};
  }
};

class running final : public ops_routes {
 public:
  explicit running(std::shared_ptr<state> s)
      : state_(std::move(s)),
        thread_(state_->ports.metrics, state_->sampler, state_->ports.sample_interval) {}

 private:
  std::shared_ptr<state> state_;
  ops::sampler_thread thread_;
};

// The page's files are the same origin's only: no inline script, no other host. (The server sets
// Cache-Control: no-store on every answer.)
const http::header_list page_headers{
    {"X-Content-Type-Options", "nosniff"},
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' "
     "data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
    {"Referrer-Policy", "no-referrer"}};

}  // namespace

std::unique_ptr<ops_routes> register_ops_routes(http::http_server& server, ops_ports ports) {
  auto st = std::make_shared<state>(std::move(ports));

  server.add("GET", "/healthz", [](const auto&) {
    return http::http_response{200, "application/json", "{\"status\":\"alive\"}\n"};
  });
  server.add("GET", "/readyz", [st](const auto&) {
    const auto h = st->health();
    return http::http_response{
        h.ready() ? 200u : 503u, "application/json",
        readiness_json(h.store_writable, h.mllp_listening, h.http_listening)};
  });
  server.add("GET", "/metrics", [st](const auto&) {
    std::lock_guard lock(st->scrape_mu);
    ops::refresh_store_gauges(st->ports.metrics, st->ports.messages, st->ports.subscriptions,
                              std::chrono::system_clock::now());
    return http::http_response{200, "text/plain; version=0.0.4; charset=utf-8",
                               st->ports.metrics.expose()};
  });
  server.add("GET", "/status/data", [st](const auto&) {
    ops::status_inputs in;
    in.now = std::chrono::system_clock::now();
    in.started = st->started;
    in.version = st->ports.version;
    in.health = st->health();
    in.interval_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(st->ports.sample_interval).count();
    std::string body;
    {
      std::lock_guard lock(st->scrape_mu);
      in.subscriptions = ops::refresh_store_gauges(st->ports.metrics, st->ports.messages,
                                                   st->ports.subscriptions, in.now);
      try {
        const auto b = st->ports.messages.backlog();
        in.pipeline_pending = b.pending;
        in.pipeline_oldest_us = b.oldest_us;
      } catch (const std::exception&) {
        // the page shows the rest; the health pills say what is wrong
      }
      in.samples = st->sampler.samples();
      body = ops::status_json(in, st->ports.metrics);
    }
    body.push_back('\n');
    return http::http_response{200, "application/json", std::move(body)};
  });
  for (std::size_t i = 0; i < status_assets::file_count; ++i) {
    const status_assets::asset& a = status_assets::files[i];
    const auto serve = [a](const auto&) {
      return http::http_response{200, std::string(a.content_type), std::string(a.body),
                                 page_headers};
    };
    if (a.name == "index.html") server.add("GET", "/status", serve);
    server.add("GET", "/status/" + std::string(a.name), serve);
  }
  return std::make_unique<running>(std::move(st));
}

}  // namespace carebridge::app
