#include "adapters/mllp/mllp_framer.hpp"

#include <cstring>

namespace carebridge::adapters::mllp {

void mllp_framer::compact() {
  // Drop consumed bytes once they dominate the buffer, so a long-lived connection stays small.
  if (pos_ > 0 && (pos_ >= buf_.size() || pos_ > 64 * 1024 || pos_ * 2 > buf_.size())) {
    buf_.erase(0, pos_);
    if (in_frame_) frame_start_ -= pos_;
    scan_ = scan_ >= pos_ ? scan_ - pos_ : 0;
    pos_ = 0;
  }
}

void mllp_framer::feed(std::string_view bytes) {
  compact();
  buf_.append(bytes);
}

mllp_framer::event mllp_framer::next() {
  while (true) {
    if (!in_frame_) {
      // Skip to the next start byte; anything before it is junk.
      const std::size_t start = buf_.find(start_block, pos_);
      if (start == std::string::npos) {
        // A CR (or LF) right after an end block is the normal frame tail; it is not junk.
        for (std::size_t i = pos_; i < buf_.size(); ++i)
          if (buf_[i] != carriage_return && buf_[i] != '\n') ++junk_;
        pos_ = buf_.size();
        return {};
      }
      for (std::size_t i = pos_; i < start; ++i)
        if (buf_[i] != carriage_return && buf_[i] != '\n') ++junk_;
      in_frame_ = true;
      oversize_reported_ = false;
      frame_start_ = start + 1;
      scan_ = frame_start_;
      pos_ = start;
    }
    // Look for the end block (and a start block before it, which would mean the sender
    // restarted). memchr twice rather than a byte loop: frames are kilobytes.
    const char* base = buf_.data();
    std::size_t end = std::string::npos;
    std::size_t restart = std::string::npos;
    const std::size_t left = buf_.size() - scan_;
    const auto* fs = static_cast<const char*>(std::memchr(base + scan_, end_block, left));
    const std::size_t before = fs != nullptr ? static_cast<std::size_t>(fs - (base + scan_)) : left;
    const auto* vt = static_cast<const char*>(std::memchr(base + scan_, start_block, before));
    if (vt != nullptr) {
      restart = static_cast<std::size_t>(vt - base);
    } else if (fs != nullptr) {
      end = static_cast<std::size_t>(fs - base);
    }
    if (restart != std::string::npos) {
      junk_ += restart - pos_;
      ++restarted_;
      in_frame_ = false;
      pos_ = restart;
      continue;
    }
    if (end == std::string::npos) {
      scan_ = buf_.size();
      if (buf_.size() - frame_start_ > max_ && !oversize_reported_) {
        oversize_reported_ = true;
        return {kind::oversize, std::string_view(buf_).substr(frame_start_)};
      }
      return {};
    }
    if (end - frame_start_ > max_) {
      // Completed, but too large: report it (once) and skip it.
      const std::string_view whole(base + frame_start_, end - frame_start_);
      in_frame_ = false;
      pos_ = end + 1;
      if (!oversize_reported_) return {kind::oversize, whole};
      continue;
    }
    // The frame ends at 0x1C. Its 0x0D may come in a later read, or never (senders that omit
    // it and wait for the ACK); either way it is skipped, uncounted, before the next frame.
    const std::string_view payload(base + frame_start_, end - frame_start_);
    in_frame_ = false;
    pos_ = end + 1;
    return {kind::frame, payload};
  }
}

void mllp_framer::finish() {
  if (in_frame_) {
    truncated_ += buf_.size() - frame_start_;
    in_frame_ = false;
  }
  pos_ = buf_.size();
}

}  // namespace carebridge::adapters::mllp
