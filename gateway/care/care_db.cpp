#include "gateway/care/care_db.hpp"

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace carebridge::gateway::care {

namespace {

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS care_meta(
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS care_encounters(
  encounter_id TEXT PRIMARY KEY,
  patient_id TEXT NOT NULL,
  member_id TEXT NOT NULL DEFAULT '',
  facility TEXT NOT NULL DEFAULT '',
  kind TEXT NOT NULL,
  was_emergency INTEGER NOT NULL DEFAULT 0,
  start_text TEXT NOT NULL DEFAULT '',
  end_text TEXT NOT NULL DEFAULT '',
  start_s INTEGER NOT NULL DEFAULT 0,
  end_s INTEGER NOT NULL DEFAULT 0,
  cancelled INTEGER NOT NULL DEFAULT 0,
  message_id INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS care_encounters_member ON care_encounters(member_id) WHERE member_id <> '';
CREATE TABLE IF NOT EXISTS care_labs(
  encounter_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  at_s INTEGER NOT NULL,
  value REAL NOT NULL,
  unit TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(encounter_id, kind, at_s)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS care_patient_links(
  patient_id TEXT NOT NULL UNIQUE,
  member_id TEXT NOT NULL,
  rule TEXT NOT NULL,
  score REAL NOT NULL DEFAULT 0,
  message_id INTEGER NOT NULL DEFAULT 0,
  linked_at_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS care_reviews(
  patient_id TEXT PRIMARY KEY,
  message_id INTEGER NOT NULL,
  rule TEXT NOT NULL,
  reasons TEXT NOT NULL,
  candidates TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open','resolved','dismissed')),
  opened_at_us INTEGER NOT NULL,
  closed_at_us INTEGER
);
CREATE TABLE IF NOT EXISTS care_assessments(
  encounter_id TEXT PRIMARY KEY,
  resource_id TEXT NOT NULL,
  status TEXT NOT NULL,
  band TEXT NOT NULL DEFAULT '',
  message_id INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS care_outcomes(
  message_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  at_us INTEGER NOT NULL,
  event_kind TEXT NOT NULL,
  patient_id TEXT NOT NULL,
  encounter_id TEXT NOT NULL,
  event_date TEXT NOT NULL,
  member_id TEXT NOT NULL,
  match TEXT NOT NULL,
  rule TEXT NOT NULL,
  reasons TEXT NOT NULL,
  score REAL NOT NULL,
  attribution TEXT NOT NULL,
  group_id TEXT NOT NULL,
  risk_assessment_id TEXT NOT NULL,
  risk_band TEXT NOT NULL,
  risk_complete INTEGER NOT NULL,
  readmission INTEGER NOT NULL,
  retracted INTEGER NOT NULL,
  alert_kind TEXT NOT NULL,
  alert_wanted INTEGER NOT NULL,
  alert_reason TEXT NOT NULL,
  PRIMARY KEY(message_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS care_outcomes_encounter ON care_outcomes(encounter_id)
  WHERE encounter_id <> '';
)sql";

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void fail(sqlite3* db, const char* what) {
  throw std::runtime_error(std::string("member database: ") + what + ": " +
                           (db ? sqlite3_errmsg(db) : "out of memory"));
}

// A prepared statement, reset after each use.
class stmt {
 public:
  stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr) != SQLITE_OK)
      fail(db, "prepare");
  }
  ~stmt() { sqlite3_finalize(s_); }
  stmt(const stmt&) = delete;
  stmt& operator=(const stmt&) = delete;

  stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  stmt& bind(int i, bool v) { return bind(i, static_cast<std::int64_t>(v ? 1 : 0)); }
  stmt& bind(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  /// true while a row is there.
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    sqlite3_reset(s_);
    if (rc != SQLITE_DONE) fail(db_, "step");
    return false;
  }
  void run() {
    while (step()) {
    }
  }
  void reset() { sqlite3_reset(s_); }
  std::string text(int i) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, i));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, i))) : std::string();
  }
  std::int64_t integer(int i) const { return sqlite3_column_int64(s_, i); }
  double real(int i) const { return sqlite3_column_double(s_, i); }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

std::string candidates_text(const std::vector<std::pair<std::string, double>>& c) {
  std::string t;
  for (const auto& [id, score] : c) {
    if (!t.empty()) t += ' ';
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", score);
    t += id;
    t += '=';
    t += buf;
  }
  return t;
}

std::vector<std::pair<std::string, double>> parse_candidates(std::string_view t) {
  std::vector<std::pair<std::string, double>> out;
  while (!t.empty()) {
    const auto sp = t.find(' ');
    const std::string_view item = t.substr(0, sp);
    t = sp == std::string_view::npos ? std::string_view{} : t.substr(sp + 1);
    const auto eq = item.rfind('=');
    if (eq == std::string_view::npos) continue;
    out.emplace_back(std::string(item.substr(0, eq)),
                     std::strtod(std::string(item.substr(eq + 1)).c_str(), nullptr));
  }
  return out;
}

class sqlite_care_db final : public care_db {
 public:
  explicit sqlite_care_db(const std::filesystem::path& file) {
    if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw std::runtime_error("member database: cannot open " + file.string() + ": " + why);
    }
    // A roster import in another process holds the write lock for seconds: wait for it.
    sqlite3_busy_timeout(db_, 120000);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec(schema);
    prepare();
    last_link_rowid_ = max_link_rowid();
  }
  ~sqlite_care_db() override {
    try {
      commit();
    } catch (...) {  // NOLINT(bugprone-empty-catch): replayed from the message store at start
    }
    statements_.clear();
    sqlite3_close(db_);
  }

  void load_into(care_engine& engine) override {
    {
      stmt q(db_,
             "SELECT encounter_id, patient_id, member_id, facility, kind, was_emergency, "
             "start_text, end_text, start_s, end_s, cancelled, message_id FROM care_encounters");
      while (q.step()) {
        encounter_entry e;
        e.encounter_id = q.text(0);
        e.patient_id = q.text(1);
        e.member_id = q.text(2);
        e.facility = q.text(3);
        e.kind = visit_class_from_string(q.text(4)).value_or(visit_class::other);
        e.was_emergency = q.integer(5) != 0;
        e.start_text = q.text(6);
        e.end_text = q.text(7);
        e.start = q.integer(8);
        e.end = q.integer(9);
        e.cancelled = q.integer(10) != 0;
        e.message_id = q.integer(11);
        engine.history().load(std::move(e));
      }
    }
    {
      stmt q(db_, "SELECT encounter_id, kind, at_s, value, unit FROM care_labs");
      while (q.step())
        engine.history().record_lab(
            q.text(0), q.text(1) == "sodium" ? lab_kind::sodium : lab_kind::haemoglobin,
            lab_entry{q.real(3), q.text(4), q.integer(2)});
    }
    {
      stmt q(db_, "SELECT patient_id, member_id, rule, score, message_id FROM care_patient_links");
      while (q.step())
        engine.load_link({q.text(0), q.text(1), q.text(2), q.real(3), q.integer(4)});
    }
    {
      stmt q(db_,
             "SELECT encounter_id, resource_id, status, band, message_id FROM care_assessments");
      while (q.step())
        engine.load_assessment({q.text(0), q.text(1), q.text(2), q.text(3), q.integer(4)});
    }
    last_link_rowid_ = max_link_rowid();
  }

  std::vector<patient_link> new_links() override {
    std::vector<patient_link> out;
    stmt q(db_,
           "SELECT rowid, patient_id, member_id, rule, score, message_id FROM care_patient_links "
           "WHERE rowid > ?1 ORDER BY rowid");
    q.bind(1, last_link_rowid_);
    while (q.step()) {
      last_link_rowid_ = q.integer(0);
      out.push_back({q.text(1), q.text(2), q.text(3), q.real(4), q.integer(5)});
    }
    return out;
  }

  void write(std::int64_t message_id, std::span<const event_write> events) override {
    if (open_ == 0) exec("BEGIN IMMEDIATE");
    ++open_;
    try {
      const std::int64_t at = now_us();
      for (const auto& w : events) write_one(message_id, w, at);
      if (message_id > open_max_) open_max_ = message_id;
    } catch (...) {
      rollback();
      throw;
    }
  }

  void commit() override {
    if (open_ == 0) return;
    try {
      if (open_max_ > 0 && !frozen_)
        put_meta_->bind(1, std::string_view("last_message_id")).bind(2, open_max_).run();
      exec("COMMIT");
    } catch (...) {
      rollback();
      throw;
    }
    open_ = 0;
    open_max_ = 0;
  }

  std::size_t uncommitted() const noexcept override { return open_; }

  std::int64_t last_message_id() override {
    stmt q(db_, "SELECT value FROM care_meta WHERE key = 'last_message_id'");
    const std::int64_t v = q.step() ? q.integer(0) : 0;
    q.reset();
    return v;
  }

  std::vector<review_row> reviews(std::string_view status, std::size_t limit) override {
    std::vector<review_row> out;
    stmt q(db_,
           "SELECT patient_id, message_id, rule, reasons, candidates, status, opened_at_us "
           "FROM care_reviews WHERE (?1 = '' OR status = ?1) ORDER BY opened_at_us LIMIT ?2");
    q.bind(1, status).bind(2, static_cast<std::int64_t>(limit));
    while (q.step()) {
      review_row r;
      r.review.patient_id = q.text(0);
      r.review.message_id = q.integer(1);
      r.review.rule = q.text(2);
      r.review.reasons = q.text(3);
      r.review.candidates = parse_candidates(q.text(4));
      r.status = q.text(5);
      r.opened_at_us = q.integer(6);
      out.push_back(std::move(r));
    }
    return out;
  }

  bool resolve_review(std::string_view patient_id, std::string_view member_id) override {
    commit();
    exec("BEGIN IMMEDIATE");
    try {
      stmt find(db_, "SELECT message_id FROM care_reviews WHERE patient_id = ?1");
      find.bind(1, patient_id);
      if (!find.step()) {
        exec("ROLLBACK");
        return false;
      }
      const std::int64_t message_id = find.integer(0);
      find.reset();
      put_link({std::string(patient_id), std::string(member_id), "manual", 0, message_id});
      stmt close(db_,
                 "UPDATE care_reviews SET status = 'resolved', closed_at_us = ?2 "
                 "WHERE patient_id = ?1");
      close.bind(1, patient_id).bind(2, now_us()).run();
      exec("COMMIT");
      return true;
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  bool dismiss_review(std::string_view patient_id) override {
    stmt q(db_,
           "UPDATE care_reviews SET status = 'dismissed', closed_at_us = ?2 "
           "WHERE patient_id = ?1 AND status = 'open'");
    q.bind(1, patient_id).bind(2, now_us()).run();
    return sqlite3_changes(db_) > 0;
  }

  std::vector<care_outcome> outcomes(std::int64_t message_id) override {
    std::vector<care_outcome> out;
    for (auto& [id, o] : select_outcomes("message_id = ?1", [&](stmt& q) { q.bind(1, message_id); }))
      out.push_back(std::move(o));
    return out;
  }

  std::vector<std::pair<std::int64_t, care_outcome>> outcomes_for_encounter(
      std::string_view encounter_id) override {
    return select_outcomes("encounter_id = ?1", [&](stmt& q) { q.bind(1, encounter_id); });
  }

  care_counts counts() override {
    care_counts c;
    auto one = [&](const char* sql) {
      stmt q(db_, sql);
      const std::int64_t v = q.step() ? q.integer(0) : 0;
      q.reset();
      return v;
    };
    c.encounters = one("SELECT count(*) FROM care_encounters");
    c.links = one("SELECT count(*) FROM care_patient_links");
    c.open_reviews = one("SELECT count(*) FROM care_reviews WHERE status = 'open'");
    c.assessments = one("SELECT count(*) FROM care_assessments WHERE status = 'final'");
    c.retracted = one("SELECT count(*) FROM care_assessments WHERE status = 'entered-in-error'");
    auto grouped = [&](const char* sql, auto& into) {
      stmt q(db_, sql);
      while (q.step()) into.emplace_back(q.text(0), q.integer(1));
    };
    grouped("SELECT attribution, count(*) FROM care_outcomes GROUP BY 1 ORDER BY 1", c.attribution);
    grouped("SELECT match, count(*) FROM care_outcomes GROUP BY 1 ORDER BY 1", c.match);
    grouped(
        "SELECT CASE WHEN alert_wanted THEN 'wanted' ELSE alert_reason END, count(*) "
        "FROM care_outcomes WHERE alert_kind <> '' GROUP BY 1 ORDER BY 1",
        c.alerts);
    return c;
  }

 private:
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string why = err ? err : "error";
      sqlite3_free(err);
      throw std::runtime_error("member database: " + why);
    }
  }

  template <class Bind>
  std::vector<std::pair<std::int64_t, care_outcome>> select_outcomes(const std::string& where,
                                                                     Bind bind) {
    std::vector<std::pair<std::int64_t, care_outcome>> out;
    const std::string sql =
        "SELECT message_id, event_kind, patient_id, encounter_id, event_date, member_id, match, "
        "rule, reasons, score, attribution, group_id, risk_assessment_id, risk_band, "
        "risk_complete, readmission, retracted, alert_kind, alert_wanted, alert_reason "
        "FROM care_outcomes WHERE " +
        where + " ORDER BY message_id, seq";
    stmt q(db_, sql.c_str());
    bind(q);
    while (q.step()) {
      care_outcome o;
      o.event_kind = q.text(1);
      o.patient_id = q.text(2);
      o.encounter_id = q.text(3);
      o.event_date = q.text(4);
      o.member_id = q.text(5);
      o.match = q.text(6);
      o.rule = q.text(7);
      o.reasons = q.text(8);
      o.score = q.real(9);
      o.attribution = q.text(10);
      o.group_id = q.text(11);
      o.risk_assessment_id = q.text(12);
      o.risk_band = q.text(13);
      o.risk_complete = q.integer(14) != 0;
      o.readmission = q.integer(15) != 0;
      o.retracted = q.integer(16) != 0;
      o.alert_kind = q.text(17);
      o.alert_wanted = q.integer(18) != 0;
      o.alert_reason = q.text(19);
      out.emplace_back(q.integer(0), std::move(o));
    }
    return out;
  }

  void rollback() {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    // What was lost must be replayed at the next start: last_message_id stays where it is.
    frozen_ = true;
    open_ = 0;
    open_max_ = 0;
  }

  std::int64_t max_link_rowid() {
    stmt q(db_, "SELECT coalesce(max(rowid), 0) FROM care_patient_links");
    const std::int64_t v = q.step() ? q.integer(0) : 0;
    q.reset();
    return v;
  }

  void prepare() {
    auto add = [&](const char* sql) {
      statements_.push_back(std::make_unique<stmt>(db_, sql));
      return statements_.back().get();
    };
    put_meta_ = add(
        "INSERT INTO care_meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET "
        "value = max(value, excluded.value)");
    put_encounter_ = add(
        "INSERT INTO care_encounters(encounter_id, patient_id, member_id, facility, kind, "
        "was_emergency, start_text, end_text, start_s, end_s, cancelled, message_id) "
        "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12) ON CONFLICT(encounter_id) DO UPDATE SET "
        "patient_id=excluded.patient_id, member_id=excluded.member_id, facility=excluded.facility, "
        "kind=excluded.kind, was_emergency=excluded.was_emergency, start_text=excluded.start_text, "
        "end_text=excluded.end_text, start_s=excluded.start_s, end_s=excluded.end_s, "
        "cancelled=excluded.cancelled, message_id=excluded.message_id");
    put_lab_ = add(
        "INSERT OR REPLACE INTO care_labs(encounter_id, kind, at_s, value, unit) "
        "VALUES(?1,?2,?3,?4,?5)");
    put_link_ = add(
        "INSERT OR REPLACE INTO care_patient_links(patient_id, member_id, rule, score, message_id, "
        "linked_at_us) VALUES(?1,?2,?3,?4,?5,?6)");
    put_review_ = add(
        "INSERT INTO care_reviews(patient_id, message_id, rule, reasons, candidates, status, "
        "opened_at_us) VALUES(?1,?2,?3,?4,?5,'open',?6) ON CONFLICT(patient_id) DO UPDATE SET "
        "message_id=excluded.message_id, rule=excluded.rule, reasons=excluded.reasons, "
        "candidates=excluded.candidates, status='open', closed_at_us=NULL "
        "WHERE care_reviews.status <> 'dismissed' OR care_reviews.candidates <> excluded.candidates");
    close_review_ = add(
        "UPDATE care_reviews SET status='resolved', closed_at_us=?2 "
        "WHERE patient_id=?1 AND status='open'");
    put_assessment_ = add(
        "INSERT OR REPLACE INTO care_assessments(encounter_id, resource_id, status, band, "
        "message_id) VALUES(?1,?2,?3,?4,?5)");
    put_outcome_ = add(
        "INSERT OR REPLACE INTO care_outcomes(message_id, seq, at_us, event_kind, patient_id, "
        "encounter_id, event_date, member_id, match, rule, reasons, score, attribution, group_id, "
        "risk_assessment_id, risk_band, risk_complete, readmission, retracted, alert_kind, "
        "alert_wanted, alert_reason) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,"
        "?16,?17,?18,?19,?20,?21,?22)");
  }

  void put_link(const patient_link& l) {
    put_link_->bind(1, l.patient_id)
        .bind(2, l.member_id)
        .bind(3, l.rule)
        .bind(4, l.score)
        .bind(5, l.message_id)
        .bind(6, now_us())
        .run();
  }

  void write_one(std::int64_t message_id, const event_write& w, std::int64_t at) {
    const care_changes& ch = *w.changes;
    for (const encounter_entry* e : ch.entries)
      put_encounter_->bind(1, e->encounter_id)
          .bind(2, e->patient_id)
          .bind(3, e->member_id)
          .bind(4, e->facility)
          .bind(5, to_string(e->kind))
          .bind(6, e->was_emergency)
          .bind(7, e->start_text)
          .bind(8, e->end_text)
          .bind(9, e->start)
          .bind(10, e->end)
          .bind(11, e->cancelled)
          .bind(12, e->message_id)
          .run();
    for (const auto& [encounter, kind, lab] : ch.labs)
      put_lab_->bind(1, encounter)
          .bind(2, to_string(kind))
          .bind(3, lab.at)
          .bind(4, lab.value)
          .bind(5, lab.unit)
          .run();
    for (const auto& l : ch.links) put_link(l);
    for (const auto& p : ch.reviews_closed) close_review_->bind(1, p).bind(2, at).run();
    if (ch.review)
      put_review_->bind(1, ch.review->patient_id)
          .bind(2, ch.review->message_id)
          .bind(3, ch.review->rule)
          .bind(4, ch.review->reasons)
          .bind(5, candidates_text(ch.review->candidates))
          .bind(6, at)
          .run();
    if (ch.assessment)
      put_assessment_->bind(1, ch.assessment->encounter_id)
          .bind(2, ch.assessment->resource_id)
          .bind(3, ch.assessment->status)
          .bind(4, ch.assessment->band)
          .bind(5, ch.assessment->message_id)
          .run();
    const care_outcome& o = *w.outcome;
    put_outcome_->bind(1, message_id)
        .bind(2, w.seq)
        .bind(3, at)
        .bind(4, o.event_kind)
        .bind(5, o.patient_id)
        .bind(6, o.encounter_id)
        .bind(7, o.event_date)
        .bind(8, o.member_id)
        .bind(9, o.match)
        .bind(10, o.rule)
        .bind(11, o.reasons)
        .bind(12, o.score)
        .bind(13, o.attribution)
        .bind(14, o.group_id)
        .bind(15, o.risk_assessment_id)
        .bind(16, o.risk_band)
        .bind(17, o.risk_complete)
        .bind(18, o.readmission)
        .bind(19, o.retracted)
        .bind(20, o.alert_kind)
        .bind(21, o.alert_wanted)
        .bind(22, o.alert_reason)
        .run();
  }

  sqlite3* db_ = nullptr;
  std::vector<std::unique_ptr<stmt>> statements_;
  stmt* put_meta_ = nullptr;
  stmt* put_encounter_ = nullptr;
  stmt* put_lab_ = nullptr;
  stmt* put_link_ = nullptr;
  stmt* put_review_ = nullptr;
  stmt* close_review_ = nullptr;
  stmt* put_assessment_ = nullptr;
  stmt* put_outcome_ = nullptr;
  std::int64_t last_link_rowid_ = 0;
  std::size_t open_ = 0;         // messages written in the open transaction
  std::int64_t open_max_ = 0;    // their highest id
  bool frozen_ = false;          // a group was lost: last_message_id no longer advances
};

}  // namespace

std::unique_ptr<care_db> care_db::open(const std::filesystem::path& file) {
  return std::make_unique<sqlite_care_db>(file);
}

}  // namespace carebridge::gateway::care
