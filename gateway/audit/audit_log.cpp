#include "gateway/audit/audit_log.hpp"

#include "gateway/members/sqlite_util.hpp"
#include "gateway/obs/log.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace carebridge::gateway::audit {

namespace {

using members::sqlite::exec;
using members::sqlite::stmt;
using members::sqlite::transaction;

constexpr std::int64_t schema_version = 1;

// Every table is audit_*; the schema is created here only and versioned by audit_meta.schema.
// AUTOINCREMENT: ids are never reused after a prune, so an AuditEvent id and a paging position
// always mean the same record.
constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS audit_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit_events(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_us INTEGER NOT NULL,
  client_id TEXT NOT NULL,
  role TEXT NOT NULL,
  group_id TEXT NOT NULL,
  address TEXT NOT NULL,
  action TEXT NOT NULL,
  subtype TEXT NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  query TEXT NOT NULL,
  status INTEGER NOT NULL,
  outcome INTEGER NOT NULL,
  subscription_id TEXT NOT NULL,
  first_event INTEGER NOT NULL,
  last_event INTEGER NOT NULL,
  endpoint TEXT NOT NULL,
  detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_events_time ON audit_events(time_us);
CREATE INDEX IF NOT EXISTS audit_events_client ON audit_events(client_id, id);
CREATE INDEX IF NOT EXISTS audit_events_group ON audit_events(group_id, id);
CREATE INDEX IF NOT EXISTS audit_events_entity ON audit_events(entity_type, entity_id, id);
)sql";

constexpr const char* columns =
    "id, time_us, client_id, role, group_id, address, action, subtype, entity_type, entity_id, "
    "query, status, outcome, subscription_id, first_event, last_event, endpoint, detail";

sqlite3* open_db(const std::filesystem::path& file, bool read_only) {
  sqlite3* db = nullptr;
  const int flags =
      (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
      SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(file.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    const std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw std::runtime_error("audit.db: cannot open " + file.string() + ": " + msg);
  }
  sqlite3_busy_timeout(db, 10'000);
  return db;
}

struct db_handle {
  sqlite3* db = nullptr;
  ~db_handle() { sqlite3_close(db); }
};

audit_record read_row(const stmt& q) {
  audit_record r;
  r.id = q.column_int(0);
  r.time_us = q.column_int(1);
  r.client_id = q.column_string(2);
  r.role = q.column_string(3);
  r.group = q.column_string(4);
  r.address = q.column_string(5);
  const auto action = q.column(6);
  r.action = action.empty() ? 'E' : action.front();
  r.subtype = q.column_string(7);
  r.entity_type = q.column_string(8);
  r.entity_id = q.column_string(9);
  r.query = q.column_string(10);
  r.status = static_cast<unsigned>(q.column_int(11));
  r.outcome = static_cast<int>(q.column_int(12));
  r.subscription_id = q.column_string(13);
  r.first_event = q.column_int(14);
  r.last_event = q.column_int(15);
  r.endpoint = q.column_string(16);
  r.detail = q.column_string(17);
  return r;
}

}  // namespace

int outcome_of_status(unsigned status) {
  if (status >= 200 && status < 400) return 0;
  if (status >= 400 && status < 500) return 4;
  return 8;
}

std::string origin_of(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return "";
  std::string scheme(url.substr(0, scheme_end));
  for (char& c : scheme) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
      return "";
  }
  std::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  if (rest.empty()) return "";
  // A port is what follows the last ':' outside an IPv6 literal's brackets.
  const auto colon = rest.rfind(':');
  const auto bracket = rest.find(']');
  const bool has_port =
      colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket);
  std::string out = scheme + "://" + std::string(rest);
  if (!has_port) out += scheme == "https" ? ":443" : scheme == "http" ? ":80" : "";
  return out;
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

audit_record notification_record(const notification_attempt& a) {
  audit_record r;
  r.role = "gateway";
  r.group = a.group_id;
  r.endpoint = origin_of(a.endpoint);
  // The host the data went to, for AuditEvent.agent.network.address.
  const std::string_view origin(r.endpoint);
  if (const auto s = origin.find("://"); s != std::string_view::npos) {
    std::string_view host = origin.substr(s + 3);
    if (host.starts_with('[')) {
      host = host.substr(1, host.find(']') - 1);
    } else {
      host = host.substr(0, host.rfind(':'));
    }
    r.address = std::string(host);
  }
  r.action = 'R';
  r.subtype = a.kind;
  r.entity_type = "Subscription";
  r.entity_id = a.subscription_id;
  r.subscription_id = a.subscription_id;
  r.first_event = a.first_event;
  r.last_event = a.last_event;
  r.status = a.http_status;
  r.outcome = a.delivered ? 0 : 4;
  r.detail = a.detail;
  return r;
}

void record_notification(audit_log& log, const notification_attempt& a) {
  log.record(notification_record(a));
}

// ---- the log ------------------------------------------------------------------------------------

struct audit_log::impl {
  options opts;
  std::filesystem::path file;
  db_handle writer_db;         // the writer thread's connection (none when read-only)
  mutable std::mutex read_mu;  // guards reader_db
  db_handle reader_db;         // query(), get(), prune()

  std::mutex mu;  // guards everything below
  std::condition_variable wake_writer;
  std::condition_variable room_or_done;  // record() waiting for room; flush() waiting for writes
  std::deque<audit_record> queue;
  std::uint64_t enqueued = 0;  // records accepted so far
  std::uint64_t finished = 0;  // of those, written (or given up on)
  bool flush_now = false;
  bool closing = false;
  bool closed = false;
  std::thread writer;

  std::uint64_t dropped = 0;
  std::chrono::steady_clock::time_point last_drop_warning{};
  obs::counter* written_total = nullptr;
  obs::counter* dropped_total = nullptr;
  obs::counter* failures_total = nullptr;

  void count_drop(std::unique_lock<std::mutex>&) {
    ++dropped;
    if (dropped_total != nullptr) dropped_total->inc();
    const auto now = std::chrono::steady_clock::now();
    if (last_drop_warning == std::chrono::steady_clock::time_point{} ||
        now - last_drop_warning >= std::chrono::minutes(1)) {
      last_drop_warning = now;
      obs::warn("audit.record_dropped",
                {{"dropped_total", dropped}, {"reason", closing ? "closed" : "queue_full"}});
    }
  }

  void write_batch(const std::vector<audit_record>& batch) {
    sqlite3* db = writer_db.db;
    transaction tx(db, true);
    stmt ins(db,
             "INSERT INTO audit_events(time_us, client_id, role, group_id, address, action, "
             "subtype, entity_type, entity_id, query, status, outcome, subscription_id, "
             "first_event, last_event, endpoint, detail) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)");
    for (const auto& r : batch) {
      const char action[1] = {r.action};
      ins.int64(1, r.time_us)
          .text(2, r.client_id)
          .text(3, r.role)
          .text(4, r.group)
          .text(5, r.address)
          .text(6, std::string_view(action, 1))
          .text(7, r.subtype)
          .text(8, r.entity_type)
          .text(9, r.entity_id)
          .text(10, r.query)
          .int64(11, r.status)
          .int64(12, r.outcome)
          .text(13, r.subscription_id)
          .int64(14, r.first_event)
          .int64(15, r.last_event)
          .text(16, r.endpoint)
          .text(17, r.detail)
          .run();
    }
    tx.commit();
  }

  std::int64_t prune_before(std::int64_t before_us) {
    std::lock_guard lock(read_mu);
    stmt del(reader_db.db, "DELETE FROM audit_events WHERE time_us < ?1");
    del.int64(1, before_us).run();
    return sqlite3_changes64(reader_db.db);
  }

  void prune_retention() {
    if (opts.retention.count() <= 0) return;
    const std::int64_t before =
        now_us() - std::chrono::duration_cast<std::chrono::microseconds>(opts.retention).count();
    try {
      const std::int64_t n = prune_before(before);
      if (n > 0) obs::info("audit.pruned", {{"records", n}, {"before_us", before}});
    } catch (const std::exception& e) {
      obs::error("audit.prune_failed", {{"error", e.what()}});
    }
  }

  void run() {
    std::vector<audit_record> batch;
    auto next_prune = std::chrono::steady_clock::now() + std::chrono::hours(1);
    std::unique_lock lock(mu);
    for (;;) {
      wake_writer.wait_for(lock, std::chrono::seconds(1),
                           [&] { return closing || flush_now || !queue.empty(); });
      // Group commit: give the records arriving within commit_interval the same transaction.
      if (!closing && !flush_now && !queue.empty())
        wake_writer.wait_for(lock, opts.commit_interval, [&] {
          return closing || flush_now || queue.size() >= opts.batch_size;
        });
      flush_now = false;
      if (queue.empty()) {
        if (closing) break;
        if (std::chrono::steady_clock::now() >= next_prune) {
          lock.unlock();
          prune_retention();
          lock.lock();
          next_prune = std::chrono::steady_clock::now() + std::chrono::hours(1);
        }
        continue;
      }
      const std::size_t n = std::min(queue.size(), std::max<std::size_t>(opts.batch_size, 1) * 4);
      batch.assign(std::make_move_iterator(queue.begin()),
                   std::make_move_iterator(queue.begin() + static_cast<std::ptrdiff_t>(n)));
      queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
      room_or_done.notify_all();  // room for waiting record() calls
      lock.unlock();
      bool written = false;
      for (int attempt = 0;; ++attempt) {
        try {
          write_batch(batch);
          written = true;
          break;
        } catch (const std::exception& e) {
          if (failures_total != nullptr) failures_total->inc();
          obs::error("audit.write_failed",
                     {{"records", static_cast<std::uint64_t>(batch.size())}, {"error", e.what()}});
        }
        // Retry every second; once closing, one more try and then the records are given up.
        std::unique_lock wait_lock(mu);
        if (closing && attempt > 0) break;
        room_or_done.wait_for(wait_lock, std::chrono::seconds(1), [&] { return closing; });
      }
      lock.lock();
      if (written) {
        if (written_total != nullptr) written_total->inc(batch.size());
      } else {
        for (std::size_t i = 0; i < batch.size(); ++i) count_drop(lock);
      }
      finished += batch.size();
      batch.clear();
      room_or_done.notify_all();
    }
  }
};

audit_log::audit_log(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

std::unique_ptr<audit_log> audit_log::open(const std::filesystem::path& data_dir, options o) {
  auto p = std::make_unique<impl>();
  p->opts = o;
  p->file = data_dir / "audit.db";
  if (o.read_only) {
    if (!std::filesystem::exists(p->file))
      throw std::runtime_error("audit.db: no audit trail in " + data_dir.string());
    p->reader_db.db = open_db(p->file, true);
    stmt q(p->reader_db.db, "SELECT value FROM audit_meta WHERE key = 'schema'");
    if (q.row() && q.column_int(0) > schema_version)
      throw std::runtime_error("audit.db: written by a newer CareBridge (audit schema " +
                               std::to_string(q.column_int(0)) + ")");
  } else {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    p->writer_db.db = open_db(p->file, false);
    sqlite3* db = p->writer_db.db;
    exec(db, "PRAGMA journal_mode=WAL");
    // One fsync per group commit (every ~50 ms at most): the trail survives a power cut too.
    exec(db, "PRAGMA synchronous=FULL");
    {
      transaction tx(db, true);
      exec(db, schema);
      stmt q(db, "SELECT value FROM audit_meta WHERE key = 'schema'");
      if (q.row()) {
        if (q.column_int(0) > schema_version)
          throw std::runtime_error("audit.db: written by a newer CareBridge (audit schema " +
                                   std::to_string(q.column_int(0)) + ")");
        // Migrations from older audit schemas go here.
      } else {
        stmt ins(db, "INSERT INTO audit_meta(key, value) VALUES ('schema', ?1)");
        ins.int64(1, schema_version).run();
      }
      q.reset();
      tx.commit();
    }
    p->reader_db.db = open_db(p->file, false);
    if (o.metrics != nullptr) {
      p->written_total =
          &o.metrics
               ->counters("carebridge_audit_records_total", "Audit records written to audit.db")
               .series();
      p->dropped_total =
          &o.metrics
               ->counters("carebridge_audit_dropped_total",
                          "Audit records lost: the queue stayed full, or audit.db unwritable")
               .series();
      p->failures_total = &o.metrics
                               ->counters("carebridge_audit_write_failures_total",
                                          "Failed audit.db batch writes (retried)")
                               .series();
    }
    p->prune_retention();
    impl* raw = p.get();
    p->writer = std::thread([raw] { raw->run(); });
  }
  return std::unique_ptr<audit_log>(new audit_log(std::move(p)));
}

audit_log::~audit_log() {
  close();
}

void audit_log::record(audit_record r) {
  if (r.time_us == 0) r.time_us = now_us();
  auto& p = *impl_;
  std::unique_lock lock(p.mu);
  if (p.closing || p.opts.read_only) {
    p.count_drop(lock);
    return;
  }
  if (p.queue.size() >= p.opts.queue_capacity) {
    p.flush_now = true;
    p.wake_writer.notify_one();
    if (!p.room_or_done.wait_for(
            lock, p.opts.max_block,
            [&] { return p.closing || p.queue.size() < p.opts.queue_capacity; }) ||
        p.closing) {
      p.count_drop(lock);
      return;
    }
  }
  p.queue.push_back(std::move(r));
  ++p.enqueued;
  if (p.queue.size() >= p.opts.batch_size) p.wake_writer.notify_one();
}

void audit_log::flush() {
  auto& p = *impl_;
  std::unique_lock lock(p.mu);
  if (!p.writer.joinable() || p.closed) return;
  const std::uint64_t target = p.enqueued;
  p.flush_now = true;
  p.wake_writer.notify_one();
  p.room_or_done.wait(lock, [&] { return p.finished >= target || p.closed; });
}

std::vector<audit_record> audit_log::query(const audit_filter& f) const {
  std::string sql = std::string("SELECT ") + columns + " FROM audit_events WHERE id > ?1";
  if (f.since_us) sql += " AND time_us >= ?2";
  if (f.until_us) sql += " AND time_us < ?3";
  if (!f.client_id.empty()) sql += " AND client_id = ?4";
  if (!f.group.empty()) sql += " AND group_id = ?5";
  if (!f.entity_type.empty()) sql += " AND entity_type = ?6";
  if (!f.entity_type.empty() && !f.entity_id.empty()) sql += " AND entity_id = ?7";
  if (!f.action.empty()) sql += " AND action = ?8";
  if (f.outcome) sql += " AND outcome = ?9";
  if (f.subtype == "operation")
    sql += " AND subtype LIKE '$%'";
  else if (!f.subtype.empty())
    sql += " AND subtype = ?10";
  sql += " ORDER BY id LIMIT ?11";
  std::lock_guard lock(impl_->read_mu);
  stmt q(impl_->reader_db.db, sql.c_str());
  q.int64(1, f.after_id);
  if (f.since_us) q.int64(2, *f.since_us);
  if (f.until_us) q.int64(3, *f.until_us);
  if (!f.client_id.empty()) q.text(4, f.client_id);
  if (!f.group.empty()) q.text(5, f.group);
  if (!f.entity_type.empty()) q.text(6, f.entity_type);
  if (!f.entity_type.empty() && !f.entity_id.empty()) q.text(7, f.entity_id);
  if (!f.action.empty()) q.text(8, f.action);
  if (f.outcome) q.int64(9, *f.outcome);
  if (!f.subtype.empty() && f.subtype != "operation") q.text(10, f.subtype);
  q.int64(11, static_cast<std::int64_t>(f.limit));
  std::vector<audit_record> out;
  while (q.row()) out.push_back(read_row(q));
  return out;
}

std::optional<audit_record> audit_log::get(std::int64_t id) const {
  std::lock_guard lock(impl_->read_mu);
  stmt q(impl_->reader_db.db,
         (std::string("SELECT ") + columns + " FROM audit_events WHERE id = ?1").c_str());
  q.int64(1, id);
  if (!q.row()) return std::nullopt;
  return read_row(q);
}

std::int64_t audit_log::prune(std::int64_t before_us) {
  if (impl_->opts.read_only) throw std::runtime_error("audit.db: opened read-only");
  return impl_->prune_before(before_us);
}

void audit_log::close() {
  auto& p = *impl_;
  {
    std::lock_guard lock(p.mu);
    if (p.closed) return;
    p.closing = true;
  }
  p.wake_writer.notify_all();
  p.room_or_done.notify_all();
  if (p.writer.joinable()) p.writer.join();
  std::lock_guard lock(p.mu);
  p.closed = true;
  p.room_or_done.notify_all();
}

std::uint64_t audit_log::dropped() const {
  std::lock_guard lock(impl_->mu);
  return impl_->dropped;
}

}  // namespace carebridge::gateway::audit
