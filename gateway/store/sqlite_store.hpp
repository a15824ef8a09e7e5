// The embedded message store under the data directory: an append-only message log (log/, where a
// message becomes durable) and SQLite in WAL mode (carebridge.db: rows, indexes, state, resources).
//
// One writer thread owns the write connection and group-commits: it takes everything queued (up to
// options::max_batch records) and, in one SQLite transaction, checks each new message's duplicate
// key, gives it its row (without the body) and adds its whole record to the log batch; it then
// writes that batch to the log with one write and one fdatasync — the durable point: one fsync
// covers many messages — commits SQLite without an fsync, and runs the callbacks. At open, records
// in the log past the last row SQLite kept (a crash, or a power cut that took SQLite's unsynced
// commits) are inserted again, so SQLite always ends up holding everything the log holds. Batches
// that only settle messages touch SQLite only (a lost settle leaves the message pending; it is
// re-run). Callbacks run on the writer thread after the commit.
//
// Reads (pending(), stats()…) use a second connection under a mutex, and read bodies from the log;
// WAL lets them run beside the writer, and pending() never returns a message whose commit is not
// yet durable. A third connection, on its own thread, checkpoints the WAL (PASSIVE) once it passes
// 16 MiB, so that work stays off the commit path; after such a pass the writer copies the few
// frames it added meanwhile, so that the WAL starts over instead of growing. The same thread
// zero-fills the log ahead of the writer (message_log::preallocate()).
//
// Per accepted message a commit writes its log record, its row, one entry of the duplicate-key
// index and one of the pending index; settling it rewrites its row and drops the pending entry.
// Counts by state and facility (for stats) are kept in a small table, updated once per batch.
#pragma once

#include "gateway/store/message_log.hpp"
#include "gateway/store/message_store.hpp"

#include <atomic>
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
    std::size_t max_batch = 1024;  // records per transaction at the most
    bool fsync = true;             // synchronous=FULL (true) or NORMAL (tests of other things)
  };

  /// Opens (creating if needed) DIR/carebridge.db. Throws std::runtime_error with one clear line
  /// when the directory or database cannot be used.
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
  sqlite_store();
  void writer_loop();
  void write_batch(std::deque<op>& batch);
  void recover();
  void want_preallocation();
  void checkpoint_loop();
  static int on_wal_commit(void* self, sqlite3* db, const char* name, int pages);

  std::unique_ptr<message_log> log_;
  std::uint64_t recovered_ = 0;
  bool broken_ = false;        // writer thread only: the log and SQLite disagree until a restart
  std::string broken_reason_;
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
  // The highest message id whose commit is durable: pending() returns nothing newer, so that the
  // pipeline never acts on a message a power cut could still take back.
  std::atomic<std::int64_t> durable_id_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<op> queue_;
  bool closing_ = false;
  bool writable_ = true;
  std::uint64_t commits_ = 0;
  std::uint64_t written_ = 0;
  std::uint64_t syncs_ = 0;
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
