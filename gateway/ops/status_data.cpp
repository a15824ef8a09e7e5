#include "gateway/ops/status_data.hpp"

#include "gateway/obs/log.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>
#include <set>

namespace carebridge::gateway::ops {

namespace {

std::int64_t unix_us(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

double age_seconds(std::chrono::system_clock::time_point now, std::int64_t at_us) {
  return std::max(0.0, static_cast<double>(unix_us(now) - at_us) / 1e6);
}

const char* const statuses[] = {"requested", "active", "error", "off"};

}  // namespace

std::vector<subscription_state> read_subscriptions(store::subscription_store& subs) {
  std::vector<subscription_state> out;
  for (auto& row : subs.subscriptions()) {
    subscription_state s;
    s.id = std::move(row.id);
    s.group_id = std::move(row.group_id);
    s.status = std::move(row.status);
    s.error = std::move(row.error);
    s.events = row.events_since_start;
    s.delivered_through = row.delivered_through;
    if (s.backlog() > 0) {
      const auto e = subs.events_of(s.id, s.delivered_through + 1, 0, 1);
      if (!e.empty()) s.oldest_undelivered_us = e.front().created_us;
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<subscription_state> refresh_store_gauges(obs::registry& metrics,
                                                     store::message_store& messages,
                                                     store::subscription_store& subs,
                                                     std::chrono::system_clock::time_point now) {
  auto& backlog = metrics.gauges("carebridge_notify_subscription_backlog_events",
                                 "Events numbered for a subscription and not yet acknowledged by "
                                 "its endpoint, by group and subscription");
  auto& oldest = metrics.gauges("carebridge_notify_subscription_oldest_undelivered_age_seconds",
                                "Age of a subscription's oldest unacknowledged event (0 when "
                                "none), by group and subscription");
  auto& status = metrics.gauges("carebridge_notify_subscription_status",
                                "A subscription's status: 1 for the status it has, 0 for the "
                                "others (requested, active, error, off)");
  auto& group_backlog = metrics.gauges("carebridge_notify_group_backlog_events",
                                       "Unacknowledged events of a group's subscriptions");
  auto& group_oldest = metrics.gauges(
      "carebridge_notify_group_oldest_undelivered_age_seconds",
      "Age of the oldest unacknowledged event of a group's subscriptions (0 when none)");
  auto& followup_tasks =
      metrics.gauges("carebridge_followup_tasks", "Follow-up Tasks made for a group's alerts");
  auto& followup_high = metrics.gauges("carebridge_followup_high_risk_tasks",
                                       "Follow-up Tasks of high-risk discharges (priority urgent)");
  auto& followup_contacted =
      metrics.gauges("carebridge_followup_contacted_tasks",
                     "Follow-up Tasks the group set in-progress or completed");
  auto& followup_in_time = metrics.gauges(
      "carebridge_followup_high_risk_contacted_in_time",
      "High-risk follow-up Tasks with contact made within 2 business days of discharge (the "
      "pay-for-performance measure: divide by carebridge_followup_high_risk_tasks)");

  std::vector<subscription_state> subscriptions;
  try {
    subscriptions = read_subscriptions(subs);
    backlog.clear();
    oldest.clear();
    status.clear();
    group_backlog.clear();
    group_oldest.clear();
    std::map<std::string, std::pair<std::int64_t, std::int64_t>> groups;  // backlog, oldest age
    for (const auto& s : subscriptions) {
      const std::string l = obs::labels({{"group", s.group_id}, {"subscription", s.id}});
      const std::int64_t age =
          s.oldest_undelivered_us
              ? static_cast<std::int64_t>(age_seconds(now, *s.oldest_undelivered_us))
              : 0;
      backlog.series(l).set(s.backlog());
      oldest.series(l).set(age);
      for (const char* st : statuses)
        status.series(obs::labels({{"group", s.group_id}, {"subscription", s.id}, {"status", st}}))
            .set(s.status == st ? 1 : 0);
      auto& g = groups[s.group_id];
      g.first += s.backlog();
      g.second = std::max(g.second, age);
    }
    for (const auto& [g, v] : groups) {
      const std::string l = obs::labels({{"group", g}});
      group_backlog.series(l).set(v.first);
      group_oldest.series(l).set(v.second);
    }
  } catch (const std::exception& e) {
    obs::warn("metrics.subscriptions_failed", {{"error", e.what()}});
  }
  try {
    for (const auto& f : messages.follow_up_stats()) {
      const std::string l = obs::labels({{"group", f.group_id}});
      followup_tasks.series(l).set(static_cast<std::int64_t>(f.tasks));
      followup_high.series(l).set(static_cast<std::int64_t>(f.high_risk));
      followup_contacted.series(l).set(static_cast<std::int64_t>(f.contacted));
      followup_in_time.series(l).set(static_cast<std::int64_t>(f.high_risk_in_time));
    }
  } catch (const std::exception& e) {
    obs::warn("metrics.follow_up_failed", {{"error", e.what()}});
  }
  return subscriptions;
}

std::string status_json(const status_inputs& in, const obs::registry& metrics) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  const auto str = [&](std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  const auto key = [&](std::string_view k) {
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
  };
  const auto num_or_null = [&](const std::optional<double>& v) {
    if (v)
      w.Double(*v);
    else
      w.Null();
  };
  const auto count = [&](double v) { w.Uint64(v > 0 ? static_cast<std::uint64_t>(v) : 0); };
  const std::int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(in.now.time_since_epoch()).count();

  w.StartObject();
  key("generated_at");
  str(obs::utc_seconds_text(now_s));
  key("version");
  str(in.version);
  key("uptime_seconds");
  w.Int64(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::seconds>(in.now - in.started).count()));
  key("interval_seconds");
  w.Int64(in.interval_seconds);

  key("health");
  w.StartObject();
  key("alive");
  w.Bool(true);
  key("ready");
  w.Bool(in.health.ready());
  key("store_writable");
  w.Bool(in.health.store_writable);
  key("mllp_listening");
  w.Bool(in.health.mllp_listening);
  key("http_listening");
  w.Bool(in.health.http_listening);
  w.EndObject();

  key("totals");
  w.StartObject();
  key("messages");
  count(metrics.sum("carebridge_ingest_messages_total") +
        metrics.sum("carebridge_fhir_inputs_total"));
  key("accepted");
  count(metrics.sum("carebridge_ingest_messages_total", {{"disposition", "accepted"}}));
  key("rejected");
  count(metrics.sum("carebridge_ingest_messages_total", {{"disposition", "rejected"}}));
  key("duplicates");
  count(metrics.sum("carebridge_ingest_duplicates_total"));
  key("processed");
  count(metrics.sum("carebridge_pipeline_messages_total", {{"outcome", "processed"}}));
  key("pipeline_errors");
  count(metrics.sum("carebridge_pipeline_errors_total"));
  key("alerts");
  count(metrics.sum("carebridge_care_alerts_total"));
  key("notifications_delivered");
  count(metrics.sum("carebridge_notify_subscription_delivered_total",
                    {{"kind", "event-notification"}}));
  w.EndObject();

  key("care");
  w.StartObject();
  key("matches");
  w.StartObject();
  for (const char* m : {"linked", "review", "no_match"}) {
    key(m);
    count(metrics.sum("carebridge_care_matches_total", {{"outcome", m}}));
  }
  w.EndObject();
  key("alerts_by_risk");
  w.StartObject();
  for (const char* r : {"low", "moderate", "high", "none"}) {
    key(r);
    count(metrics.sum("carebridge_care_alerts_total", {{"risk", r}}));
  }
  w.EndObject();
  w.EndObject();

  std::int64_t undelivered = 0;
  std::optional<std::int64_t> oldest_us;
  for (const auto& s : in.subscriptions) {
    undelivered += s.backlog();
    if (s.oldest_undelivered_us && (!oldest_us || *s.oldest_undelivered_us < *oldest_us))
      oldest_us = s.oldest_undelivered_us;
  }
  key("backlog");
  w.StartObject();
  key("pipeline_pending");
  w.Uint64(in.pipeline_pending);
  key("pipeline_oldest_age_seconds");
  num_or_null(in.pipeline_oldest_us
                  ? std::optional<double>(age_seconds(in.now, *in.pipeline_oldest_us))
                  : std::nullopt);
  key("notify_queued");
  count(metrics.sum("carebridge_notify_backlog"));
  key("notify_undelivered_events");
  w.Int64(undelivered);
  key("notify_oldest_undelivered_age_seconds");
  num_or_null(oldest_us ? std::optional<double>(age_seconds(in.now, *oldest_us)) : std::nullopt);
  w.EndObject();

  key("series");
  w.StartArray();
  for (const auto& s : in.samples) {
    w.StartObject();
    key("t");
    w.Int64(s.at_s);
    key("messages_per_s");
    w.Double(s.messages_per_s);
    key("alerts_per_s");
    w.Double(s.alerts_per_s);
    key("notifications_per_s");
    w.Double(s.notifications_per_s);
    key("ack_mean_ms");
    num_or_null(s.ack_mean_ms);
    key("ack_p95_ms");
    num_or_null(s.ack_p95_ms);
    key("processing_mean_ms");
    num_or_null(s.processing_mean_ms);
    key("errors");
    w.Uint64(s.errors);
    w.EndObject();
  }
  w.EndArray();

  // Senders: every sender rule that has sent (series exist once a message arrived).
  struct sender_view {
    double accepted = 0, rejected = 0, errored = 0, duplicates = 0;
    double conversion_errors = 0, care_errors = 0;
    double last = 0;
    double processing_sum = 0, processing_count = 0;
  };
  std::map<std::string, sender_view> senders;
  for (const auto& [l, v] : metrics.values("carebridge_ingest_sender_messages_total")) {
    auto& s = senders[obs::label_value(l, "sender")];
    const std::string o = obs::label_value(l, "outcome");
    (o == "accepted"   ? s.accepted
     : o == "rejected" ? s.rejected
     : o == "errored"  ? s.errored
                       : s.duplicates) += v;
  }
  for (const auto& [l, v] :
       metrics.values("carebridge_ingest_sender_last_message_timestamp_seconds"))
    senders[obs::label_value(l, "sender")].last = v;
  for (const auto& [l, v] : metrics.values("carebridge_pipeline_stage_outcomes_total")) {
    if (obs::label_value(l, "outcome") != "error") continue;
    auto& s = senders[obs::label_value(l, "sender")];
    (obs::label_value(l, "stage") == "care" ? s.care_errors : s.conversion_errors) += v;
  }
  for (const auto& [l, h] : metrics.histogram_values("carebridge_pipeline_stage_seconds")) {
    auto& s = senders[obs::label_value(l, "sender")];
    s.processing_sum += h.sum;
    if (obs::label_value(l, "stage") == "conversion")
      s.processing_count += static_cast<double>(h.count);
  }
  key("senders");
  w.StartArray();
  for (const auto& [name, s] : senders) {
    w.StartObject();
    key("name");
    str(name);
    key("accepted");
    count(s.accepted);
    key("rejected");
    count(s.rejected);
    key("errored");
    count(s.errored);
    key("duplicates");
    count(s.duplicates);
    key("conversion_errors");
    count(s.conversion_errors);
    key("care_errors");
    count(s.care_errors);
    key("processing_mean_ms");
    num_or_null(s.processing_count > 0
                    ? std::optional<double>(s.processing_sum * 1000.0 / s.processing_count)
                    : std::nullopt);
    key("last_message_at");
    if (s.last > 0)
      str(obs::utc_seconds_text(static_cast<std::int64_t>(s.last)));
    else
      w.Null();
    key("last_message_age_seconds");
    num_or_null(s.last > 0
                    ? std::optional<double>(std::max(0.0, static_cast<double>(now_s) - s.last))
                    : std::nullopt);
    w.EndObject();
  }
  w.EndArray();

  // Subscriptions: the store's, with the notifier's counts.
  std::map<std::string, double> delivered, failed, retries;
  std::map<std::string, std::pair<double, std::string>> last_failure;  // when, code
  for (const auto& [l, v] : metrics.values("carebridge_notify_subscription_delivered_total"))
    delivered[obs::label_value(l, "subscription")] += v;
  for (const auto& [l, v] : metrics.values("carebridge_notify_subscription_failed_attempts_total"))
    failed[obs::label_value(l, "subscription")] += v;
  for (const auto& [l, v] : metrics.values("carebridge_notify_subscription_retries_total"))
    retries[obs::label_value(l, "subscription")] += v;
  for (const auto& [l, v] :
       metrics.values("carebridge_notify_subscription_last_failure_timestamp_seconds")) {
    auto& f = last_failure[obs::label_value(l, "subscription")];
    if (v > f.first) f = {v, obs::label_value(l, "code")};
  }
  key("subscriptions");
  w.StartArray();
  for (const auto& s : in.subscriptions) {
    w.StartObject();
    key("id");
    str(s.id);
    key("group");
    str(s.group_id);
    key("status");
    str(s.status);
    key("events");
    w.Int64(s.events);
    key("backlog");
    w.Int64(s.backlog());
    key("oldest_undelivered_age_seconds");
    num_or_null(s.oldest_undelivered_us
                    ? std::optional<double>(age_seconds(in.now, *s.oldest_undelivered_us))
                    : std::nullopt);
    key("delivered");
    count(delivered[s.id]);
    key("failed_attempts");
    count(failed[s.id]);
    key("retries");
    count(retries[s.id]);
    const auto lf = last_failure.find(s.id);
    key("last_error");
    if (lf != last_failure.end())
      str(lf->second.second);
    else
      w.Null();
    key("last_error_at");
    if (lf != last_failure.end())
      str(obs::utc_seconds_text(static_cast<std::int64_t>(lf->second.first)));
    else
      w.Null();
    key("error");
    str(s.error);
    w.EndObject();
  }
  w.EndArray();

  key("errors");
  w.StartArray();
  for (const auto& k : error_kinds()) {
    w.StartObject();
    key("kind");
    str(k.name);
    key("count");
    count(error_count(metrics, k));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace carebridge::gateway::ops
