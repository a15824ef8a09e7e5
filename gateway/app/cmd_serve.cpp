// carebridge serve: the gateway process. Wires the store, ingest, the pipeline worker and the
// listeners together, runs until SIGTERM/SIGINT, then shuts down in two phases (stop accepting and
// let in-flight frames finish within the grace period; then flush the store and exit 0).
#include "adapters/fhir_rest/access.hpp"
#include "adapters/fhir_rest/audit_api.hpp"
#include "adapters/fhir_rest/fhir_api.hpp"
#include "adapters/fhir_rest/smart_api.hpp"
#include "adapters/fhir_rest/subscription_api.hpp"
#include "adapters/notify/notifier.hpp"
#include "gateway/alerts/fan_out.hpp"
#include "adapters/fhir_rest/http_server.hpp"
#include "adapters/mllp/mllp_listener.hpp"
#include "gateway/app/cli.hpp"
#include "gateway/audit/audit_log.hpp"
#include "gateway/auth/client_registry.hpp"
#include "gateway/auth/token_service.hpp"
#include "gateway/app/ops_routes.hpp"
#include "gateway/config/config.hpp"
#include "gateway/ingest/ingest_service.hpp"
#include "gateway/care/care_stage.hpp"
#include "gateway/ingest/conversion_stage.hpp"
#include "gateway/ingest/pipeline_worker.hpp"
#include "gateway/obs/log.hpp"
#include "gateway/obs/metrics.hpp"
#include "gateway/store/sqlite_store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <sched.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <thread>

namespace carebridge::app {

namespace asio = boost::asio;
namespace cfg = gateway::config;
namespace obs = gateway::obs;
namespace hl7 = mappings::hl7v2;

namespace {

std::chrono::milliseconds ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
}

std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
  const auto a = ep.address();
  std::string out;
  if (a.is_v6()) out.push_back('[');
  out.append(a.to_string());
  if (a.is_v6()) out.push_back(']');
  out.append(":").append(std::to_string(ep.port()));
  return out;
}

adapters::tls::server_options tls_of(const cfg::tls_config& t) {
  return {t.certificate, t.private_key, t.client_ca, t.require_client_certificate};
}

// Auth mode "certificate": a connection matching a group_clients entry acts for that group; else
// one matching sender rules (or any, when no senders are configured) is a sender for their
// facilities; else nobody. Such principals have every scope.
std::function<std::shared_ptr<const gateway::auth::principal>(const gateway::ingest::connection_info&)>
certificate_identities(const cfg::config& c, const gateway::ingest::sender_policy& senders) {
  std::vector<gateway::ingest::sender_rule> rules;
  std::map<std::string, std::string, std::less<>> group_by_client;
  for (const auto& gc : c.group_clients) {
    gateway::ingest::sender_rule r;
    r.name = gc.name;
    r.facilities = {"*"};
    r.certificate_names = gc.certificate_names;
    r.addresses = gc.addresses;
    rules.push_back(std::move(r));
    group_by_client[gc.name] = gc.group;
  }
  auto clients = std::make_shared<const gateway::ingest::sender_policy>(std::move(rules));
  const auto everything = gateway::auth::parse_scopes("system/*.*");
  return [clients, groups = std::move(group_by_client), &senders, everything](
             const gateway::ingest::connection_info& ci)
             -> std::shared_ptr<const gateway::auth::principal> {
    auto p = std::make_shared<gateway::auth::principal>();
    p->scopes = everything;
    p->by_token = false;
    if (!clients->open()) {
      const auto grant = clients->grant(ci);
      if (!grant.rules.empty()) {
        const auto it = groups.find(grant.rules.front()->name);
        if (it != groups.end()) {
          p->client_id = it->first;
          p->kind = gateway::auth::role::group;
          p->group = it->second;
          return p;
        }
      }
    }
    const auto grant = senders.grant(ci);
    if (!grant.open && grant.rules.empty()) return nullptr;
    p->kind = gateway::auth::role::sender;
    p->client_id = grant.open ? "open-sender-policy" : std::string(grant.sender_name());
    if (grant.open) p->facilities = {"*"};
    for (const auto* r : grant.rules)
      p->facilities.insert(p->facilities.end(), r->facilities.begin(), r->facilities.end());
    return p;
  };
}

}  // namespace

int cmd_serve(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  (void)out;
  std::string config_file, data_dir, mllp_listen, http_listen;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string* target = a == "--config"        ? &config_file
                          : a == "--data-dir"    ? &data_dir
                          : a == "--mllp-listen" ? &mllp_listen
                          : a == "--http-listen" ? &http_listen
                                                 : nullptr;
    if (target == nullptr) {
      err << "carebridge serve: unknown option " << a << '\n';
      return exit_input;
    }
    if (i + 1 == args.size()) {
      err << "carebridge serve: " << a << " needs a value\n";
      return exit_input;
    }
    *target = args[++i];
  }

  cfg::config c;
  try {
    if (!config_file.empty()) c = cfg::load_file(config_file);
    if (!data_dir.empty()) c.data_dir = data_dir;
    if (!mllp_listen.empty()) c.mllp.listen = cfg::parse_host_port(mllp_listen, "--mllp-listen");
    if (!http_listen.empty()) c.http.listen = cfg::parse_host_port(http_listen, "--http-listen");
  } catch (const cfg::config_error& e) {
    err << "carebridge serve: " << e.what() << '\n';
    return exit_input;
  }
  obs::level lv = obs::level::info;
  obs::parse_level(c.log_level, lv);
  obs::configure(lv, &err);

  std::unique_ptr<gateway::store::sqlite_store> store;
  try {
    gateway::store::sqlite_store::options so;
    so.max_batch = c.store.max_batch;
    so.fsync = c.store.fsync;
    so.spin_during_sync = c.store.spin_during_sync;
    store = gateway::store::sqlite_store::open(c.data_dir, so);
  } catch (const std::exception& e) {
    err << "carebridge serve: store: " << e.what() << '\n';
    return exit_input;
  }

  obs::registry metrics;
  const gateway::ingest::sender_policy policy(c.senders);

  // The audit trail (DATA_DIR/audit.db): every answered /fhir and /auth request, every
  // notification attempt.
  std::unique_ptr<gateway::audit::audit_log> audit;
  try {
    gateway::audit::audit_log::options ao;
    ao.metrics = &metrics;
    ao.retention = std::chrono::hours(24) * c.audit.retention_days;
    audit = gateway::audit::audit_log::open(c.data_dir, ao);
  } catch (const std::exception& e) {
    err << "carebridge serve: audit trail: " << e.what() << '\n';
    store->close();
    return exit_input;
  }

  gateway::ingest::conversion_stage convert(c, metrics);
  std::unique_ptr<gateway::care::care_stage> care;  // made once the listeners are bound
  // A settlement that queued alerts cues the fan-out (made below) at once, rather than leaving
  // the alert to its next pass.
  std::atomic<gateway::alerts::fan_out_loop*> fan_out_cue{nullptr};
  gateway::ingest::pipeline_worker::options wo;
  wo.alerts_settled = [&fan_out_cue] {
    if (auto* f = fan_out_cue.load(std::memory_order_acquire)) f->cue();
  };
  gateway::ingest::pipeline_worker worker(
      *store, metrics, std::chrono::milliseconds(1000),
      [&convert, &care](const gateway::store::stored_message& m,
                        gateway::store::processing_result& result) {
        auto outcome = convert(m, result);
        if (outcome.what != gateway::ingest::stage_outcome::kind::proceed) return outcome;
        return (*care)(m, convert.events(), result);
      },
      std::move(wo));
  gateway::ingest::ingest_service::options io;
  io.max_frame_bytes = c.mllp.max_frame_bytes;
  io.fallback_charset = hl7::charset_from_name(c.mllp.fallback_charset).value_or(hl7::charset::none);
  io.on_accepted = [&worker](gateway::store::stored_message m) { worker.enqueue(std::move(m)); };
  gateway::ingest::ingest_service ingest(*store, policy, metrics, io);

  metrics.callback_gauge("carebridge_store_pending_messages",
                         "Accepted messages not yet processed by the pipeline",
                         [&store] { return static_cast<double>(store->backlog().pending); });
  metrics.callback_gauge("carebridge_store_oldest_pending_age_seconds",
                         "Age of the oldest accepted message not yet processed (0 when none)",
                         [&store] {
                           const auto b = store->backlog();
                           if (!b.oldest_us) return 0.0;
                           const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count();
                           return static_cast<double>(now - *b.oldest_us) / 1e6;
                         });
  metrics.callback_gauge("carebridge_store_queued_records", "Records waiting for the store writer",
                         [&store] { return static_cast<double>(store->queued()); });

  asio::io_context ioc;
  adapters::mllp::options mo;
  mo.host = c.mllp.listen.host;
  mo.port = c.mllp.listen.port;
  mo.max_frame_bytes = c.mllp.max_frame_bytes;
  mo.max_connections = c.mllp.max_connections;
  mo.max_connections_per_peer = c.mllp.max_connections_per_peer;
  mo.idle_timeout = ms(c.mllp.idle_timeout_seconds);
  mo.frame_timeout = ms(c.mllp.frame_timeout_seconds);
  mo.ack_write_timeout = ms(c.mllp.ack_write_timeout_seconds);
  mo.handshake_timeout = ms(c.mllp.handshake_timeout_seconds);
  mo.tcp_keepalive = c.mllp.tcp_keepalive;
  mo.release2_commit_bytes = c.mllp.release2_commit_bytes;
  if (c.mllp.tls) mo.tls = tls_of(*c.mllp.tls);
  adapters::mllp::mllp_listener mllp(ioc, ingest, metrics, mo);

  adapters::fhir_rest::http_options ho;
  ho.host = c.http.listen.host;
  ho.port = c.http.listen.port;
  if (c.http.tls) ho.tls = tls_of(*c.http.tls);
  ho.max_body_bytes = c.fhir.max_body_bytes;  // the FHIR API's inputs are the largest bodies
  adapters::fhir_rest::http_server http(ioc, metrics, ho);
  std::atomic<bool> http_up{false};
  // --- ops routes: /healthz, /readyz, /metrics, the status page /status (gateway/app/ops_routes.hpp)
  const auto ops = register_ops_routes(
      http, {metrics, *store, *store, [&mllp] { return mllp.listening(); },
             [&http_up] { return http_up.load(); }});
  // --- Who may call the FHIR API: the /fhir guard (adapters/fhir_rest/access.hpp) ---------------
  adapters::fhir_rest::access_options ao;
  ao.mode = c.auth.mode == "certificate" ? adapters::fhir_rest::auth_mode::certificate
                                         : adapters::fhir_rest::auth_mode::smart;
  {
    auto& refusals = metrics.counters("carebridge_auth_refusals_total",
                                      "FHIR requests refused by the access check, by reason");
    ao.refused = [&refusals](std::string_view reason) {
      refusals.series(obs::labels({{"reason", std::string(reason)}})).inc();
    };
  }
  // SMART Backend Services: the registered clients (DATA_DIR/clients.db, `carebridge clients`),
  // the token service, POST /auth/token and the discovery documents.
  // The token endpoint's URL (client assertions' aud): configured, else the origin of the FHIR
  // base, else (empty) from each request's Host header.
  std::string token_endpoint = c.auth.token_url;
  if (token_endpoint.empty() && !c.fhir.base_url.empty()) {
    const auto scheme_end = c.fhir.base_url.find("://");
    const auto path = c.fhir.base_url.find('/', scheme_end + 3);
    token_endpoint = c.fhir.base_url.substr(0, path) + "/auth/token";
  }
  std::unique_ptr<gateway::auth::client_registry> clients;
  std::unique_ptr<gateway::auth::token_service> tokens;
  std::shared_ptr<adapters::fhir_rest::smart_api> smart;
  try {
    clients = std::make_unique<gateway::auth::client_registry>(c.data_dir / "clients.db");
  } catch (const std::exception& e) {
    err << "carebridge serve: client registry: " << e.what() << '\n';
    store->close();
    return exit_input;
  }
  {
    gateway::auth::token_options to;
    to.token_lifetime = std::chrono::seconds(static_cast<std::int64_t>(c.auth.token_lifetime_seconds));
    tokens = std::make_unique<gateway::auth::token_service>(*clients, to);
    adapters::fhir_rest::smart_api_options sa;
    sa.token_endpoint = token_endpoint;
    sa.scopes_supported = {"system/*.rs",          "system/*.read",
                           "system/Subscription.crud", "system/Task.rus",
                           "system/RiskAssessment.rs", "system/Basic.r",
                           "system/Bundle.c",      "system/Encounter.cu",
                           "system/AuditEvent.rs"};
    sa.jwks_fetch.ca_file = c.auth.jwks_ca_file;
    sa.jwks_fetch.allow_insecure_loopback = c.auth.allow_insecure_loopback_jwks;
    smart = adapters::fhir_rest::register_smart_api(http, ioc, *tokens, std::move(sa));
  }
  if (ao.mode == adapters::fhir_rest::auth_mode::certificate) {
    ao.identify = certificate_identities(c, policy);
  } else {
    ao.resolve_token = [&tokens](std::string_view token, const gateway::ingest::connection_info& ci) {
      return tokens->resolve(token, ci, std::chrono::system_clock::now());
    };
  }
  http.set_guard("/fhir", adapters::fhir_rest::make_fhir_guard(std::move(ao)));
  http.observe(adapters::fhir_rest::make_audit_observer(*audit));
  adapters::fhir_rest::register_audit_api(http, *audit, {c.fhir.base_url, "CareBridge"});
  // --- FHIR REST API: /fhir (adapters/fhir_rest/fhir_api.hpp) ---------------------------------
  {
    adapters::fhir_rest::fhir_api_options fo;
    fo.default_facility = c.fhir.default_facility;
    fo.base_url = c.fhir.base_url;
    fo.max_entries = c.fhir.max_entries;
    fo.processing_wait = ms(c.fhir.processing_wait_seconds);
    fo.advertise_subscriptions = true;
    fo.advertise_audit = true;
    fo.smart_security = c.auth.mode != "certificate";
    fo.token_endpoint = token_endpoint;
    // A group's client reads only what its own alerts name; operators read all; senders nothing.
    fo.can_read = adapters::fhir_rest::group_read_policy({}, *store);
    adapters::fhir_rest::register_fhir_api(
        http,
        {*store, policy, c.facilities, metrics, ioc.get_executor(),
         [&worker](gateway::store::stored_message m) { worker.enqueue(std::move(m)); }},
        std::move(fo));
  }
  // --- end FHIR REST API ------------------------------------------------------------------------
  // --- FHIR Subscriptions: /fhir/Subscription (adapters/fhir_rest/subscription_api.hpp), and the
  // fan-out from the alert outbox to their numbered events (gateway/alerts/fan_out.hpp) ---------
  // --- and the notifier: handshakes, event notifications, heartbeats to the groups' endpoints
  // (adapters/notify/notifier.hpp) ---------------------------------------------------------------
  adapters::notify::notifier_options no;
  no.base_url = c.fhir.base_url;  // empty: the HTTP listener's address once bound (below)
  no.client.ca_file = c.notify.ca_file;
  no.client.certificate_file = c.notify.certificate;
  no.client.private_key_file = c.notify.private_key;
  no.client.attempt_timeout = ms(c.notify.attempt_timeout_seconds);
  no.client.allow_insecure_loopback = c.fhir.allow_insecure_loopback_endpoints;
  no.worker.failure_threshold = c.notify.failure_threshold;
  no.worker.backoff.base = std::chrono::milliseconds(c.notify.backoff_initial_ms);
  no.worker.backoff.cap = std::chrono::milliseconds(c.notify.backoff_max_ms);
  // Every notification attempt goes into the audit trail (who was sent what, when, outcome).
  no.on_attempt = [&audit](const adapters::notify::delivery_record& r) {
    gateway::audit::notification_attempt a;
    a.subscription_id = r.subscription_id;
    a.group_id = r.group_id;
    a.kind = std::string(adapters::notify::to_string(r.what));
    a.first_event = r.first_event;
    a.last_event = r.last_event;
    a.delivered = r.outcome == adapters::notify::delivery_record::result::delivered;
    a.http_status = r.http_status;
    a.endpoint = r.endpoint;
    a.detail = std::string(adapters::notify::to_string(r.outcome));
    if (const auto code = adapters::notify::code_of(r.error); !code.empty())
      a.detail += "; " + std::string(code);
    gateway::audit::record_notification(*audit, a);
  };
  std::unique_ptr<adapters::notify::notifier> notifier;
  try {
    notifier = std::make_unique<adapters::notify::notifier>(ioc, *store, *store, metrics, no);
  } catch (const std::exception& e) {
    err << "carebridge serve: notify: " << e.what() << '\n';
    store->close();
    return exit_input;
  }
  gateway::alerts::fan_out fan_out(*store, *store);
  gateway::alerts::fan_out_loop fan_out_loop(fan_out, std::chrono::milliseconds(200),
                                             [&notifier] { notifier->cue(); });
  fan_out_cue.store(&fan_out_loop, std::memory_order_release);
  {
    adapters::fhir_rest::subscription_api_options so;
    so.parse.allow_insecure_loopback = c.fhir.allow_insecure_loopback_endpoints;
    so.base_url = c.fhir.base_url;
    so.changed = [&fan_out_loop, &notifier] {
      fan_out_loop.cue();
      notifier->cue();
    };
    adapters::fhir_rest::register_subscription_api(http, *store, *store, std::move(so));
  }
  // --- end FHIR Subscriptions --------------------------------------------------------------------

  asio::ip::tcp::endpoint mep, hep;
  try {
    mep = mllp.bind();
    hep = http.bind();
  } catch (const std::exception& e) {
    err << "carebridge serve: " << e.what() << '\n';
    fan_out_loop.stop();
    store->close();
    return exit_input;
  }
  http_up = true;
  if (c.fhir.base_url.empty())
    notifier->set_base_url(std::string(c.http.tls ? "https://" : "http://") + endpoint_text(hep) +
                           "/fhir");
  // Tests and scripts read the bound ports (port 0 gets a real one) from these lines.
  obs::info("listening", {{"listener", "mllp"},
                          {"address", endpoint_text(mep)},
                          {"tls", c.mllp.tls.has_value()},
                          {"mutual_tls", c.mllp.tls && !c.mllp.tls->client_ca.empty()}});
  obs::info("listening",
            {{"listener", "http"}, {"address", endpoint_text(hep)}, {"tls", c.http.tls.has_value()}});

  if (policy.open())
    obs::warn("config.open_sender_policy",
              {{"detail", "no senders configured: every connection may send for every facility"}});
  try {  // the roster and the care state are loaded before the pipeline starts
    gateway::care::care_settings cs;
    cs.lace_weights = c.care.lace_weights;
    care = std::make_unique<gateway::care::care_stage>(std::filesystem::path(c.data_dir) / "members.db",
                                                       metrics, store.get(), std::move(cs));
  } catch (const std::exception& e) {
    err << "carebridge serve: member database: " << e.what() << '\n';
    fan_out_loop.stop();
    store->close();
    return exit_input;
  }
  worker.start();  // resumes whatever was committed but not yet processed
  notifier->start();
  mllp.start();
  http.start();

  // SIGHUP: the listeners read their TLS files again (renewed certificates, without a restart);
  // open connections keep what they started with. A file that does not load changes nothing.
  auto& tls_reloads = metrics.counters("carebridge_tls_reloads_total",
                                       "TLS file reloads (SIGHUP), by listener and outcome");
  asio::signal_set hup(ioc, SIGHUP);
  std::function<void()> wait_for_hup = [&] {
    hup.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      const auto reload = [&](const char* listener, bool configured, auto& l) {
        if (!configured) return;
        try {
          l.reload_tls();
          tls_reloads.series(obs::labels({{"listener", listener}, {"outcome", "reloaded"}})).inc();
          obs::info("tls.reloaded", {{"listener", listener}});
        } catch (const std::exception& e) {
          tls_reloads.series(obs::labels({{"listener", listener}, {"outcome", "failed"}})).inc();
          obs::error("tls.reload_failed", {{"listener", listener}, {"error", e.what()}});
        }
      };
      reload("mllp", c.mllp.tls.has_value(), mllp);
      reload("http", c.http.tls.has_value(), http);
      wait_for_hup();
    });
  };
  wait_for_hup();

  const auto grace = ms(c.shutdown_grace_seconds);
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    boost::system::error_code ignored;
    hup.cancel(ignored);
    obs::info("stopping", {{"signal", sig}, {"grace_seconds", c.shutdown_grace_seconds}});
    mllp.stop(grace);
    smart->shutdown();  // its JWKS client's pooled connections would keep the io_context running
    http.stop(grace);
    http_up = false;
    // Its client's pooled connections would keep the io_context running: nothing more is sent
    // (what the endpoints have not acknowledged is sent again after the restart).
    notifier->stop();
  });
  obs::info("started", {{"data_dir", c.data_dir.string()}, {"version", "0.1.0"}});

  // Default: one io thread per CPU this process may run on (taskset/cgroup cpusets count, unlike
  // hardware_concurrency): more io threads than CPUs only ping-pong.
  cpu_set_t cpus;
  const unsigned usable = sched_getaffinity(0, sizeof cpus, &cpus) == 0
                              ? static_cast<unsigned>(CPU_COUNT(&cpus))
                              : std::thread::hardware_concurrency();
  const unsigned n = c.threads != 0 ? c.threads : std::max(1u, usable);
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < n; ++i) pool.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();

  worker.stop();
  fan_out_loop.stop();
  notifier->stop();
  audit->close();  // after its producers (the HTTP server, the notifier) have stopped
  store->close();
  obs::info("stopped", {{"messages_written", store->records_written()}});
  return exit_ok;
}

}  // namespace carebridge::app
