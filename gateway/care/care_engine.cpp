#include "gateway/care/care_engine.hpp"

#include "mappings/fhir/fhir_json.hpp"
#include "mappings/fhir/ids.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <type_traits>
#include <cctype>

namespace carebridge::gateway::care {

namespace ev_ns = mappings::event;
using ev_ns::event_kind;
using mappings::fhir::json_out;

namespace {

std::string upper(std::string_view s) {
  std::string u(s);
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

std::string_view date_part(std::string_view dt) {
  return dt.size() >= 10 ? dt.substr(0, 10) : std::string_view{};
}

// Table 0007 admission type → acuity; an ED visit that led to the stay makes it emergent.
std::optional<risk::admission_acuity> acuity_of(const ev_ns::clinical_event& ev, bool via_ed) {
  using risk::admission_acuity;
  if (via_ed) return admission_acuity::emergent;
  const std::string t = upper(ev.admission_type);
  if (t == "E" || t == "A") return admission_acuity::emergent;  // emergency, accident
  if (t == "U") return admission_acuity::urgent;
  if (t == "C" || t == "R" || t == "EL" || t == "L" || t == "N") return admission_acuity::elective;
  if (ev.admit_source.code == "7") return admission_acuity::emergent;  // 0023: emergency room
  return std::nullopt;
}

void join(std::string& into, std::string_view code) {
  if (!into.empty()) into += ' ';
  into += code;
}

// What a retraction withdraws: an alert or notice that went to a group for a stay.
struct withdrawn {
  std::string_view event_kind;  // discharge, admission, ed_visit
  std::string_view group_id, encounter_id;
  std::string_view task_id;             // empty: a notice (no Task)
  std::string_view risk_assessment_id;  // empty: not a discharge
};

// The retraction of what went to a group for a stay, on an A11 or A13: an outbox row to the same
// group and, when a Task was made, the Task written back cancelled with the reason.
void queue_retraction(const ev_ns::clinical_event& ev, const withdrawn& w, care_outcome& o,
                      store::processing_result& out) {
  store::alert_row a;
  a.kind = "retraction";
  a.event_kind = std::string(w.event_kind);
  a.group_id = std::string(w.group_id);
  a.patient_id = o.patient_id;
  a.encounter_id = std::string(w.encounter_id);
  a.risk_assessment_id = std::string(w.risk_assessment_id);
  a.task_id = std::string(w.task_id);
  a.occurred = std::string(ev.recorded);
  if (!w.task_id.empty()) {
    const std::string_view why = ev.kind == event_kind::cancel_admission
                                     ? "admission cancelled by the hospital (A11)"
                                     : "discharge cancelled by the hospital (A13)";
    store::resource_row task{"Task", a.task_id, cancelled_task_patch(why, ev.recorded)};
    task.merge = true;
    out.resources.push_back(std::move(task));
  }
  if (o.queued.empty()) {
    o.queued = a.kind;
    o.task_id = a.task_id;
  }
  out.alerts.push_back(std::move(a));
}

}  // namespace

int band_rank(std::string_view band) noexcept {
  if (band == "low") return 0;
  if (band == "high") return 2;
  return 1;
}

care_engine::care_engine(care_settings settings) : settings_(std::move(settings)) {
  for (auto& s : settings_.oncology_services) s = upper(s);
}

void care_engine::set_roster(std::shared_ptr<const members::roster_snapshot> roster) {
  roster_ = std::move(roster);
}

void care_engine::load_link(patient_link l) {
  const std::string key = l.patient_id;
  links_.insert_or_assign(key, std::move(l));
}

void care_engine::load_assessment(assessment_record a) {
  const std::string key = a.encounter_id;
  assessed_.insert_or_assign(key, std::move(a));
}

void care_engine::load_admission_alert(admission_alert_record a) {
  auto& sent = admission_alerts_[a.encounter_id];
  for (auto& s : sent)
    if (s.event_kind == a.event_kind && s.group_id == a.group_id) {
      s = std::move(a);
      return;
    }
  sent.push_back(std::move(a));
}

std::span<const admission_alert_record> care_engine::admission_alerts_of(
    std::string_view encounter_id) const {
  auto it = admission_alerts_.find(encounter_id);
  if (it == admission_alerts_.end()) return {};
  return it->second;
}

const patient_link* care_engine::link_of(std::string_view patient_id) const {
  auto it = links_.find(patient_id);
  return it == links_.end() ? nullptr : &it->second;
}

const assessment_record* care_engine::assessment_of(std::string_view encounter_id) const {
  auto it = assessed_.find(encounter_id);
  return it == assessed_.end() ? nullptr : &it->second;
}

std::optional<lab_kind> care_engine::lab_kind_of(std::string_view loinc) const {
  for (const auto& c : settings_.haemoglobin_codes)
    if (c == loinc) return lab_kind::haemoglobin;
  for (const auto& c : settings_.sodium_codes)
    if (c == loinc) return lab_kind::sodium;
  return std::nullopt;
}

care_outcome care_engine::process(const ev_ns::clinical_event& ev, std::int64_t message_id,
                                  store::processing_result& out, care_changes& changes) {
  changes.clear();
  care_outcome o;
  o.event_kind = std::string(ev_ns::to_string(ev.kind));
  o.patient_id = ev.patient_resource_id;
  o.encounter_id = ev.encounter_resource_id;
  switch (ev.kind) {
    case event_kind::discharge: o.event_date = std::string(date_part(ev.discharge_time)); break;
    case event_kind::admission:
    case event_kind::registration: o.event_date = std::string(date_part(ev.admit_time)); break;
    default: break;
  }
  if (o.event_date.empty()) o.event_date = std::string(date_part(ev.recorded));
  if (o.event_date.empty()) o.event_date = std::string(date_part(ev.admit_time));

  // A merge: the mapper wrote the merged-away Patient (replaced-by the survivor) next to the
  // survivor; the old patient's learned link carries over when the survivor has none.
  std::vector<std::string> merged_away;
  if (ev.kind == event_kind::merge)
    for (const auto& r : out.resources)
      if (r.type == "Patient" && r.id != ev.patient_resource_id) merged_away.push_back(r.id);
  for (const auto& old : merged_away) {
    const patient_link* was = link_of(old);
    if (was && !link_of(ev.patient_resource_id)) {
      patient_link l{ev.patient_resource_id, was->member_id, "merge", 0, message_id};
      links_.insert_or_assign(l.patient_id, l);
      changes.links.push_back(std::move(l));
    }
  }

  match_patient(ev, message_id, o, changes);
  attribute(o);
  record_visit(ev, message_id, merged_away, o, changes);
  record_labs(ev, changes);

  switch (ev.kind) {
    case event_kind::discharge: score_discharge(ev, message_id, o, out, changes); break;
    case event_kind::cancel_discharge:
      retract(ev, message_id, "discharge cancelled (A13)", o, out, changes);
      break;
    case event_kind::cancel_admission:
      retract(ev, message_id, "admission cancelled (A11)", o, out, changes);
      break;
    default: break;
  }
  decide_alert(o);
  queue_alert(ev, message_id, o, out, changes);
  return o;
}

void care_engine::match_patient(const ev_ns::clinical_event& ev, std::int64_t message_id,
                                care_outcome& o, care_changes& ch) {
  if (ev.patient_resource_id.empty()) {
    o.match = "not_applicable";
    o.rule = "none";
    return;
  }
  members::patient_facts facts;
  facts.identifiers.reserve(ev.patient_ids.size());
  for (const auto& id : ev.patient_ids) facts.identifiers.push_back({id.system, id.value, id.type});
  for (const auto& id : ev.member_ids) facts.identifiers.push_back({id.system, id.value, id.type});
  if (!ev.member_id.empty()) facts.member_ids.push_back(ev.member_id);
  facts.family = ev.family;
  facts.given = ev.given;
  facts.birth_date = ev.birth_date;
  facts.sex = ev.sex;
  facts.postal_code = ev.postal_code;
  facts.phone = ev.phone;

  members::match_result r;
  if (roster_ && roster_->index) r = members::match(*roster_->index, facts, settings_.matching);
  const bool by_identifier = r.rule == members::match_rule::member_id ||
                             r.rule == members::match_rule::payer_id ||
                             r.rule == members::match_rule::identifier_link;
  const patient_link* learned = link_of(ev.patient_resource_id);
  for (const auto& reason : r.reasons) join(o.reasons, reason);

  auto link_to = [&](const std::string& member, std::string_view rule, double score,
                     bool learn) {
    o.match = "linked";
    o.member_id = member;
    o.rule = std::string(rule);
    o.score = score;
    if (learn && (!learned || learned->member_id != member)) {
      patient_link l{ev.patient_resource_id, member, std::string(rule), score, message_id};
      links_.insert_or_assign(l.patient_id, l);
      ch.links.push_back(std::move(l));
    }
    if (rule != "patient_link") ch.reviews_closed.push_back(ev.patient_resource_id);
  };

  if (const auto* c = r.linked(); c && by_identifier) {
    // An identifier the roster knows decides; a learned link that disagrees is replaced.
    link_to(c->member_id, members::to_string(r.rule), 0, learned != nullptr);
    return;
  }
  if (learned) {
    o.reasons = "patient_link";
    link_to(learned->member_id, "patient_link", learned->score, false);
    return;
  }
  if (const auto* c = r.linked()) {
    link_to(c->member_id, "demographics", c->total, true);
    return;
  }
  o.rule = std::string(members::to_string(r.rule));
  if (r.decision == members::match_decision::review) {
    o.match = "review";
    match_review rv;
    rv.patient_id = ev.patient_resource_id;
    rv.message_id = message_id;
    rv.rule = o.rule;
    rv.reasons = o.reasons;
    for (const auto& cand : r.candidates) rv.candidates.emplace_back(cand.member_id, cand.total);
    if (!r.candidates.empty()) o.score = r.candidates.front().total;
    ch.review = std::move(rv);
  } else {
    o.match = "no_match";
  }
}

void care_engine::attribute(care_outcome& o) {
  if (o.member_id.empty()) {
    o.attribution = "no_member";
    return;
  }
  const members::physician_group* g =
      roster_ ? roster_->attributed_group(o.member_id, o.event_date) : nullptr;
  if (!g) {
    o.attribution = "unattributed";
    return;
  }
  o.attribution = "attributed";
  o.group_id = g->id;
}

void care_engine::record_visit(const ev_ns::clinical_event& ev, std::int64_t message_id,
                               std::span<const std::string> merged_away, care_outcome& o,
                               care_changes& ch) {
  auto note = [&](const encounter_entry* e) {
    if (e) ch.entries.push_back(e);
  };
  // A link fills in the member of the patient's earlier visits.
  if (!ch.links.empty() || (!o.member_id.empty() && o.rule != "patient_link"))
    for (const auto* e : history_.link_patient(ev.patient_resource_id, o.member_id)) note(e);

  if (ev.kind == event_kind::merge) {
    // The merged-away patient's visits are the survivor's (and its member's).
    for (const auto& old : merged_away)
      for (const auto* e : history_.move_patient(old, ev.patient_resource_id, o.member_id)) note(e);
    return;
  }
  if (ev.encounter_resource_id.empty()) return;
  if (ev.kind == event_kind::cancel_admission) {
    note(history_.cancel_admission(ev.encounter_resource_id, message_id));
    return;
  }
  if (ev.kind == event_kind::cancel_discharge) {
    note(history_.cancel_discharge(ev.encounter_resource_id, message_id));
    return;
  }
  if (ev.kind == event_kind::lab_result || ev.kind == event_kind::other ||
      ev.kind == event_kind::cancel_transfer)
    return;
  encounter_entry e;
  e.encounter_id = ev.encounter_resource_id;
  e.patient_id = ev.patient_resource_id;
  e.member_id = o.member_id;
  e.facility = ev.facility;
  e.kind = visit_class_of(ev.patient_class);
  e.was_emergency = e.kind == visit_class::emergency;
  e.start_text = ev.admit_time;
  if (auto t = instant_seconds(ev.admit_time)) e.start = *t;
  if (ev.kind == event_kind::discharge && !ev.discharge_time.empty()) {
    e.end_text = ev.discharge_time;
    if (auto t = instant_seconds(ev.discharge_time)) e.end = *t;
  }
  e.message_id = message_id;
  note(&history_.record(e));
}

void care_engine::record_labs(const ev_ns::clinical_event& ev, care_changes& ch) {
  if (ev.encounter_resource_id.empty()) return;
  for (const auto& l : ev.labs) {
    if (!l.value || l.code.system != "http://loinc.org") continue;
    const auto kind = lab_kind_of(l.code.code);
    if (!kind) continue;
    lab_entry e{*l.value, l.unit, instant_seconds(l.effective).value_or(0)};
    history_.record_lab(ev.encounter_resource_id, *kind, e);
    ch.labs.emplace_back(ev.encounter_resource_id, *kind, std::move(e));
  }
}

void care_engine::score_discharge(const ev_ns::clinical_event& ev, std::int64_t message_id,
                                  care_outcome& o, store::processing_result& out,
                                  care_changes& ch) {
  const encounter_entry* stay = history_.find(ev.encounter_resource_id);
  if (!stay || stay->kind != visit_class::inpatient) return;  // ED-only or outpatient: not scored

  std::vector<risk::diagnosis_code> dx;
  dx.reserve(ev.diagnoses.size());
  for (const auto& d : ev.diagnoses) dx.push_back({d.code.system, d.code.code});
  risk::discharge_input in;
  in.diagnoses = dx;
  in.length_of_stay_days = risk::length_of_stay_days(stay->start_text, stay->end_text);
  const history_counts counts = history_.counts_before(*stay, settings_.windows);
  // An ED visit of the same encounter, or one that led to it, makes the admission emergent.
  bool via_ed = stay->was_emergency;
  in.acuity = acuity_of(ev, via_ed);
  if (!stay->member_id.empty()) {
    in.ed_visits_6_months = counts.ed_visits;
    in.admissions_12_months = counts.admissions;
  }
  for (auto kind : {lab_kind::haemoglobin, lab_kind::sodium}) {
    if (auto l = history_.last_lab(stay->encounter_id, kind, stay->end)) {
      risk::lab_value v{l->value, l->unit};
      (kind == lab_kind::haemoglobin ? in.haemoglobin : in.sodium) = std::move(v);
    }
  }
  if (!ev.service.empty()) {
    const std::string s = upper(ev.service);
    in.oncology_service = std::find(settings_.oncology_services.begin(),
                                    settings_.oncology_services.end(),
                                    s) != settings_.oncology_services.end();
  }
  // The procedures the hospital coded for the stay (PR1); none sent is not "none done".
  if (!ev.procedures.empty()) in.any_procedure = true;

  const risk::risk_assessment a = risk::assess_discharge(in, settings_.lace_weights);

  std::vector<std::string> conditions;
  for (const auto& r : out.resources)
    if (r.type == "Condition") conditions.push_back(r.id);
  const std::string id = mappings::fhir::derived_id("RiskAssessment", {stay->encounter_id});
  risk_context cx;
  cx.resource_id = id;
  cx.patient_id = ev.patient_resource_id;
  cx.encounter_id = stay->encounter_id;
  cx.occurrence = stay->end_text.empty() ? ev.discharge_time : stay->end_text;
  cx.history = stay->member_id.empty() ? nullptr : &counts;
  cx.condition_ids = conditions;
  out.resources.push_back({"RiskAssessment", id, risk_assessment_json(a, cx)});

  const auto band =
      band_rank(risk::risk_probability_code(a.hospital.band)) >
              band_rank(risk::risk_probability_code(a.lace.band))
          ? a.hospital.band
          : a.lace.band;
  o.risk_assessment_id = id;
  o.risk_band = std::string(risk::risk_probability_code(band));
  o.risk_complete = a.lace.complete() && a.hospital.complete();
  o.readmission = counts.readmission;
  assessment_record rec{stay->encounter_id, id, "final", o.risk_band, message_id, {}, {}};
  assessed_.insert_or_assign(rec.encounter_id, rec);
  ch.assessment = std::move(rec);
}

void care_engine::retract(const ev_ns::clinical_event& ev, std::int64_t message_id,
                          std::string_view why, care_outcome& o, store::processing_result& out,
                          care_changes& ch) {
  auto it = assessed_.find(ev.encounter_resource_id);
  if (it == assessed_.end() || it->second.status == "entered-in-error") return;
  assessment_record& rec = it->second;
  out.resources.push_back({"RiskAssessment", rec.resource_id,
                           retracted_risk_assessment_json(rec.resource_id, ev.patient_resource_id,
                                                          rec.encounter_id, why)});
  rec.status = "entered-in-error";
  rec.message_id = message_id;
  ch.assessment = rec;
  o.risk_assessment_id = rec.resource_id;
  o.retracted = true;
}

void care_engine::decide_alert(care_outcome& o) const {
  std::uint8_t wanted_bit = 0;
  if (o.event_kind == "discharge") {
    o.alert_kind = "discharge";
    wanted_bit = members::alert_discharge;
  } else if (o.event_kind == "admission") {
    o.alert_kind = "admission";
    wanted_bit = members::alert_admission;
  } else if (o.event_kind == "registration") {
    // An A04 of an emergency visit is an ED visit; other registrations are not alerted.
    const encounter_entry* e = history_.find(o.encounter_id);
    if (e && e->kind == visit_class::emergency) {
      o.alert_kind = "ed_visit";
      wanted_bit = members::alert_ed_visit;
    }
  }
  if (o.alert_kind.empty()) return;
  if (o.match == "review") {
    o.alert_reason = "review";
    return;
  }
  if (o.member_id.empty()) {
    o.alert_reason = "no_member";
    return;
  }
  if (o.group_id.empty()) {
    o.alert_reason = "unattributed";
    return;
  }
  const auto& groups = roster_->groups;
  auto g = groups.find(o.group_id);
  if (g == groups.end() || (g->second.alert_events & wanted_bit) == 0) {
    o.alert_reason = "event_not_wanted";
    return;
  }
  if (o.alert_kind == "discharge") {
    if (o.risk_band.empty()) {
      o.alert_reason = "not_scored";
      return;
    }
    if (band_rank(o.risk_band) < band_rank(g->second.risk_threshold)) {
      o.alert_reason = "below_threshold";
      return;
    }
  }
  o.alert_wanted = true;
}

// What goes to the outbox (in the message's settlement transaction): an alert with its Task when
// the group's rules want the event; a notice for any other discharge of an attributed member (the
// attributed-discharge topic sends those regardless of score); a retraction, with the Task
// cancelled, when an A13 withdraws a discharge that had either, or an A11 a stay that had a
// discharge alert or notice (its RiskAssessment retracted) or admission or ED-visit alerts.
void care_engine::queue_alert(const ev_ns::clinical_event& ev, std::int64_t message_id,
                              care_outcome& o, store::processing_result& out, care_changes& ch) {
  auto it = o.encounter_id.empty() ? assessed_.end() : assessed_.find(o.encounter_id);
  assessment_record* rec = it == assessed_.end() ? nullptr : &it->second;
  const auto remember = [&](std::string group, std::string task) {
    if (rec == nullptr) return;
    rec->alert_group = std::move(group);
    rec->task_id = std::move(task);
    ch.assessment = *rec;
  };
  if (o.retracted && rec != nullptr && !rec->alert_group.empty()) {
    queue_retraction(ev,
                     {"discharge", rec->alert_group, rec->encounter_id, rec->task_id,
                      rec->resource_id},
                     o, out);
    remember({}, {});
  }
  if (ev.kind == event_kind::cancel_admission)
    retract_admission_alerts(ev, message_id, o, out, ch);
  if (o.retracted || ev.kind == event_kind::cancel_admission) return;
  const bool notice = !o.alert_wanted && o.event_kind == "discharge" && !o.group_id.empty() &&
                      o.match != "review" && !o.member_id.empty();
  if (!o.alert_wanted && !notice) return;
  store::alert_row a;
  a.kind = o.alert_wanted ? "alert" : "notice";
  a.event_kind = o.alert_kind.empty() ? o.event_kind : o.alert_kind;
  a.group_id = o.group_id;
  a.patient_id = o.patient_id;
  a.encounter_id = o.encounter_id;
  a.risk_assessment_id = o.event_kind == "discharge" ? o.risk_assessment_id : std::string();
  a.risk_band = o.risk_band;
  a.occurred = std::string(ev.kind == event_kind::discharge ? ev.discharge_time : ev.admit_time);
  if (a.occurred.empty()) a.occurred = std::string(ev.recorded);
  if (o.alert_wanted) {
    // One Task per stay, kind of event and group: a stay attributed to another group later (a
    // new roster) gets that group its own Task, and never moves the first group's.
    a.task_id = mappings::fhir::derived_id("Task", {o.encounter_id, a.event_kind, o.group_id});
    std::string_view group_name;
    if (roster_)
      if (auto g = roster_->groups.find(o.group_id); g != roster_->groups.end())
        group_name = g->second.name;
    const std::string due = add_business_days(o.event_date, 2);
    task_context t;
    t.task_id = a.task_id;
    t.patient_id = o.patient_id;
    t.encounter_id = o.encounter_id;
    t.risk_assessment_id = a.risk_assessment_id;
    t.group_id = o.group_id;
    t.group_name = group_name;
    t.event_kind = a.event_kind;
    t.risk_band = o.risk_band;
    t.authored = a.occurred;
    t.due = due;
    out.resources.push_back({"Task", a.task_id, follow_up_task_json(t), true});
  }
  o.queued = a.kind;
  o.task_id = a.task_id;
  if (a.event_kind == "discharge") {
    remember(a.group_id, a.task_id);
  } else if (o.alert_wanted && !a.encounter_id.empty()) {
    admission_alert_record sent{a.encounter_id, a.event_kind, a.group_id, a.task_id, "sent",
                                message_id};
    load_admission_alert(sent);
    ch.admission_alerts.push_back(std::move(sent));
  }
  out.alerts.push_back(std::move(a));
}

// An A11 withdraws every admission and ED-visit alert still standing for the stay (an ED visit
// that became an admission of the same encounter may have had both).
void care_engine::retract_admission_alerts(const ev_ns::clinical_event& ev,
                                           std::int64_t message_id, care_outcome& o,
                                           store::processing_result& out, care_changes& ch) {
  auto it = ev.encounter_resource_id.empty() ? admission_alerts_.end()
                                             : admission_alerts_.find(ev.encounter_resource_id);
  if (it == admission_alerts_.end()) return;
  for (admission_alert_record& sent : it->second) {
    if (sent.status != "sent") continue;
    queue_retraction(ev, {sent.event_kind, sent.group_id, sent.encounter_id, sent.task_id, {}}, o,
                     out);
    sent.status = "retracted";
    sent.message_id = message_id;
    ch.admission_alerts.push_back(sent);
  }
}

std::string add_business_days(std::string_view date, int business_days) {
  using namespace std::chrono;
  int y = 0;
  unsigned m = 0, d = 0;
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') return {};
  const auto num = [&](std::size_t at, std::size_t n, auto& v) {
    for (std::size_t i = at; i < at + n; ++i) {
      if (date[i] < '0' || date[i] > '9') return false;
      v = v * 10 + static_cast<std::remove_reference_t<decltype(v)>>(date[i] - '0');
    }
    return true;
  };
  if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return {};
  const year_month_day ymd{year{y}, month{m}, day{d}};
  if (!ymd.ok()) return {};
  sys_days day_of = ymd;
  for (int left = business_days; left > 0;) {
    day_of += days{1};
    const weekday w{day_of};
    if (w != Saturday && w != Sunday) --left;
  }
  const year_month_day out{day_of};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(out.year()),
                static_cast<unsigned>(out.month()), static_cast<unsigned>(out.day()));
  return buf;
}

std::string cancelled_task_patch(std::string_view why, std::string_view when) {
  json_out j(256);
  j.begin_object();
  j.field("status", "cancelled");
  j.begin_object("statusReason");
  j.field("text", why);
  j.end_object();
  if (!when.empty()) j.field("lastModified", when);
  j.end_object();
  return j.take();
}

std::string follow_up_task_json(const task_context& cx) {
  json_out j(1024);
  j.begin_object();
  j.field("resourceType", "Task");
  j.field("id", cx.task_id);
  j.field("status", "requested");
  j.field("intent", "order");
  j.field("priority", cx.risk_band == "high" ? "urgent" : "routine");
  j.begin_object("code");
  j.begin_array("coding");
  j.begin_object();
  j.field("system", "https://carebridge.example/fhir/CodeSystem/care-task");
  const bool ed = cx.event_kind == "ed_visit";
  const bool admission = cx.event_kind == "admission";
  j.field("code", ed ? "post-ed-contact" : admission ? "admission-coordination" : "post-discharge-contact");
  j.field("display", ed ? "Contact the patient after an emergency department visit"
                    : admission ? "Coordinate care during a hospital stay"
                                : "Contact the patient after a hospital discharge");
  j.end_object();
  j.end_array();
  j.end_object();
  j.field("description",
          ed ? "Contact the patient within 2 business days of the emergency department visit."
          : admission ? "Coordinate with the hospital care team and plan the transition home."
                      : "Contact the patient within 2 business days of discharge (transitional "
                        "care: medication reconciliation, follow-up appointment).");
  j.reference("focus", "Encounter", cx.encounter_id);
  j.reference("for", "Patient", cx.patient_id);
  if (!cx.authored.empty()) j.field("authoredOn", cx.authored);
  j.begin_object("owner");
  j.begin_object("identifier");
  j.field("system", group_identifier_system);
  j.field("value", cx.group_id);
  j.end_object();
  if (!cx.group_name.empty()) j.field("display", cx.group_name);
  j.end_object();
  if (!cx.risk_assessment_id.empty()) {
    j.begin_object("reasonReference");
    std::string ref = "RiskAssessment/" + std::string(cx.risk_assessment_id);
    j.field("reference", ref);
    j.end_object();
  }
  if (!cx.due.empty()) {
    j.begin_object("restriction");
    j.begin_object("period");
    j.field("end", cx.due);
    j.end_object();
    j.end_object();
  }
  j.end_object();
  return j.take();
}

// --- The RiskAssessment ------------------------------------------------------------------------

namespace {

constexpr std::string_view method_system = "https://carebridge.example/fhir/CodeSystem/risk-method";

void write_prediction(json_out& j, const risk::score_result& s) {
  j.begin_object();
  j.begin_object("outcome");
  j.field("text", s.outcome);
  j.end_object();
  j.number("probabilityDecimal", s.probability);
  j.begin_object("qualitativeRisk");
  j.begin_array("coding");
  j.begin_object();
  j.field("system", "http://terminology.hl7.org/CodeSystem/risk-probability");
  j.field("code", risk::risk_probability_code(s.band));
  j.end_object();
  j.end_array();
  j.end_object();
  std::string rationale = s.describe();
  j.field("rationale", rationale);
  j.end_object();
}

std::string method_text(const risk::risk_assessment& a) {
  return std::string(a.lace.method) + " and " + std::string(a.hospital.method);
}

}  // namespace

std::string risk_assessment_json(const risk::risk_assessment& a, const risk_context& cx) {
  json_out j(4096);
  j.begin_object();
  j.field("resourceType", "RiskAssessment");
  j.field("id", cx.resource_id);
  j.field("status", "final");
  j.begin_object("method");
  j.begin_array("coding");
  j.begin_object();
  j.field("system", method_system);
  j.field("code", "lace-hospital");
  j.field("display", "LACE index and HOSPITAL score");
  j.end_object();
  j.end_array();
  j.field("text", method_text(a));
  j.end_object();
  j.begin_object("code");
  j.field("text", "30-day readmission risk");
  j.end_object();
  j.reference("subject", "Patient", cx.patient_id);
  j.reference("encounter", "Encounter", cx.encounter_id);
  j.field("occurrenceDateTime", cx.occurrence);
  j.begin_array("basis");
  j.reference_item("Encounter", cx.encounter_id);
  for (const auto& c : cx.condition_ids) j.reference_item("Condition", c);
  j.end_array();
  j.begin_array("prediction");
  write_prediction(j, a.lace);
  write_prediction(j, a.hospital);
  j.end_array();

  // Notes: each component's basis, what was missing, comorbidity, chronic flags, history.
  j.begin_array("note");
  auto note = [&](std::string_view text) {
    j.begin_object();
    j.field("text", text);
    j.end_object();
  };
  for (const auto* s : {&a.lace, &a.hospital}) {
    for (const auto& c : s->components) {
      std::string t = std::string(s->method) + " " + std::string(c.code) + ": " + c.basis;
      note(t);
    }
    if (!s->complete()) {
      std::string t = std::string(s->method) + " incomplete, missing:";
      for (auto m : s->missing) (t += ' ') += m;
      t += "; highest possible " + std::to_string(s->highest_possible);
      note(t);
    }
  }
  if (!a.comorbidity.conditions.empty()) {
    std::string t = "Charlson conditions (" + std::string(risk::to_string(a.comorbidity.weights)) +
                    " weights, sum " + std::to_string(a.comorbidity.sum) + "):";
    for (const auto& f : a.comorbidity.conditions) (t += ' ') += risk::to_string(f.which);
    note(t);
  }
  {
    std::string t = "Chronic conditions:";
    bool any = false;
    for (const auto& f : a.chronic.flags)
      if (f.present) {
        (t += ' ') += risk::to_string(f.which);
        any = true;
      }
    if (!any) t += " none coded";
    note(t);
  }
  if (cx.history) {
    std::string t = "History: " + std::to_string(cx.history->ed_visits) +
                    " ED visit(s) in 6 months, " + std::to_string(cx.history->admissions) +
                    " admission(s) in 12 months; " +
                    (cx.history->readmission ? "this stay began within 30 days of a discharge"
                                             : "no discharge in the 30 days before this stay");
    note(t);
  } else {
    note("History: not counted (no plan member linked)");
  }
  j.end_array();
  j.end_object();
  return j.take();
}

std::string retracted_risk_assessment_json(std::string_view resource_id,
                                           std::string_view patient_id,
                                           std::string_view encounter_id, std::string_view why) {
  json_out j(512);
  j.begin_object();
  j.field("resourceType", "RiskAssessment");
  j.field("id", resource_id);
  j.field("status", "entered-in-error");
  j.begin_object("code");
  j.field("text", "30-day readmission risk");
  j.end_object();
  j.reference("subject", "Patient", patient_id);
  j.reference("encounter", "Encounter", encounter_id);
  j.begin_array("note");
  j.begin_object();
  std::string t = "Retracted: " + std::string(why);
  j.field("text", t);
  j.end_object();
  j.end_array();
  j.end_object();
  return j.take();
}

}  // namespace carebridge::gateway::care
