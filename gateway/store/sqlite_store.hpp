// The embedded message store under the data directory: an append-only message log
// (message-log/, where a message becomes durable) and SQLite in WAL mode (carebridge.db: the
// messages' rows and state, the duplicate key, counts, resources and events).
//
// Two threads write. The **log thread** is the ACK path and does nothing else: it takes every new
// message queued (up to options::max_batch), checks its duplicate key, gives it its id and appends
// its whole record to the log batch, writes the batch with one write and one fdatasync — the
// durable point: one fsync covers the batch — and runs the callbacks at once. The duplicate check
// looks first in an in-memory index of the accepted keys SQLite has not committed yet (their log
// positions), then in SQLite (a read connection of its own, one read transaction per batch).
//
// The **indexer thread** (lower CPU priority, like the pipeline: on a busy CPU acknowledging goes
// first) follows the log: it reads the records past the last one SQLite holds and gives each its
// row (no body), then applies the settlements (what the pipeline made of a message) and the
// duplicate counts, in a transaction that stays open across batches and commits, without an fsync,
// after 2 ms without work, after 20 ms or 2048 operations, or when a reader asks. Settlement
// callbacks run once SQLite has committed them (a lost settlement leaves the message pending: it
// is processed again). It lags the log by what the CPU leaves it; the in-memory key index is
// bounded (options::max_unindexed): past it, the log thread waits for the indexer. At open, and
// after any failed SQLite statement, indexing starts again from the last record SQLite committed,
// so nothing acknowledged is lost with a kill or a power cut.
//
// Reads: pending() and stats() first wait (up to 5 s) until the indexer has committed what the log
// held when they were called, then read through a third connection under a mutex; pending() never
// returns a message whose row is not committed. stats() also counts, by state and facility, the
// records of the log past SQLite's last row (so `carebridge store stats` on a store a kill left
// behind is right too). backlog() does not wait: SQLite's pending messages plus the accepted ones
// logged and not yet indexed (the oldest age may lag by the indexer's lag). read_resource() and
// events_for_patient() read what is committed. A fourth connection, on its own thread at idle I/O
// priority, checkpoints the WAL (PASSIVE) once it passes 16 MiB and zero-fills the log ahead of the
// log thread (message_log::preallocate()).
//
// Per accepted message: its log record, its row, one entry of the duplicate-key index and one of
// the pending index; settling it rewrites its row and drops the pending entry. Counts by state and
// facility (for stats) are kept in a small table, updated once per indexer batch.
#pragma once

#include "gateway/store/message_log.hpp"
#include "gateway/store/message_store.hpp"
#include "gateway/store/subscription_store.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

struct sqlite3;

namespace carebridge::gateway::store {

class sqlite_store final : public message_store, public subscription_store {
 public:
  struct options {
    std::size_t max_batch = 1024;  // new messages per group commit at the most
    bool fsync = true;  // fdatasync the log per group commit (false: tests of other things)
    /// Accepted messages logged and not yet committed in SQLite, at the most (the in-memory key
    /// index): past it, new messages wait for the indexer.
    std::size_t max_unindexed = 1u << 19;
    /// While the log's fsyncs come one after another, keep the CPU from going idle with a
    /// SCHED_IDLE thread that spins (and yields at once to any other thread): on a virtual
    /// machine an idle vCPU halts, and waking it for the I/O completion can cost milliseconds on
    /// a busy host (measured here: fdatasync p50 4.0 ms with the core idle, 0.1 ms with it busy).
    /// It spins only from an fsync until 2 ms after the last one. Off by default (config
    /// store.spin_during_sync): it burns an otherwise idle CPU and its end-to-end benefit was
    /// within the noise of the benchmark here.
    bool spin_during_sync = false;
    /// Tests only: called before each sync of the log; a non-zero errno makes that sync fail.
    std::function<int()> sync_fault_for_tests;
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
  void update_resource(std::string type, std::string id, std::string json,
                       std::int64_t expected_version,
                       std::function<void(std::int64_t)> done) override;
  std::vector<stored_resource> resources_where(std::string_view type, std::string_view path,
                                               std::string_view value, std::size_t limit) override;
  bool alert_mentions(std::string_view group_id, std::string_view type,
                      std::string_view id) override;
  std::vector<follow_up> follow_up_stats() override;
  std::vector<stored_alert> alerts_after(std::int64_t after_seq, std::size_t limit,
                                         std::string_view group_id = {}) override;
  store_stats stats() override;
  backlog_info backlog() override;
  bool writable() const override;
  std::size_t queued() const override;
  void close() override;

  // subscription_store
  void save_subscription(subscription_row s, done_fn done) override;
  void delete_subscription(std::string id, done_fn done) override;
  std::optional<subscription_row> subscription(std::string_view id) override;
  std::vector<subscription_row> subscriptions(std::string_view group_id = {}) override;
  std::int64_t fanned_out_through() override;
  void record_events(std::int64_t through_seq,
                     std::vector<std::pair<std::string, std::int64_t>> events,
                     done_fn done) override;
  std::vector<subscription_event> events_of(std::string_view subscription_id, std::int64_t from,
                                            std::int64_t to, std::size_t limit) override;
  void mark_delivered(std::string id, std::int64_t event_number, done_fn done) override;
  void set_status(std::string id, std::string status, std::string error, done_fn done) override;

  /// SQLite commits done and records indexed since open (for metrics and tests).
  std::uint64_t commits() const;
  std::uint64_t records_written() const;
  /// fdatasyncs of the message log since open (one per batch that stores messages).
  std::uint64_t syncs() const;
  /// Records found in the log at open that SQLite did not have, and inserted again.
  std::uint64_t recovered() const { return recovered_; }

  // message_store, physician groups' searches
  resource_page alert_resources(std::string_view group_id, std::string_view type,
                                std::string_view patient_id,
                                const std::vector<std::string>& statuses,
                                std::size_t limit) override;

 private:
  struct insert_op {
    inbound_record record;
    commit_handler done;
  };
  struct update_op {
    std::int64_t id;
    message_state state;
    std::string reason;
    std::function<void(bool)> done;
    std::optional<processing_result> result;  // settle_processed()
    std::function<void(sqlite3*)> write;      // a write of its own (subscriptions), when set
    bool urgent = false;  // on the alert path: committed within txn_urgent_age, not txn_max_age
  };
  // Queues `write` for the writer, in its transaction; `done` once committed (or false).
  void queue_write(std::function<void(sqlite3*)> write, std::function<void(bool)> done);
  struct duplicate_op {  // a resend answered with the stored ACK: counted
    std::int64_t id;
    std::string sending_facility;
  };
  // An accepted key logged and not yet committed in SQLite (log thread only).
  struct recent_key {
    std::int64_t id;
    std::int64_t pos;
  };
  struct statements;
  struct lookup_statements;
  class count_deltas;
  sqlite_store();
  // Log thread.
  void log_loop();
  void log_batch(std::vector<insert_op>& batch);
  std::optional<commit_result> find_duplicate(const inbound_record& r, std::uint64_t hash,
                                              const std::vector<insert_op>& batch,
                                              const std::vector<std::pair<std::int64_t, std::size_t>>& logged,
                                              bool& read_open);
  // Indexer thread.
  void index_loop();
  void index_records(std::int64_t to, count_deltas& counts);
  void settle_message(std::int64_t id, message_state state, const std::string& reason,
                      const processing_result* result, count_deltas& counts);
  void begin_txn();
  void commit_txn();
  void abort_txn(const std::string& why);
  void recover();
  void wait_for_index();  // until SQLite holds what the log held at the call (5 s at most)
  void want_preallocation();
  void checkpoint_loop();
  void spin_loop();
  static int on_wal_commit(void* self, sqlite3* db, const char* name, int pages);

  std::unique_ptr<message_log> log_;
  std::atomic<std::uint64_t> recovered_{0};
  options opts_;

  // --- log thread -------------------------------------------------------------------------------
  sqlite3* ldb_ = nullptr;                     // read connection for duplicate keys
  std::unique_ptr<lookup_statements> lst_;
  std::int64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, recent_key> recent_;   // by hash of the key
  std::deque<std::pair<std::int64_t, std::uint64_t>> recent_order_;  // (id, hash), by id
  bool log_failed_ = false;
  std::thread logger_;

  // --- published by the log thread, read by the indexer and readers ----------------------------
  std::atomic<std::int64_t> log_end_{0};            // position after the last durable record
  std::atomic<std::uint64_t> logged_accepted_{0};   // accepted messages made durable since open
  std::atomic<std::int64_t> newest_logged_us_{0};   // received_at of the last one
  std::atomic<std::uint64_t> logged_records_{0};    // records made durable since open

  // --- indexer thread ---------------------------------------------------------------------------
  // The SQLite transaction the indexer keeps open across batches: it commits after txn_idle
  // without work, after txn_max_age, or after txn_max_ops operations.
  static constexpr auto txn_idle = std::chrono::milliseconds(2);
  static constexpr auto txn_max_age = std::chrono::milliseconds(20);
  static constexpr std::size_t txn_max_ops = 2048;
  // A transaction holding alert-path work (a settlement that queued alerts, a subscription's
  // events or delivery state) commits within this, so an alert does not wait out txn_max_age at
  // each of its steps (settled → fanned out → delivered).
  static constexpr auto txn_urgent_age = std::chrono::milliseconds(2);
  std::optional<std::chrono::steady_clock::time_point> txn_urgent_since_;
  sqlite3* wdb_ = nullptr;
  std::unique_ptr<statements> st_;
  bool txn_open_ = false;
  std::chrono::steady_clock::time_point txn_started_;
  std::size_t txn_ops_ = 0;
  std::uint64_t txn_ops_through_ = 0;  // ops_taken_ whose ops are in the open transaction
  std::int64_t index_pos_ = 0;       // the next record to index
  std::int64_t txn_max_id_ = 0;      // the highest id indexed in the open transaction
  std::uint64_t txn_accepted_ = 0;   // accepted messages indexed in it
  std::uint64_t txn_records_ = 0;
  std::int64_t committed_pos_ = 0;   // index_pos_ at the last commit
  std::int64_t txn_newest_us_ = 0;   // received_at of the last accepted message indexed
  std::vector<std::function<void(bool)>> txn_settled_;  // run once the transaction commits
  std::string read_buf_;
  std::thread indexer_;

  // --- published by the indexer -----------------------------------------------------------------
  // The highest message id SQLite has committed: pending() returns nothing newer, and the log
  // thread drops the keys up to it from its index.
  std::atomic<std::int64_t> durable_id_{0};
  std::atomic<std::int64_t> committed_pos_shared_{0};
  std::atomic<std::uint64_t> committed_accepted_{0};  // of logged_accepted_
  std::atomic<std::int64_t> committed_newest_us_{0};

  sqlite3* cdb_ = nullptr;  // checkpointer thread only
  int checkpoint_pages_ = 0;
  std::atomic<bool> ckpt_caught_up_{false};
  sqlite3* rdb_ = nullptr;  // under read_mu_
  std::mutex read_mu_;
  bool counts_table_ = true;  // schema 3 or later (a read-only store may be older)

  mutable std::mutex mu_;
  std::condition_variable log_cv_;    // the log thread: new messages, or the indexer moved on
  std::condition_variable index_cv_;  // the indexer: log moved on, settlements, a reader
  std::condition_variable readers_cv_;
  std::vector<insert_op> queue_;      // new messages
  std::deque<update_op> updates_;     // settlements
  std::vector<duplicate_op> duplicates_;
  bool log_waits_for_index_ = false;  // the key index is full
  bool closing_ = false;
  bool log_done_ = false;             // the log thread has written everything and stopped
  bool writable_ = true;
  bool index_failing_ = false;
  std::int64_t index_wanted_ = 0;     // a reader waits until the indexer reaches it…
  bool want_commit_ = false;          // …and commits
  std::uint64_t committed_txns_ = 0;  // commits and rollbacks, for readers waiting for one
  bool txn_open_shared_ = false;      // the indexer's transaction is open
  // Settlements and duplicate counts: queued (all time), taken by the indexer, and committed (or
  // lost with a failed transaction) — a reader waits until what was queued before it is committed.
  std::uint64_t ops_queued_ = 0;
  std::uint64_t ops_taken_ = 0;
  std::uint64_t ops_committed_ = 0;
  bool indexing_ = false;             // set at open (not read-only): an indexer runs
  std::uint64_t commits_ = 0;
  std::uint64_t written_ = 0;
  std::uint64_t syncs_ = 0;
  std::uint64_t checkpoint_failures_ = 0;
  bool closed_logged_ = false;

  // The spinner (options::spin_during_sync).
  std::atomic<std::int64_t> last_sync_ns_{0};  // steady clock: when the last fsync began
  std::atomic<bool> spinning_{false};
  std::mutex spin_mu_;
  std::condition_variable spin_cv_;
  bool spin_stop_ = false;
  std::thread spinner_;

  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  bool ckpt_wanted_ = false;
  bool ckpt_stop_ = false;
  bool prealloc_wanted_ = false;
  std::thread checkpointer_;

 public:
  // --- operators' admin (`carebridge store messages|reprocess`) ---------------------------------

  /// The messages `f` selects, oldest first, without bodies (committed rows only: a message the
  /// indexer has not reached yet is pending and not listed). Any thread; a read-only store too.
  std::vector<message_summary> messages(const message_filter& f);

  /// Sets the messages `r` selects back to pending, clears their reason and keeps the counts by
  /// state right, in one short transaction on a connection of its own — while `carebridge serve`
  /// runs on the same directory too (busy timeout, WAL): its pipeline scan finds them pending
  /// and processes them again; a store not running does so at its next start. The message log
  /// is not touched. A message keeps its settled time (so processing it again replaces what it
  /// made, as for any message processed twice) and does not take back its duplicate key (a
  /// resend of an errored message is a new message). Throws std::runtime_error (one line) when
  /// the store cannot be opened or stays locked.
  static reprocess_result reprocess(const std::filesystem::path& data_dir,
                                    const reprocess_request& r);

  /// The accepted message holding the duplicate key (MSH-3, MSH-4, MSH-10), if SQLite has it
  /// committed: a resend of it is answered as a duplicate (`carebridge store replay` reports so).
  std::optional<std::int64_t> accepted_with_key(std::string_view sending_application,
                                                std::string_view sending_facility,
                                                std::string_view control_id);

  // --- operators' admin (`carebridge subscriptions deliveries|retry`) ---------------------------

  /// Per subscription (one, or all when `subscription_id` is empty), by id: its highest event
  /// number and when its oldest undelivered event was numbered. What is committed; any thread.
  std::vector<delivery_backlog> delivery_backlogs(std::string_view subscription_id = {});

  /// Sets subscriptions in error back to requested and clears their error (and moves their
  /// updated_us), in one short transaction on a connection of its own, beside a running gateway
  /// as reprocess() does: its notifier sees the change at its next pass, handshakes again and then
  /// sends everything after delivered_through — what a FHIR client does with a PUT of status
  /// requested. `ids` empty: every subscription in error. Throws std::runtime_error (one line)
  /// when the store cannot be opened or stays locked.
  static retry_result retry_subscriptions(const std::filesystem::path& data_dir,
                                          const std::vector<std::string>& ids);
};

}  // namespace carebridge::gateway::store
