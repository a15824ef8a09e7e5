// The message store port: where every inbound message is kept, durably, before it is acknowledged.
//
// submit() queues a record for the next group commit and calls `done` once the commit is on disk
// (or has failed), on the store's own writer thread, with the record handed back: callers post back
// to their executor and must not block there. A record whose (MSH-3, MSH-4, MSH-10) matches an
// accepted message already stored is not stored again: `done` gets outcome::duplicate with the
// stored ACK, to send again.
//
// Implementations: sqlite_store (embedded default). A PostgreSQL one can implement the same port
// when several gateway nodes share a store (DESIGN.md, Storage).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace carebridge::gateway::store {

/// What became of a message. pending = accepted and waiting for the pipeline.
enum class message_state : std::uint8_t { pending, processed, rejected, errored };

std::string_view to_string(message_state s) noexcept;
std::optional<message_state> state_from_string(std::string_view s) noexcept;

struct inbound_record {
  std::string sending_application;  // MSH-3.1 \  the duplicate key; an empty control id
  std::string sending_facility;     // MSH-4.1  |  (unparseable input) is never a duplicate
  std::string control_id;           // MSH-10   /
  std::string message_type;         // "ADT^A03"
  std::string sender;               // the configured sender the connection matched, if any
  std::string peer;                 // peer address (and certificate subject) of the connection
  message_state state = message_state::pending;
  std::string reason;               // why rejected or errored; PHI-free
  std::string ack_code;             // "AA", "CR"…; empty when no ACK was sent (MSH-15 NE)
  std::string ack;                  // the ACK sent back, sent again for a duplicate
  std::string raw;                  // the message as received
  std::int64_t received_at_us = 0;  // Unix time, microseconds
};

struct commit_result {
  enum class outcome : std::uint8_t { stored, duplicate, failed };
  outcome what = outcome::failed;
  std::int64_t id = 0;    // the stored row, or the original for a duplicate
  std::string ack;        // duplicate: the ACK stored with the original
  std::string ack_code;   // duplicate: its code
  std::string error;      // failed: internal text for the log (no PHI)
  inbound_record record;  // the record as submitted, handed back (moved, not copied), so that the
                          // caller can pass a stored message on to the pipeline without a read
};

struct stored_message {
  std::int64_t id = 0;
  std::string raw;
  std::string sending_facility;
  std::string control_id;
  std::string message_type;
  std::string sender;
  std::int64_t received_at_us = 0;
};

/// One FHIR resource the pipeline made of a message, to upsert by (type, id).
struct resource_row {
  std::string type;  // "Patient"
  std::string id;    // deterministic, from identifiers
  std::string json;  // the resource, without meta.versionId/lastUpdated (the store sets them)
  /// Written only when the resource does not exist yet: a follow-up Task, which its group updates
  /// afterwards (a message processed again must not reset what the group did with it).
  bool create_only = false;
  /// `json` is a JSON Merge Patch (RFC 7386) of the current version: applied to it when there is
  /// one, nothing written when there is none. A follow-up Task cancelled by a retraction keeps what
  /// its group wrote on it (notes, outputs, when contact was made).
  bool merge = false;
  bool operator==(const resource_row&) const = default;
};

/// One clinical event made of a message.
struct event_row {
  std::string kind;                // "discharge"…
  std::string json;                // mappings::event::to_json()
  std::string patient_resource_id;
  std::string encounter_resource_id;
};

/// One entry of the alert outbox: what a physician group is to be told about one event. The care
/// stage decides it; it is written in the same transaction as the message's settlement, so an
/// alert is never lost between "decided" and "queued". Subscriptions and their delivery read the
/// outbox in order (stored_alert::seq).
struct alert_row {
  std::string kind;        // "alert" (the group's rules want it; a Task was made), "notice" (a
                           // discharge of an attributed member, below the group's rules), or
                           // "retraction" (a cancelled discharge or admission withdraws one)
  std::string event_kind;  // discharge, admission, ed_visit
  std::string group_id;    // roster_groups.id: the only group that may see it
  std::string patient_id, encounter_id;  // resource ids
  std::string risk_assessment_id, task_id;  // resource ids, or empty
  std::string risk_band;   // low, moderate, high, or empty (not scored)
  std::string occurred;    // FHIR dateTime of the event (discharge time…), or empty
  bool operator==(const alert_row&) const = default;
};

/// What the pipeline made of a message, written in the same transaction as its settlement: the
/// resources (upserted; a resource whose JSON is unchanged keeps its version), the clinical
/// events (usually one; a FHIR transaction may carry several) and the alerts. A message processed
/// again replaces its events; its alerts are replaced in place (an unchanged alert keeps its
/// place in the outbox, so it is not delivered twice).
struct processing_result {
  std::vector<resource_row> resources;
  std::vector<event_row> events;
  std::vector<alert_row> alerts;
};

/// An alert as read back from the outbox.
struct stored_alert {
  std::int64_t seq = 0;         // outbox order, from 1
  std::int64_t message_id = 0;  // the message that made it
  std::int64_t created_us = 0;  // when it was first queued
  alert_row alert;
};

/// A stored resource as read back.
struct stored_resource {
  std::string type;
  std::string id;
  std::int64_t version = 0;         // 1, 2, … bumped when the JSON changes
  std::int64_t last_updated_us = 0;
  std::int64_t message_id = 0;      // the message that last changed it
  std::string json;
};

/// A stored clinical event.
struct stored_event {
  std::int64_t message_id = 0;
  int seq = 0;  // the event's position among its message's events
  std::string kind;
  std::string patient_resource_id;
  std::string encounter_resource_id;
  std::string json;
};

/// The stored message a successful commit describes, made of the record it hands back (moved out
/// of `r`): what ingest passes to the pipeline without reading the store again.
inline stored_message take_stored(commit_result& r) {
  inbound_record& kept = r.record;
  stored_message m;
  m.id = r.id;
  m.raw = std::move(kept.raw);
  m.sending_facility = std::move(kept.sending_facility);
  m.control_id = std::move(kept.control_id);
  m.message_type = std::move(kept.message_type);
  m.sender = std::move(kept.sender);
  m.received_at_us = kept.received_at_us;
  return m;
}

struct store_stats {
  std::uint64_t total = 0;
  std::uint64_t accepted = 0;  // pending + processed
  std::uint64_t pending = 0;
  std::uint64_t processed = 0;
  std::uint64_t rejected = 0;
  std::uint64_t errored = 0;
  std::uint64_t duplicates = 0;  // resends answered with the stored ACK
  struct sender_counts {
    std::uint64_t pending = 0, processed = 0, rejected = 0, errored = 0;
  };
  std::map<std::string, sender_counts> by_sender;  // by MSH-4 sending facility
  std::optional<std::int64_t> oldest_pending_us;   // received_at of the oldest pending message
};

class message_store {
 public:
  using commit_handler = std::function<void(commit_result)>;

  virtual ~message_store() = default;

  /// Queues `record` for the next group commit; `done` runs on the writer thread afterwards.
  virtual void submit(inbound_record record, commit_handler done) = 0;
  /// Pending messages with id > after_id, oldest first, at most `limit`.
  virtual std::vector<stored_message> pending(std::int64_t after_id, std::size_t limit) = 0;
  /// Records what the pipeline made of a message (processed, or errored with a PHI-free reason);
  /// group-committed like submit(). `done` (optional) runs on the writer thread afterwards.
  virtual void settle(std::int64_t id, message_state state, std::string reason,
                      std::function<void(bool ok)> done = {}) = 0;
  /// settle(processed) with what the pipeline made of the message, in the same transaction.
  virtual void settle_processed(std::int64_t id, processing_result result,
                                std::function<void(bool ok)> done = {}) = 0;
  /// The current version of a resource, or nullopt. (Reads; any thread.)
  virtual std::optional<stored_resource> read_resource(std::string_view type,
                                                       std::string_view id) = 0;
  /// A client's change to a stored resource (a group updating its Task): written when the current
  /// version is `expected_version` (0: whatever it is). `done` gets the new version, 0 when there
  /// is no such resource, -1 when its version moved on (a conflict), -2 when the write failed.
  virtual void update_resource(std::string type, std::string id, std::string json,
                               std::int64_t expected_version,
                               std::function<void(std::int64_t)> done) {
    (void)type;
    (void)id;
    (void)json;
    (void)expected_version;
    done(-2);
  }
  /// Current resources of `type` whose JSON has `value` at `path` (a SQLite JSON path such as
  /// "$.owner.identifier.value"), by id, at most `limit`.
  virtual std::vector<stored_resource> resources_where(std::string_view type,
                                                       std::string_view path,
                                                       std::string_view value, std::size_t limit) {
    (void)type;
    (void)path;
    (void)value;
    (void)limit;
    return {};
  }
  /// The clinical events of a patient (by Patient resource id), oldest message first.
  virtual std::vector<stored_event> events_for_patient(std::string_view patient_resource_id) = 0;
  /// Committed events of messages after `after_message_id`, by message id and seq, at most
  /// `limit` (the care stage replays what its own database had not committed).
  virtual std::vector<stored_event> events_after(std::int64_t after_message_id, std::size_t limit) {
    (void)after_message_id;
    (void)limit;
    return {};
  }
  /// Outbox entries after `after_seq`, in order, at most `limit`; only `group_id`'s when it is not
  /// empty. (Committed ones; any thread.)
  virtual std::vector<stored_alert> alerts_after(std::int64_t after_seq, std::size_t limit,
                                                 std::string_view group_id = {}) {
    (void)after_seq;
    (void)limit;
    (void)group_id;
    return {};
  }
  /// Whether an outbox entry of `group_id` names the resource (Patient, Encounter,
  /// RiskAssessment or Task by its id): what a physician group may read — its own alerts' resources.
  virtual bool alert_mentions(std::string_view group_id, std::string_view type,
                              std::string_view id) {
    (void)group_id;
    (void)type;
    (void)id;
    return false;
  }
  /// Follow-up of the alerts' Tasks, per physician group (the pay-for-performance measure: high-risk
  /// discharges contacted within 2 business days).
  struct follow_up {
    std::string group_id;
    std::uint64_t tasks = 0;             // follow-up Tasks made
    std::uint64_t high_risk = 0;         // of which urgent (a high-risk discharge)
    std::uint64_t contacted = 0;         // in-progress or completed (contact made)
    std::uint64_t high_risk_in_time = 0; // urgent, contact made on or before the due date
  };
  virtual std::vector<follow_up> follow_up_stats() { return {}; }
  virtual store_stats stats() = 0;
  /// Pending messages: how many, and when the oldest was received (cheap; for /metrics).
  struct backlog_info {
    std::uint64_t pending = 0;
    std::optional<std::int64_t> oldest_us;
  };
  virtual backlog_info backlog() = 0;
  /// False after a commit failed and no later commit has succeeded.
  virtual bool writable() const = 0;
  /// Records waiting for the writer.
  virtual std::size_t queued() const = 0;
  /// Stops accepting, commits everything queued, and stops the writer. Idempotent.
  virtual void close() = 0;

  /// One page of alert_resources(): how many match, and the first of them by id.
  struct resource_page {
    std::size_t total = 0;
    std::vector<stored_resource> resources;
  };
  /// The current resources of `type` ("Task" or "RiskAssessment") that `group_id`'s outbox
  /// entries name (the searches of a physician group: only its own alerts' resources). Only
  /// those of entries about Patient `patient_id` when it is not empty; only those whose status
  /// is one of `statuses` when it is not empty; a Task only while its owner is `group_id`. By id,
  /// at most `limit` (total counts them all). Any other type: nothing. (Reads; any thread.)
  virtual resource_page alert_resources(std::string_view group_id, std::string_view type,
                                        std::string_view patient_id,
                                        const std::vector<std::string>& statuses,
                                        std::size_t limit) {
    (void)group_id;
    (void)type;
    (void)patient_id;
    (void)statuses;
    (void)limit;
    return {};
  }
};

// --- operators' admin: `carebridge store messages` and `carebridge store reprocess` ------------

/// Which messages to list or reprocess. Empty / nullopt fields do not filter.
struct message_filter {
  std::optional<message_state> state;
  std::string sending_facility;          // MSH-4.1, exactly
  std::optional<std::int64_t> since_us;  // received at or after (Unix µs)
  std::optional<std::int64_t> until_us;  // received before
  std::size_t limit = 100;               // rows at most (0: no limit)
};

/// A message as operators see it: where it came from, what became of it — never its body.
struct message_summary {
  std::int64_t id = 0;
  std::int64_t received_at_us = 0;
  std::string sending_application;
  std::string sending_facility;
  std::string message_type;
  std::string control_id;
  std::string sender;
  message_state state = message_state::pending;
  std::string reason;    // PHI-free
  std::string ack_code;
};

/// Messages to set back to pending, by id, or every message a filter selects in the given states
/// (a time range replayed: `carebridge store reprocess --since`).
struct reprocess_request {
  std::vector<std::int64_t> ids;
  /// When `ids` is empty: the messages it selects (its state and limit are ignored), in `states`.
  message_filter errored;
  /// When `ids` is empty: the states taken (empty: errored only). Pending ones are never taken.
  std::vector<message_state> states;
  /// Also processed messages (the stages are idempotent) and rejected ones (never accepted: see
  /// gateway/README.md before using it), by id or in `states`; without it they are left as they
  /// are and reported (skipped by id, refused by state).
  bool force = false;
  /// Choose and count, change nothing (the transaction is rolled back).
  bool dry_run = false;
  /// At most this many of the messages reprocessed are listed in reprocess_result::listed.
  std::size_t list_limit = 0;
};

struct reprocess_result {
  std::uint64_t reprocessed = 0;
  /// Ids asked for and left as they were, with why ("not found", "already pending",
  /// "processed (needs --force)", "rejected (needs --force)").
  std::vector<std::pair<std::int64_t, std::string>> skipped;
  /// Reprocessed (or, dry run, to be), by the state they had.
  std::map<message_state, std::uint64_t> by_state;
  /// Selected by the filter and left as they were because they need `force`, by state.
  std::map<message_state, std::uint64_t> refused;
  /// The first `list_limit` of those reprocessed, oldest first (no bodies).
  std::vector<message_summary> listed;
};

}  // namespace carebridge::gateway::store
