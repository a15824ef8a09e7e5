// The audit trail: who accessed which PHI, and which notifications went where — when, and with what
// outcome — in DATA_DIR/audit.db (SQLite, WAL; its own schema, versioned by audit_meta.schema).
//
// Records hold identifiers only: a client id, a role, a physician group id, a network address, a
// resource type and id, the *names* of search parameters (values only where they are ids or codes,
// see audit_event.hpp), an HTTP status, a subscription id with event numbers, an endpoint's origin
// (never its path or query) and a PHI-free detail. Never a name, a birth date or a body.
//
// Lifecycle and threads: open() creates or opens the database and starts the writer thread
// (`cb-audit`). record() may be called from any thread, I/O threads included: it only appends to a
// bounded in-memory queue. The writer takes what is queued every `commit_interval` (or as soon as
// `batch_size` records wait) and writes it in one transaction (group commit). query() and prune()
// run on the caller's thread on their own connection (WAL: they never wait for the writer's
// transaction, and other processes — `carebridge audit` — read and prune beside a running gateway).
// close() (also run by the destructor) writes everything still queued, then stops the writer;
// record() after close() is counted as a drop.
//
// When the queue is full, record() waits up to `max_block` for room (an audit record is worth a
// short stall of one request), and only then drops the record: it is counted in
// carebridge_audit_dropped_total and a warning is logged at most once a minute. A failed write
// (disk full) is logged and retried every second with the same records; meanwhile the queue fills
// and the rule above applies. So records are lost only when the database stays unwritable.
#pragma once

#include "gateway/obs/metrics.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::gateway::audit {

/// One audited event: an answered request under /fhir or /auth, or a notification attempt.
struct audit_record {
  std::int64_t id = 0;       // set by the log (query results); ignored by record()
  std::int64_t time_us = 0;  // Unix µs; 0: the time record() was called
  // Who: the principal's client id, "group" / "sender" / "ops" / "anonymous" (no principal) /
  // "gateway" (what the gateway does by itself: notifications), its physician group, the peer's
  // network address (or the endpoint's host for a notification).
  std::string client_id;
  std::string role = "anonymous";
  std::string group;
  std::string address;
  // What: FHIR AuditEvent.action (C, R, U, D, E) and the interaction: read, vread, search-type,
  // create, update, patch, delete, transaction, batch, an operation ("$status", "$events",
  // "$process-message"), "token", or for notifications "handshake", "heartbeat",
  // "event-notification", "process-message".
  char action = 'E';
  std::string subtype;
  std::string entity_type;  // "Patient", "Subscription"; "" when there is none
  std::string entity_id;
  std::string query;  // a search's parameters, PHI-free ("patient=Patient/p1&status&_count=10")
  // Outcome: the HTTP status (0: no response, e.g. a notification that timed out) and the FHIR
  // AuditEvent.outcome code (0 success, 4 minor failure, 8 serious failure, 12 major failure).
  unsigned status = 0;
  int outcome = 0;
  // Notifications: the subscription (also entity Subscription/{id}), its events first..last (0 when
  // none: handshake, heartbeat) and the endpoint's origin ("https://host:443").
  std::string subscription_id;
  std::int64_t first_event = 0;
  std::int64_t last_event = 0;
  std::string endpoint;
  std::string detail;  // PHI-free: "batch-response", "timeout"…
};

/// What query() selects; empty / nullopt fields do not filter. Rows come oldest (lowest id) first.
struct audit_filter {
  std::optional<std::int64_t> since_us;  // time_us >= since
  std::optional<std::int64_t> until_us;  // time_us < until
  std::string client_id;
  std::string group;
  std::string entity_type;
  std::string entity_id;  // with entity_type
  std::string action;     // "R"…
  std::optional<int> outcome;
  std::string subtype;        // "operation" matches every "$…" subtype
  std::int64_t after_id = 0;  // paging: rows with id > after_id
  std::size_t limit = 100;
};

/// FHIR AuditEvent.outcome for an HTTP status: 2xx/3xx 0, 4xx 4, else 8.
int outcome_of_status(unsigned status);
/// "scheme://host:port" of an absolute URL, the scheme's default port when it names none; no user
/// info, path, query or fragment. "" when `url` is not absolute.
std::string origin_of(std::string_view url);
/// Unix µs now.
std::int64_t now_us();

class audit_log {
 public:
  struct options {
    std::size_t queue_capacity = 10'000;
    std::size_t batch_size = 512;  // commit at once when this many wait
    std::chrono::milliseconds commit_interval{50};
    std::chrono::milliseconds max_block{100};  // record() waits this long for room, then drops
    /// Records older than this are deleted by the writer about once an hour (and once at open);
    /// zero: never (prune() by hand).
    std::chrono::hours retention{0};
    bool read_only = false;  // queries only: no writer thread, record() drops, no file created
    obs::registry* metrics = nullptr;  // carebridge_audit_* counters; may be null
  };

  /// Opens (creating when needed, unless read-only) DATA_DIR/audit.db. Throws std::runtime_error
  /// with one clear line (no values) when it cannot.
  static std::unique_ptr<audit_log> open(const std::filesystem::path& data_dir, options o);
  static std::unique_ptr<audit_log> open(const std::filesystem::path& data_dir) {
    return open(data_dir, options{});
  }
  ~audit_log();
  audit_log(const audit_log&) = delete;
  audit_log& operator=(const audit_log&) = delete;

  /// Queues one record; any thread; never blocks longer than options.max_block.
  void record(audit_record r);
  /// Waits until everything recorded before the call is written (or dropped after a failure).
  void flush();
  /// The records the filter selects (at most filter.limit), oldest first. Throws on a failed read.
  std::vector<audit_record> query(const audit_filter& f) const;
  /// One record by id.
  std::optional<audit_record> get(std::int64_t id) const;
  /// Deletes records older than `before_us`; how many.
  std::int64_t prune(std::int64_t before_us);
  /// Writes what is queued and stops the writer. Idempotent.
  void close();

  /// Records dropped so far (queue full, or after close()).
  std::uint64_t dropped() const;

  struct impl;

 private:
  explicit audit_log(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// One delivery attempt of a notification to a physician group's endpoint (adapters/notify).
struct notification_attempt {
  std::string subscription_id;
  std::string group_id;
  /// "handshake", "heartbeat", "event-notification"; "process-message" for a Da Vinci
  /// notification message sent to an endpoint's $process-message
  std::string kind;
  std::int64_t first_event = 0;  // 0 when it carries no events
  std::int64_t last_event = 0;
  bool delivered = false;    // the endpoint answered 2xx
  unsigned http_status = 0;  // 0: no answer (connect failure, TLS, timeout)
  std::string endpoint;      // the endpoint URL: only its origin is recorded
  std::string detail;        // PHI-free ("timeout", "tls-handshake")
};

/// The record of a notification attempt: agent the gateway (role "gateway"), the group and the
/// endpoint's origin, entity Subscription/{id}, action R (DICOM Export: data leaves the gateway),
/// outcome 0 when delivered, else 4 (retried; the subscription errors after repeated failures).
audit_record notification_record(const notification_attempt& a);
/// record(notification_record(a)).
void record_notification(audit_log& log, const notification_attempt& a);

}  // namespace carebridge::gateway::audit
