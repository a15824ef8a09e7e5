#include "gateway/store/sqlite_store.hpp"

#include <algorithm>
#include <optional>

#include <sqlite3.h>

#include <chrono>
#include <stdexcept>
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

// Version 2: bodies (raw message, ACK) live in their own append-only table, so that the small
// `messages` rows of one group commit share pages and settling a message rewrites a few bytes of a
// shared page instead of the whole page its body filled (write amplification was the bottleneck).
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
  settled_at_us INTEGER
);
CREATE TABLE IF NOT EXISTS message_bodies(
  id INTEGER PRIMARY KEY REFERENCES messages(id),
  ack BLOB,
  raw BLOB NOT NULL
);
-- One accepted message per (MSH-3, MSH-4, MSH-10): a resend gets the stored ACK.
CREATE UNIQUE INDEX IF NOT EXISTS messages_key
  ON messages(sending_application, sending_facility, control_id)
  WHERE control_id <> '' AND state IN ('pending','processed');
CREATE INDEX IF NOT EXISTS messages_pending ON messages(id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS messages_state ON messages(state, sending_facility);
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
CREATE TABLE IF NOT EXISTS events(
  message_id INTEGER PRIMARY KEY REFERENCES messages(id),
  kind TEXT NOT NULL,
  patient_id TEXT NOT NULL DEFAULT '',
  encounter_id TEXT NOT NULL DEFAULT '',
  json BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_patient ON events(patient_id, message_id);
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
constexpr int schema_version = 2;

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

struct sqlite_store::op {
  struct insert {
    inbound_record record;
    commit_handler done;
  };
  struct update {
    std::int64_t id;
    message_state state;
    std::string reason;
    std::function<void(bool)> done;
    std::optional<processing_result> result;  // settle_processed()
  };
  std::variant<insert, update> what;
};

std::unique_ptr<sqlite_store> sqlite_store::open(const std::filesystem::path& data_dir,
                                                 options opts) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) throw std::runtime_error("cannot create data directory " + data_dir.string() + ": " + ec.message());
  const auto file = data_dir / "carebridge.db";
  std::unique_ptr<sqlite_store> s(new sqlite_store());
  s->opts_ = opts;
  s->wdb_ = open_db(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  s->sync_full_ = opts.fsync;
  exec(s->wdb_, "PRAGMA page_size=16384");  // takes effect when the file is created
  exec(s->wdb_, "PRAGMA journal_mode=WAL");
  exec(s->wdb_, opts.fsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  exec(s->wdb_, "PRAGMA foreign_keys=ON");
  const int version = user_version(s->wdb_);
  if (version > schema_version)
    throw std::runtime_error(file.string() + " was written by a newer CareBridge (schema " +
                             std::to_string(version) + ")");
  if (version == 1) exec(s->wdb_, migrate_v1);
  exec(s->wdb_, schema);
  exec(s->wdb_, ("PRAGMA user_version = " + std::to_string(schema_version)).c_str());
  // Checkpoints run on their own thread and connection (PASSIVE: they never block the writer), so
  // copying the WAL back into the database is not on the path of any ACK.
  exec(s->wdb_, "PRAGMA wal_autocheckpoint=0");
  sqlite3_wal_hook(s->wdb_, &sqlite_store::on_wal_commit, s.get());
  s->cdb_ = open_db(file, SQLITE_OPEN_READWRITE);
  exec(s->cdb_, opts.fsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  s->rdb_ = open_db(file, SQLITE_OPEN_READONLY);
  s->writer_ = std::thread([p = s.get()] { p->writer_loop(); });
  s->checkpointer_ = std::thread([p = s.get()] { p->checkpoint_loop(); });
  return s;
}

std::unique_ptr<sqlite_store> sqlite_store::open_read_only(const std::filesystem::path& data_dir) {
  const auto file = data_dir / "carebridge.db";
  if (!std::filesystem::exists(file))
    throw std::runtime_error("no store in " + data_dir.string() + " (carebridge.db not found)");
  std::unique_ptr<sqlite_store> s(new sqlite_store());
  s->rdb_ = open_db(file, SQLITE_OPEN_READONLY);
  s->closing_ = true;
  s->writable_ = false;
  return s;
}

sqlite_store::sqlite_store() = default;

sqlite_store::~sqlite_store() {
  close();
  sqlite3_close(rdb_);
  sqlite3_close(cdb_);
  sqlite3_close(wdb_);
}

int sqlite_store::on_wal_commit(void* self, sqlite3*, const char*, int pages) {
  auto* s = static_cast<sqlite_store*>(self);
  if (pages >= checkpoint_pages) {
    {
      std::lock_guard lock(s->ckpt_mu_);
      s->ckpt_wanted_ = true;
    }
    s->ckpt_cv_.notify_one();
  }
  return SQLITE_OK;
}

void sqlite_store::checkpoint_loop() {
  while (true) {
    {
      std::unique_lock lock(ckpt_mu_);
      ckpt_cv_.wait(lock, [&] { return ckpt_wanted_ || ckpt_stop_; });
      if (ckpt_stop_) return;
      ckpt_wanted_ = false;
    }
    int log_pages = 0;
    int done_pages = 0;
    const int rc = sqlite3_wal_checkpoint_v2(cdb_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_pages,
                                             &done_pages);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      std::lock_guard lock(mu_);
      ++checkpoint_failures_;
    }
  }
}

void sqlite_store::submit(inbound_record record, commit_handler done) {
  {
    std::lock_guard lock(mu_);
    if (!closing_) {
      queue_.push_back(op{op::insert{std::move(record), std::move(done)}});
      cv_.notify_one();
      return;
    }
  }
  commit_result r;
  r.what = commit_result::outcome::failed;
  r.error = "store is closed";
  done(std::move(r));
}

void sqlite_store::settle(std::int64_t id, message_state state, std::string reason,
                          std::function<void(bool)> done) {
  {
    std::lock_guard lock(mu_);
    if (!closing_) {
      queue_.push_back(op{op::update{id, state, std::move(reason), std::move(done), std::nullopt}});
      cv_.notify_one();
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
      queue_.push_back(op{op::update{id, message_state::processed, {}, std::move(done),
                                     std::move(result)}});
      cv_.notify_one();
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

std::vector<stored_event> sqlite_store::events_for_patient(std::string_view patient_resource_id) {
  std::lock_guard lock(read_mu_);
  stmt q(rdb_,
         "SELECT message_id, kind, patient_id, encounter_id, json FROM events WHERE patient_id=? "
         "ORDER BY message_id");
  q.text(1, patient_resource_id);
  std::vector<stored_event> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    stored_event e;
    e.message_id = q.column_int(0);
    e.kind = q.column_text(1);
    e.patient_resource_id = q.column_text(2);
    e.encounter_resource_id = q.column_text(3);
    e.json = q.column_text(4);
    out.push_back(std::move(e));
  }
  check(rdb_, rc, "read events");
  return out;
}

void sqlite_store::writer_loop() {
  std::deque<op> batch;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty() && closing_) return;
      const std::size_t n = std::min(queue_.size(), opts_.max_batch);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    write_batch(batch);
    batch.clear();
  }
}

struct sqlite_store::statements {
  explicit statements(sqlite3* db)
      : ins(db,
            "INSERT INTO messages(received_at_us, sending_application, sending_facility, "
            "control_id, message_type, sender, peer, state, reason, ack_code) "
            "VALUES(?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"),
        body(db, "INSERT INTO message_bodies(id, ack, raw) VALUES(?,?,?)"),
        dup(db,
            "SELECT m.id, b.ack, m.ack_code FROM messages m JOIN message_bodies b ON b.id = m.id "
            "WHERE m.sending_application=? AND m.sending_facility=? AND m.control_id=? AND "
            "m.control_id <> '' AND m.state IN ('pending','processed')"),
        bump(db, "UPDATE messages SET duplicates = duplicates + 1 WHERE id=?"),
        upd(db, "UPDATE messages SET state=?, reason=?, settled_at_us=? WHERE id=?"),
        resource(db,
                 "INSERT INTO resources(type, id, version, last_updated_us, message_id, json) "
                 "VALUES(?,?,1,?,?,?) ON CONFLICT(type, id) DO UPDATE SET "
                 "version = version + 1, last_updated_us = excluded.last_updated_us, "
                 "message_id = excluded.message_id, json = excluded.json "
                 "WHERE json <> excluded.json"),
        event(db,
              "INSERT OR REPLACE INTO events(message_id, kind, patient_id, encounter_id, json) "
              "VALUES(?,?,?,?,?)"),
        begin(db, "BEGIN IMMEDIATE"),
        commit(db, "COMMIT") {}
  stmt ins, body, dup, bump, upd, resource, event, begin, commit;
};

void sqlite_store::write_batch(std::deque<op>& batch) {
  std::vector<commit_result> results(batch.size());
  bool ok = true;
  std::string failure;
  if (!st_) st_ = std::make_unique<statements>(wdb_);
  // A batch that only settles messages needs no fsync of its own: if it is lost in a crash, the
  // messages are still pending and the (idempotent) pipeline runs them again. The next commit with
  // synchronous=FULL makes it durable anyway.
  const bool inserts = std::any_of(batch.begin(), batch.end(), [](const op& o) {
    return std::holds_alternative<op::insert>(o.what);
  });
  const bool want_full = opts_.fsync && inserts;
  if (want_full != sync_full_) {
    exec(wdb_, want_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    sync_full_ = want_full;
  }
  try {
    check(wdb_, st_->begin.step(), "begin");
    st_->begin.reset();
    stmt& ins = st_->ins;
    stmt& dup = st_->dup;
    stmt& bump = st_->bump;
    stmt& upd = st_->upd;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (auto* in = std::get_if<op::insert>(&batch[i].what)) {
        const inbound_record& r = in->record;
        ins.int64(1, r.received_at_us);
        ins.text(2, r.sending_application);
        ins.text(3, r.sending_facility);
        ins.text(4, r.control_id);
        ins.text(5, r.message_type);
        ins.text(6, r.sender);
        ins.text(7, r.peer);
        ins.text(8, to_string(r.state));
        ins.text(9, r.reason);
        ins.text(10, r.ack_code);
        check(wdb_, ins.step(), "insert");
        ins.reset();
        if (sqlite3_changes(wdb_) == 1) {
          results[i].what = commit_result::outcome::stored;
          results[i].id = sqlite3_last_insert_rowid(wdb_);
          stmt& body = st_->body;
          body.int64(1, results[i].id);
          body.blob(2, r.ack);
          body.blob(3, r.raw);
          check(wdb_, body.step(), "insert body");
          body.reset();
        } else {
          dup.text(1, r.sending_application);
          dup.text(2, r.sending_facility);
          dup.text(3, r.control_id);
          if (dup.step() != SQLITE_ROW) throw std::runtime_error("duplicate key without its row");
          results[i].what = commit_result::outcome::duplicate;
          results[i].id = dup.column_int(0);
          results[i].ack = dup.column_text(1);
          results[i].ack_code = dup.column_text(2);
          dup.reset();
          bump.int64(1, results[i].id);
          check(wdb_, bump.step(), "count duplicate");
          bump.reset();
        }
      } else {
        auto& u = std::get<op::update>(batch[i].what);
        upd.text(1, to_string(u.state));
        upd.text(2, u.reason);
        upd.int64(3, now_us());
        upd.int64(4, u.id);
        check(wdb_, upd.step(), "settle");
        upd.reset();
        if (u.result) {
          const std::int64_t now = now_us();
          stmt& res = st_->resource;
          for (const resource_row& r : u.result->resources) {
            res.text(1, r.type);
            res.text(2, r.id);
            res.int64(3, now);
            res.int64(4, u.id);
            res.blob(5, r.json);
            check(wdb_, res.step(), "upsert resource");
            res.reset();
          }
          if (!u.result->event_kind.empty()) {
            stmt& ev = st_->event;
            ev.int64(1, u.id);
            ev.text(2, u.result->event_kind);
            ev.text(3, u.result->patient_resource_id);
            ev.text(4, u.result->encounter_resource_id);
            ev.blob(5, u.result->event_json);
            check(wdb_, ev.step(), "store event");
            ev.reset();
          }
        }
        results[i].what = commit_result::outcome::stored;
        results[i].id = u.id;
      }
    }
    check(wdb_, st_->commit.step(), "commit");
    st_->commit.reset();
  } catch (const std::exception& e) {
    ok = false;
    failure = e.what();
    for (stmt* q : {&st_->ins, &st_->body, &st_->dup, &st_->bump, &st_->upd, &st_->resource,
                    &st_->event, &st_->begin, &st_->commit})
      q->reset();
    sqlite3_exec(wdb_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  {
    std::lock_guard lock(mu_);
    writable_ = ok;
    if (ok) {
      ++commits_;
      written_ += batch.size();
    }
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!ok) {
      results[i] = commit_result{};
      results[i].what = commit_result::outcome::failed;
      results[i].error = failure;
    }
    if (auto* in = std::get_if<op::insert>(&batch[i].what)) {
      in->done(std::move(results[i]));
    } else {
      auto& u = std::get<op::update>(batch[i].what);
      if (u.done) u.done(ok);
    }
  }
}

std::vector<stored_message> sqlite_store::pending(std::int64_t after_id, std::size_t limit) {
  std::lock_guard lock(read_mu_);
  stmt q(rdb_,
         "SELECT m.id, b.raw, m.sending_facility, m.control_id, m.message_type, m.sender, "
         "m.received_at_us FROM messages m JOIN message_bodies b ON b.id = m.id "
         "WHERE m.state='pending' AND m.id > ? ORDER BY m.id LIMIT ?");
  q.int64(1, after_id);
  q.int64(2, static_cast<std::int64_t>(limit));
  std::vector<stored_message> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    stored_message m;
    m.id = q.column_int(0);
    m.raw = q.column_text(1);
    m.sending_facility = q.column_text(2);
    m.control_id = q.column_text(3);
    m.message_type = q.column_text(4);
    m.sender = q.column_text(5);
    m.received_at_us = q.column_int(6);
    out.push_back(std::move(m));
  }
  check(rdb_, rc, "read pending");
  return out;
}

store_stats sqlite_store::stats() {
  std::lock_guard lock(read_mu_);
  store_stats s;
  stmt q(rdb_,
         "SELECT state, sending_facility, count(*), sum(duplicates) FROM messages "
         "GROUP BY state, sending_facility");
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    const auto state = state_from_string(q.column_text(0));
    const std::string facility = q.column_text(1);
    const auto n = static_cast<std::uint64_t>(q.column_int(2));
    s.duplicates += static_cast<std::uint64_t>(q.column_int(3));
    s.total += n;
    auto& row = s.by_sender[facility];
    switch (state.value_or(message_state::errored)) {
      case message_state::pending: s.pending += n; row.pending += n; break;
      case message_state::processed: s.processed += n; row.processed += n; break;
      case message_state::rejected: s.rejected += n; row.rejected += n; break;
      case message_state::errored: s.errored += n; row.errored += n; break;
    }
  }
  check(rdb_, rc, "read stats");
  s.accepted = s.pending + s.processed;
  stmt oldest(rdb_, "SELECT min(received_at_us) FROM messages WHERE state='pending'");
  if (oldest.step() == SQLITE_ROW && !oldest.column_null(0)) s.oldest_pending_us = oldest.column_int(0);
  return s;
}

message_store::backlog_info sqlite_store::backlog() {
  std::lock_guard lock(read_mu_);
  stmt q(rdb_, "SELECT count(*), min(received_at_us) FROM messages WHERE state='pending'");
  backlog_info b;
  if (q.step() == SQLITE_ROW) {
    b.pending = static_cast<std::uint64_t>(q.column_int(0));
    if (!q.column_null(1)) b.oldest_us = q.column_int(1);
  }
  return b;
}

bool sqlite_store::writable() const {
  std::lock_guard lock(mu_);
  return writable_ && !closing_;
}

std::size_t sqlite_store::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void sqlite_store::close() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
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

}  // namespace carebridge::gateway::store
