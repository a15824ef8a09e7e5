#include "gateway/alerts/events.hpp"

#include "gateway/obs/log.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace carebridge::gateway::alerts {

std::optional<subscription_request> read_stored(const store::subscription_row& row) {
  parse_options o;
  o.allow_insecure_loopback = true;
  auto parsed = parse_subscription(row.json, o);
  if (!parsed) return std::nullopt;
  parsed->owner_group = row.group_id;
  return std::move(*parsed);
}

subscription_state state_of(const store::subscription_row& row) {
  subscription_state s;
  s.id = row.id;
  s.status = row.status == "active"  ? subscription_status::active
             : row.status == "error" ? subscription_status::error
             : row.status == "off"   ? subscription_status::off
                                     : subscription_status::requested;
  s.events_since_start = static_cast<std::uint64_t>(row.events_since_start);
  s.error_text = row.error;
  // The notifier stores the subscription-error code first ("error-response (HTTP 400)"): the
  // status's `error` parameter ($status, $events) carries it while the subscription is in error.
  if (s.status == subscription_status::error)
    for (const std::string_view code : {std::string_view("dns-resolution-error"),
                                        std::string_view("no-response"),
                                        std::string_view("error-response")})
      if (s.error_text.starts_with(code)) s.error_codes.push_back(code);
  return s;
}

const subscription_request* request_cache::get(const store::subscription_row& row) {
  cached& c = cache_[row.id];
  if (c.updated_us != row.updated_us) {
    c.updated_us = row.updated_us;
    c.request = read_stored(row);
    if (!c.request) obs::error("subscription.unreadable", {{"subscription", row.id}});
  }
  return c.request ? &*c.request : nullptr;
}

void request_cache::keep_only(std::span<const store::subscription_row> rows) {
  for (auto it = cache_.begin(); it != cache_.end();) {
    const bool live = std::any_of(rows.begin(), rows.end(),
                                  [&](const store::subscription_row& r) { return r.id == it->first; });
    it = live ? std::next(it) : cache_.erase(it);
  }
}

std::string instant_of_us(std::int64_t us) {
  using namespace std::chrono;
  const sys_time<microseconds> t{microseconds{us}};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<microseconds> tod{t - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<long long>(tod.hours().count()),
                static_cast<long long>(tod.minutes().count()),
                static_cast<long long>(tod.seconds().count()),
                static_cast<long long>(tod.subseconds().count() / 1000));
  return buf;
}

std::vector<notification_event> notification_events(const subscription_request& s,
                                                     std::span<const store::subscription_event> events,
                                                     store::message_store& st,
                                                     payload_content content) {
  std::vector<notification_event> out;
  out.reserve(events.size());
  const bool full = content == payload_content::full_resource;
  auto resource = [&](std::string_view type, const std::string& id) {
    event_resource r;
    r.reference = std::string(type) + "/" + id;
    if (full)
      if (auto stored = st.read_resource(type, id)) r.json = std::move(stored->json);
    return r;
  };
  // The events' outbox entries, in one read when they lie close together (a busy subscription's
  // batch), else one read each (a filtered subscription's events are far apart).
  std::vector<store::stored_alert> near;
  if (!events.empty()) {
    const std::int64_t first = events.front().alert_seq, last = events.back().alert_seq;
    if (last >= first && static_cast<std::size_t>(last - first) < 4 * events.size())
      near = st.alerts_after(first - 1, static_cast<std::size_t>(last - first) + 1, s.owner_group);
  }
  std::size_t at = 0;
  std::vector<store::stored_alert> one;
  for (const auto& e : events) {
    while (at < near.size() && near[at].seq < e.alert_seq) ++at;
    const store::stored_alert* found = nullptr;
    if (at < near.size() && near[at].seq == e.alert_seq) {
      found = &near[at];
    } else {
      one = st.alerts_after(e.alert_seq - 1, 1);
      if (!one.empty() && one[0].seq == e.alert_seq) found = &one[0];
    }
    if (found == nullptr) continue;
    const store::alert_row& a = found->alert;
    notification_event n;
    n.number = static_cast<std::uint64_t>(e.event_number);
    n.timestamp = instant_of_us(e.created_us);
    const bool risk_focus =
        s.topic == topic_id::readmission_risk && !a.risk_assessment_id.empty();
    n.focus = risk_focus ? resource("RiskAssessment", a.risk_assessment_id)
                         : resource("Encounter", a.encounter_id);
    if (risk_focus && !a.encounter_id.empty()) n.context.push_back(resource("Encounter", a.encounter_id));
    if (!a.patient_id.empty()) n.context.push_back(resource("Patient", a.patient_id));
    if (!risk_focus && !a.risk_assessment_id.empty())
      n.context.push_back(resource("RiskAssessment", a.risk_assessment_id));
    if (!a.task_id.empty()) n.context.push_back(resource("Task", a.task_id));
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace carebridge::gateway::alerts
