// SQLite helpers for the member database (DATA_DIR/members.db): the roster tables
// (members/roster_db) and the care stage's (care/care_db) are written through the same small
// wrappers, as are the audit trail (audit/audit_log, DATA_DIR/audit.db) and the client registry
// (auth/client_registry, DATA_DIR/clients.db). Errors throw
// std::runtime_error naming the database file (members.db, audit.db, clients.db) and SQLite's message (no
// values).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace carebridge::gateway::members::sqlite {

// The database's file name without its directory ("members.db"), for error lines.
inline std::string file_name(sqlite3* db) {
  const char* f = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
  if (f == nullptr || *f == 0) return "members.db";
  const std::string_view path(f);
  return std::string(path.substr(path.rfind('/') + 1));
}

[[noreturn]] inline void fail(sqlite3* db, const char* what) {
  throw std::runtime_error(file_name(db) + ": " + what + ": " + sqlite3_errmsg(db));
}

inline void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "error";
    sqlite3_free(err);
    throw std::runtime_error(file_name(db) + ": " + msg);
  }
}

// A prepared statement. Text is bound without a copy: the caller keeps it alive until reset().
class stmt {
 public:
  stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr) != SQLITE_OK)
      fail(db, "prepare");
  }
  ~stmt() { sqlite3_finalize(s_); }
  stmt(const stmt&) = delete;
  stmt& operator=(const stmt&) = delete;

  stmt& text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  stmt& int64(int i, std::int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  stmt& real(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  stmt& null(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  bool row() {  // steps; true on a row
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail(db_, "step");
    return false;
  }
  void run() {  // steps once and resets
    row();
    reset();
  }
  void reset() { sqlite3_reset(s_); }
  std::string_view column(int i) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, i));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, i)))
             : std::string_view();
  }
  std::int64_t column_int(int i) const { return sqlite3_column_int64(s_, i); }
  double column_real(int i) const { return sqlite3_column_double(s_, i); }
  std::string column_string(int i) const { return std::string(column(i)); }
  bool column_null(int i) const { return sqlite3_column_type(s_, i) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

// A transaction, rolled back unless committed.
class transaction {
 public:
  transaction(sqlite3* db, bool write) : db_(db) { exec(db, write ? "BEGIN IMMEDIATE" : "BEGIN"); }
  ~transaction() {
    if (db_ != nullptr) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  void commit() {
    exec(db_, "COMMIT");
    db_ = nullptr;
  }

 private:
  sqlite3* db_;
};

}  // namespace carebridge::gateway::members::sqlite
