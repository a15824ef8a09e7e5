#include "mappings/hl7v2/batch.hpp"

#include <charconv>

namespace carebridge::mappings::hl7v2 {
namespace {

bool is_eol(char c) noexcept { return c == '\r' || c == '\n'; }

// "MSH", "BHS"… when the segment starts with that id followed by a non-alphanumeric delimiter.
bool starts(std::string_view seg, std::string_view id) noexcept {
  if (seg.size() < 4 || seg.compare(0, 3, id) != 0) return false;
  const char d = seg[3];
  return !((d >= '0' && d <= '9') || (d >= 'A' && d <= 'Z') || (d >= 'a' && d <= 'z'));
}

// The first field of a BTS/FTS trailer as a count, or nullopt when not a plain number.
std::optional<std::uint64_t> trailer_count(std::string_view seg) {
  if (seg.size() < 5) return std::nullopt;
  const char fs = seg[3];
  std::string_view v = seg.substr(4);
  v = v.substr(0, v.find(fs));
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  std::uint64_t n = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc{} || p != v.data() + v.size()) return std::nullopt;
  return n;
}

}  // namespace

std::string batch_issue::describe() const {
  const std::string at = " (byte " + std::to_string(offset) + ")";
  switch (what) {
    case kind::bts_count_mismatch:
      return "BTS-1 says " + std::to_string(expected) + " messages, the batch has " +
             std::to_string(actual) + at;
    case kind::fts_count_mismatch:
      return "FTS-1 says " + std::to_string(expected) + " batches, the file has " +
             std::to_string(actual) + at;
    case kind::missing_bts: return "a batch header (BHS) without its trailer (BTS)" + at;
    case kind::missing_fts: return "a file header (FHS) without its trailer (FTS)" + at;
    case kind::unexpected_segment: return "a segment outside any message or out of place" + at;
    case kind::trailing_segment: return "segments after the file trailer (FTS)" + at;
  }
  return "batch issue" + at;
}

std::vector<std::string_view> batch_file::messages() const {
  std::vector<std::string_view> all;
  all.reserve(message_count());
  for (const auto& b : batches) all.insert(all.end(), b.messages.begin(), b.messages.end());
  return all;
}

std::size_t batch_file::message_count() const {
  std::size_t n = 0;
  for (const auto& b : batches) n += b.messages.size();
  return n;
}

boost::system::result<batch_file, parse_error> split_batch(std::string_view bytes,
                                                           std::size_t max_bytes) {
  if (bytes.size() > max_bytes)
    return parse_error{make_error_code(error::too_large), max_bytes};
  std::size_t base = 0;
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") base = 3;

  batch_file file;
  batch_group* group = nullptr;  // the open batch, if any
  bool group_closed = true;
  const char* msg_begin = nullptr;  // the open message, if any
  const char* msg_end = nullptr;
  bool after_fts = false;
  bool saw_any = false;
  std::size_t first_text = std::string_view::npos;

  auto close_message = [&] {
    if (msg_begin != nullptr) {
      group->messages.emplace_back(msg_begin, static_cast<std::size_t>(msg_end - msg_begin));
      group->message_offsets.push_back(static_cast<std::size_t>(msg_begin - bytes.data()));
      msg_begin = nullptr;
    }
  };
  auto issue = [&](batch_issue::kind k, std::size_t at, std::uint64_t expected = 0,
                   std::uint64_t actual = 0) {
    file.issues.push_back({k, at, expected, actual});
  };

  const char* p = bytes.data() + base;
  const char* end = bytes.data() + bytes.size();
  while (p < end) {
    const char* e = p;
    while (e < end && !is_eol(*e)) ++e;
    if (e == p) {
      ++p;
      continue;
    }
    const std::string_view seg(p, static_cast<std::size_t>(e - p));
    const std::size_t at = static_cast<std::size_t>(p - bytes.data());
    if (first_text == std::string_view::npos) first_text = at;
    if (after_fts) {
      issue(batch_issue::kind::trailing_segment, at);
      after_fts = false;  // reported once; what follows is still split below
    }
    if (starts(seg, "FHS")) {
      saw_any = true;
      close_message();
      if (!file.file_header.empty() || file.message_count() > 0 || group != nullptr)
        issue(batch_issue::kind::unexpected_segment, at);
      else
        file.file_header = seg;
    } else if (starts(seg, "BHS")) {
      saw_any = true;
      close_message();
      if (group != nullptr && !group_closed && !group->header.empty())
        issue(batch_issue::kind::missing_bts, at);
      file.batches.emplace_back();
      group = &file.batches.back();
      group->header = seg;
      group_closed = false;
    } else if (starts(seg, "MSH")) {
      saw_any = true;
      close_message();
      if (group == nullptr || group_closed) {
        file.batches.emplace_back();
        group = &file.batches.back();
        group_closed = false;
      }
      msg_begin = p;
      msg_end = e;
    } else if (starts(seg, "BTS")) {
      saw_any = true;
      close_message();
      if (group == nullptr || group_closed || group->header.empty()) {
        issue(batch_issue::kind::unexpected_segment, at);
      } else {
        group->trailer = seg;
        if (auto n = trailer_count(seg); n && *n != group->messages.size())
          issue(batch_issue::kind::bts_count_mismatch, at, *n, group->messages.size());
      }
      group_closed = true;
    } else if (starts(seg, "FTS")) {
      saw_any = true;
      close_message();
      if (group != nullptr && !group_closed && !group->header.empty())
        issue(batch_issue::kind::missing_bts, at);
      group_closed = true;
      if (file.file_header.empty() || !file.file_trailer.empty()) {
        issue(batch_issue::kind::unexpected_segment, at);
      } else {
        file.file_trailer = seg;
        if (auto n = trailer_count(seg); n && *n != file.batches.size())
          issue(batch_issue::kind::fts_count_mismatch, at, *n, file.batches.size());
      }
      after_fts = true;
    } else if (msg_begin != nullptr) {
      msg_end = e;
    } else {
      issue(batch_issue::kind::unexpected_segment, at);
    }
    p = e;
  }
  if (group != nullptr) close_message();
  if (!saw_any) {
    if (first_text == std::string_view::npos)
      return parse_error{make_error_code(error::empty_input), base};
    return parse_error{make_error_code(error::no_msh), first_text};
  }
  if (group != nullptr && !group_closed && !group->header.empty())
    issue(batch_issue::kind::missing_bts, bytes.size());
  if (!file.file_header.empty() && file.file_trailer.empty())
    issue(batch_issue::kind::missing_fts, bytes.size());
  return file;
}

}  // namespace carebridge::mappings::hl7v2
