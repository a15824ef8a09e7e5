// The operations routes of the HTTP listener: /healthz, /readyz, /metrics, and the status page
// for ops staff (/status: HTML, JS and CSS compiled into the binary; /status/data: the JSON it
// polls). None of them carries PHI, and none asks for authentication: deploy/OPERATIONS.md says
// to keep the listener's ops paths reachable from the ops network only.
//
// register_ops_routes() adds the routes (before http_server::start()) and returns the object that
// keeps the status page's sampler running (a thread taking a 10-second sample of the counters,
// for the last hour's charts): keep it until the server has stopped; its destructor stops the
// thread. The routes run on the connections' strands; /metrics and /status/data read the store
// (subscriptions, follow-up Tasks, backlog) with a few short queries, one scrape at a time.
#pragma once

#include "adapters/fhir_rest/http_server.hpp"
#include "gateway/obs/metrics.hpp"
#include "gateway/store/message_store.hpp"
#include "gateway/store/subscription_store.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace carebridge::app {

struct ops_ports {
  gateway::obs::registry& metrics;
  gateway::store::message_store& messages;
  gateway::store::subscription_store& subscriptions;
  std::function<bool()> mllp_listening;
  std::function<bool()> http_listening;
  std::string version = "0.1.0";
  std::chrono::milliseconds sample_interval{std::chrono::seconds(10)};
};

class ops_routes {
 public:
  virtual ~ops_routes() = default;
};

std::unique_ptr<ops_routes> register_ops_routes(adapters::fhir_rest::http_server& http,
                                                ops_ports ports);

}  // namespace carebridge::app
