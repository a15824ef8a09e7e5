#include "adapters/notify/notifier.hpp"

#include "gateway/alerts/events.hpp"
#include "gateway/alerts/notification.hpp"
#include "gateway/alerts/subscription.hpp"
#include "gateway/obs/log.hpp"

#include <pthread.h>

#include <algorithm>

namespace carebridge::adapters::notify {

namespace alerts = gateway::alerts;
namespace store = gateway::store;
namespace obs = gateway::obs;

namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The row's state with the status the notification is sent under.
alerts::subscription_state state_as(const store::subscription_row& row,
                                    alerts::subscription_status status) {
  auto s = alerts::state_of(row);
  s.status = status;
  s.error_text = {};
  return s;
}

void ignore(bool) {}

}  // namespace

std::string_view to_string(delivery_record::kind k) noexcept {
  switch (k) {
    case delivery_record::kind::handshake:
      return "handshake";
    case delivery_record::kind::heartbeat:
      return "heartbeat";
    case delivery_record::kind::event_notification:
      return "event-notification";
  }
  return "event-notification";
}

std::string_view to_string(delivery_record::result r) noexcept {
  switch (r) {
    case delivery_record::result::delivered:
      return "delivered";
    case delivery_record::result::failed:
      return "failed";
    case delivery_record::result::gave_up:
      return "gave-up";
  }
  return "failed";
}

notifier::notifier(boost::asio::io_context& ioc, store::subscription_store& subscriptions,
                   store::message_store& messages, obs::registry& metrics,
                   notifier_options options)
    : subs_(subscriptions),
      messages_(messages),
      options_(std::move(options)),
      sent_(metrics.counters("carebridge_notify_notifications_total",
                             "Notifications delivered to subscribers (2xx)")
                .series()),
      by_kind_(metrics.counters("carebridge_notify_delivered_total",
                                "Notifications delivered, by kind (handshake, heartbeat, "
                                "event-notification)")),
      failures_(metrics.counters("carebridge_notify_attempt_failures_total",
                                 "Delivery attempts that did not deliver (retried or not)")
                    .series()),
      errors_(metrics.counters("carebridge_notify_subscriptions_failed_total",
                               "Subscriptions put in error by failed deliveries")
                  .series()),
      sub_delivered_(metrics.counters("carebridge_notify_subscription_delivered_total",
                                      "Notifications delivered (2xx), by group, subscription and "
                                      "kind")),
      sub_failures_(metrics.counters("carebridge_notify_subscription_failed_attempts_total",
                                     "Delivery attempts that did not deliver, by group, "
                                     "subscription and subscription-error code")),
      sub_retries_(metrics.counters("carebridge_notify_subscription_retries_total",
                                    "Failed attempts followed by a retry, by group and "
                                    "subscription")),
      sub_gave_up_(metrics.counters("carebridge_notify_subscription_gave_up_total",
                                    "Notifications given up (the subscription went to error), by "
                                    "group and subscription")),
      sub_last_failure_(metrics.gauges(
          "carebridge_notify_subscription_last_failure_timestamp_seconds",
          "When an attempt last failed with this subscription-error code (unix seconds), by "
          "group, subscription and code")),
      attempt_seconds_(metrics.histograms("carebridge_notify_attempt_seconds",
                                          "Duration of delivery attempts, by group and outcome",
                                          obs::latency_bounds())) {
  client_ = std::make_unique<rest_hook_client>(ioc, options_.client);
  worker_ = std::make_unique<delivery_worker>(*client_, *this, options_.worker);
  metrics.callback_gauge("carebridge_notify_backlog",
                         "Notifications queued or in flight to subscribers",
                         [this] { return static_cast<double>(worker_->snapshot().backlog); });
}

notifier::~notifier() { stop(); }

void notifier::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void notifier::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (worker_) worker_->stop();
  if (client_) client_->shutdown();
}

void notifier::cue() {
  {
    std::lock_guard lock(mu_);
    cued_ = true;
  }
  cv_.notify_one();
}

void notifier::run() {
  pthread_setname_np(pthread_self(), "cb-notify");
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, options_.poll, [&] { return stop_ || cued_; });
    if (stop_) break;
    cued_ = false;
    lock.unlock();
    run_once();
    lock.lock();
  }
}

void notifier::run_once() {
  std::lock_guard one_pass(pass_mu_);
  try {
    pass();
  } catch (const std::exception& e) {
    obs::error("notify.pass_failed", {{"error", e.what()}});
  }
}

std::string notifier::lane_of(const std::string& id, const lane_state& s) const {
  return id + "#" + std::to_string(s.generation);
}

std::string notifier::id_of_lane(const std::string& lane) {
  return lane.substr(0, lane.rfind('#'));
}

void notifier::pass() {
  const auto rows = subs_.subscriptions();
  const auto now = std::chrono::steady_clock::now();
  const alerts::notification_context cx{options_.base_url, alerts::instant_of_us(now_us())};
  std::vector<delivery> out;
  requests_.keep_only(rows);
  {
    std::lock_guard lock(state_mu_);
    // Forget the deleted ones (what they had in flight finishes; nothing more is sent).
    for (auto it = lanes_.begin(); it != lanes_.end();) {
      const bool live = std::any_of(rows.begin(), rows.end(),
                                    [&](const store::subscription_row& r) { return r.id == it->first; });
      it = live ? std::next(it) : lanes_.erase(it);
    }
  }
  for (const auto& row : rows) {
    std::optional<in_flight> next;
    std::string body;
    std::string endpoint;
    std::int64_t acked = 0;  // events delivered, as far as anybody knows
    {
      std::lock_guard lock(state_mu_);
      lane_state& s = lanes_[row.id];
      // A new activation (the client set it back to requested, or it is new): a new lane.
      if (row.status == "requested" && s.status_seen != "requested") {
        if (s.status_seen == "error" || s.failed || s.pending) ++s.generation;
        s.pending.reset();
        s.failed = false;
        s.handshaken = false;
        s.next_sequence = 1;
      }
      s.status_seen = row.status;
      s.group_id = row.group_id;
      if (s.pending || s.failed) continue;
      if (row.status != "requested" && row.status != "active") continue;
      if (row.status == "requested" && s.handshaken) continue;  // its move to active is on the way
      acked = std::max(row.delivered_through, s.acked_through);
    }
    const alerts::subscription_request* req = requests_.get(row);
    if (req == nullptr) continue;
    const bool message = req->channel == alerts::channel_kind::message;
    if (row.status == "requested") {
      if (message) {  // no handshake on the Da Vinci channel
        subs_.set_status(row.id, "active", "", ignore);
        continue;
      }
      auto b = alerts::notification_bundle(alerts::notification_type::handshake, *req,
                                           state_as(row, alerts::subscription_status::requested),
                                           {}, cx);
      if (!b) continue;
      body = std::move(*b);
      next = in_flight{kind::handshake, 0, 0, 0};
    } else {
      const auto events = subs_.events_of(row.id, acked + 1, 0,
                                          message ? 1 : std::max<std::uint32_t>(req->max_count, 1));
      if (!events.empty()) {
        const auto ns = alerts::notification_events(
            *req, events, messages_,
            message ? alerts::payload_content::full_resource : req->content);
        if (message && !ns.empty()) {
          alerts::davinci_message m;
          m.event = alerts::topic_of(req->topic).message;
          m.key = row.id + "/" + std::to_string(events.front().event_number);
          m.destination_endpoint = req->endpoint;
          for (const auto& r : ns.front().context)
            if (r.reference.starts_with("Encounter/")) m.encounter = r;
          if (ns.front().focus.reference.starts_with("Encounter/")) m.encounter = ns.front().focus;
          else m.resources.push_back(ns.front().focus);
          for (const auto& r : ns.front().context)
            if (!r.reference.starts_with("Encounter/") && !r.json.empty()) m.resources.push_back(r);
          auto b = alerts::davinci_message_bundle(m, cx);
          if (!b) {
            obs::warn("notify.message_not_built", {{"subscription", row.id},
                                                  {"event", std::to_string(events.front().event_number)}});
            // Skip it rather than block the subscription behind it for ever.
            subs_.mark_delivered(row.id, events.front().event_number, ignore);
            continue;
          }
          body = std::move(*b);
          endpoint = req->endpoint + (req->endpoint.ends_with('/') ? "" : "/") + "$process-message";
        } else if (!ns.empty()) {
          auto b = alerts::notification_bundle(alerts::notification_type::event_notification,
                                               *req,
                                               state_as(row, alerts::subscription_status::active),
                                               ns, cx);
          if (!b) continue;
          body = std::move(*b);
        } else {
          // Their outbox entries are gone: nothing to say about them.
          subs_.mark_delivered(row.id, events.back().event_number, ignore);
          continue;
        }
        next = in_flight{kind::events, events.front().event_number, events.back().event_number, 0};
      } else if (req->heartbeat_seconds && !message) {
        std::lock_guard lock(state_mu_);
        lane_state& s = lanes_[row.id];
        if (s.last_sent == std::chrono::steady_clock::time_point{}) s.last_sent = now;
        if (now - s.last_sent < std::chrono::seconds(*req->heartbeat_seconds)) continue;
        auto b = alerts::notification_bundle(alerts::notification_type::heartbeat, *req,
                                             state_as(row, alerts::subscription_status::active),
                                             {}, cx);
        if (!b) continue;
        body = std::move(*b);
        next = in_flight{kind::heartbeat, 0, 0, 0};
      }
    }
    if (!next) continue;
    delivery d;
    d.request.endpoint = endpoint.empty() ? req->endpoint : endpoint;
    d.request.body = std::move(body);
    d.request.content_type = req->mime_type;
    d.request.headers = req->headers;
    d.request.timeout = std::chrono::seconds(req->timeout_seconds);  // backport-timeout
    {
      std::lock_guard lock(state_mu_);
      lane_state& s = lanes_[row.id];
      d.subscription_id = lane_of(row.id, s);
      d.sequence = s.next_sequence++;
      s.pending = next;
      s.last_sent = now;
    }
    out.push_back(std::move(d));
  }
  for (auto& d : out) {
    const std::string lane = d.subscription_id;
    const auto r = worker_->enqueue(std::move(d));
    if (r != enqueue_result::accepted) {
      std::lock_guard lock(state_mu_);
      if (auto it = lanes_.find(id_of_lane(lane)); it != lanes_.end()) it->second.pending.reset();
    }
  }
}

void notifier::delivered(const delivery& d, const delivery_result&) {
  const std::string id = id_of_lane(d.subscription_id);
  std::optional<in_flight> was;
  {
    std::lock_guard lock(state_mu_);
    auto it = lanes_.find(id);
    if (it == lanes_.end() || lane_of(id, it->second) != d.subscription_id) return;  // old lane
    was = it->second.pending;
    it->second.pending.reset();
    if (was && was->what == kind::handshake) it->second.handshaken = true;
    if (was && was->what == kind::events)
      it->second.acked_through = std::max(it->second.acked_through, was->last_event);
  }
  if (!was) return;
  sent_.inc();
  switch (was->what) {
    case kind::handshake:
      by_kind_.series(obs::labels({{"kind", "handshake"}})).inc();
      obs::info("notify.handshake_done", {{"subscription", id}});
      subs_.set_status(id, "active", "", [this](bool) { cue(); });
      break;
    case kind::heartbeat:
      by_kind_.series(obs::labels({{"kind", "heartbeat"}})).inc();
      cue();
      break;
    case kind::events:
      by_kind_.series(obs::labels({{"kind", "event-notification"}})).inc();
      // The next notification need not wait for the store: acked_through already says what the
      // endpoint took.
      subs_.mark_delivered(id, was->last_event, ignore);
      cue();
      break;
  }
}

void notifier::subscription_failed(const std::string& lane, const delivery_failure& f) {
  const std::string id = id_of_lane(lane);
  {
    std::lock_guard lock(state_mu_);
    auto it = lanes_.find(id);
    if (it == lanes_.end() || lane_of(id, it->second) != lane) return;
    it->second.pending.reset();
    it->second.failed = true;
  }
  errors_.inc();
  std::string why(code_of(f.code));
  if (f.http_status != 0) why += " (HTTP " + std::to_string(f.http_status) + ")";
  obs::warn("notify.subscription_failed",
            {{"subscription", id}, {"error", why}, {"permanent", f.permanent}});
  subs_.set_status(id, "error", why, ignore);
}

void notifier::attempted(const delivery& d, const delivery_result& r,
                         std::optional<std::chrono::milliseconds> retry_in) {
  if (r.classified.outcome != outcome::delivered) failures_.inc();
  delivery_record rec;
  rec.subscription_id = id_of_lane(d.subscription_id);
  rec.outcome = r.classified.outcome == outcome::delivered ? delivery_record::result::delivered
                : retry_in                                 ? delivery_record::result::failed
                                                           : delivery_record::result::gave_up;
  rec.http_status = r.status;
  rec.error = r.classified.error;
  rec.duration = r.elapsed;
  rec.finished_at = std::chrono::system_clock::now();
  rec.endpoint = d.request.endpoint;
  {
    std::lock_guard lock(state_mu_);
    auto it = lanes_.find(rec.subscription_id);
    if (it != lanes_.end()) {
      rec.group_id = it->second.group_id;
      // The lane's pending notification is this one unless the subscription was reactivated
      // meanwhile (an old lane's late answer): then only the ids are known.
      if (lane_of(rec.subscription_id, it->second) == d.subscription_id && it->second.pending) {
        in_flight& p = *it->second.pending;
        rec.attempt = ++p.attempts;
        rec.what = p.what == kind::handshake   ? delivery_record::kind::handshake
                   : p.what == kind::heartbeat ? delivery_record::kind::heartbeat
                                               : delivery_record::kind::event_notification;
        rec.first_event = p.first_event;
        rec.last_event = p.last_event;
      }
    }
  }
  record(rec);
  if (options_.on_attempt) {
    try {
      options_.on_attempt(rec);
    } catch (const std::exception& e) {
      obs::error("notify.on_attempt_failed", {{"error", e.what()}});
    }
  }
}

void notifier::record(const delivery_record& r) {
  const std::string group = r.group_id.empty() ? std::string("(unknown)") : r.group_id;
  const std::string who = obs::labels({{"group", group}, {"subscription", r.subscription_id}});
  attempt_seconds_.series(obs::labels({{"group", group}, {"outcome", to_string(r.outcome)}}))
      .observe(std::chrono::duration<double>(r.duration).count());
  if (r.outcome == delivery_record::result::delivered) {
    sub_delivered_
        .series(obs::labels(
            {{"group", group}, {"subscription", r.subscription_id}, {"kind", to_string(r.what)}}))
        .inc();
    return;
  }
  std::string_view code = code_of(r.error);
  if (code.empty()) code = "unknown";
  const std::string with_code =
      obs::labels({{"group", group}, {"subscription", r.subscription_id}, {"code", code}});
  sub_failures_.series(with_code).inc();
  sub_last_failure_.series(with_code).set(
      std::chrono::duration_cast<std::chrono::seconds>(r.finished_at.time_since_epoch()).count());
  if (r.outcome == delivery_record::result::failed)
    sub_retries_.series(who).inc();
  else
    sub_gave_up_.series(who).inc();
}

}  // namespace carebridge::adapters::notify
