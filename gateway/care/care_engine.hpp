// The care engine: for each clinical event, which member it is about, which physician group that
// member is attributed to on the event's date, what it changes in the member's history, and for a
// discharge how likely a readmission is (a FHIR RiskAssessment). Pure: no I/O. The care stage
// (care_stage) feeds it events on the pipeline thread, persists what it changed (care_db) and
// swaps in new rosters.
//
// Matching (members/member_matcher) in this order: an identifier rule of the roster index
// (member id, payer id, roster-declared MRN) links outright; else a link learned earlier for the
// same hospital patient (Patient resource id: facility MRN + authority) links; else the
// demographic decision: auto_link links and is learned, review opens a review (no member, no
// alert: a wrong link sends PHI to the wrong group), no_match is counted.
//
// Attribution: the member's group on the event date (the discharge date for a discharge, the
// admission date for an admission or ED visit, else the recorded date), from the roster snapshot.
// No member or no attribution: no alert, and the outcome says why.
//
// Risk (discharges of inpatient stays): risk/assess_discharge with the stay's diagnoses, length
// of stay, acuity, the member's ED visits and admissions before the stay, the last Hb and Na of
// the stay (from ORU results recorded for that encounter, or in the event), the service and the
// procedures. The RiskAssessment (one per stay, id derived from the Encounter id) carries both
// scores as predictions; an A11 or A13 of a stay that has one retracts it (entered-in-error).
// Whether it alerts is the group's setting: its events and its risk threshold.
//
// Retractions: the engine remembers where each alert went (a discharge's on the stay's
// assessment_record, an admission's or ED visit's as an admission_alert_record), so an A13
// withdraws the discharge alert or notice and an A11 withdraws the admission and ED-visit alerts
// of the stay (and its discharge's, with the RiskAssessment): a retraction row to the same group
// and the Task written back cancelled.
#pragma once

#include "gateway/care/encounter_history.hpp"
#include "gateway/members/roster.hpp"
#include "gateway/risk/risk_scores.hpp"
#include "gateway/store/message_store.hpp"
#include "mappings/event/clinical_event.hpp"

#include <memory>
#include <optional>
#include <span>
#include <tuple>
#include <string>
#include <vector>

namespace carebridge::gateway::care {

struct care_settings {
  risk::weight_set lace_weights = risk::weight_set::lace;
  history_windows windows;
  members::match_options matching;
  /// PV1-10 hospital service codes that mean oncology (upper case compared).
  std::vector<std::string> oncology_services{"ONC", "HEM", "HEMONC", "ONCOLOGY", "BMT"};
  /// LOINC codes read as haemoglobin and sodium (ORU results and labs carried by events).
  std::vector<std::string> haemoglobin_codes{"718-7", "30313-1", "30350-3", "30352-9", "20509-6"};
  std::vector<std::string> sodium_codes{"2951-2", "2947-0", "32717-1", "39791-9"};
};

/// A link learned by matching: hospital patient → member.
struct patient_link {
  std::string patient_id;
  std::string member_id;
  std::string rule;     // "demographics", "merge", "manual"
  double score = 0;     // demographic total (0 for the others)
  std::int64_t message_id = 0;
  bool operator==(const patient_link&) const = default;
};

/// A patient the matcher could not decide on: candidates and PHI-free reasons.
struct match_review {
  std::string patient_id;
  std::int64_t message_id = 0;
  std::string rule;     // the rule that found the candidates
  std::string reasons;  // "demographics_conflict", "twin_conflict below_auto_threshold"…
  std::vector<std::pair<std::string, double>> candidates;  // member id, total
};

/// A stay's RiskAssessment and whether it stands.
struct assessment_record {
  std::string encounter_id;
  std::string resource_id;
  std::string status;  // "final", "entered-in-error"
  std::string band;    // overall: the higher of LACE's and HOSPITAL's
  std::int64_t message_id = 0;
  std::string alert_group;  // the group an alert or notice of this stay went to (empty: none)
  std::string task_id;      // the follow-up Task made for it (empty: none)
  bool operator==(const assessment_record&) const = default;
};

/// An alert sent for the start of a stay (A01 admission, A04 emergency registration), with its
/// Task: what an A11 of the stay withdraws. One per stay, event kind and group (the Task's key).
struct admission_alert_record {
  std::string encounter_id;
  std::string event_kind;  // admission, ed_visit
  std::string group_id;
  std::string task_id;
  std::string status;  // "sent", "retracted"
  std::int64_t message_id = 0;
  bool operator==(const admission_alert_record&) const = default;
};

/// What the engine decided about one event (the audit row; issue 6's alerting reads it).
struct care_outcome {
  std::string event_kind;
  std::string patient_id, encounter_id;
  std::string event_date;  // YYYY-MM-DD: the date attribution used
  // Matching.
  std::string member_id;  // empty: no member
  std::string match;      // "linked", "review", "no_match", "not_applicable" (no patient)
  std::string rule;       // member_id, payer_id, identifier_link, patient_link, demographics, none
  std::string reasons;    // PHI-free codes, space-separated
  double score = 0;
  // Attribution.
  std::string attribution;  // "attributed", "unattributed", "no_member"
  std::string group_id;
  // Risk.
  std::string risk_assessment_id;  // set when this event made or retracted one
  std::string risk_band;           // low, moderate, high (discharges scored)
  bool risk_complete = false;
  bool readmission = false;  // this stay began within 30 days of an earlier discharge
  bool retracted = false;
  // Alerting: does the group want this event?
  std::string alert_kind;  // discharge, ed_visit, admission, or empty (no alert kind)
  bool alert_wanted = false;
  std::string alert_reason;  // why not: "no_member", "unattributed", "event_not_wanted",
                             // "below_threshold", "review"…
  // The outbox entry made of it: "alert", "notice", "retraction" or empty; its Task (the first
  // one when an A11 withdraws several alerts of the stay).
  std::string queued;
  std::string task_id;
};

/// What one event changed, for care_db to write.
struct care_changes {
  std::vector<const encounter_entry*> entries;  // held by the engine's history (entries never move)
  std::vector<std::tuple<std::string, lab_kind, lab_entry>> labs;  // encounter id, kind, lab
  std::vector<patient_link> links;
  std::optional<match_review> review;
  std::vector<std::string> reviews_closed;  // patient ids whose open review a link resolved
  std::optional<assessment_record> assessment;
  std::vector<admission_alert_record> admission_alerts;  // sent or retracted by this event
  void clear() {
    entries.clear();
    labs.clear();
    links.clear();
    review.reset();
    reviews_closed.clear();
    assessment.reset();
    admission_alerts.clear();
  }
};

class care_engine {
 public:
  explicit care_engine(care_settings settings = {});

  /// The roster to match and attribute against (never null after the first call).
  void set_roster(std::shared_ptr<const members::roster_snapshot> roster);
  const std::shared_ptr<const members::roster_snapshot>& roster() const noexcept { return roster_; }

  /// State loaded at start (care_db::load_into).
  encounter_history& history() noexcept { return history_; }
  const encounter_history& history() const noexcept { return history_; }
  void load_link(patient_link l);
  void load_assessment(assessment_record a);
  void load_admission_alert(admission_alert_record a);
  const patient_link* link_of(std::string_view patient_id) const;
  const assessment_record* assessment_of(std::string_view encounter_id) const;
  /// The admission and ED-visit alerts remembered for a stay (sent or retracted).
  std::span<const admission_alert_record> admission_alerts_of(std::string_view encounter_id) const;

  /// Processes one event: appends the RiskAssessment (if any) to `out.resources`, fills
  /// `changes` (cleared first) with what the database must record, and returns the outcome.
  care_outcome process(const mappings::event::clinical_event& ev, std::int64_t message_id,
                       store::processing_result& out, care_changes& changes);

  const care_settings& settings() const noexcept { return settings_; }

 private:
  void match_patient(const mappings::event::clinical_event& ev, std::int64_t message_id,
                     care_outcome& o, care_changes& ch);
  void attribute(care_outcome& o);
  void record_visit(const mappings::event::clinical_event& ev, std::int64_t message_id,
                    std::span<const std::string> merged_away, care_outcome& o, care_changes& ch);
  void record_labs(const mappings::event::clinical_event& ev, care_changes& ch);
  void score_discharge(const mappings::event::clinical_event& ev, std::int64_t message_id,
                       care_outcome& o, store::processing_result& out, care_changes& ch);
  void retract(const mappings::event::clinical_event& ev, std::int64_t message_id,
               std::string_view why, care_outcome& o, store::processing_result& out,
               care_changes& ch);
  void decide_alert(care_outcome& o) const;
  void queue_alert(const mappings::event::clinical_event& ev, std::int64_t message_id,
                   care_outcome& o, store::processing_result& out, care_changes& ch);
  void retract_admission_alerts(const mappings::event::clinical_event& ev,
                                std::int64_t message_id, care_outcome& o,
                                store::processing_result& out, care_changes& ch);
  std::optional<lab_kind> lab_kind_of(std::string_view loinc) const;

  care_settings settings_;
  std::shared_ptr<const members::roster_snapshot> roster_;
  encounter_history history_;
  string_map<patient_link> links_;         // by patient id
  string_map<assessment_record> assessed_;  // by encounter id
  string_map<std::vector<admission_alert_record>> admission_alerts_;  // by encounter id
};

/// The RiskAssessment JSON for one stay (exposed for tests and the benchmark).
struct risk_context {
  std::string_view resource_id, patient_id, encounter_id, occurrence;
  const history_counts* history = nullptr;
  std::span<const std::string> condition_ids;  // Condition resources of the diagnoses, if any
};
std::string risk_assessment_json(const risk::risk_assessment& a, const risk_context& cx);
/// The retracted form: status entered-in-error, subject, encounter and why.
std::string retracted_risk_assessment_json(std::string_view resource_id,
                                           std::string_view patient_id,
                                           std::string_view encounter_id, std::string_view why);
/// The follow-up Task of an alert: for the group's care coordinators, about the patient (`for`)
/// and the stay (`focus`), due `due` (YYYY-MM-DD).
struct task_context {
  std::string_view task_id, patient_id, encounter_id, risk_assessment_id;
  std::string_view group_id, group_name;
  std::string_view event_kind;  // discharge, ed_visit, admission
  std::string_view risk_band;   // high → priority urgent
  std::string_view authored;    // FHIR dateTime of the event
  std::string_view due;
};
std::string follow_up_task_json(const task_context& cx);
/// What a retraction does to a follow-up Task: a JSON Merge Patch (store::resource_row::merge)
/// setting status cancelled, the reason and when; what the group wrote on the Task stays.
std::string cancelled_task_patch(std::string_view why, std::string_view when);
/// The date `business_days` working days (Monday–Friday; holidays are not known) after `date`
/// (YYYY-MM-DD), or empty when `date` is not a date.
std::string add_business_days(std::string_view date, int business_days);
/// The identifier system of physician groups in Task.owner (their roster group id).
inline constexpr std::string_view group_identifier_system =
    "https://carebridge.example/fhir/sid/physician-group";
/// "low" < "moderate" < "high"; unknown text ranks as "moderate".
int band_rank(std::string_view band) noexcept;

}  // namespace carebridge::gateway::care
