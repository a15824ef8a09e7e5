// The embedded message store: SQLite in WAL mode under the data directory.
//
// One writer thread owns the write connection and group-commits: it takes everything queued (up to
// options::max_batch records), writes it in one transaction and commits with synchronous=FULL, so
// one fsync covers many messages. Callbacks run on the writer thread after the commit. Reads
// (pending(), stats()) use a second connection under a mutex; WAL lets them run beside the writer.
#pragma once

#include "gateway/store/message_store.hpp"

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
  store_stats stats() override;
  backlog_info backlog() override;
  bool writable() const override;
  std::size_t queued() const override;
  void close() override;

  /// Commits done and records written since open (for metrics and tests).
  std::uint64_t commits() const;
  std::uint64_t records_written() const;

 private:
  struct op;
  sqlite_store() = default;
  void writer_loop();
  void write_batch(std::deque<op>& batch);

  sqlite3* wdb_ = nullptr;  // writer thread only
  sqlite3* rdb_ = nullptr;  // under read_mu_
  std::mutex read_mu_;
  options opts_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<op> queue_;
  bool closing_ = false;
  bool writable_ = true;
  std::uint64_t commits_ = 0;
  std::uint64_t written_ = 0;
  std::thread writer_;
};

}  // namespace carebridge::gateway::store
