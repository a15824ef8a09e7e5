// The care engine's tables in the member database (DATA_DIR/members.db, next to the roster
// tables of members/roster_db): visits, stay labs, learned patient → member links, match reviews,
// RiskAssessment status per stay (with the group and Task its discharge alert went to), the
// admission and ED-visit alerts sent per stay (what an A11 withdraws), and one outcome row per
// clinical event (the audit of what was matched, attributed, scored and whether the group wants
// an alert). Written by the care stage on the pipeline thread, one transaction per message; read
// by `carebridge members …`.
//
// Writes are grouped: write() adds a message's rows to an open transaction and commit() ends it
// (the care stage commits every few tens of milliseconds or messages), recording the highest
// message id written (last_message_id). A crash loses at most the uncommitted group; at start the
// care stage replays the clinical events the message store holds after last_message_id, and every
// write here is an idempotent upsert keyed by the encounter, the patient or (message id, seq).
#pragma once

#include "gateway/care/care_engine.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace carebridge::gateway::care {

struct review_row {
  match_review review;
  std::string status;  // open, resolved, dismissed
  std::int64_t opened_at_us = 0;
};

struct care_counts {
  std::int64_t encounters = 0, links = 0, open_reviews = 0, assessments = 0, retracted = 0;
  std::vector<std::pair<std::string, std::int64_t>> attribution;  // attributed / unattributed / …
  std::vector<std::pair<std::string, std::int64_t>> match;        // linked / review / no_match …
  std::vector<std::pair<std::string, std::int64_t>> alerts;       // wanted / reason → count
};

/// One attribution of a member as the roster has it (inclusive dates; period_end "" is open).
struct member_attribution {
  std::string group_id, period_start, period_end, source;
};

/// Everything the care stage and the roster hold about one member, ids and codes only (for
/// `carebridge members show`).
struct member_view {
  bool in_roster = false;
  std::vector<member_attribution> attributions;  // by period start, group
  std::vector<patient_link> links;                // hospital patients linked to the member
  /// The outcomes that linked the member, or concerned a patient linked to it or one whose
  /// review lists it as a candidate: oldest message first, with their message ids.
  std::vector<std::pair<std::int64_t, care_outcome>> outcomes;
  std::vector<review_row> reviews;  // reviews (any status) with the member among the candidates
};

class care_db {
 public:
  /// Opens (creating the care tables when new) the member database file. Throws
  /// std::runtime_error on failure.
  static std::unique_ptr<care_db> open(const std::filesystem::path& file);
  virtual ~care_db() = default;

  /// Loads visits, labs, links, assessments and admission alerts into a fresh engine (at start).
  virtual void load_into(care_engine& engine) = 0;
  /// Links written since the last call (by this process or `carebridge members link`), for a
  /// running gateway to pick up manual links. The first call returns none (load_into read them).
  virtual std::vector<patient_link> new_links() = 0;

  /// Writes what one message's events changed and their outcomes, in one transaction.
  struct event_write {
    int seq = 0;
    const care_outcome* outcome = nullptr;
    const care_changes* changes = nullptr;
  };
  /// Adds to the open transaction (beginning one when none is open).
  virtual void write(std::int64_t message_id, std::span<const event_write> events) = 0;
  /// Commits the open transaction, if any. On failure the group is rolled back and the exception
  /// thrown: what it held is replayed from the message store at the next start.
  virtual void commit() = 0;
  /// Messages written since the open transaction began (0: none open).
  virtual std::size_t uncommitted() const noexcept = 0;
  /// The highest message id of a committed write (0 when none).
  virtual std::int64_t last_message_id() = 0;

  virtual std::vector<review_row> reviews(std::string_view status, std::size_t limit) = 0;
  /// Links a reviewed patient to a member by hand (rule "manual") and closes its review. False
  /// when the patient has no review.
  virtual bool resolve_review(std::string_view patient_id, std::string_view member_id) = 0;
  virtual bool dismiss_review(std::string_view patient_id) = 0;
  /// The outcomes of one message (audit).
  virtual std::vector<care_outcome> outcomes(std::int64_t message_id) = 0;
  /// The outcomes of every event of one stay (Encounter id), oldest message first, with their
  /// message ids.
  virtual std::vector<std::pair<std::int64_t, care_outcome>> outcomes_for_encounter(
      std::string_view encounter_id) = 0;
  virtual care_counts counts() = 0;
  /// What is known of one member (member_view). Reads the roster tables when they exist.
  virtual member_view member(std::string_view member_id) = 0;
};

}  // namespace carebridge::gateway::care
