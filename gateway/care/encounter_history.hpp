// Encounter history: every stay and visit the gateway has heard of, per hospital patient and per
// plan member, with the cancels and merges applied — what the risk scores count (ED visits in the
// previous 6 months, admissions in the previous 12, a discharge in the 30 days before this
// admission) and the labs taken during a stay (haemoglobin, sodium at discharge).
//
// In memory and pure: the care stage loads it from the member database at start and writes what
// changed after each event (care_db). Not thread-safe: the pipeline thread owns it.
//
// Visits are keyed by the Encounter resource id (facility + visit number), so the A01, A08 and
// A03 of one stay are one entry whatever order they come in, and an A03 whose admission was never
// seen makes the entry by itself (its PV1-44 admit time is the start). A visit belongs to the
// hospital patient (Patient resource id) from the start and to a member once that patient is
// linked; linking later fills in the member of the patient's earlier visits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace carebridge::gateway::care {

/// An unordered_map keyed by std::string that finds by std::string_view without a copy.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
template <class V>
using string_map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

/// Seconds since 1970-01-01T00:00:00Z of a FHIR date / dateTime (a time without a zone, or a
/// date, is taken as UTC midnight / UTC time: the facility's zone is already in the converted
/// times). nullopt when the text is not a date of at least day precision.
std::optional<std::int64_t> instant_seconds(std::string_view fhir_datetime) noexcept;

enum class visit_class : std::uint8_t {
  inpatient,    // IMP, ACUTE, NONAC: counted as an admission
  emergency,    // EMER: an ED visit
  observation,  // OBSENC: neither (LACE and HOSPITAL count inpatient stays)
  other,        // AMB, PRENC, SS, HH, VR…, or unknown
};
std::string_view to_string(visit_class c) noexcept;
visit_class visit_class_of(std::string_view v3_act_code) noexcept;
std::optional<visit_class> visit_class_from_string(std::string_view s) noexcept;

struct encounter_entry {
  std::string encounter_id;  // the Encounter resource id (the key)
  std::string patient_id;    // the Patient resource id
  std::string member_id;     // empty until the patient is linked to a member
  std::string facility;
  visit_class kind = visit_class::other;
  bool was_emergency = false;  // seen as an ED visit at some point (ED → admitted keeps it)
  std::string start_text, end_text;  // FHIR dateTimes as converted (length of stay)
  std::int64_t start = 0, end = 0;   // instant_seconds of them; 0 when unknown
  bool cancelled = false;            // A11 (admission cancelled)
  std::int64_t message_id = 0;       // the last message that changed it

  bool operator==(const encounter_entry&) const = default;
};

enum class lab_kind : std::uint8_t { haemoglobin, sodium };
std::string_view to_string(lab_kind k) noexcept;

struct lab_entry {
  double value = 0;
  std::string unit;
  std::int64_t at = 0;  // instant_seconds of the effective time (0 unknown)
  bool operator==(const lab_entry&) const = default;
};

/// What the scores count before one stay, for the member whose stay it is.
struct history_counts {
  int ed_visits = 0;         // within ed_lookback before the start, not the one that led to it
  int admissions = 0;        // inpatient stays started within admission_lookback before the start
  bool readmission = false;  // an inpatient stay ended within readmission_window before the start
  std::string prior_stay;    // the encounter id of that earlier stay (readmission)
};

struct history_windows {
  std::int64_t ed_lookback = 182 * 86400;         // 6 months
  std::int64_t admission_lookback = 365 * 86400;  // 12 months
  std::int64_t readmission_window = 30 * 86400;   // 30 days
  /// An ED visit that started this long before the admission (or is the same encounter) is the
  /// one that led to it, and is not counted.
  std::int64_t led_to_admission = 24 * 3600;
};

class encounter_history {
 public:
  /// Adds or merges a visit: known fields of `e` replace the stored ones (times, class, facility;
  /// an end cleared only by cancel_discharge), was_emergency sticks, member_id is kept when `e`
  /// has none. Returns the stored entry.
  const encounter_entry& record(const encounter_entry& e);
  /// Loads a stored entry as is (at start).
  void load(encounter_entry e);
  const encounter_entry* find(std::string_view encounter_id) const;

  /// A11: the visit did not happen. A13: it has not ended. nullptr when unknown.
  const encounter_entry* cancel_admission(std::string_view encounter_id, std::int64_t message_id);
  const encounter_entry* cancel_discharge(std::string_view encounter_id, std::int64_t message_id);

  /// The patient is now the member's: its visits without a member get it. Returns the entries
  /// that changed.
  std::vector<const encounter_entry*> link_patient(std::string_view patient_id,
                                                   std::string_view member_id);
  /// A merge: the visits of `from` become `to`'s (and take `to`'s member when it has one).
  std::vector<const encounter_entry*> move_patient(std::string_view from, std::string_view to,
                                                   std::string_view to_member);

  /// The counts for the stay `index` (its member's earlier visits, other than itself).
  history_counts counts_before(const encounter_entry& index,
                               const history_windows& w = {}) const;

  void record_lab(std::string_view encounter_id, lab_kind kind, lab_entry lab);
  /// The last lab of that kind taken during the stay, at or before `until` (0: any).
  std::optional<lab_entry> last_lab(std::string_view encounter_id, lab_kind kind,
                                    std::int64_t until) const;

  std::size_t size() const noexcept { return by_encounter_.size(); }
  std::size_t members() const noexcept { return by_member_.size(); }

 private:
  template <class V>
  using map = string_map<V>;

  void index_member(encounter_entry& e, std::string_view member_id);

  map<encounter_entry> by_encounter_;  // node-based: entries do not move
  map<std::vector<encounter_entry*>> by_patient_;
  map<std::vector<encounter_entry*>> by_member_;
  map<std::vector<std::pair<lab_kind, lab_entry>>> labs_;  // by encounter id
};

}  // namespace carebridge::gateway::care
