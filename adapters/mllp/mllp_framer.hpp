// The MLLP framer: cuts HL7 frames (0x0B <message> 0x1C 0x0D) out of a byte stream. No I/O.
//
// Feed it whatever a read returned; take frames out with next() until it says need_more. It handles
// several frames in one read, one frame across many reads, bytes before 0x0B (skipped and counted),
// and a frame whose trailing 0x0D never comes: a frame ends at 0x1C, and a 0x0D (or LF) between
// frames is skipped without being counted as junk. A frame that grows past the size limit is
// reported once as oversize; the caller answers it and closes the connection.
//
// Frames are views into the framer's buffer, valid until the next feed().
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace carebridge::adapters::mllp {

inline constexpr char start_block = '\x0B';
inline constexpr char end_block = '\x1C';
inline constexpr char carriage_return = '\x0D';
/// MLLP release 2 commit acknowledgment bytes.
inline constexpr char commit_ack = '\x06';
inline constexpr char commit_nak = '\x15';

class mllp_framer {
 public:
  enum class kind : std::uint8_t {
    need_more,  // no complete frame buffered
    frame,      // `payload` is one message (without the framing bytes)
    oversize,   // the frame passed max_frame_bytes; `payload` is what there is of it. Stop reading.
  };
  struct event {
    kind what = kind::need_more;
    std::string_view payload;
  };

  explicit mllp_framer(std::size_t max_frame_bytes) : max_(max_frame_bytes) {}

  /// Appends bytes read from the connection.
  void feed(std::string_view bytes);
  /// The next complete frame, if any.
  event next();
  /// At end of stream: an unterminated frame left over is counted in truncated_bytes().
  void finish();

  /// Bytes skipped outside frames (before 0x0B), since construction.
  std::uint64_t junk_bytes() const { return junk_; }
  /// Frames restarted by a 0x0B before their end (the partial frame is counted as junk).
  std::uint64_t restarted_frames() const { return restarted_; }
  /// Bytes of an unterminated frame dropped at end of stream.
  std::uint64_t truncated_bytes() const { return truncated_; }
  /// Bytes buffered and not yet returned.
  std::size_t buffered() const { return buf_.size() - pos_; }
  /// True when a frame has started (0x0B seen) and not yet ended.
  bool in_frame() const { return in_frame_; }
  /// The frame in progress so far (for an oversize frame: its head, to answer it and keep it).
  std::string_view partial_frame() const {
    return in_frame_ ? std::string_view(buf_).substr(frame_start_) : std::string_view{};
  }

 private:
  void compact();

  std::size_t max_;
  std::string buf_;
  std::size_t pos_ = 0;         // start of unconsumed bytes
  std::size_t scan_ = 0;        // where the search for 0x1C resumes (inside a frame)
  bool in_frame_ = false;
  std::size_t frame_start_ = 0;  // first payload byte when in_frame_
  bool oversize_reported_ = false;
  std::uint64_t junk_ = 0;
  std::uint64_t restarted_ = 0;
  std::uint64_t truncated_ = 0;
};

}  // namespace carebridge::adapters::mllp
