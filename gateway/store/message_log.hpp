// The message log: where an inbound record becomes durable. Private to sqlite_store.
//
// An append-only sequence of segment files under DATA_DIR/message-log/ (00000001.cblog, …). Each
// record holds everything about one stored message — its id, the duplicate key, state, reason, the
// ACK sent and the raw message — behind a header with its length and a CRC32C of the payload. The
// store's writer appends a whole group commit with one write and one fdatasync; SQLite then holds
// the message's row (no body) with the record's position, and is rebuilt from the log after a
// crash: records past the last row SQLite kept are inserted again at start (sqlite_store::open).
//
// A position is (segment << 40) | offset. The records of a segment end at the first one that does
// not check out (length, CRC): a torn end of the last segment (a crash during a write, never
// acknowledged) is cut off by the store at open, once SQLite confirms it holds nothing past it;
// in an earlier segment it is an error.
//
// The segment being written is zero-filled ahead of the records (preallocate(), from a helper
// thread): an fdatasync of blocks that already exist writes the data only, where one that grows
// the file must write its inode too (one more synchronous write per group commit, and about 40 %
// more CPU and latency per fsync on ext4). The zeros end the records when the log is read.
//
// Threads: append/flush/discard/rotate_if_full on the writer thread only; preallocate() on one
// helper thread; read() from any thread.
#pragma once

#include "gateway/store/message_store.hpp"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>

namespace carebridge::gateway::store {

/// One record as read back from the log.
struct logged_record {
  std::int64_t id = 0;
  inbound_record record;
};

/// One record as read in place (read_range()): views into the reader's buffer, valid during the
/// callback only.
struct record_view {
  std::int64_t id = 0;
  std::int64_t received_at_us = 0;
  message_state state = message_state::pending;
  std::string_view sending_application, sending_facility, control_id, message_type, sender, peer,
      reason, ack_code, ack, raw;
};

class message_log {
 public:
  /// Segments grow to about this size (by default) before the next one starts.
  static constexpr std::uint64_t default_segment_bytes = std::uint64_t{256} << 20;
  /// Zero-filled stretch added at a time, and the room left when the next one is wanted.
  static constexpr std::uint64_t preallocate_bytes = std::uint64_t{2} << 20;
  static constexpr std::uint64_t preallocate_margin = std::uint64_t{4} << 20;

  /// Opens (creating it when `create`) the log in `dir`. The records of the last segment end at
  /// the first one that does not check out; what follows (when not preallocated zeros) is a torn
  /// tail, left in place until cut_torn_tail(). Throws std::runtime_error with one clear line.
  static std::unique_ptr<message_log> open(const std::filesystem::path& dir, bool create,
                                           std::uint64_t segment_bytes = default_segment_bytes);
  ~message_log();
  message_log(const message_log&) = delete;
  message_log& operator=(const message_log&) = delete;

  /// Where the next appended record will start.
  std::int64_t next_position() const;
  /// Adds a record to the batch being built (written by flush()); returns its position.
  std::int64_t append(std::int64_t id, const inbound_record& r);
  /// Writes the batch at the end of the log and, when `sync`, makes it durable (fdatasync). On
  /// failure the log is cut back to where the batch began and `ec` says why.
  bool flush(bool sync, std::error_code& ec) { return flush(sync, ec, 0); }
  /// flush() whose fdatasync fails with `injected_errno` when it is not 0 (tests of the failure).
  bool flush(bool sync, std::error_code& ec, int injected_errno);
  /// Drops the batch being built.
  void discard();
  /// Bytes after the last good record of the last segment that are neither records nor zeros:
  /// a write a crash interrupted (never acknowledged) — or damage.
  std::uint64_t torn_bytes() const { return torn_; }
  /// Cuts them off (before anything is appended).
  void cut_torn_tail();
  /// Starts a new segment when the current one is full (between batches).
  void rotate_if_full();
  /// True when the zero-filled room ahead of the records is running out.
  bool wants_preallocation() const;
  /// Zero-fills (and syncs) the next stretch of the current segment. Helper thread.
  void preallocate();

  /// The record at `pos`, or nullopt (with `error` set) when it is not there or does not check
  /// out. Any thread.
  std::optional<logged_record> read(std::int64_t pos, std::string* error = nullptr) const;
  /// Calls `f(position, record)` for the records from `from` (a record's start) up to `to` (a
  /// position next_position() returned after a flush: every record before it is complete), in
  /// order and across segments, until `f` returns false. Returns the position after the last
  /// record passed to `f`. `buf` is the caller's reusable read buffer. Throws on damage. Any
  /// thread (the store's indexer).
  std::int64_t read_range(std::int64_t from, std::int64_t to,
                          const std::function<bool(std::int64_t, const record_view&)>& f,
                          std::string& buf) const;
  /// Calls `f(position, record)` for every record from `pos` (a record's start, or 0 for the very
  /// beginning) to the end of the log, in order. Open time only (no writer running).
  void scan(std::int64_t pos, const std::function<void(std::int64_t, logged_record&&)>& f) const;

  static std::int64_t make_position(std::uint32_t segment, std::uint64_t offset) {
    return static_cast<std::int64_t>((std::uint64_t{segment} << 40) | offset);
  }
  static std::uint32_t segment_of(std::int64_t pos) {
    return static_cast<std::uint32_t>(static_cast<std::uint64_t>(pos) >> 40);
  }
  static std::uint64_t offset_of(std::int64_t pos) {
    return static_cast<std::uint64_t>(pos) & ((std::uint64_t{1} << 40) - 1);
  }

 private:
  message_log() = default;
  std::filesystem::path segment_path(std::uint32_t segment) const;
  int read_fd(std::uint32_t segment) const;
  void start_segment(std::uint32_t segment);

  std::filesystem::path dir_;
  std::uint64_t segment_bytes_ = default_segment_bytes;
  // Writer side.
  int fd_ = -1;                        // the last segment, open for appending
  std::uint32_t segment_ = 0;          // its number
  std::atomic<std::uint64_t> end_{0};  // where its records end (read by the helper)
  std::uint64_t torn_ = 0;             // see torn_bytes()
  std::string batch_;                  // records appended and not yet flushed
  // The current segment: records up to end_, then zeros up to filled_ (written by the helper),
  // synced up to allocated_. The writer writes below allocated_ without a lock; past it, under
  // alloc_mu_. The helper zero-fills past filled_ under alloc_mu_ and syncs under sync_mu_ alone
  // (rotation takes both).
  std::mutex sync_mu_;
  std::mutex alloc_mu_;
  std::uint64_t filled_ = 0;  // under alloc_mu_
  std::atomic<std::uint64_t> allocated_{0};
  // Reader side: one read-only descriptor per segment, opened on first use.
  mutable std::mutex read_mu_;
  mutable std::map<std::uint32_t, int> read_fds_;
};

/// CRC32C (Castagnoli) of `data`, continuing from `crc` (0 to start).
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) noexcept;

}  // namespace carebridge::gateway::store
