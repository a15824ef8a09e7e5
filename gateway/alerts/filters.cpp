#include "gateway/alerts/filters.hpp"

#include "gateway/care/care_engine.hpp"

namespace carebridge::gateway::alerts {

std::string_view encounter_event_of(std::string_view event_kind) noexcept {
  if (event_kind == "admission") return encounter_events[0];
  if (event_kind == "ed_visit") return encounter_events[1];
  return {};
}

bool matches(const subscription_request& s, const alert_facts& event) noexcept {
  if (s.owner_group.empty() || event.group_id.empty() || s.owner_group != event.group_id)
    return false;
  if (s.topic != event.topic) return false;
  for (const subscription_filter& f : s.filters) {
    const filter_definition* def = find_filter(topic_of(s.topic), f.parameter);
    // A filter the topic does not define cannot have passed parse_subscription: a stored request
    // that holds one is not trusted to match anything.
    if (def == nullptr) return false;
    switch (def->kind) {
      case filter_kind::patient_reference:
        if (event.patient_reference.empty() || event.patient_reference != f.value) return false;
        break;
      case filter_kind::risk_at_least: {
        const int have = risk_rank(event.risk_band);
        const int want = risk_rank(f.value);
        if (have < 0 || want < 0 || have < want) return false;
        break;
      }
      case filter_kind::encounter_event:
        if (event.encounter_event.empty() || event.encounter_event != f.value) return false;
        break;
    }
  }
  return true;
}

std::vector<alert_facts> facts_of(const care::care_outcome& o) {
  std::vector<alert_facts> out;
  if (o.attribution != "attributed" || o.group_id.empty()) return out;
  const std::string patient_reference =
      o.patient_id.empty() ? std::string() : "Patient/" + o.patient_id;
  if (o.event_kind == "discharge") {
    out.push_back({topic_id::attributed_discharge, o.group_id, patient_reference, o.risk_band, {}});
    if (o.alert_wanted && o.alert_kind == "discharge" && !o.risk_assessment_id.empty())
      out.push_back({topic_id::readmission_risk, o.group_id, patient_reference, o.risk_band, {}});
  } else if (const std::string_view event = encounter_event_of(o.alert_kind);
             o.alert_wanted && !event.empty()) {
    out.push_back(
        {topic_id::attributed_admission, o.group_id, patient_reference, {}, std::string(event)});
  }
  return out;
}

}  // namespace carebridge::gateway::alerts
