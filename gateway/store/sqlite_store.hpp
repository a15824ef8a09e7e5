// The embedded message store under the data directory: an append-only message log
// (message-log/, where a message becomes durable) and SQLite in WAL mode (carebridge.db: the
// messages' rows and state, the duplicate key, counts, resources and events).
//
// One writer thread owns the write connection and group-commits. It takes every new message
// queued (up to options::max_batch) and, for each, checks the duplicate key and gives it its row
// (without the body) in SQLite, adding its whole record to the log batch; it writes that batch to
// the log with one write and one fdatasync — the durable point: one fsync covers the batch — and
// runs the callbacks at once. The SQLite transaction stays open across batches and commits, without
// an fsync, when the writer has been idle for 2 ms, after 20 ms or 2048 operations, or when a
// reader asks: SQLite's commit costs are shared by many batches and never delay an ACK. At open,
// records in the log past the last row SQLite kept (a kill, or a power cut that took SQLite's
// unsynced commits) are inserted again, so SQLite always ends up holding everything the log holds;
// should a SQLite statement or commit fail at run time, the transaction is rolled back and the
// same recovery runs at once.
//
// Settlements (what the pipeline made of a message) touch SQLite only, a few per batch after the
// new messages are answered; their callbacks run once SQLite has committed them. A lost settlement
// leaves the message pending: it is processed again.
//
// Reads (pending(), stats(), backlog()) first have the writer commit its open transaction, then
// read through a second connection under a mutex; pending() never returns a message whose record
// is not durable. read_resource() and events_for_patient() read what is committed (at most about
// 20 ms behind; a settlement's callback means it is committed). A third connection, on its own
// thread at idle I/O priority, checkpoints the WAL (PASSIVE) once it passes 16 MiB and zero-fills
// the log ahead of the writer (message_log::preallocate()); after a checkpoint pass the writer
// copies the few frames it added meanwhile, so that the WAL starts over instead of growing.
//
// Per accepted message: its log record, its row, one entry of the duplicate-key index and one of
// the pending index; settling it rewrites its row and drops the pending entry. Counts by state and
// facility (for stats) are kept in a small table, updated once per batch.
#pragma once

#include "gateway/store/message_log.hpp"
#include "gateway/store/message_store.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

struct sqlite3;

namespace carebridge::gateway::store {

class sqlite_store final : public message_store {
 public:
  struct options {
    std::size_t max_batch = 1024;  // new messages per group commit at the most
    bool fsync = true;  // fdatasync the log per group commit (false: tests of other things)
  };

  /// Opens (creating if needed) DIR/carebridge.db and DIR/message-log/, migrating an older
  /// database and inserting again what the log has and SQLite lost. Throws std::runtime_error with
  /// one clear line when the directory, database or log cannot be used (a log that lost messages
  /// the database has is refused, and left as it is).
  static std::unique_ptr<sqlite_store> open(const std::filesystem::path& data_dir, options opts);
  /// Opens an existing store read-only (for `carebridge store stats`).
  static std::unique_ptr<sqlite_store> open_read_only(const std::filesystem::path& data_dir);

  ~sqlite_store() override;
  sqlite_store(const sqlite_store&) = delete;
  sqlite_store& operator=(const sqlite_store&) = delete;

  void submit(inbound_record record, commit_handler done) override;
  std::vector<stored_message> pending(std::int64_t after_id, std::size_t limit) override;
  void settle(std::int64_t id, message_state state, std::string reason,
              std::function<void(bool ok)> done = {}) override;
  void settle_processed(std::int64_t id, processing_result result,
                        std::function<void(bool ok)> done = {}) override;
  std::optional<stored_resource> read_resource(std::string_view type,
                                               std::string_view id) override;
  std::vector<stored_event> events_for_patient(std::string_view patient_resource_id) override;
  std::vector<stored_event> events_after(std::int64_t after_message_id, std::size_t limit) override;
  store_stats stats() override;
  backlog_info backlog() override;
  bool writable() const override;
  std::size_t queued() const override;
  void close() override;

  /// Commits done and records written since open (for metrics and tests).
  std::uint64_t commits() const;
  std::uint64_t records_written() const;
  /// fdatasyncs of the message log since open (one per batch that stores messages).
  std::uint64_t syncs() const;
  /// Records found in the log at open that SQLite did not have, and inserted again.
  std::uint64_t recovered() const { return recovered_; }

 private:
  struct op;
  struct statements;
  class count_deltas;
  sqlite_store();
  void writer_loop();
  void write_batch(std::deque<op>& batch);
  commit_result insert_message(const inbound_record& r, const std::deque<op>& batch,
                               const std::vector<std::pair<std::int64_t, std::size_t>>& logged,
                               count_deltas& counts);
  void settle_message(std::int64_t id, message_state state, const std::string& reason,
                      const processing_result* result, count_deltas& counts);
  void recover();
  void commit_txn();
  void abort_txn();
  void wait_for_commit();
  void want_preallocation();
  void checkpoint_loop();
  static int on_wal_commit(void* self, sqlite3* db, const char* name, int pages);

  std::unique_ptr<message_log> log_;
  std::atomic<std::uint64_t> recovered_{0};
  bool broken_ = false;        // writer thread only: the log and SQLite disagree until a restart
  std::string broken_reason_;
  // The SQLite transaction the writer keeps open across group commits (writer thread only): it
  // commits after txn_idle without work, after txn_max_age, or after txn_max_ops operations.
  static constexpr auto txn_idle = std::chrono::milliseconds(2);
  static constexpr auto txn_max_age = std::chrono::milliseconds(20);
  static constexpr std::size_t txn_max_ops = 2048;
  bool txn_open_ = false;
  std::chrono::steady_clock::time_point txn_started_;
  std::size_t txn_ops_ = 0;
  std::int64_t txn_max_id_ = 0;
  std::vector<std::function<void(bool)>> txn_settled_;  // run once the transaction commits
  sqlite3* wdb_ = nullptr;  // writer thread only
  std::unique_ptr<statements> st_;  // writer thread only: prepared once
  sqlite3* cdb_ = nullptr;  // checkpointer thread only
  int checkpoint_pages_ = 0;  // WAL frames from which the checkpointer runs
  int wal_pages_ = 0;         // writer thread only: frames in the WAL after the last commit
  std::atomic<bool> ckpt_caught_up_{false};  // the checkpointer copied the whole WAL back
  sqlite3* rdb_ = nullptr;  // under read_mu_
  std::mutex read_mu_;
  bool counts_table_ = true;  // schema 3 or later (a read-only store may be older)
  options opts_;
  // The highest message id SQLite has committed (its record is durable in the log before that):
  // pending() returns nothing newer, so that a scan never passes over a message SQLite does not
  // show yet (the pipeline skips queued messages a scan has passed).
  std::atomic<std::int64_t> durable_id_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<op> queue_;    // new messages
  std::deque<op> updates_;  // settlements
  bool closing_ = false;
  bool writable_ = true;
  std::uint64_t commits_ = 0;
  std::uint64_t written_ = 0;
  std::uint64_t syncs_ = 0;
  std::uint64_t committed_txns_ = 0;  // under mu_: for readers waiting for a commit
  bool commit_wanted_ = false;        // under mu_: a reader wants the open transaction committed
  bool txn_open_shared_ = false;      // under mu_: the writer's transaction is open
  std::condition_variable readers_cv_;
  std::thread writer_;
  std::uint64_t checkpoint_failures_ = 0;

  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  bool ckpt_wanted_ = false;
  bool ckpt_stop_ = false;
  bool prealloc_wanted_ = false;  // the log wants zero-filled room (the same thread does it)
  std::thread checkpointer_;
};

}  // namespace carebridge::gateway::store
