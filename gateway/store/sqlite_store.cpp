#include "gateway/store/sqlite_store.hpp"

#include "gateway/obs/log.hpp"
#include "gateway/store/deferred_priority.hpp"
#include "mappings/fhir/json_patch.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <pthread.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>
#include <variant>

namespace carebridge::gateway::store {

std::string_view to_string(message_state s) noexcept {
  switch (s) {
    case message_state::pending: return "pending";
    case message_state::processed: return "processed";
    case message_state::rejected: return "rejected";
    case message_state::errored: return "errored";
  }
  return "errored";
}

std::optional<message_state> state_from_string(std::string_view s) noexcept {
  for (auto st : {message_state::pending, message_state::processed, message_state::rejected,
                  message_state::errored})
    if (to_string(st) == s) return st;
  return std::nullopt;
}

namespace {

// Version 4. A message becomes durable in the message log (message_log.hpp: the whole record, body
// included, appended with one write and one fdatasync per group commit); SQLite keeps its row —
// without the body, which it finds at body_pos in the log — and is rebuilt from the log after a
// crash, so its commits need no fsync. The small `messages` rows of one group commit share pages,
// and settling a message rewrites a few bytes of a shared page. Only two indexes are kept up per
// message, and settling a message as processed touches neither the duplicate key nor anything but
// its own row and the pending index: the key index covers the rows that hold their key
// (holds_key = 1: accepted, not errored), a column settling as processed leaves alone, and the
// counts by state and facility live in message_counts, updated once per group commit, instead of
// an index.
constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS messages(
  id INTEGER PRIMARY KEY,
  received_at_us INTEGER NOT NULL,
  sending_application TEXT NOT NULL DEFAULT '',
  sending_facility TEXT NOT NULL DEFAULT '',
  control_id TEXT NOT NULL DEFAULT '',
  message_type TEXT NOT NULL DEFAULT '',
  sender TEXT NOT NULL DEFAULT '',
  peer TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL CHECK (state IN ('pending','processed','rejected','errored')),
  reason TEXT NOT NULL DEFAULT '',
  ack_code TEXT NOT NULL DEFAULT '',
  duplicates INTEGER NOT NULL DEFAULT 0,
  settled_at_us INTEGER,
  holds_key INTEGER NOT NULL DEFAULT 0,
  body_pos INTEGER
);
-- Bodies of messages stored before schema 4 (body_pos NULL); newer ones are in the message log.
CREATE TABLE IF NOT EXISTS message_bodies(
  id INTEGER PRIMARY KEY REFERENCES messages(id),
  ack BLOB,
  raw BLOB NOT NULL
);
-- One accepted message per (MSH-3, MSH-4, MSH-10): a resend gets the stored ACK. holds_key is 1
-- for an accepted message with a control id until it is settled as errored.
CREATE UNIQUE INDEX IF NOT EXISTS messages_key
  ON messages(sending_application, sending_facility, control_id) WHERE holds_key = 1;
CREATE INDEX IF NOT EXISTS messages_pending ON messages(id) WHERE state = 'pending';
-- Messages by state and sending facility, and resends by facility (state 'duplicate').
CREATE TABLE IF NOT EXISTS message_counts(
  state TEXT NOT NULL,
  sending_facility TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY(state, sending_facility)
) WITHOUT ROWID;
-- What the pipeline made of the messages: FHIR resources (current version) and clinical events.
CREATE TABLE IF NOT EXISTS resources(
  rid INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  last_updated_us INTEGER NOT NULL,
  message_id INTEGER NOT NULL,
  json BLOB NOT NULL,
  UNIQUE(type, id)
);
-- Events: usually one per message (seq 0); a FHIR transaction may carry several.
CREATE TABLE IF NOT EXISTS events(
  message_id INTEGER NOT NULL REFERENCES messages(id),
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  patient_id TEXT NOT NULL DEFAULT '',
  encounter_id TEXT NOT NULL DEFAULT '',
  json BLOB NOT NULL,
  PRIMARY KEY(message_id, seq)
);
CREATE INDEX IF NOT EXISTS events_patient ON events(patient_id, message_id, seq);
-- The alert outbox (schema 5): what the care stage decided to tell a physician group, written in
-- the same transaction as the message's settlement. seq is the delivery order; (message_id, n)
-- names an alert across reprocessing, so one made again keeps its seq and is not sent twice.
CREATE TABLE IF NOT EXISTS alerts(
  seq INTEGER PRIMARY KEY,
  message_id INTEGER NOT NULL,
  n INTEGER NOT NULL,
  created_us INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('alert','notice','retraction')),
  event_kind TEXT NOT NULL,
  group_id TEXT NOT NULL,
  patient_id TEXT NOT NULL,
  encounter_id TEXT NOT NULL,
  risk_assessment_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  risk_band TEXT NOT NULL,
  occurred TEXT NOT NULL,
  UNIQUE(message_id, n)
);
CREATE INDEX IF NOT EXISTS alerts_group ON alerts(group_id, seq);
-- FHIR Subscriptions (schema 5, subscription_store.hpp): definitions, their numbered events (the
-- event log behind notifications, $status and $events), and the fan-out's place in the outbox.
CREATE TABLE IF NOT EXISTS subscriptions(
  id TEXT PRIMARY KEY,
  group_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('requested','active','error','off')),
  error TEXT NOT NULL DEFAULT '',
  json BLOB NOT NULL,
  events_since_start INTEGER NOT NULL DEFAULT 0,
  delivered_through INTEGER NOT NULL DEFAULT 0,
  start_seq INTEGER NOT NULL,
  created_us INTEGER NOT NULL,
  updated_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subscriptions_group ON subscriptions(group_id);
CREATE TABLE IF NOT EXISTS subscription_events(
  subscription_id TEXT NOT NULL,
  event_number INTEGER NOT NULL,
  alert_seq INTEGER NOT NULL,
  created_us INTEGER NOT NULL,
  PRIMARY KEY(subscription_id, event_number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fan_out(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  through_seq INTEGER NOT NULL
);
)sql";

// From version 1 (bodies in `messages`): move them out, in one transaction.
constexpr const char* migrate_v1 = R"sql(
BEGIN IMMEDIATE;
CREATE TABLE message_bodies(
  id INTEGER PRIMARY KEY REFERENCES messages(id),
  ack BLOB,
  raw BLOB NOT NULL
);
INSERT INTO message_bodies(id, ack, raw) SELECT id, ack, raw FROM messages;
ALTER TABLE messages DROP COLUMN ack;
ALTER TABLE messages DROP COLUMN raw;
PRAGMA user_version = 2;
COMMIT;
)sql";

// From version 2: the key index on holds_key instead of state, counts instead of an index, several
// events per message. (A version 1 file, just migrated, has no events table yet.)
constexpr const char* migrate_v2 = R"sql(
BEGIN IMMEDIATE;
ALTER TABLE messages ADD COLUMN holds_key INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET holds_key = 1 WHERE control_id <> '' AND state IN ('pending','processed');
DROP INDEX IF EXISTS messages_key;
DROP INDEX IF EXISTS messages_state;
CREATE UNIQUE INDEX messages_key
  ON messages(sending_application, sending_facility, control_id) WHERE holds_key = 1;
CREATE TABLE message_counts(
  state TEXT NOT NULL,
  sending_facility TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY(state, sending_facility)
) WITHOUT ROWID;
INSERT INTO message_counts(state, sending_facility, n)
  SELECT state, sending_facility, count(*) FROM messages GROUP BY state, sending_facility;
INSERT INTO message_counts(state, sending_facility, n)
  SELECT 'duplicate', sending_facility, sum(duplicates) FROM messages WHERE duplicates > 0
  GROUP BY sending_facility;
CREATE TABLE IF NOT EXISTS events(message_id INTEGER PRIMARY KEY, kind TEXT NOT NULL,
  patient_id TEXT NOT NULL DEFAULT '', encounter_id TEXT NOT NULL DEFAULT '', json BLOB NOT NULL);
CREATE TABLE events_v3(
  message_id INTEGER NOT NULL REFERENCES messages(id),
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  patient_id TEXT NOT NULL DEFAULT '',
  encounter_id TEXT NOT NULL DEFAULT '',
  json BLOB NOT NULL,
  PRIMARY KEY(message_id, seq)
);
INSERT INTO events_v3(message_id, seq, kind, patient_id, encounter_id, json)
  SELECT message_id, 0, kind, patient_id, encounter_id, json FROM events;
DROP TABLE events;
ALTER TABLE events_v3 RENAME TO events;
PRAGMA user_version = 3;
COMMIT;
)sql";

// From version 3: new messages' bodies are in the message log.
constexpr const char* migrate_v3 = R"sql(
BEGIN IMMEDIATE;
ALTER TABLE messages ADD COLUMN body_pos INTEGER;
PRAGMA user_version = 4;
COMMIT;
)sql";
// Version 5 only adds tables (alerts, subscriptions, subscription_events, fan_out; schema, IF NOT
// EXISTS): nothing to migrate.
constexpr int schema_version = 5;

// Page size of new files: the rows and index entries a commit touches are small and scattered,
// and every page touched is written whole to the WAL and again into the database.
constexpr int new_page_size = 4096;
// Settlements written with a batch of new messages, and in a batch of their own, at most.
constexpr std::size_t updates_with_inserts = 8;
constexpr std::size_t updates_alone = 32;
// WAL size from which the checkpointer copies it back into the database.
constexpr std::int64_t checkpoint_bytes = 16 << 20;

thread_local bool on_indexer_thread = false;  // the store indexer's own thread
// How long the log thread waits for more of a burst at a time (log_loop()).
constexpr auto gather_slice = std::chrono::microseconds(30);
// After this long without new messages, the ACK path counts as idle (deferred_priority.hpp).
constexpr auto ack_path_idle = std::chrono::milliseconds(20);
// The indexer's nice value, relative to the process (like the pipeline's): deferred work; also
// SCHED_IDLE while the ACK path is busy (deferred_priority.hpp).
constexpr int indexer_nice = 10;

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    throw std::runtime_error(std::string(what) + ": " + sqlite3_errmsg(db));
}

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw std::runtime_error(msg);
  }
}

int user_version(sqlite3* db) {
  sqlite3_stmt* q = nullptr;
  check(db, sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, nullptr), "prepare");
  const int v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
  sqlite3_finalize(q);
  return v;
}

// A prepared statement, finalized on scope exit.
// Adds n to the count of a state and facility (count_deltas::apply).
constexpr const char* count_sql =
    "INSERT INTO message_counts(state, sending_facility, n) VALUES(?,?,?) "
    "ON CONFLICT(state, sending_facility) DO UPDATE SET n = n + excluded.n";

class stmt {
 public:
  stmt(sqlite3* db, const char* sql) : db_(db) {
    check(db, sqlite3_prepare_v2(db, sql, -1, &s_, nullptr), "prepare");
  }
  ~stmt() { sqlite3_finalize(s_); }
  stmt(const stmt&) = delete;
  stmt& operator=(const stmt&) = delete;
  sqlite3_stmt* get() const { return s_; }
  void text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void blob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  // Bound without a copy: `v` must outlive the next step().
  void text_view(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void int64(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); }
  int step() { return sqlite3_step(s_); }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  std::string column_text(int i) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, i));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, i))) : std::string();
  }
  std::int64_t column_int(int i) const { return sqlite3_column_int64(s_, i); }
  bool column_null(int i) const { return sqlite3_column_type(s_, i) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

// `patch` (a JSON Merge Patch the gateway made) applied to the stored JSON `current`; "" when
// either does not parse (the stored resource is then left as it is).
std::string merge_json(const std::string& current, const std::string& patch) {
  rapidjson::Document d, p;
  d.Parse<rapidjson::kParseIterativeFlag>(current.data(), current.size());
  p.Parse<rapidjson::kParseIterativeFlag>(patch.data(), patch.size());
  if (d.HasParseError() || p.HasParseError()) return {};
  mappings::fhir::merge_patch(d, p, d.GetAllocator());
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  d.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// A resources row read as (id, version, last_updated_us, message_id, json).
stored_resource resource_of(const stmt& q, std::string_view type) {
  stored_resource r;
  r.type = std::string(type);
  r.id = q.column_text(0);
  r.version = q.column_int(1);
  r.last_updated_us = q.column_int(2);
  r.message_id = q.column_int(3);
  r.json = q.column_text(4);
  return r;
}

sqlite3* open_db(const std::filesystem::path& file, int flags) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + file.string() + ": " + msg);
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

}  // namespace
struct sqlite_store::statements {
  explicit statements(sqlite3* db)
      : ins(db,
            "INSERT INTO messages(id, received_at_us, sending_application, sending_facility, "
            "control_id, message_type, sender, peer, state, reason, ack_code, holds_key, body_pos) "
            "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)"),
        bump(db, "UPDATE messages SET duplicates = duplicates + 1 WHERE id=?"),
        get(db,
            "SELECT state, sending_facility, settled_at_us IS NOT NULL FROM messages WHERE id=?"),
        // Two forms, so that settling as processed does not name holds_key: SQLite then leaves
        // the key index alone.
        upd_keep(db, "UPDATE messages SET state=?, reason=?, settled_at_us=? WHERE id=?"),
        upd_release(db,
                    "UPDATE messages SET state=?, reason=?, settled_at_us=?, holds_key=0 "
                    "WHERE id=?"),
        count(db, count_sql),
        resource(db,
                 "INSERT INTO resources(type, id, version, last_updated_us, message_id, json) "
                 "VALUES(?,?,1,?,?,?) ON CONFLICT(type, id) DO UPDATE SET "
                 "version = version + 1, last_updated_us = excluded.last_updated_us, "
                 "message_id = excluded.message_id, json = excluded.json "
                 "WHERE json <> excluded.json"),
        resource_new(db,
                     "INSERT INTO resources(type, id, version, last_updated_us, message_id, json) "
                     "VALUES(?,?,1,?,?,?) ON CONFLICT(type, id) DO NOTHING"),
        resource_json(db, "SELECT json FROM resources WHERE type=? AND id=?"),
        drop_events(db, "DELETE FROM events WHERE message_id=?"),
        event(db,
              "INSERT INTO events(message_id, seq, kind, patient_id, encounter_id, json) "
              "VALUES(?,?,?,?,?,?)"),
        alert(db,
              "INSERT INTO alerts(message_id, n, created_us, kind, event_kind, group_id, "
              "patient_id, encounter_id, risk_assessment_id, task_id, risk_band, occurred) "
              "VALUES(?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(message_id, n) DO UPDATE SET "
              "kind = excluded.kind, event_kind = excluded.event_kind, "
              "group_id = excluded.group_id, patient_id = excluded.patient_id, "
              "encounter_id = excluded.encounter_id, "
              "risk_assessment_id = excluded.risk_assessment_id, task_id = excluded.task_id, "
              "risk_band = excluded.risk_band, occurred = excluded.occurred"),
        drop_alerts(db, "DELETE FROM alerts WHERE message_id=? AND n >= ?"),
        begin(db, "BEGIN IMMEDIATE"),
        commit(db, "COMMIT") {}
  stmt ins, bump, get, upd_keep, upd_release, count, resource, resource_new, resource_json,
      drop_events, event, alert, drop_alerts, begin, commit;
  std::vector<stmt*> all() {
    return {&ins,          &bump,          &get,        &upd_keep, &upd_release, &count,
            &resource,     &resource_new,  &resource_json, &drop_events, &event, &alert,
            &drop_alerts,  &begin,         &commit};
  }
};

// Changes to message_counts made by one batch, applied once at its end.
class sqlite_store::count_deltas {
 public:
  void add(std::string_view state, std::string_view facility, std::int64_t n) {
    for (auto& d : deltas_)
      if (d.state == state && d.facility == facility) {
        d.n += n;
        return;
      }
    deltas_.push_back({std::string(state), std::string(facility), n});
  }
  void apply(sqlite3* db, stmt& count) const {
    for (const auto& d : deltas_) {
      if (d.n == 0) continue;
      count.text(1, d.state);
      count.text(2, d.facility);
      count.int64(3, d.n);
      check(db, count.step(), "count");
      count.reset();
    }
  }

  void clear() { deltas_.clear(); }

 private:
  struct delta {
    std::string state, facility;
    std::int64_t n;
  };
  std::vector<delta> deltas_;
};

namespace {

// Whether a message in this state still holds its duplicate key (if it had one).
bool keeps_key(message_state s) {
  return s == message_state::pending || s == message_state::processed;
}

bool holds_key(const inbound_record& r) {
  return r.state == message_state::pending && !r.control_id.empty();
}

void bind_row(stmt& q, const inbound_record& r, std::int64_t body_pos, int first) {
  q.int64(first, r.received_at_us);
  q.text(first + 1, r.sending_application);
  q.text(first + 2, r.sending_facility);
  q.text(first + 3, r.control_id);
  q.text(first + 4, r.message_type);
  q.text(first + 5, r.sender);
  q.text(first + 6, r.peer);
  q.text(first + 7, to_string(r.state));
  q.text(first + 8, r.reason);
  q.text(first + 9, r.ack_code);
  q.int64(first + 10, holds_key(r) ? 1 : 0);
  q.int64(first + 11, body_pos);
}

}  // namespace

namespace {
std::int64_t max_logged_id(sqlite3* db) {
  stmt q(db, "SELECT coalesce(max(id), 0) FROM messages WHERE body_pos IS NOT NULL");
  return q.step() == SQLITE_ROW ? q.column_int(0) : 0;
}
}  // namespace

namespace {

// Hash of a duplicate key (MSH-3, MSH-4, MSH-10) for the log thread's index (FNV-1a, 64 bits).
std::uint64_t key_hash(std::string_view app, std::string_view facility, std::string_view control) {
  std::uint64_t h = 14695981039346656037ull;
  for (const std::string_view part : {app, facility, control}) {
    for (const char c : part) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    h ^= 0x1f;  // a separator, so that ("AB", "C") and ("A", "BC") differ
    h *= 1099511628211ull;
  }
  return h;
}

bool same_key(const inbound_record& r, std::string_view app, std::string_view facility,
              std::string_view control) {
  return r.sending_application == app && r.sending_facility == facility &&
         r.control_id == control;
}

}  // namespace

std::unique_ptr<sqlite_store> sqlite_store::open(const std::filesystem::path& data_dir,
                                                 options opts) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) throw std::runtime_error("cannot create data directory " + data_dir.string() + ": " + ec.message());
  const auto file = data_dir / "carebridge.db";
  std::unique_ptr<sqlite_store> s(new sqlite_store());
  s->opts_ = opts;
  s->log_ = message_log::open(data_dir / "message-log", true);
  s->wdb_ = open_db(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  exec(s->wdb_, ("PRAGMA page_size=" + std::to_string(new_page_size)).c_str());  // new files only
  exec(s->wdb_, "PRAGMA journal_mode=WAL");
  // NORMAL: a commit writes the WAL without an fsync (the log is the durable point, and SQLite is
  // rebuilt from it); a checkpoint syncs the WAL, then the database, so the file stays consistent.
  exec(s->wdb_, "PRAGMA synchronous=NORMAL");
  exec(s->wdb_, "PRAGMA foreign_keys=ON");
  exec(s->wdb_, "PRAGMA cache_size=-16384");  // KiB: the index pages a commit touches stay cached
  exec(s->wdb_, "PRAGMA journal_size_limit=67108864");
  const int version = user_version(s->wdb_);
  if (version > schema_version)
    throw std::runtime_error(file.string() + " was written by a newer CareBridge (schema " +
                             std::to_string(version) + ")");
  if (version == 1) exec(s->wdb_, migrate_v1);
  if (version >= 1 && version <= 2) exec(s->wdb_, migrate_v2);
  if (version >= 1 && version <= 3) exec(s->wdb_, migrate_v3);
  exec(s->wdb_, schema);
  exec(s->wdb_, ("PRAGMA user_version = " + std::to_string(schema_version)).c_str());
  s->recover();
  {
    stmt q(s->wdb_, "SELECT coalesce(max(id), 0) FROM messages");
    if (q.step() == SQLITE_ROW) s->durable_id_ = q.column_int(0);
    s->next_id_ = s->durable_id_ + 1;
    stmt ps(s->wdb_, "PRAGMA page_size");
    const std::int64_t page = ps.step() == SQLITE_ROW ? ps.column_int(0) : 4096;
    s->checkpoint_pages_ = static_cast<int>(checkpoint_bytes / std::max<std::int64_t>(page, 512));
  }
  // SQLite now holds every record of the log: the indexer follows it from its end.
  s->index_pos_ = s->committed_pos_ = s->log_->next_position();
  s->log_end_ = s->index_pos_;
  s->committed_pos_shared_ = s->index_pos_;
  // Checkpoints run on their own thread and connection (PASSIVE: they never block the indexer), so
  // copying the WAL back into the database is not on the path of any ACK.
  exec(s->wdb_, "PRAGMA wal_autocheckpoint=0");
  sqlite3_wal_hook(s->wdb_, &sqlite_store::on_wal_commit, s.get());
  s->cdb_ = open_db(file, SQLITE_OPEN_READWRITE);
  exec(s->cdb_, "PRAGMA synchronous=NORMAL");  // a checkpoint syncs the WAL, then the database
  s->rdb_ = open_db(file, SQLITE_OPEN_READONLY);
  s->ldb_ = open_db(file, SQLITE_OPEN_READONLY);
  s->st_ = std::make_unique<statements>(s->wdb_);
  s->lst_ = std::make_unique<lookup_statements>(s->ldb_);
  s->indexing_ = true;
  s->logger_ = std::thread([p = s.get()] {
    pthread_setname_np(pthread_self(), "cb-store-log");
    p->log_loop();
  });
  s->indexer_ = std::thread([p = s.get()] {
    pthread_setname_np(pthread_self(), "cb-store-index");
    on_indexer_thread = true;
    deferred_priority::enroll(indexer_nice);
    p->index_loop();
    deferred_priority::leave();
  });
  if (opts.spin_during_sync && opts.fsync) {
    s->spinner_ = std::thread([p = s.get()] {
      pthread_setname_np(pthread_self(), "cb-store-spin");
      const sched_param none{};
      // Only ever SCHED_IDLE: it must never take the CPU from anything.
      if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &none) == 0) p->spin_loop();
    });
  }
  s->checkpointer_ = std::thread([p = s.get()] {
    pthread_setname_np(pthread_self(), "cb-checkpoint");
    // Its writes (checkpoints, zeros ahead of the log) must not make the log's fdatasync wait in
    // the disk queue: idle I/O class (the block layer still serves it within seconds).
    constexpr int ioprio_class_idle = 3, ioprio_class_shift = 13, ioprio_who_process = 1;
    syscall(SYS_ioprio_set, ioprio_who_process, 0, ioprio_class_idle << ioprio_class_shift);
    // Nor take the CPU from the ACK path (its zero-filling runs in the log's fsync waits).
    deferred_priority::enroll(0);
    p->checkpoint_loop();
    deferred_priority::leave();
  });
  if (s->log_->wants_preallocation()) s->want_preallocation();
  return s;
}

std::unique_ptr<sqlite_store> sqlite_store::open_read_only(const std::filesystem::path& data_dir) {
  const auto file = data_dir / "carebridge.db";
  if (!std::filesystem::exists(file))
    throw std::runtime_error("no store in " + data_dir.string() + " (carebridge.db not found)");
  std::unique_ptr<sqlite_store> s(new sqlite_store());
  s->log_ = message_log::open(data_dir / "message-log", false);
  s->rdb_ = open_db(file, SQLITE_OPEN_READONLY);
  s->counts_table_ = user_version(s->rdb_) >= 3;
  s->durable_id_ = std::numeric_limits<std::int64_t>::max();
  s->closing_ = true;
  s->writable_ = false;
  return s;
}

sqlite_store::sqlite_store() = default;

void sqlite_store::want_preallocation() {
  {
    std::lock_guard lock(ckpt_mu_);
    if (prealloc_wanted_) return;
    prealloc_wanted_ = true;
  }
  ckpt_cv_.notify_one();
}

sqlite_store::~sqlite_store() {
  close();
  // Finalized first: sqlite3_close() leaves a connection with live statements open.
  st_.reset();
  lst_.reset();
  sqlite3_close(rdb_);
  sqlite3_close(ldb_);
  sqlite3_close(cdb_);
  sqlite3_close(wdb_);
}

int sqlite_store::on_wal_commit(void* self, sqlite3*, const char*, int pages) {
  auto* s = static_cast<sqlite_store*>(self);
  // Once a pass has copied the WAL back, another one before the indexer restarts the WAL would
  // only copy the last few frames again (and sync twice): the indexer finishes instead.
  if (pages >= s->checkpoint_pages_ && !s->ckpt_caught_up_.load(std::memory_order_acquire)) {
    {
      std::lock_guard lock(s->ckpt_mu_);
      if (s->ckpt_wanted_) return SQLITE_OK;
      s->ckpt_wanted_ = true;
    }
    s->ckpt_cv_.notify_one();
  }
  return SQLITE_OK;
}

void sqlite_store::spin_loop() {
  const auto now_ns = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  constexpr std::int64_t linger_ns = 2'000'000;
  while (true) {
    {
      std::unique_lock lock(spin_mu_);
      spinning_.store(false, std::memory_order_relaxed);
      spin_cv_.wait(lock, [&] {
        return spin_stop_ || now_ns() - last_sync_ns_.load(std::memory_order_relaxed) < linger_ns;
      });
      if (spin_stop_) return;
      spinning_.store(true, std::memory_order_relaxed);
    }
    while (now_ns() - last_sync_ns_.load(std::memory_order_relaxed) < linger_ns) {
      for (int i = 0; i < 64; ++i) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
    }
  }
}

void sqlite_store::checkpoint_loop() {
  while (true) {
    {
      std::unique_lock lock(ckpt_mu_);
      ckpt_cv_.wait(lock, [&] { return ckpt_wanted_ || prealloc_wanted_ || ckpt_stop_; });
      if (ckpt_stop_) return;
      if (prealloc_wanted_) {
        prealloc_wanted_ = false;
        lock.unlock();
        log_->preallocate();
        continue;
      }
      ckpt_wanted_ = false;
    }
    int log_pages = 0;
    int done_pages = 0;
    const int rc = sqlite3_wal_checkpoint_v2(cdb_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_pages,
                                             &done_pages);
    if (rc == SQLITE_OK && done_pages == log_pages) ckpt_caught_up_ = true;
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      std::lock_guard lock(mu_);
      ++checkpoint_failures_;
    }
  }
}

void sqlite_store::submit(inbound_record record, commit_handler done) {
  deferred_priority::connection_thread();
  {
    std::unique_lock lock(mu_);
    if (!closing_) {
      // The log thread only waits when it has nothing queued: wake it only then.
      const bool wake = queue_.empty();
      queue_.push_back(insert_op{std::move(record), std::move(done)});
      lock.unlock();
      if (wake) log_cv_.notify_one();
      return;
    }
  }
  commit_result r;
  r.what = commit_result::outcome::failed;
  r.error = "store is closed";
  r.record = std::move(record);
  done(std::move(r));
}

void sqlite_store::settle(std::int64_t id, message_state state, std::string reason,
                          std::function<void(bool)> done) {
  {
    std::lock_guard lock(mu_);
    if (!closing_) {
      updates_.push_back(update_op{id, state, std::move(reason), std::move(done), std::nullopt, {}});
      ++ops_queued_;
      index_cv_.notify_one();
      return;
    }
  }
  if (done) done(false);
}

void sqlite_store::settle_processed(std::int64_t id, processing_result result,
                                    std::function<void(bool)> done) {
  {
    std::lock_guard lock(mu_);
    if (!closing_) {
      const bool urgent = !result.alerts.empty();
      updates_.push_back(update_op{id, message_state::processed, {}, std::move(done),
                                   std::move(result), {}, urgent});
      ++ops_queued_;
      index_cv_.notify_one();
      return;
    }
  }
  if (done) done(false);
}

std::optional<stored_resource> sqlite_store::read_resource(std::string_view type,
                                                           std::string_view id) {
  std::lock_guard lock(read_mu_);
  stmt q(rdb_,
         "SELECT version, last_updated_us, message_id, json FROM resources WHERE type=? AND id=?");
  q.text(1, type);
  q.text(2, id);
  const int rc = q.step();
  if (rc != SQLITE_ROW) {
    check(rdb_, rc, "read resource");
    return std::nullopt;
  }
  stored_resource r;
  r.type = std::string(type);
  r.id = std::string(id);
  r.version = q.column_int(0);
  r.last_updated_us = q.column_int(1);
  r.message_id = q.column_int(2);
  r.json = q.column_text(3);
  return r;
}

namespace {

// Rows of (message_id, seq, kind, patient_id, encounter_id, json) as stored events.
std::vector<stored_event> read_events(sqlite3* db, stmt& q) {
  std::vector<stored_event> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    stored_event e;
    e.message_id = q.column_int(0);
    e.seq = static_cast<int>(q.column_int(1));
    e.kind = q.column_text(2);
    e.patient_resource_id = q.column_text(3);
    e.encounter_resource_id = q.column_text(4);
    e.json = q.column_text(5);
    out.push_back(std::move(e));
  }
  check(db, rc, "read events");
  return out;
}

}  // namespace

std::vector<stored_event> sqlite_store::events_for_patient(std::string_view patient_resource_id) {
  std::lock_guard lock(read_mu_);
  stmt q(rdb_,
         "SELECT message_id, seq, kind, patient_id, encounter_id, json FROM events "
         "WHERE patient_id=? ORDER BY message_id, seq");
  q.text(1, patient_resource_id);
  return read_events(rdb_, q);
}

std::vector<stored_event> sqlite_store::events_after(std::int64_t after_message_id,
                                                    std::size_t limit) {
  std::lock_guard lock(read_mu_);
  stmt q(rdb_,
         "SELECT message_id, seq, kind, patient_id, encounter_id, json FROM events "
         "WHERE message_id > ? ORDER BY message_id, seq LIMIT ?");
  q.int64(1, after_message_id);
  q.int64(2, static_cast<std::int64_t>(limit));
  return read_events(rdb_, q);
}


// --- the log thread: the ACK path ---------------------------------------------------------------

struct sqlite_store::lookup_statements {
  explicit lookup_statements(sqlite3* db)
      : dup(db,
            "SELECT m.id, b.ack, m.ack_code, m.body_pos FROM messages m "
            "LEFT JOIN message_bodies b ON b.id = m.id "
            "WHERE m.sending_application=? AND m.sending_facility=? AND m.control_id=? AND "
            "m.holds_key = 1"),
        begin(db, "BEGIN"),
        commit(db, "COMMIT") {}
  stmt dup, begin, commit;
};

void sqlite_store::log_loop() {
  // Timed waits below are tens of microseconds: the default slack (50 us) would double them.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  std::vector<insert_op> batch;
  std::size_t last_batch = 0;
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (queue_.empty() && !closing_) {
        // Deferred work runs under SCHED_IDLE while this path is busy; after a moment without
        // anything to do, it gets its normal priority back (deferred_priority.hpp).
        if (!log_cv_.wait_for(lock, ack_path_idle, [&] { return closing_ || !queue_.empty(); })) {
          deferred_priority::ack_path(false);
          log_cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
        }
      }
      deferred_priority::ack_path(true);
      // The first message of a burst wakes this thread, which (on the same core) takes the CPU
      // from the connections still reading the rest: the burst would go out in two fsyncs, each
      // half full. While the queue is smaller than the last batch and still growing, give them
      // a moment (gather_slice at a time): one fsync for the burst.
      while (queue_.size() < last_batch && !closing_) {
        const std::size_t before = queue_.size();
        log_cv_.wait_for(lock, gather_slice,
                         [&] { return closing_ || queue_.size() >= last_batch; });
        if (queue_.size() == before) break;  // nothing more came
      }
      if (queue_.empty()) {  // closing, and everything queued is written
        log_done_ = true;
        lock.unlock();
        deferred_priority::ack_path(false);  // the indexer finishes what is left
        index_cv_.notify_one();
        return;
      }
      if (queue_.size() <= opts_.max_batch) {
        batch.swap(queue_);  // the queue takes the batch's (empty) storage: no reallocation
      } else {
        const auto n = static_cast<std::ptrdiff_t>(opts_.max_batch);
        std::move(queue_.begin(), queue_.begin() + n, std::back_inserter(batch));
        queue_.erase(queue_.begin(), queue_.begin() + n);
      }
    }
    last_batch = batch.size();
    log_batch(batch);
    batch.clear();
  }
}

// The original of a resend, when there is one: in the keys logged but not yet in SQLite (this
// batch included), then in SQLite.
std::optional<commit_result> sqlite_store::find_duplicate(
    const inbound_record& r, std::uint64_t hash, const std::vector<insert_op>& batch,
    const std::vector<std::pair<std::int64_t, std::size_t>>& logged, bool& read_open) {
  commit_result out;
  out.what = commit_result::outcome::duplicate;
  if (const auto it = recent_.find(hash); it != recent_.end()) {
    const recent_key k = it->second;
    if (k.pos >= log_end_.load(std::memory_order_relaxed)) {
      // In this very batch, not yet in the log.
      for (const auto& [pos, i] : logged) {
        if (pos != k.pos) continue;
        const inbound_record& o = batch[i].record;
        if (same_key(o, r.sending_application, r.sending_facility, r.control_id)) {
          out.id = k.id;
          out.ack = o.ack;
          out.ack_code = o.ack_code;
          return out;
        }
        break;
      }
    } else {
      std::string why;
      auto o = log_->read(k.pos, &why);
      if (!o) throw std::runtime_error("cannot read the stored ACK: " + why);
      if (same_key(o->record, r.sending_application, r.sending_facility, r.control_id)) {
        out.id = k.id;
        out.ack = std::move(o->record.ack);
        out.ack_code = std::move(o->record.ack_code);
        return out;
      }
    }
    // Another key with the same hash: SQLite decides.
  }
  if (!read_open) {
    check(ldb_, lst_->begin.step(), "begin read");
    lst_->begin.reset();
    read_open = true;
  }
  stmt& dup = lst_->dup;
  dup.text_view(1, r.sending_application);
  dup.text_view(2, r.sending_facility);
  dup.text_view(3, r.control_id);
  const int rc = dup.step();
  if (rc != SQLITE_ROW) {
    dup.reset();
    check(ldb_, rc, "look up a duplicate key");
    return std::nullopt;
  }
  out.id = dup.column_int(0);
  out.ack_code = dup.column_text(2);
  const bool in_log = !dup.column_null(3);
  const std::int64_t at = dup.column_int(3);
  if (!in_log) out.ack = dup.column_text(1);  // stored before schema 4
  dup.reset();
  if (in_log) {
    std::string why;
    auto original = log_->read(at, &why);
    if (!original) throw std::runtime_error("cannot read the stored ACK: " + why);
    out.ack = std::move(original->record.ack);
  }
  return out;
}

void sqlite_store::log_batch(std::vector<insert_op>& batch) {
  // The keys SQLite has committed leave the in-memory index (a read below sees them there). When
  // the index is full, wait for the indexer.
  auto prune = [this] {
    const std::int64_t durable = durable_id_.load(std::memory_order_acquire);
    while (!recent_order_.empty() && recent_order_.front().first <= durable) {
      const auto it = recent_.find(recent_order_.front().second);
      if (it != recent_.end() && it->second.id == recent_order_.front().first) recent_.erase(it);
      recent_order_.pop_front();
    }
    return durable;
  };
  std::int64_t durable = prune();
  while (recent_order_.size() >= opts_.max_unindexed) {
    {
      std::unique_lock lock(mu_);
      if (closing_) break;  // what is queued still goes to the log; the next open indexes it
      deferred_priority::ack_path(false);  // the indexer must catch up: give it the CPU
      log_waits_for_index_ = true;
      index_cv_.notify_one();
      log_cv_.wait_for(lock, std::chrono::milliseconds(100), [&] {
        return closing_ || durable_id_.load(std::memory_order_acquire) != durable;
      });
    }
    durable = prune();
  }

  std::vector<commit_result> results(batch.size());
  std::vector<std::pair<std::int64_t, std::size_t>> logged;  // (position, index in batch)
  logged.reserve(batch.size());
  std::vector<duplicate_op> dups;
  const std::int64_t first_id = next_id_;
  const std::size_t recent_before = recent_order_.size();
  std::uint64_t accepted = 0;
  std::int64_t newest_us = 0;
  bool read_open = false;
  bool ok = true;
  bool synced = false;
  std::string failure;
  try {
    log_->rotate_if_full();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const inbound_record& r = batch[i].record;
      commit_result& out = results[i];
      std::uint64_t hash = 0;
      if (holds_key(r)) {
        hash = key_hash(r.sending_application, r.sending_facility, r.control_id);
        if (auto d = find_duplicate(r, hash, batch, logged, read_open)) {
          out = std::move(*d);
          dups.push_back({out.id, r.sending_facility});
          continue;
        }
      }
      out.what = commit_result::outcome::stored;
      out.id = next_id_++;
      const std::int64_t pos = log_->append(out.id, r);
      logged.emplace_back(pos, i);
      if (r.state == message_state::pending) {
        ++accepted;
        newest_us = r.received_at_us;
      }
      // A key already there with another one's hash keeps its place (SQLite decides for both
      // once they are indexed; a 64-bit collision).
      if (holds_key(r) && recent_.emplace(hash, recent_key{out.id, pos}).second)
        recent_order_.emplace_back(out.id, hash);
    }
    if (read_open) {
      read_open = false;
      check(ldb_, lst_->commit.step(), "end read");
      lst_->commit.reset();
    }
    // The durable point: the batch's records in the log (one write, one fdatasync).
    if (!logged.empty()) {
      if (spinner_.joinable()) {
        last_sync_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::steady_clock::now().time_since_epoch())
                                .count(),
                            std::memory_order_relaxed);
        if (!spinning_.load(std::memory_order_relaxed)) {
          { std::lock_guard spin_lock(spin_mu_); }
          spin_cv_.notify_one();
        }
      }
      std::error_code ec;
      const int fault =
          opts_.fsync && opts_.sync_fault_for_tests ? opts_.sync_fault_for_tests() : 0;
      if (!log_->flush(opts_.fsync, ec, fault))
        throw std::runtime_error("cannot write the message log: " + ec.message());
      synced = opts_.fsync;
      if (log_->wants_preallocation()) want_preallocation();
    }
  } catch (const std::exception& e) {
    ok = false;
    failure = e.what();
    log_->discard();
    if (read_open) {
      lst_->dup.reset();
      sqlite3_exec(ldb_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    // Nothing of this batch counts: its ids and keys go back.
    while (recent_order_.size() > recent_before) {
      const auto it = recent_.find(recent_order_.back().second);
      if (it != recent_.end() && it->second.id == recent_order_.back().first) recent_.erase(it);
      recent_order_.pop_back();
    }
    next_id_ = first_id;
  }
  if (ok) {
    log_end_.store(log_->next_position(), std::memory_order_release);
    logged_records_.fetch_add(logged.size(), std::memory_order_relaxed);
    if (accepted != 0) {
      newest_logged_us_.store(newest_us, std::memory_order_relaxed);
      logged_accepted_.fetch_add(accepted, std::memory_order_release);
    }
  }
  {
    std::lock_guard lock(mu_);
    writable_ = ok;
    if (synced) ++syncs_;
    if (ok)
      for (auto& d : dups) duplicates_.push_back(std::move(d));
    if (ok) ops_queued_ += dups.size();
  }
  if (ok && (!logged.empty() || !dups.empty())) index_cv_.notify_one();
  // Durable in the log: answered now. (The indexer gives them their rows later.)
  for (std::size_t i = 0; i < batch.size(); ++i) {
    commit_result& out = results[i];
    if (!ok) {
      out = commit_result{};
      out.what = commit_result::outcome::failed;
      out.error = failure;
    }
    out.record = std::move(batch[i].record);
    batch[i].done(std::move(out));
  }
}


// --- the indexer thread: SQLite, off the ACK path ------------------------------------------------

void sqlite_store::begin_txn() {
  if (txn_open_) return;
  if (ckpt_caught_up_.load(std::memory_order_acquire)) {
    // The checkpointer has copied the WAL back, but the WAL only starts over (rather than grow)
    // when a transaction begins with nothing left to copy, and this thread keeps adding frames.
    // Copy the few frames added since, here: the next BEGIN then restarts the WAL.
    sqlite3_wal_checkpoint_v2(wdb_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    ckpt_caught_up_.store(false, std::memory_order_release);
  }
  check(wdb_, st_->begin.step(), "begin");
  st_->begin.reset();
  txn_open_ = true;
  txn_started_ = std::chrono::steady_clock::now();
  txn_ops_ = 0;
  std::lock_guard lock(mu_);
  txn_open_shared_ = true;
}

// Rows for the log's records from index_pos_ up to `to`, until the transaction is full.
void sqlite_store::index_records(std::int64_t to, count_deltas& counts) {
  stmt& ins = st_->ins;
  index_pos_ = log_->read_range(
      index_pos_, to,
      [&](std::int64_t pos, const record_view& v) {
        const bool key = v.state == message_state::pending && !v.control_id.empty();
        auto bind = [&](bool holds) {
          ins.int64(1, v.id);
          ins.int64(2, v.received_at_us);
          ins.text_view(3, v.sending_application);
          ins.text_view(4, v.sending_facility);
          ins.text_view(5, v.control_id);
          ins.text_view(6, v.message_type);
          ins.text_view(7, v.sender);
          ins.text_view(8, v.peer);
          ins.text_view(9, to_string(v.state));
          ins.text_view(10, v.reason);
          ins.text_view(11, v.ack_code);
          ins.int64(12, holds ? 1 : 0);
          ins.int64(13, pos);
        };
        bind(key);
        int rc = ins.step();
        ins.reset();
        if (rc == SQLITE_CONSTRAINT && key) {
          // Another row holds the key (the log thread saw it released, by an errored settlement
          // this transaction has not committed…): keep the row, without the key.
          obs::warn("store.key_held", {{"id", v.id}});
          bind(false);
          rc = ins.step();
          ins.reset();
        }
        check(wdb_, rc, "index a message");
        counts.add(to_string(v.state), v.sending_facility, 1);
        txn_max_id_ = v.id;
        if (v.state == message_state::pending) {
          ++txn_accepted_;
          txn_newest_us_ = v.received_at_us;
        }
        ++txn_records_;
        return ++txn_ops_ < txn_max_ops;
      },
      read_buf_);
}

void sqlite_store::index_loop() {
  std::deque<update_op> updates;
  std::vector<duplicate_op> dups;
  count_deltas counts;
  std::uint64_t ops_taken_now = 0;  // ops_taken_ as of this thread's last swap
  while (true) {
    bool commit_now = false;
    bool finish = false;
    std::int64_t target = 0;
    {
      std::unique_lock lock(mu_);
      auto ready = [&] {
        return log_done_ || want_commit_ || !updates_.empty() || !duplicates_.empty() ||
               log_end_.load(std::memory_order_acquire) != index_pos_;
      };
      if (txn_open_) {
        // An open transaction commits once there is nothing to do for a moment, when it is old
        // enough (txn_max_age), or when a reader asks (wait_for_index()).
        auto due = std::min(txn_started_ + txn_max_age,
                            std::chrono::steady_clock::now() + txn_idle);
        if (txn_urgent_since_) due = std::min(due, *txn_urgent_since_ + txn_urgent_age);
        if (!index_cv_.wait_until(lock, due, ready)) commit_now = true;
      } else {
        index_cv_.wait(lock, ready);
      }
      updates.swap(updates_);
      dups.swap(duplicates_);
      ops_taken_ += updates.size() + dups.size();
      ops_taken_now = ops_taken_;
      target = log_end_.load(std::memory_order_acquire);
      finish = log_done_ && updates.empty() && dups.empty() && target == index_pos_;
      if (want_commit_ && !txn_open_ && target == index_pos_ && updates.empty() && dups.empty()) {
        // Nothing to commit: what the reader waits for is committed already.
        want_commit_ = false;
        ++committed_txns_;
        readers_cv_.notify_all();
      }
    }
    if (finish) {
      commit_txn();
      return;
    }
    try {
      while (index_pos_ != target) {
        begin_txn();
        index_records(target, counts);
        if (txn_ops_ >= txn_max_ops) {
          counts.apply(wdb_, st_->count);
          counts.clear();
          commit_txn();
          if (index_pos_ != committed_pos_) break;  // the commit failed
        }
      }
      // Settlements only once their messages have rows (else they fail: the pipeline scans).
      if (index_pos_ == target && (!dups.empty() || !updates.empty())) {
        begin_txn();
        for (const auto& d : dups) {
          stmt& bump = st_->bump;
          bump.int64(1, d.id);
          check(wdb_, bump.step(), "count duplicate");
          bump.reset();
          counts.add("duplicate", d.sending_facility, 1);
        }
        // Their callbacks run once SQLite has committed them (a scan must not find them pending),
        // or with false should the transaction fail.
        for (auto& u : updates)
          if (u.done) txn_settled_.push_back(std::exchange(u.done, nullptr));
        for (const auto& u : updates) {
          if (u.urgent && !txn_urgent_since_) txn_urgent_since_ = std::chrono::steady_clock::now();
          if (u.write)
            u.write(wdb_);
          else
            settle_message(u.id, u.state, u.reason, u.result ? &*u.result : nullptr, counts);
        }
        txn_ops_ += dups.size() + updates.size();
        txn_ops_through_ = ops_taken_now;
      }
      counts.apply(wdb_, st_->count);
    } catch (const std::exception& e) {
      abort_txn(e.what());
    }
    counts.clear();
    if (txn_ops_through_ != ops_taken_now && (!dups.empty() || !updates.empty())) {
      // Not applied (a failure): lost, and not to be waited for.
      std::lock_guard lock(mu_);
      ops_committed_ = std::max(ops_committed_, ops_taken_now);
    }
    dups.clear();
    for (auto& u : updates)
      if (u.done) u.done(false);  // only those a failure left behind
    updates.clear();
    bool reader_waits = false;
    {
      std::lock_guard lock(mu_);
      reader_waits = want_commit_ && index_pos_ >= index_wanted_;
      if (reader_waits) want_commit_ = false;
    }
    const auto now = std::chrono::steady_clock::now();
    if (txn_open_ && (commit_now || reader_waits || txn_ops_ >= txn_max_ops ||
                      now - txn_started_ >= txn_max_age ||
                      (txn_urgent_since_ && now - *txn_urgent_since_ >= txn_urgent_age)))
      commit_txn();
    else if (reader_waits) {
      std::lock_guard lock(mu_);
      ++committed_txns_;
      readers_cv_.notify_all();
    }
  }
}

void sqlite_store::commit_txn() {
  if (!txn_open_) return;
  try {
    check(wdb_, st_->commit.step(), "commit");
    st_->commit.reset();
  } catch (const std::exception& e) {
    abort_txn(e.what());
    return;
  }
  txn_open_ = false;
  txn_urgent_since_.reset();
  committed_pos_ = index_pos_;
  if (txn_max_id_ > durable_id_.load(std::memory_order_relaxed))
    durable_id_.store(txn_max_id_, std::memory_order_release);
  committed_pos_shared_.store(committed_pos_, std::memory_order_release);
  if (txn_accepted_ != 0) {
    committed_newest_us_.store(txn_newest_us_, std::memory_order_relaxed);
    committed_accepted_.fetch_add(txn_accepted_, std::memory_order_release);
  }
  txn_accepted_ = 0;
  std::vector<std::function<void(bool)>> settled;
  settled.swap(txn_settled_);
  bool log_waits = false;
  {
    std::lock_guard lock(mu_);
    ++commits_;
    written_ += txn_records_;
    index_failing_ = false;
    txn_open_shared_ = false;
    ++committed_txns_;
    ops_committed_ = std::max(ops_committed_, txn_ops_through_);
    log_waits = log_waits_for_index_;
    log_waits_for_index_ = false;
  }
  txn_records_ = 0;
  readers_cv_.notify_all();
  if (log_waits) log_cv_.notify_one();
  for (auto& done : settled) done(true);
}

void sqlite_store::abort_txn(const std::string& why) {
  obs::error("store.index_failed", {{"error", why}});
  for (stmt* q : st_->all()) q->reset();
  sqlite3_exec(wdb_, "ROLLBACK", nullptr, nullptr, nullptr);
  txn_open_ = false;
  txn_urgent_since_.reset();
  txn_ops_ = 0;
  // The records of the transaction are read from the log again.
  index_pos_ = committed_pos_;
  txn_max_id_ = durable_id_.load(std::memory_order_relaxed);
  txn_accepted_ = 0;
  txn_records_ = 0;
  std::vector<std::function<void(bool)>> lost;
  lost.swap(txn_settled_);
  {
    std::lock_guard lock(mu_);
    index_failing_ = true;
    txn_open_shared_ = false;
    ++committed_txns_;
    ops_committed_ = std::max(ops_committed_, txn_ops_through_);  // lost: not to be waited for
  }
  readers_cv_.notify_all();
  for (auto& done : lost) done(false);  // the pipeline runs those messages again
  // A failure that persists (a full disk) must not spin.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

void sqlite_store::wait_for_index() {
  if (on_indexer_thread || !indexing_) return;
  std::unique_lock lock(mu_);
  if (log_done_) return;
  const std::int64_t target = log_end_.load(std::memory_order_acquire);
  // Settlements and duplicate counts queued before this call must be committed too.
  const std::uint64_t ops = ops_queued_;
  if (ops_committed_ >= ops && committed_pos_shared_.load(std::memory_order_acquire) >= target)
    return;
  want_commit_ = true;
  index_wanted_ = std::max(index_wanted_, target);
  index_cv_.notify_one();
  readers_cv_.wait_for(lock, std::chrono::seconds(5), [&] {
    return log_done_ ||
           (committed_pos_shared_.load(std::memory_order_acquire) >= target && ops_committed_ >= ops);
  });
}

void sqlite_store::recover() {
  // SQLite commits without an fsync, after the log's: it may lack the last batches the log has
  // (a power cut), or one whose commit a kill interrupted. Insert them again, in order, with the
  // ids they had. Where to start: the record of the last row that has one.
  std::int64_t max_id = 0;
  std::int64_t from = 0;
  {
    stmt q(wdb_, "SELECT coalesce(max(id), 0) FROM messages");
    if (q.step() == SQLITE_ROW) max_id = q.column_int(0);
    stmt p(wdb_,
           "SELECT body_pos FROM messages WHERE body_pos IS NOT NULL ORDER BY id DESC LIMIT 1");
    if (p.step() == SQLITE_ROW) from = p.column_int(0);
  }
  // Every row SQLite has was committed after its record was durable in the log: a row whose
  // record lies past the log's last good record means the log lost acknowledged messages (damage,
  // not a crash). Stop there, and touch nothing.
  if (from != 0 && (from >= log_->next_position() || !log_->read(from))) {
    throw std::runtime_error(
        "the message log does not hold message " + std::to_string(max_logged_id(wdb_)) +
        " that the database has (log damaged or from another store); see message-log/");
  }
  if (log_->torn_bytes() != 0) {
    obs::warn("store.log_torn_tail",
              {{"tail_bytes", log_->torn_bytes()},
               {"detail", "an interrupted write, never acknowledged: cut off"}});
    log_->cut_torn_tail();
  }
  exec(wdb_, "BEGIN IMMEDIATE");
  try {
    stmt ins(wdb_,
             "INSERT INTO messages(id, received_at_us, sending_application, sending_facility, "
             "control_id, message_type, sender, peer, state, reason, ack_code, holds_key, "
             "body_pos) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)");
    stmt count(wdb_, count_sql);
    count_deltas counts;
    log_->scan(from, [&](std::int64_t pos, logged_record&& lr) {
      if (lr.id <= max_id) return;
      ins.int64(1, lr.id);
      bind_row(ins, lr.record, pos, 2);
      check(wdb_, ins.step(), "recover a message from the log");
      ins.reset();
      counts.add(to_string(lr.record.state), lr.record.sending_facility, 1);
      max_id = lr.id;
      ++recovered_;
    });
    counts.apply(wdb_, count);
    exec(wdb_, "COMMIT");
  } catch (...) {
    sqlite3_exec(wdb_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void sqlite_store::settle_message(std::int64_t id, message_state state, const std::string& reason,
                                  const processing_result* result, count_deltas& counts) {
  stmt& get = st_->get;
  get.int64(1, id);
  const int found = get.step();
  check(wdb_, found, "read state");
  bool settled_before = true;
  if (found == SQLITE_ROW) {
    settled_before = get.column_int(2) != 0;
    const auto before = state_from_string(get.column_text(0)).value_or(message_state::errored);
    if (before != state) {
      const std::string facility = get.column_text(1);
      counts.add(to_string(before), facility, -1);
      counts.add(to_string(state), facility, 1);
    }
    get.reset();
    stmt& upd = keeps_key(state) ? st_->upd_keep : st_->upd_release;
    upd.text(1, to_string(state));
    upd.text(2, reason);
    upd.int64(3, now_us());
    upd.int64(4, id);
    check(wdb_, upd.step(), "settle");
    upd.reset();
  } else {
    get.reset();
  }
  if (result == nullptr) return;
  const std::int64_t now = now_us();
  for (const resource_row& r : result->resources) {
    std::string merged;
    if (r.merge) {  // a merge patch of the current version; nothing to patch, nothing written
      stmt& cur = st_->resource_json;
      cur.text(1, r.type);
      cur.text(2, r.id);
      const int rc = cur.step();
      if (rc != SQLITE_ROW) check(wdb_, rc, "read a resource to patch");
      if (rc == SQLITE_ROW) merged = merge_json(cur.column_text(0), r.json);
      cur.reset();
      if (merged.empty()) continue;
    }
    stmt& res = r.create_only ? st_->resource_new : st_->resource;
    res.text(1, r.type);
    res.text(2, r.id);
    res.int64(3, now);
    res.int64(4, id);
    res.blob(5, r.merge ? merged : r.json);
    check(wdb_, res.step(), "upsert resource");
    res.reset();
  }
  // A message processed again replaces its events (one settled for the first time has none).
  if (settled_before) {
    stmt& drop = st_->drop_events;
    drop.int64(1, id);
    check(wdb_, drop.step(), "replace events");
    drop.reset();
  }
  stmt& ev = st_->event;
  std::int64_t seq = 0;
  for (const event_row& e : result->events) {
    ev.int64(1, id);
    ev.int64(2, seq++);
    ev.text(3, e.kind);
    ev.text(4, e.patient_resource_id);
    ev.text(5, e.encounter_resource_id);
    ev.blob(6, e.json);
    check(wdb_, ev.step(), "store event");
    ev.reset();
  }
  // The outbox, in this same transaction: an alert decided is an alert queued.
  stmt& al = st_->alert;
  std::int64_t n = 0;
  for (const alert_row& a : result->alerts) {
    al.int64(1, id);
    al.int64(2, n++);
    al.int64(3, now);
    al.text(4, a.kind);
    al.text(5, a.event_kind);
    al.text(6, a.group_id);
    al.text(7, a.patient_id);
    al.text(8, a.encounter_id);
    al.text(9, a.risk_assessment_id);
    al.text(10, a.task_id);
    al.text(11, a.risk_band);
    al.text(12, a.occurred);
    check(wdb_, al.step(), "queue alert");
    al.reset();
  }
  if (settled_before) {  // processed again, with fewer alerts than the first time
    stmt& drop = st_->drop_alerts;
    drop.int64(1, id);
    drop.int64(2, n);
    check(wdb_, drop.step(), "replace alerts");
    drop.reset();
  }
}

// --- clients' updates of resources ------------------------------------------------------------

void sqlite_store::update_resource(std::string type, std::string id, std::string json,
                                   std::int64_t expected_version,
                                   std::function<void(std::int64_t)> done) {
  auto result = std::make_shared<std::int64_t>(0);
  queue_write(
      [type = std::move(type), id = std::move(id), json = std::move(json), expected_version,
       result](sqlite3* db) {
        stmt cur(db, "SELECT version FROM resources WHERE type=? AND id=?");
        cur.text(1, type);
        cur.text(2, id);
        if (cur.step() != SQLITE_ROW) {
          *result = 0;
          return;
        }
        const std::int64_t version = cur.column_int(0);
        if (expected_version != 0 && version != expected_version) {
          *result = -1;
          return;
        }
        stmt up(db,
                "UPDATE resources SET json=?3, version=version+1, last_updated_us=?4 "
                "WHERE type=?1 AND id=?2");
        up.text(1, type);
        up.text(2, id);
        up.blob(3, json);
        up.int64(4, now_us());
        check(db, up.step(), "update resource");
        *result = version + 1;
      },
      [result, done = std::move(done)](bool ok) { done(ok ? *result : -2); });
}

std::vector<stored_resource> sqlite_store::resources_where(std::string_view type,
                                                           std::string_view path,
                                                           std::string_view value,
                                                           std::size_t limit) {
  std::lock_guard lock(read_mu_);
  stmt q(rdb_,
         "SELECT id, version, last_updated_us, message_id, json FROM resources "
         "WHERE type=?1 AND json_extract(json, ?2) = ?3 ORDER BY id LIMIT ?4");
  q.text(1, type);
  q.text(2, path);
  q.text(3, value);
  q.int64(4, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
  std::vector<stored_resource> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    stored_resource r = resource_of(q, type);
    out.push_back(std::move(r));
  }
  check(rdb_, rc, "search resources");
  return out;
}

// --- subscriptions (subscription_store) ----------------------------------------------------------

void sqlite_store::queue_write(std::function<void(sqlite3*)> write,
                               std::function<void(bool)> done) {
  {
    std::lock_guard lock(mu_);
    if (!closing_) {
      updates_.push_back(update_op{0, message_state::pending, {}, std::move(done), std::nullopt,
                                   std::move(write), true});
      ++ops_queued_;
      index_cv_.notify_one();
      return;
    }
  }
  if (done) done(false);
}

namespace {

subscription_row subscription_of(const stmt& q) {
  subscription_row r;
  r.id = q.column_text(0);
  r.group_id = q.column_text(1);
  r.topic = q.column_text(2);
  r.status = q.column_text(3);
  r.error = q.column_text(4);
  r.json = q.column_text(5);
  r.events_since_start = q.column_int(6);
  r.delivered_through = q.column_int(7);
  r.start_seq = q.column_int(8);
  r.created_us = q.column_int(9);
  r.updated_us = q.column_int(10);
  return r;
}

constexpr const char* subscription_columns =
    "SELECT id, group_id, topic, status, error, json, events_since_start, delivered_through, "
    "start_seq, created_us, updated_us FROM subscriptions ";

}  // namespace

void sqlite_store::save_subscription(subscription_row s, done_fn done) {
  // Refused before it reaches the writer: a failed write rolls back the writer's whole
  // transaction (other messages' settlements with it). The writer checks again.
  if (auto now = subscription(s.id); now && now->group_id != s.group_id) {
    if (done) done(false);
    return;
  }
  queue_write(
      [s = std::move(s)](sqlite3* db) {
        const std::int64_t now = now_us();
        {
          stmt owner(db, "SELECT group_id FROM subscriptions WHERE id=?");
          owner.text(1, s.id);
          if (owner.step() == SQLITE_ROW && owner.column_text(0) != s.group_id)
            throw std::runtime_error("a subscription cannot change its owner");
        }
        stmt q(db,
               "INSERT INTO subscriptions(id, group_id, topic, status, error, json, start_seq, "
               "created_us, updated_us) VALUES(?1,?2,?3,?4,?5,?6,"
               "(SELECT coalesce(max(seq), 0) FROM alerts),?7,?7) "
               "ON CONFLICT(id) DO UPDATE SET topic=excluded.topic, status=excluded.status, "
               "error=excluded.error, json=excluded.json, updated_us=excluded.updated_us");
        q.text(1, s.id);
        q.text(2, s.group_id);
        q.text(3, s.topic);
        q.text(4, s.status);
        q.text(5, s.error);
        q.blob(6, s.json);
        q.int64(7, now);
        check(db, q.step(), "save subscription");
      },
      std::move(done));
}

void sqlite_store::delete_subscription(std::string id, done_fn done) {
  queue_write(
      [id = std::move(id)](sqlite3* db) {
        stmt ev(db, "DELETE FROM subscription_events WHERE subscription_id=?");
        ev.text(1, id);
        check(db, ev.step(), "delete subscription events");
        stmt q(db, "DELETE FROM subscriptions WHERE id=?");
        q.text(1, id);
        check(db, q.step(), "delete subscription");
      },
      std::move(done));
}

std::optional<subscription_row> sqlite_store::subscription(std::string_view id) {
  std::lock_guard lock(read_mu_);
  stmt q(rdb_, (std::string(subscription_columns) + "WHERE id=?").c_str());
  q.text(1, id);
  const int rc = q.step();
  if (rc != SQLITE_ROW) {
    check(rdb_, rc, "read subscription");
    return std::nullopt;
  }
  return subscription_of(q);
}

std::vector<subscription_row> sqlite_store::subscriptions(std::string_view group_id) {
  std::lock_guard lock(read_mu_);
  stmt q(rdb_, (std::string(subscription_columns) +
                (group_id.empty() ? "ORDER BY id" : "WHERE group_id=? ORDER BY id"))
                   .c_str());
  if (!group_id.empty()) q.text(1, group_id);
  std::vector<subscription_row> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) out.push_back(subscription_of(q));
  check(rdb_, rc, "read subscriptions");
  return out;
}

std::int64_t sqlite_store::fanned_out_through() {
  std::lock_guard lock(read_mu_);
  stmt q(rdb_, "SELECT through_seq FROM fan_out WHERE id = 1");
  return q.step() == SQLITE_ROW ? q.column_int(0) : 0;
}

void sqlite_store::record_events(std::int64_t through_seq,
                                 std::vector<std::pair<std::string, std::int64_t>> events,
                                 done_fn done) {
  queue_write(
      [through_seq, events = std::move(events)](sqlite3* db) {
        const std::int64_t now = now_us();
        stmt bump(db,
                  "UPDATE subscriptions SET events_since_start = events_since_start + 1 "
                  "WHERE id=?1 AND start_seq < ?2 RETURNING events_since_start");
        stmt add(db,
                 "INSERT INTO subscription_events(subscription_id, event_number, alert_seq, "
                 "created_us) VALUES(?,?,?,?)");
        for (const auto& [id, seq] : events) {
          bump.text(1, id);
          bump.int64(2, seq);
          const int rc = bump.step();
          if (rc != SQLITE_ROW) {  // unknown, or the entry is from before it started
            check(db, rc, "number an event");
            bump.reset();
            continue;
          }
          const std::int64_t number = bump.column_int(0);
          check(db, bump.step(), "number an event");
          bump.reset();
          add.text(1, id);
          add.int64(2, number);
          add.int64(3, seq);
          add.int64(4, now);
          check(db, add.step(), "record an event");
          add.reset();
        }
        stmt at(db,
                "INSERT INTO fan_out(id, through_seq) VALUES(1, ?1) ON CONFLICT(id) DO UPDATE "
                "SET through_seq = max(through_seq, excluded.through_seq)");
        at.int64(1, through_seq);
        check(db, at.step(), "move the fan-out");
      },
      std::move(done));
}

std::vector<subscription_event> sqlite_store::events_of(std::string_view subscription_id,
                                                        std::int64_t from, std::int64_t to,
                                                        std::size_t limit) {
  std::lock_guard lock(read_mu_);
  stmt q(rdb_,
         "SELECT subscription_id, event_number, alert_seq, created_us FROM subscription_events "
         "WHERE subscription_id=?1 AND event_number >= ?2 AND (?3 = 0 OR event_number <= ?3) "
         "ORDER BY event_number LIMIT ?4");
  q.text(1, subscription_id);
  q.int64(2, from);
  q.int64(3, to);
  q.int64(4, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
  std::vector<subscription_event> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW)
    out.push_back({q.column_text(0), q.column_int(1), q.column_int(2), q.column_int(3)});
  check(rdb_, rc, "read subscription events");
  return out;
}

void sqlite_store::mark_delivered(std::string id, std::int64_t event_number, done_fn done) {
  queue_write(
      [id = std::move(id), event_number](sqlite3* db) {
        stmt q(db,
               "UPDATE subscriptions SET delivered_through = max(delivered_through, ?2), "
               "updated_us = ?3 WHERE id=?1");
        q.text(1, id);
        q.int64(2, event_number);
        q.int64(3, now_us());
        check(db, q.step(), "mark delivered");
      },
      std::move(done));
}

void sqlite_store::set_status(std::string id, std::string status, std::string error,
                              done_fn done) {
  queue_write(
      [id = std::move(id), status = std::move(status), error = std::move(error)](sqlite3* db) {
        stmt q(db, "UPDATE subscriptions SET status=?2, error=?3, updated_us=?4 WHERE id=?1");
        q.text(1, id);
        q.text(2, status);
        q.text(3, error);
        q.int64(4, now_us());
        check(db, q.step(), "set subscription status");
      },
      std::move(done));
}

bool sqlite_store::alert_mentions(std::string_view group_id, std::string_view type,
                                  std::string_view id) {
  const char* sql = nullptr;
  if (type == "Patient")
    sql = "SELECT 1 FROM alerts WHERE patient_id=?2 AND group_id=?1 LIMIT 1";
  else if (type == "Encounter")
    sql = "SELECT 1 FROM alerts WHERE encounter_id=?2 AND group_id=?1 LIMIT 1";
  else if (type == "RiskAssessment")
    sql = "SELECT 1 FROM alerts WHERE risk_assessment_id=?2 AND group_id=?1 LIMIT 1";
  else if (type == "Task")
    sql = "SELECT 1 FROM alerts WHERE task_id=?2 AND group_id=?1 LIMIT 1";
  if (sql == nullptr || group_id.empty() || id.empty()) return false;
  std::lock_guard lock(read_mu_);
  stmt q(rdb_, sql);
  q.text(1, group_id);
  q.text(2, id);
  const int rc = q.step();
  if (rc != SQLITE_ROW) check(rdb_, rc, "check an alert's resource");
  return rc == SQLITE_ROW;
}

std::vector<message_store::follow_up> sqlite_store::follow_up_stats() {
  std::lock_guard lock(read_mu_);
  // Contact made: the Task in-progress or completed; when: executionPeriod.start (set by the
  // gateway at the group's first such update when the group gave none); due: restriction.period.end.
  stmt q(rdb_,
         "SELECT json_extract(json, '$.owner.identifier.value') AS g, count(*), "
         "sum(json_extract(json, '$.priority') = 'urgent'), "
         "sum(json_extract(json, '$.status') IN ('in-progress','completed')), "
         "sum(json_extract(json, '$.priority') = 'urgent' AND "
         "    json_extract(json, '$.status') IN ('in-progress','completed') AND "
         "    substr(json_extract(json, '$.executionPeriod.start'), 1, 10) <= "
         "    json_extract(json, '$.restriction.period.end')) "
         "FROM resources WHERE type = 'Task' GROUP BY g ORDER BY g");
  std::vector<follow_up> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    follow_up f;
    f.group_id = q.column_text(0);
    f.tasks = static_cast<std::uint64_t>(q.column_int(1));
    f.high_risk = static_cast<std::uint64_t>(q.column_int(2));
    f.contacted = static_cast<std::uint64_t>(q.column_int(3));
    f.high_risk_in_time = static_cast<std::uint64_t>(q.column_int(4));
    out.push_back(std::move(f));
  }
  check(rdb_, rc, "follow-up counts");
  return out;
}

std::vector<stored_alert> sqlite_store::alerts_after(std::int64_t after_seq, std::size_t limit,
                                                     std::string_view group_id) {
  std::lock_guard lock(read_mu_);
  stmt q(rdb_, group_id.empty()
                   ? "SELECT seq, message_id, created_us, kind, event_kind, group_id, patient_id, "
                     "encounter_id, risk_assessment_id, task_id, risk_band, occurred FROM alerts "
                     "WHERE seq > ?1 ORDER BY seq LIMIT ?2"
                   : "SELECT seq, message_id, created_us, kind, event_kind, group_id, patient_id, "
                     "encounter_id, risk_assessment_id, task_id, risk_band, occurred FROM alerts "
                     "WHERE group_id = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2");
  q.int64(1, after_seq);
  q.int64(2, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
  if (!group_id.empty()) q.text(3, group_id);
  std::vector<stored_alert> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    stored_alert a;
    a.seq = q.column_int(0);
    a.message_id = q.column_int(1);
    a.created_us = q.column_int(2);
    a.alert.kind = q.column_text(3);
    a.alert.event_kind = q.column_text(4);
    a.alert.group_id = q.column_text(5);
    a.alert.patient_id = q.column_text(6);
    a.alert.encounter_id = q.column_text(7);
    a.alert.risk_assessment_id = q.column_text(8);
    a.alert.task_id = q.column_text(9);
    a.alert.risk_band = q.column_text(10);
    a.alert.occurred = q.column_text(11);
    out.push_back(std::move(a));
  }
  check(rdb_, rc, "read alerts");
  return out;
}

std::vector<stored_message> sqlite_store::pending(std::int64_t after_id, std::size_t limit) {
  wait_for_index();
  std::lock_guard lock(read_mu_);
  stmt q(rdb_,
         "SELECT m.id, m.body_pos, b.raw, m.sending_facility, m.control_id, m.message_type, "
         "m.sender, m.received_at_us FROM messages m LEFT JOIN message_bodies b ON b.id = m.id "
         "WHERE m.state='pending' AND m.id > ? AND m.id <= ? ORDER BY m.id LIMIT ?");
  q.int64(1, after_id);
  q.int64(2, durable_id_.load(std::memory_order_acquire));
  q.int64(3, static_cast<std::int64_t>(limit));
  std::vector<stored_message> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    stored_message m;
    m.id = q.column_int(0);
    if (q.column_null(1)) {
      m.raw = q.column_text(2);  // stored before schema 4
    } else {
      std::string why;
      auto r = log_ ? log_->read(q.column_int(1), &why) : std::nullopt;
      if (!r)
        throw std::runtime_error("cannot read message " + std::to_string(m.id) +
                                 " from the message log: " + why);
      m.raw = std::move(r->record.raw);
    }
    m.sending_facility = q.column_text(3);
    m.control_id = q.column_text(4);
    m.message_type = q.column_text(5);
    m.sender = q.column_text(6);
    m.received_at_us = q.column_int(7);
    out.push_back(std::move(m));
  }
  check(rdb_, rc, "read pending");
  return out;
}

store_stats sqlite_store::stats() {
  wait_for_index();
  std::lock_guard lock(read_mu_);
  store_stats s;
  // One snapshot for the counts and for where SQLite's rows end in the log.
  exec(rdb_, "BEGIN");
  struct end_read {
    sqlite3* db;
    ~end_read() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
  } ending{rdb_};
  // Schema 3 keeps the counts; an older store (read-only `store stats`) is counted row by row.
  stmt q(rdb_, counts_table_
                   ? "SELECT state, sending_facility, n FROM message_counts"
                   : "SELECT state, sending_facility, count(*) FROM messages GROUP BY 1, 2 "
                     "UNION ALL SELECT 'duplicate', sending_facility, sum(duplicates) FROM "
                     "messages WHERE duplicates > 0 GROUP BY 2");
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    const std::string state_text = q.column_text(0);
    const std::string facility = q.column_text(1);
    const std::int64_t signed_n = q.column_int(2);
    if (signed_n <= 0) continue;
    const auto n = static_cast<std::uint64_t>(signed_n);
    if (state_text == "duplicate") {
      s.duplicates += n;
      continue;
    }
    s.total += n;
    auto& row = s.by_sender[facility];
    switch (state_from_string(state_text).value_or(message_state::errored)) {
      case message_state::pending: s.pending += n; row.pending += n; break;
      case message_state::processed: s.processed += n; row.processed += n; break;
      case message_state::rejected: s.rejected += n; row.rejected += n; break;
      case message_state::errored: s.errored += n; row.errored += n; break;
    }
  }
  check(rdb_, rc, "read stats");
  stmt oldest(rdb_, "SELECT min(received_at_us) FROM messages WHERE state='pending'");
  if (oldest.step() == SQLITE_ROW && !oldest.column_null(0)) s.oldest_pending_us = oldest.column_int(0);
  // The records of the log past SQLite's last row: not indexed yet (the indexer lags), or left
  // behind by a kill (read-only stats of a store not opened since).
  std::int64_t max_id = 0;
  std::int64_t from = 0;
  {
    stmt last(rdb_, "SELECT coalesce(max(id), 0) FROM messages");
    if (last.step() == SQLITE_ROW) max_id = last.column_int(0);
    stmt at(rdb_,
            "SELECT body_pos FROM messages WHERE body_pos IS NOT NULL ORDER BY id DESC LIMIT 1");
    if (at.step() == SQLITE_ROW) from = at.column_int(0);
  }
  if (log_) {
    try {
      log_->scan(from, [&](std::int64_t, logged_record&& lr) {
        if (lr.id <= max_id) return;
        ++s.total;
        auto& row = s.by_sender[lr.record.sending_facility];
        switch (lr.record.state) {
          case message_state::pending:
            ++s.pending;
            ++row.pending;
            if (!s.oldest_pending_us || lr.record.received_at_us < *s.oldest_pending_us)
              s.oldest_pending_us = lr.record.received_at_us;
            break;
          case message_state::processed: ++s.processed; ++row.processed; break;
          case message_state::rejected: ++s.rejected; ++row.rejected; break;
          case message_state::errored: ++s.errored; ++row.errored; break;
        }
      });
    } catch (const std::exception&) {
      // A write in progress at the end of the log (or a torn tail): counted up to there.
    }
  }
  s.accepted = s.pending + s.processed;
  return s;
}

message_store::backlog_info sqlite_store::backlog() {
  // No wait for the indexer: SQLite's pending messages, plus the accepted ones logged and not yet
  // committed there. (Read in this order, a message indexed meanwhile may count twice, never
  // not at all: a backlog of 0 is true.)
  const std::uint64_t logged = logged_accepted_.load(std::memory_order_acquire);
  const std::uint64_t committed = committed_accepted_.load(std::memory_order_acquire);
  std::lock_guard lock(read_mu_);
  stmt q(rdb_, "SELECT count(*), min(received_at_us) FROM messages WHERE state='pending'");
  backlog_info b;
  if (q.step() == SQLITE_ROW) {
    b.pending = static_cast<std::uint64_t>(q.column_int(0));
    if (!q.column_null(1)) b.oldest_us = q.column_int(1);
  }
  if (logged > committed) {
    b.pending += logged - committed;
    // The oldest of those is about as old as the last one indexed (an upper bound of its age).
    if (!b.oldest_us) {
      const std::int64_t at = committed_newest_us_.load(std::memory_order_relaxed);
      b.oldest_us = at != 0 ? at : newest_logged_us_.load(std::memory_order_relaxed);
    }
  }
  return b;
}

bool sqlite_store::writable() const {
  std::lock_guard lock(mu_);
  return writable_ && !index_failing_ && !closing_;
}

std::size_t sqlite_store::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size() + updates_.size();
}

void sqlite_store::close() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  log_cv_.notify_all();
  index_cv_.notify_all();
  // The log thread writes what is queued, then the indexer indexes and settles all of it.
  if (logger_.joinable()) logger_.join();
  if (indexer_.joinable()) indexer_.join();
  {
    std::lock_guard lock(spin_mu_);
    spin_stop_ = true;
  }
  spin_cv_.notify_all();
  if (spinner_.joinable()) spinner_.join();
  if (indexing_) {
    std::lock_guard lock(mu_);
    if (!closed_logged_ && syncs_ != 0) {  // (a serve that never started says nothing more)
      closed_logged_ = true;
      obs::info("store.closed", {{"log_syncs", syncs_},
                                 {"records_logged", logged_records_.load()},
                                 {"sqlite_commits", commits_}});
    }
  }
  {
    std::lock_guard lock(ckpt_mu_);
    ckpt_stop_ = true;
  }
  ckpt_cv_.notify_all();
  if (checkpointer_.joinable()) {
    checkpointer_.join();
    // Leave a small WAL behind: a last full checkpoint now that nothing else writes.
    sqlite3_wal_checkpoint_v2(cdb_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  }
}

std::uint64_t sqlite_store::commits() const {
  std::lock_guard lock(mu_);
  return commits_;
}

std::uint64_t sqlite_store::records_written() const {
  std::lock_guard lock(mu_);
  return written_;
}

std::uint64_t sqlite_store::syncs() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

// --- physician groups' searches ------------------------------------------------------------------

message_store::resource_page sqlite_store::alert_resources(std::string_view group_id,
                                                           std::string_view type,
                                                           std::string_view patient_id,
                                                           const std::vector<std::string>& statuses,
                                                           std::size_t limit) {
  const char* column = type == "Task"             ? "task_id"
                       : type == "RiskAssessment" ? "risk_assessment_id"
                                                  : nullptr;
  if (column == nullptr || group_id.empty()) return {};
  // The group's alerts come by the alerts_group index, the resources by UNIQUE(type, id); the
  // JSON is only looked into for the few resources a group's alerts name. A Task's owner is
  // checked again: the group its alert went to is the one that owns it, unless that changed.
  std::string where = "FROM resources WHERE type=?2 AND id IN (SELECT ";
  where += column;
  where += " FROM alerts WHERE group_id=?1 AND ";
  where += column;
  where += "<>'' AND (?3='' OR patient_id=?3))";
  if (type == "Task") where += " AND json_extract(json, '$.owner.identifier.value')=?1";
  if (!statuses.empty()) {
    where += " AND json_extract(json, '$.status') IN (";
    for (std::size_t i = 0; i < statuses.size(); ++i)
      where += (i == 0 ? "?" : ",?") + std::to_string(i + 5);
    where += ")";
  }
  const auto bind = [&](stmt& q) {
    q.text(1, group_id);
    q.text(2, type);
    q.text(3, patient_id);
    q.int64(4, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    for (std::size_t i = 0; i < statuses.size(); ++i) q.text(static_cast<int>(i + 5), statuses[i]);
  };
  std::lock_guard lock(read_mu_);
  resource_page page;
  {
    // The count does not use ?4 (the limit): selected anyway, so that one binder serves both.
    stmt count(rdb_, ("SELECT COUNT(*), ?4 " + where).c_str());
    bind(count);
    const int rc = count.step();
    if (rc != SQLITE_ROW) {
      check(rdb_, rc, "count a group's resources");
      return page;
    }
    page.total = static_cast<std::size_t>(count.column_int(0));
  }
  if (page.total == 0 || limit == 0) return page;
  stmt q(rdb_, ("SELECT id, version, last_updated_us, message_id, json " + where +
                " ORDER BY id LIMIT ?4")
                   .c_str());
  bind(q);
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    stored_resource r = resource_of(q, type);
    page.resources.push_back(std::move(r));
  }
  check(rdb_, rc, "search a group's resources");
  return page;
}

}  // namespace carebridge::gateway::store
// --- operators' admin (`carebridge store messages|reprocess`) -----------------------------------

namespace carebridge::gateway::store {

namespace {

// The WHERE clause of a message_filter, its parameters from ?1 to ?4 (bind_filter()).
constexpr const char* filter_where =
    "WHERE (?1 IS NULL OR state = ?1) AND (?2 = '' OR sending_facility = ?2) "
    "AND (?3 IS NULL OR received_at_us >= ?3) AND (?4 IS NULL OR received_at_us < ?4) ";

void bind_filter(stmt& q, const message_filter& f, std::optional<message_state> state) {
  if (state) q.text(1, to_string(*state));
  q.text(2, f.sending_facility);
  if (f.since_us) q.int64(3, *f.since_us);
  if (f.until_us) q.int64(4, *f.until_us);
}

// A read-write connection of its own for an operator's command, beside a running gateway's: its
// indexer holds the write lock for a few milliseconds at a time, so a generous busy timeout waits
// for it rather than failing. Refuses a store of another schema version.
sqlite3* open_admin(const std::filesystem::path& data_dir) {
  const auto file = data_dir / "carebridge.db";
  if (!std::filesystem::exists(file))
    throw std::runtime_error("no store in " + data_dir.string() + " (carebridge.db not found)");
  sqlite3* db = open_db(file, SQLITE_OPEN_READWRITE);
  try {
    sqlite3_busy_timeout(db, 10000);
    const int version = user_version(db);
    if (version > schema_version)
      throw std::runtime_error(file.string() + " was written by a newer CareBridge (schema " +
                               std::to_string(version) + ")");
    if (version < schema_version)
      throw std::runtime_error(file.string() + " has an older schema (" +
                               std::to_string(version) +
                               "): run carebridge serve on it once to upgrade it");
    exec(db, "PRAGMA journal_mode=WAL");  // what the store set; a no-op, unless the file was copied
  } catch (...) {
    sqlite3_close(db);
    throw;
  }
  return db;
}

}  // namespace

std::vector<message_summary> sqlite_store::messages(const message_filter& f) {
  wait_for_index();
  std::lock_guard lock(read_mu_);
  stmt q(rdb_, (std::string("SELECT id, received_at_us, sending_application, sending_facility, "
                            "message_type, control_id, sender, state, reason, ack_code "
                            "FROM messages ") +
                filter_where + "ORDER BY id LIMIT ?5")
                   .c_str());
  bind_filter(q, f, f.state);
  q.int64(5, f.limit == 0 ? -1 : static_cast<std::int64_t>(f.limit));
  std::vector<message_summary> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    message_summary m;
    m.id = q.column_int(0);
    m.received_at_us = q.column_int(1);
    m.sending_application = q.column_text(2);
    m.sending_facility = q.column_text(3);
    m.message_type = q.column_text(4);
    m.control_id = q.column_text(5);
    m.sender = q.column_text(6);
    m.state = state_from_string(q.column_text(7)).value_or(message_state::errored);
    m.reason = q.column_text(8);
    m.ack_code = q.column_text(9);
    out.push_back(std::move(m));
  }
  check(rdb_, rc, "list messages");
  return out;
}

reprocess_result sqlite_store::reprocess(const std::filesystem::path& data_dir,
                                         const reprocess_request& r) {
  sqlite3* db = open_admin(data_dir);
  struct closer {
    sqlite3* db;
    ~closer() { sqlite3_close(db); }
  } closing{db};

  struct candidate {
    std::int64_t id;
    message_state state;
    std::string facility;
  };
  reprocess_result result;
  exec(db, "BEGIN IMMEDIATE");
  try {
    std::vector<candidate> chosen;
    if (!r.ids.empty()) {
      stmt get(db, "SELECT state, sending_facility FROM messages WHERE id=?");
      for (const std::int64_t id : r.ids) {
        get.int64(1, id);
        const int rc = get.step();
        check(db, rc, "read message");
        if (rc != SQLITE_ROW) {
          result.skipped.emplace_back(id, "not found");
          get.reset();
          continue;
        }
        const auto state = state_from_string(get.column_text(0)).value_or(message_state::errored);
        std::string facility = get.column_text(1);
        get.reset();
        const bool dup = std::any_of(chosen.begin(), chosen.end(),
                                     [&](const candidate& c) { return c.id == id; });
        if (dup) continue;
        // Errored ones always; processed and rejected ones only when forced.
        if (state == message_state::pending)
          result.skipped.emplace_back(id, "already pending");
        else if (state == message_state::errored || r.force)
          chosen.push_back({id, state, std::move(facility)});
        else
          result.skipped.emplace_back(id, std::string(to_string(state)) + " (needs --force)");
      }
    } else {
      std::vector<message_state> states = r.states;
      if (states.empty()) states.push_back(message_state::errored);
      std::sort(states.begin(), states.end());
      states.erase(std::unique(states.begin(), states.end()), states.end());
      for (const message_state state : states) {
        if (state == message_state::pending) continue;
        const bool take = state == message_state::errored || r.force;
        stmt q(db, (std::string("SELECT id, sending_facility FROM messages ") + filter_where +
                    "ORDER BY id")
                       .c_str());
        bind_filter(q, r.errored, state);
        int rc;
        while ((rc = q.step()) == SQLITE_ROW) {
          if (take)
            chosen.push_back({q.column_int(0), state, q.column_text(1)});
          else
            ++result.refused[state];
        }
        check(db, rc, "select messages to reprocess");
      }
      std::sort(chosen.begin(), chosen.end(),
                [](const candidate& a, const candidate& b) { return a.id < b.id; });
    }
    if (r.list_limit > 0) {
      stmt row(db,
               "SELECT id, received_at_us, sending_application, sending_facility, message_type, "
               "control_id, sender, state, reason, ack_code FROM messages WHERE id=?");
      for (std::size_t i = 0; i < chosen.size() && i < r.list_limit; ++i) {
        row.int64(1, chosen[i].id);
        const int rc = row.step();
        check(db, rc, "read message");
        if (rc == SQLITE_ROW) {
          message_summary m;
          m.id = row.column_int(0);
          m.received_at_us = row.column_int(1);
          m.sending_application = row.column_text(2);
          m.sending_facility = row.column_text(3);
          m.message_type = row.column_text(4);
          m.control_id = row.column_text(5);
          m.sender = row.column_text(6);
          m.state = chosen[i].state;
          m.reason = row.column_text(8);
          m.ack_code = row.column_text(9);
          result.listed.push_back(std::move(m));
        }
        row.reset();
      }
    }
    for (const candidate& c : chosen) {
      ++result.by_state[c.state];
      ++result.reprocessed;
    }
    if (r.dry_run) {
      exec(db, "ROLLBACK");
      return result;
    }
    // settled_at_us stays: a message processed before must have what it made replaced, not
    // added to (settle_message()). holds_key stays too: an errored message gave its key up, and
    // a resend may hold it now (the log thread's index of keys not yet in SQLite included).
    stmt upd(db, "UPDATE messages SET state='pending', reason='' WHERE id=?");
    stmt count(db, count_sql);
    count_deltas counts;
    for (const candidate& c : chosen) {
      upd.int64(1, c.id);
      check(db, upd.step(), "set pending");
      upd.reset();
      counts.add(to_string(c.state), c.facility, -1);
      counts.add(to_string(message_state::pending), c.facility, 1);
    }
    counts.apply(db, count);
    exec(db, "COMMIT");
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return result;
}

std::optional<std::int64_t> sqlite_store::accepted_with_key(std::string_view sending_application,
                                                            std::string_view sending_facility,
                                                            std::string_view control_id) {
  if (control_id.empty()) return std::nullopt;
  std::lock_guard lock(read_mu_);
  stmt q(rdb_,
         "SELECT id FROM messages WHERE sending_application=?1 AND sending_facility=?2 "
         "AND control_id=?3 AND holds_key=1");
  q.text(1, sending_application);
  q.text(2, sending_facility);
  q.text(3, control_id);
  const int rc = q.step();
  if (rc == SQLITE_ROW) return q.column_int(0);
  check(rdb_, rc, "find a duplicate key");
  return std::nullopt;
}

std::vector<delivery_backlog> sqlite_store::delivery_backlogs(std::string_view subscription_id) {
  std::lock_guard lock(read_mu_);
  stmt q(rdb_,
         "SELECT s.id, "
         "(SELECT coalesce(max(e.event_number), 0) FROM subscription_events e "
         " WHERE e.subscription_id = s.id), "
         "(SELECT e.created_us FROM subscription_events e WHERE e.subscription_id = s.id "
         " AND e.event_number > s.delivered_through ORDER BY e.event_number LIMIT 1) "
         "FROM subscriptions s WHERE (coalesce(?1, '') = '' OR s.id = ?1) ORDER BY s.id");
  q.text(1, subscription_id);
  std::vector<delivery_backlog> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    delivery_backlog b;
    b.subscription_id = q.column_text(0);
    b.highest_event = q.column_int(1);
    if (!q.column_null(2)) b.oldest_undelivered_us = q.column_int(2);
    out.push_back(std::move(b));
  }
  check(rdb_, rc, "read subscription backlogs");
  return out;
}

retry_result sqlite_store::retry_subscriptions(const std::filesystem::path& data_dir,
                                               const std::vector<std::string>& ids) {
  sqlite3* db = open_admin(data_dir);
  struct closer {
    sqlite3* db;
    ~closer() { sqlite3_close(db); }
  } closing{db};
  retry_result result;
  exec(db, "BEGIN IMMEDIATE");
  try {
    std::vector<std::string> chosen;
    if (ids.empty()) {
      stmt q(db, "SELECT id FROM subscriptions WHERE status = 'error' ORDER BY id");
      int rc;
      while ((rc = q.step()) == SQLITE_ROW) chosen.push_back(q.column_text(0));
      check(db, rc, "select subscriptions in error");
    } else {
      stmt get(db, "SELECT status FROM subscriptions WHERE id=?");
      for (const std::string& id : ids) {
        get.text(1, id);
        const int rc = get.step();
        check(db, rc, "read subscription");
        if (rc != SQLITE_ROW)
          result.skipped.emplace_back(id, "not found");
        else if (const std::string status = get.column_text(0); status != "error")
          result.skipped.emplace_back(id, status + " (not in error)");
        else if (std::find(chosen.begin(), chosen.end(), id) == chosen.end())
          chosen.push_back(id);
        get.reset();
      }
    }
    // updated_us moves: the passes that cache a parsed subscription per version read it again.
    stmt upd(db,
             "UPDATE subscriptions SET status='requested', error='', updated_us=?2 "
             "WHERE id=?1 AND status='error'");
    const std::int64_t now = now_us();
    for (const std::string& id : chosen) {
      upd.text(1, id);
      upd.int64(2, now);
      check(db, upd.step(), "set subscription requested");
      upd.reset();
      if (sqlite3_changes(db) > 0) result.retried.push_back(id);
    }
    exec(db, "COMMIT");
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return result;
}

}  // namespace carebridge::gateway::store
