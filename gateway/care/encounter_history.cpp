#include "gateway/care/encounter_history.hpp"

#include "mappings/fhir/datetime_text.hpp"

#include <algorithm>
#include <chrono>

namespace carebridge::gateway::care {

namespace {

int two(std::string_view s, std::size_t at) noexcept { return (s[at] - '0') * 10 + (s[at + 1] - '0'); }

}  // namespace

std::optional<std::int64_t> instant_seconds(std::string_view s) noexcept {
  const auto parts = mappings::fhir::read_datetime_text(s);
  if (!parts || parts->day == 0) return std::nullopt;
  using namespace std::chrono;
  const sys_days day{year_month_day{year{parts->year}, month{static_cast<unsigned>(parts->month)},
                                    std::chrono::day{static_cast<unsigned>(parts->day)}}};
  std::int64_t t = static_cast<std::int64_t>(day.time_since_epoch().count()) * 86400;
  if (!parts->has_time) return t;
  // YYYY-MM-DDThh:mm[:ss[.f…]][zone]
  t += two(s, 11) * 3600 + two(s, 14) * 60;
  std::size_t i = 16;
  if (i < s.size() && s[i] == ':') {
    t += two(s, 17);
    i = 19;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    }
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    const std::int64_t offset = two(s, i + 1) * 3600 + two(s, i + 4) * 60;
    t -= s[i] == '+' ? offset : -offset;
  }
  return t;
}

std::string_view to_string(visit_class c) noexcept {
  switch (c) {
    case visit_class::inpatient: return "inpatient";
    case visit_class::emergency: return "emergency";
    case visit_class::observation: return "observation";
    case visit_class::other: return "other";
  }
  return "other";
}

std::optional<visit_class> visit_class_from_string(std::string_view s) noexcept {
  for (auto c : {visit_class::inpatient, visit_class::emergency, visit_class::observation,
                 visit_class::other})
    if (to_string(c) == s) return c;
  return std::nullopt;
}

visit_class visit_class_of(std::string_view code) noexcept {
  if (code == "IMP" || code == "ACUTE" || code == "NONAC") return visit_class::inpatient;
  if (code == "EMER") return visit_class::emergency;
  if (code == "OBSENC") return visit_class::observation;
  return visit_class::other;
}

std::string_view to_string(lab_kind k) noexcept {
  return k == lab_kind::haemoglobin ? "haemoglobin" : "sodium";
}

void encounter_history::index_member(encounter_entry& e, std::string_view member_id) {
  if (e.member_id == member_id) return;
  if (!e.member_id.empty()) {
    auto it = by_member_.find(e.member_id);
    if (it != by_member_.end()) {
      std::erase(it->second, &e);
      if (it->second.empty()) by_member_.erase(it);
    }
  }
  e.member_id = std::string(member_id);
  if (!member_id.empty()) {
    auto [it, fresh] = by_member_.try_emplace(e.member_id);
    it->second.push_back(&e);
  }
}

const encounter_entry& encounter_history::record(const encounter_entry& e) {
  auto [it, fresh] = by_encounter_.try_emplace(e.encounter_id);
  encounter_entry& stored = it->second;
  if (fresh) {
    stored.encounter_id = e.encounter_id;
  }
  if (stored.patient_id != e.patient_id && !e.patient_id.empty()) {
    if (!stored.patient_id.empty()) {
      auto p = by_patient_.find(stored.patient_id);
      if (p != by_patient_.end()) {
        std::erase(p->second, &stored);
        if (p->second.empty()) by_patient_.erase(p);
      }
    }
    stored.patient_id = e.patient_id;
    by_patient_[stored.patient_id].push_back(&stored);
  }
  if (!e.facility.empty()) stored.facility = e.facility;
  if (e.kind != visit_class::other || fresh) stored.kind = e.kind;
  stored.was_emergency = stored.was_emergency || e.was_emergency || e.kind == visit_class::emergency;
  if (!e.start_text.empty()) {
    stored.start_text = e.start_text;
    stored.start = e.start;
  }
  if (!e.end_text.empty()) {
    stored.end_text = e.end_text;
    stored.end = e.end;
  }
  // A new message about a visit that was cancelled brings it back (the hospital re-sent it).
  stored.cancelled = e.cancelled;
  if (e.message_id != 0) stored.message_id = e.message_id;
  if (!e.member_id.empty()) index_member(stored, e.member_id);
  return stored;
}

void encounter_history::load(encounter_entry e) {
  const std::string member = std::move(e.member_id);
  e.member_id.clear();
  auto [it, fresh] = by_encounter_.insert_or_assign(e.encounter_id, std::move(e));
  encounter_entry& stored = it->second;
  if (fresh && !stored.patient_id.empty()) by_patient_[stored.patient_id].push_back(&stored);
  index_member(stored, member);
}

const encounter_entry* encounter_history::find(std::string_view encounter_id) const {
  auto it = by_encounter_.find(encounter_id);
  return it == by_encounter_.end() ? nullptr : &it->second;
}

const encounter_entry* encounter_history::cancel_admission(std::string_view encounter_id,
                                                          std::int64_t message_id) {
  auto it = by_encounter_.find(encounter_id);
  if (it == by_encounter_.end()) return nullptr;
  it->second.cancelled = true;
  it->second.message_id = message_id;
  return &it->second;
}

const encounter_entry* encounter_history::cancel_discharge(std::string_view encounter_id,
                                                          std::int64_t message_id) {
  auto it = by_encounter_.find(encounter_id);
  if (it == by_encounter_.end()) return nullptr;
  it->second.end_text.clear();
  it->second.end = 0;
  it->second.message_id = message_id;
  return &it->second;
}

std::vector<const encounter_entry*> encounter_history::link_patient(std::string_view patient_id,
                                                                     std::string_view member_id) {
  std::vector<const encounter_entry*> changed;
  auto it = by_patient_.find(patient_id);
  if (it == by_patient_.end() || member_id.empty()) return changed;
  for (encounter_entry* e : it->second)
    if (e->member_id.empty()) {
      index_member(*e, member_id);
      changed.push_back(e);
    }
  return changed;
}

std::vector<const encounter_entry*> encounter_history::move_patient(std::string_view from,
                                                                     std::string_view to,
                                                                     std::string_view to_member) {
  std::vector<const encounter_entry*> changed;
  if (from == to) return changed;
  auto it = by_patient_.find(from);
  if (it == by_patient_.end()) return changed;
  std::vector<encounter_entry*> moving = std::move(it->second);
  by_patient_.erase(it);
  auto& target = by_patient_[std::string(to)];
  for (encounter_entry* e : moving) {
    e->patient_id = std::string(to);
    target.push_back(e);
    if (!to_member.empty()) index_member(*e, to_member);
    changed.push_back(e);
  }
  return changed;
}

history_counts encounter_history::counts_before(const encounter_entry& index,
                                                const history_windows& w) const {
  history_counts c;
  if (index.member_id.empty() || index.start == 0) return c;
  auto it = by_member_.find(index.member_id);
  if (it == by_member_.end()) return c;
  std::int64_t latest_end = 0;
  for (const encounter_entry* e : it->second) {
    if (e->encounter_id == index.encounter_id || e->cancelled || e->start == 0) continue;
    if (e->start >= index.start) continue;  // only what happened before this stay began
    const std::int64_t before = index.start - e->start;
    if (e->was_emergency && before <= w.ed_lookback && before > w.led_to_admission) ++c.ed_visits;
    if (e->kind == visit_class::inpatient) {
      if (before <= w.admission_lookback) ++c.admissions;
      if (e->end != 0 && e->end <= index.start && index.start - e->end <= w.readmission_window &&
          e->end > latest_end) {
        latest_end = e->end;
        c.readmission = true;
        c.prior_stay = e->encounter_id;
      }
    }
  }
  return c;
}

void encounter_history::record_lab(std::string_view encounter_id, lab_kind kind, lab_entry lab) {
  auto& labs = labs_[std::string(encounter_id)];
  for (auto& [k, l] : labs)
    if (k == kind && l.at == lab.at) {
      l = std::move(lab);
      return;
    }
  labs.emplace_back(kind, std::move(lab));
}

std::optional<lab_entry> encounter_history::last_lab(std::string_view encounter_id, lab_kind kind,
                                                     std::int64_t until) const {
  auto it = labs_.find(encounter_id);
  if (it == labs_.end()) return std::nullopt;
  const lab_entry* best = nullptr;
  for (const auto& [k, l] : it->second) {
    if (k != kind || (until != 0 && l.at != 0 && l.at > until)) continue;
    if (!best || l.at >= best->at) best = &l;
  }
  if (!best) return std::nullopt;
  return *best;
}

}  // namespace carebridge::gateway::care
