#include "gateway/care/care_db.hpp"

#include "gateway/members/sqlite_util.hpp"

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
  message_id INTEGER NOT NULL,
  alert_group TEXT NOT NULL DEFAULT '',
  task_id TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS care_admission_alerts(
  encounter_id TEXT NOT NULL,
  event_kind TEXT NOT NULL,
  group_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('sent','retracted')),
  message_id INTEGER NOT NULL,
  PRIMARY KEY(encounter_id, event_kind, group_id)
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

using members::sqlite::stmt;

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

// A care_reviews row selected as (patient_id, message_id, rule, reasons, candidates, status,
// opened_at_us).
review_row review_of(stmt& q) {
  review_row r;
  r.review.patient_id = q.column_string(0);
  r.review.message_id = q.column_int(1);
  r.review.rule = q.column_string(2);
  r.review.reasons = q.column_string(3);
  r.review.candidates = parse_candidates(q.column_string(4));
  r.status = q.column_string(5);
  r.opened_at_us = q.column_int(6);
  return r;
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
    // Tables made before alerts (issue 6) lack the two columns of what was sent for a stay. (A
    // database made before admission retractions gets care_admission_alerts from the schema
    // above; the admission alerts it sent before are not known, so an A11 cannot withdraw them.)
    if (!has_column("care_assessments", "alert_group"))
      exec("ALTER TABLE care_assessments ADD COLUMN alert_group TEXT NOT NULL DEFAULT '';"
           "ALTER TABLE care_assessments ADD COLUMN task_id TEXT NOT NULL DEFAULT ''");
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
      while (q.row()) {
        encounter_entry e;
        e.encounter_id = q.column_string(0);
        e.patient_id = q.column_string(1);
        e.member_id = q.column_string(2);
        e.facility = q.column_string(3);
        e.kind = visit_class_from_string(q.column_string(4)).value_or(visit_class::other);
        e.was_emergency = q.column_int(5) != 0;
        e.start_text = q.column_string(6);
        e.end_text = q.column_string(7);
        e.start = q.column_int(8);
        e.end = q.column_int(9);
        e.cancelled = q.column_int(10) != 0;
        e.message_id = q.column_int(11);
        engine.history().load(std::move(e));
      }
    }
    {
      stmt q(db_, "SELECT encounter_id, kind, at_s, value, unit FROM care_labs");
      while (q.row())
        engine.history().record_lab(
            q.column_string(0), q.column_string(1) == "sodium" ? lab_kind::sodium : lab_kind::haemoglobin,
            lab_entry{q.column_real(3), q.column_string(4), q.column_int(2)});
    }
    {
      stmt q(db_, "SELECT patient_id, member_id, rule, score, message_id FROM care_patient_links");
      while (q.row())
        engine.load_link({q.column_string(0), q.column_string(1), q.column_string(2), q.column_real(3), q.column_int(4)});
    }
    {
      stmt q(db_,
             "SELECT encounter_id, resource_id, status, band, message_id, alert_group, task_id "
             "FROM care_assessments");
      while (q.row())
        engine.load_assessment({q.column_string(0), q.column_string(1), q.column_string(2),
                                q.column_string(3), q.column_int(4), q.column_string(5),
                                q.column_string(6)});
    }
    {
      stmt q(db_,
             "SELECT encounter_id, event_kind, group_id, task_id, status, message_id "
             "FROM care_admission_alerts");
      while (q.row())
        engine.load_admission_alert({q.column_string(0), q.column_string(1), q.column_string(2),
                                     q.column_string(3), q.column_string(4), q.column_int(5)});
    }
    last_link_rowid_ = max_link_rowid();
  }

  std::vector<patient_link> new_links() override {
    std::vector<patient_link> out;
    stmt q(db_,
           "SELECT rowid, patient_id, member_id, rule, score, message_id FROM care_patient_links "
           "WHERE rowid > ?1 ORDER BY rowid");
    q.int64(1, last_link_rowid_);
    while (q.row()) {
      last_link_rowid_ = q.column_int(0);
      out.push_back({q.column_string(1), q.column_string(2), q.column_string(3), q.column_real(4), q.column_int(5)});
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
        put_meta_->text(1, std::string_view("last_message_id")).int64(2, open_max_).run();
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
    const std::int64_t v = q.row() ? q.column_int(0) : 0;
    q.reset();
    return v;
  }

  std::vector<review_row> reviews(std::string_view status, std::size_t limit) override {
    std::vector<review_row> out;
    stmt q(db_,
           "SELECT patient_id, message_id, rule, reasons, candidates, status, opened_at_us "
           "FROM care_reviews WHERE (?1 = '' OR status = ?1) ORDER BY opened_at_us LIMIT ?2");
    q.text(1, status).int64(2, static_cast<std::int64_t>(limit));
    while (q.row()) out.push_back(review_of(q));
    return out;
  }

  bool resolve_review(std::string_view patient_id, std::string_view member_id) override {
    commit();
    exec("BEGIN IMMEDIATE");
    try {
      stmt find(db_, "SELECT message_id FROM care_reviews WHERE patient_id = ?1");
      find.text(1, patient_id);
      if (!find.row()) {
        exec("ROLLBACK");
        return false;
      }
      const std::int64_t message_id = find.column_int(0);
      find.reset();
      put_link({std::string(patient_id), std::string(member_id), "manual", 0, message_id});
      stmt close(db_,
                 "UPDATE care_reviews SET status = 'resolved', closed_at_us = ?2 "
                 "WHERE patient_id = ?1");
      close.text(1, patient_id).int64(2, now_us()).run();
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
    q.text(1, patient_id).int64(2, now_us()).run();
    return sqlite3_changes(db_) > 0;
  }

  std::vector<care_outcome> outcomes(std::int64_t message_id) override {
    std::vector<care_outcome> out;
    for (auto& [id, o] : select_outcomes("message_id = ?1", [&](stmt& q) { q.int64(1, message_id); }))
      out.push_back(std::move(o));
    return out;
  }

  std::vector<std::pair<std::int64_t, care_outcome>> outcomes_for_encounter(
      std::string_view encounter_id) override {
    return select_outcomes("encounter_id = ?1", [&](stmt& q) { q.text(1, encounter_id); });
  }

  care_counts counts() override {
    care_counts c;
    auto one = [&](const char* sql) {
      stmt q(db_, sql);
      const std::int64_t v = q.row() ? q.column_int(0) : 0;
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
      while (q.row()) into.emplace_back(q.column_string(0), q.column_int(1));
    };
    grouped("SELECT attribution, count(*) FROM care_outcomes GROUP BY 1 ORDER BY 1", c.attribution);
    grouped("SELECT match, count(*) FROM care_outcomes GROUP BY 1 ORDER BY 1", c.match);
    grouped(
        "SELECT CASE WHEN alert_wanted THEN 'wanted' ELSE alert_reason END, count(*) "
        "FROM care_outcomes WHERE alert_kind <> '' GROUP BY 1 ORDER BY 1",
        c.alerts);
    return c;
  }

  member_view member(std::string_view member_id) override {
    member_view v;
    if (has_table("roster_members")) {
      stmt q(db_, "SELECT 1 FROM roster_members WHERE member_id = ?1");
      q.text(1, member_id);
      v.in_roster = q.row();
    }
    if (has_table("roster_attributions")) {
      stmt q(db_,
             "SELECT group_id, period_start, period_end, source FROM roster_attributions "
             "WHERE member_id = ?1 ORDER BY period_start, group_id, source");
      q.text(1, member_id);
      while (q.row())
        v.attributions.push_back(
            {q.column_string(0), q.column_string(1), q.column_string(2), q.column_string(3)});
    }
    {
      stmt q(db_,
             "SELECT patient_id, member_id, rule, score, message_id FROM care_patient_links "
             "WHERE member_id = ?1 ORDER BY patient_id");
      q.text(1, member_id);
      while (q.row())
        v.links.push_back({q.column_string(0), q.column_string(1), q.column_string(2),
                           q.column_real(3), q.column_int(4)});
    }
    // A candidate in the stored list is "MEMBER=SCORE", space-separated.
    constexpr const char* in_candidates = "instr(' ' || candidates, ' ' || ?1 || '=') > 0";
    {
      stmt q(db_, (std::string("SELECT patient_id, message_id, rule, reasons, candidates, status, "
                               "opened_at_us FROM care_reviews WHERE ") +
                   in_candidates + " ORDER BY opened_at_us")
                      .c_str());
      q.text(1, member_id);
      while (q.row()) v.reviews.push_back(review_of(q));
    }
    v.outcomes = select_outcomes(
        std::string("member_id = ?1 OR (patient_id <> '' AND patient_id IN ("
                    "SELECT patient_id FROM care_patient_links WHERE member_id = ?1 "
                    "UNION SELECT patient_id FROM care_reviews WHERE ") +
            in_candidates + "))",
        [&](stmt& q) { q.text(1, member_id); });
    return v;
  }

 private:
  void exec(const char* sql) { members::sqlite::exec(db_, sql); }
  bool has_table(const char* name) {
    stmt q(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
    q.text(1, name);
    return q.row();
  }
  bool has_column(const char* table, std::string_view column) {
    stmt q(db_, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
    q.text(1, table).text(2, column);
    return q.row();
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
    while (q.row()) {
      care_outcome o;
      o.event_kind = q.column_string(1);
      o.patient_id = q.column_string(2);
      o.encounter_id = q.column_string(3);
      o.event_date = q.column_string(4);
      o.member_id = q.column_string(5);
      o.match = q.column_string(6);
      o.rule = q.column_string(7);
      o.reasons = q.column_string(8);
      o.score = q.column_real(9);
      o.attribution = q.column_string(10);
      o.group_id = q.column_string(11);
      o.risk_assessment_id = q.column_string(12);
      o.risk_band = q.column_string(13);
      o.risk_complete = q.column_int(14) != 0;
      o.readmission = q.column_int(15) != 0;
      o.retracted = q.column_int(16) != 0;
      o.alert_kind = q.column_string(17);
      o.alert_wanted = q.column_int(18) != 0;
      o.alert_reason = q.column_string(19);
      out.emplace_back(q.column_int(0), std::move(o));
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
    const std::int64_t v = q.row() ? q.column_int(0) : 0;
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
        "message_id, alert_group, task_id) VALUES(?1,?2,?3,?4,?5,?6,?7)");
    put_admission_alert_ = add(
        "INSERT OR REPLACE INTO care_admission_alerts(encounter_id, event_kind, group_id, task_id, "
        "status, message_id) VALUES(?1,?2,?3,?4,?5,?6)");
    put_outcome_ = add(
        "INSERT OR REPLACE INTO care_outcomes(message_id, seq, at_us, event_kind, patient_id, "
        "encounter_id, event_date, member_id, match, rule, reasons, score, attribution, group_id, "
        "risk_assessment_id, risk_band, risk_complete, readmission, retracted, alert_kind, "
        "alert_wanted, alert_reason) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,"
        "?16,?17,?18,?19,?20,?21,?22)");
  }

  void put_link(const patient_link& l) {
    put_link_->text(1, l.patient_id)
        .text(2, l.member_id)
        .text(3, l.rule)
        .real(4, l.score)
        .int64(5, l.message_id)
        .int64(6, now_us())
        .run();
  }

  void write_one(std::int64_t message_id, const event_write& w, std::int64_t at) {
    const care_changes& ch = *w.changes;
    for (const encounter_entry* e : ch.entries)
      put_encounter_->text(1, e->encounter_id)
          .text(2, e->patient_id)
          .text(3, e->member_id)
          .text(4, e->facility)
          .text(5, to_string(e->kind))
          .int64(6, e->was_emergency ? 1 : 0)
          .text(7, e->start_text)
          .text(8, e->end_text)
          .int64(9, e->start)
          .int64(10, e->end)
          .int64(11, e->cancelled ? 1 : 0)
          .int64(12, e->message_id)
          .run();
    for (const auto& [encounter, kind, lab] : ch.labs)
      put_lab_->text(1, encounter)
          .text(2, to_string(kind))
          .int64(3, lab.at)
          .real(4, lab.value)
          .text(5, lab.unit)
          .run();
    for (const auto& l : ch.links) put_link(l);
    for (const auto& p : ch.reviews_closed) close_review_->text(1, p).int64(2, at).run();
    if (ch.review)
      put_review_->text(1, ch.review->patient_id)
          .int64(2, ch.review->message_id)
          .text(3, ch.review->rule)
          .text(4, ch.review->reasons)
          .text(5, candidates_text(ch.review->candidates))
          .int64(6, at)
          .run();
    if (ch.assessment)
      put_assessment_->text(1, ch.assessment->encounter_id)
          .text(2, ch.assessment->resource_id)
          .text(3, ch.assessment->status)
          .text(4, ch.assessment->band)
          .int64(5, ch.assessment->message_id)
          .text(6, ch.assessment->alert_group)
          .text(7, ch.assessment->task_id)
          .run();
    for (const auto& a : ch.admission_alerts)
      put_admission_alert_->text(1, a.encounter_id)
          .text(2, a.event_kind)
          .text(3, a.group_id)
          .text(4, a.task_id)
          .text(5, a.status)
          .int64(6, a.message_id)
          .run();
    const care_outcome& o = *w.outcome;
    put_outcome_->int64(1, message_id)
        .int64(2, w.seq)
        .int64(3, at)
        .text(4, o.event_kind)
        .text(5, o.patient_id)
        .text(6, o.encounter_id)
        .text(7, o.event_date)
        .text(8, o.member_id)
        .text(9, o.match)
        .text(10, o.rule)
        .text(11, o.reasons)
        .real(12, o.score)
        .text(13, o.attribution)
        .text(14, o.group_id)
        .text(15, o.risk_assessment_id)
        .text(16, o.risk_band)
        .int64(17, o.risk_complete ? 1 : 0)
        .int64(18, o.readmission ? 1 : 0)
        .int64(19, o.retracted ? 1 : 0)
        .text(20, o.alert_kind)
        .int64(21, o.alert_wanted ? 1 : 0)
        .text(22, o.alert_reason)
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
  stmt* put_admission_alert_ = nullptr;
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
