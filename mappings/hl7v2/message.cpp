#include "mappings/hl7v2/message.hpp"

#include "mappings/hl7v2/escape.hpp"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace carebridge::mappings::hl7v2 {
namespace {

// The first CR or LF in [p, end), or end.
const char* find_eol(const char* p, const char* end) noexcept {
#if defined(__SSE2__)
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i lf = _mm_set1_epi8('\n');
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
    if (m != 0) return p + __builtin_ctz(static_cast<unsigned>(m));
    p += 16;
  }
#endif
  while (p < end && *p != '\r' && *p != '\n') ++p;
  return p;
}

bool is_eol(char c) noexcept { return c == '\r' || c == '\n'; }

bool usable_delimiter(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x21 || u >= 0x7F) return false;  // control, space, DEL, non-ASCII
  return !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

// Reads the delimiters from an MSH (or FHS/BHS) segment. `seg` is the segment without terminator.
boost::system::result<delimiters> read_delimiters(std::string_view seg, std::size_t& bad_at) {
  bad_at = 3;
  if (seg.size() < 4) return error::truncated_msh;
  delimiters d;
  d.field = seg[3];
  if (!usable_delimiter(d.field)) return error::bad_delimiters;
  std::size_t end = seg.find(d.field, 4);
  if (end == std::string_view::npos) {
    // "MSH|^~\&" and nothing more is a (minimal) message; fewer encoding characters with nothing
    // after them is a header cut short.
    if (seg.size() - 4 < 4) {
      bad_at = seg.size();
      return error::truncated_msh;
    }
    end = seg.size();
  }
  const std::string_view enc = seg.substr(4, end - 4);
  bad_at = 4;
  if (enc.empty() || enc.size() > 5) return error::bad_delimiters;
  char* slots[5] = {&d.component, &d.repetition, &d.escape, &d.subcomponent, &d.truncation};
  d.component = d.repetition = d.escape = d.subcomponent = d.truncation = '\0';
  for (std::size_t i = 0; i < enc.size(); ++i) {
    bad_at = 4 + i;
    const char c = enc[i];
    if (!usable_delimiter(c) || c == d.field) return error::bad_delimiters;
    if (enc.substr(0, i).find(c) != std::string_view::npos) return error::bad_delimiters;
    *slots[i] = c;
  }
  return d;
}

}  // namespace

std::string delimiters::encoding_characters() const {
  std::string s;
  for (char c : {component, repetition, escape, subcomponent, truncation})
    if (c != '\0') s.push_back(c);
  return s;
}

namespace {
// The number of bits set in a 16-bit mask (no POPCNT instruction is assumed: a baseline x86-64
// build would call libgcc for __builtin_popcount).
inline std::uint32_t bits16(std::uint32_t m) noexcept {
  m = m - ((m >> 1) & 0x5555u);
  m = (m & 0x3333u) + ((m >> 2) & 0x3333u);
  m = (m + (m >> 4)) & 0x0F0Fu;
  return (m + (m >> 8)) & 0x1Fu;
}
}  // namespace

std::string_view nth_piece(std::string_view raw, char sep, std::uint32_t n) noexcept {
  if (n == 0 || raw.empty()) return {};
  const char* p = raw.data();
  const char* const end = p + raw.size();
  std::uint32_t need = n - 1;  // separators to skip
#if defined(__SSE2__)
  const __m128i s = _mm_set1_epi8(sep);
  // Count separators 16 bytes at a time; fields far into a segment (PV1-45) are reached quickly.
  while (need != 0 && end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    auto m = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, s)));
    const std::uint32_t c = bits16(m);
    if (c >= need) {
      for (std::uint32_t i = 1; i < need; ++i) m &= m - 1;
      p += __builtin_ctz(m) + 1;
      need = 0;
      break;
    }
    need -= c;
    p += 16;
  }
#endif
  while (need != 0 && p < end)
    if (*p++ == sep) --need;
  if (need != 0) return {};
  // The end of the piece. Pieces are short: a loop beats a call to memchr.
  const char* q = p;
#if defined(__SSE2__)
  while (end - q >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    const auto m = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, s)));
    if (m != 0) return {p, static_cast<std::size_t>(q + __builtin_ctz(m) - p)};
    q += 16;
  }
#endif
  while (q < end && *q != sep) ++q;
  return {p, static_cast<std::size_t>(q - p)};
}

std::uint32_t piece_count(std::string_view raw, char sep) noexcept {
  if (raw.empty()) return 0;
  return static_cast<std::uint32_t>(std::count(raw.begin(), raw.end(), sep)) + 1;
}

// ---- paths -------------------------------------------------------------------------------------

boost::system::result<path> parse_path(std::string_view text) {
  path p;
  if (text.size() < 5) return error::bad_path;
  for (int i = 0; i < 3; ++i) {
    char c = text[static_cast<std::size_t>(i)];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return error::bad_path;
    p.segment[i] = c;
  }
  std::size_t pos = 3;
  auto number = [&](std::uint32_t& out) -> bool {
    std::uint64_t v = 0;
    const std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && pos - start < 6)
      v = v * 10 + static_cast<std::uint64_t>(text[pos++] - '0');
    if (pos == start || v == 0) return false;
    if (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') return false;  // too long
    out = static_cast<std::uint32_t>(v);
    return true;
  };
  auto bracket = [&](std::uint32_t& out) -> bool {
    if (pos < text.size() && text[pos] == '[') {
      ++pos;
      if (!number(out) || pos >= text.size() || text[pos] != ']') return false;
      ++pos;
    }
    return true;
  };
  auto dot = [&]() -> bool {
    if (pos < text.size() && (text[pos] == '.' || text[pos] == '-')) {
      ++pos;
      return true;
    }
    return false;
  };
  if (!bracket(p.occurrence)) return error::bad_path;
  if (!dot() || !number(p.field) || !bracket(p.repetition)) return error::bad_path;
  if (dot()) {
    if (!number(p.component)) return error::bad_path;
    if (dot() && !number(p.subcomponent)) return error::bad_path;
  }
  if (pos != text.size()) return error::bad_path;
  return p;
}

// ---- element -----------------------------------------------------------------------------------

element element::repetition(std::uint32_t r) const {
  if (msg_ == nullptr) return {};
  switch (level_) {
    case level::field:
      return {nth_piece(raw_, msg_->delims().repetition, r), msg_, level::repetition};
    case level::literal:
    case level::repetition:
    case level::component:
    case level::subcomponent:
      return r == 1 ? *this : element{{}, msg_, level_};
  }
  return {};
}

std::uint32_t element::repetition_count() const {
  if (msg_ == nullptr) return {};
  if (level_ == level::field) return piece_count(raw_, msg_->delims().repetition);
  return raw_.empty() ? 0 : 1;
}

element element::component(std::uint32_t c) const {
  if (msg_ == nullptr) return {};
  switch (level_) {
    case level::field: return repetition(1).component(c);
    case level::repetition:
      return {nth_piece(raw_, msg_->delims().component, c), msg_, level::component};
    case level::literal:
    case level::component:
    case level::subcomponent:
      return c == 1 ? *this : element{{}, msg_, level_};
  }
  return {};
}

std::uint32_t element::components(element* out, std::uint32_t n, split_info* info) const {
  if (info != nullptr) *info = {};
  if (msg_ == nullptr) return 0;
  const delimiters& d = msg_->delims();
  switch (level_) {
    case level::field:
    case level::repetition: {
      // One pass: the component separators, the escape character, the sub-component separator
      // and, in a field, the end of its first repetition (what repetition(1) would look for).
      const bool field = level_ == level::field;
      const char* const begin = raw_.data();
      std::size_t size = raw_.size();
      std::uint32_t count = 0;
      std::size_t start = 0;  // of the component being read
      auto piece_ends_at = [&](std::size_t at) {
        if (count < n) out[count] = {{begin + start, at - start}, msg_, level::component};
        ++count;
        start = at + 1;
      };
      bool any_escape = false;
      bool any_sub = false;
      bool stopped = false;
      std::size_t i = 0;
#if defined(__SSE2__)
      const __m128i sep = _mm_set1_epi8(d.component);
      const __m128i esc = _mm_set1_epi8(d.escape);
      const __m128i sub = _mm_set1_epi8(d.subcomponent);
      const __m128i rep = _mm_set1_epi8(d.repetition);
      for (; i + 16 <= size; i += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(begin + i));
        auto m = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, sep)));
        auto e = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, esc)));
        auto s = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, sub)));
        if (field) {
          const auto r = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, rep)));
          if (r != 0) {  // the first repetition ends in this block
            const unsigned before = (r & -r) - 1;
            m &= before;
            e &= before;
            s &= before;
            size = i + static_cast<std::size_t>(__builtin_ctz(r));
            stopped = true;
          }
        }
        any_escape = any_escape || e != 0;
        any_sub = any_sub || s != 0;
        while (m != 0) {
          piece_ends_at(i + static_cast<std::size_t>(__builtin_ctz(m)));
          m &= m - 1;
        }
        if (stopped) break;
      }
#endif
      if (!stopped) {
        for (; i < size; ++i) {
          const char c = begin[i];
          if (field && c == d.repetition) {
            size = i;
            break;
          }
          any_escape = any_escape || c == d.escape;
          any_sub = any_sub || c == d.subcomponent;
          if (c == d.component) piece_ends_at(i);
        }
      }
      if (size == 0) return 0;  // nothing sent (or an empty first repetition)
      piece_ends_at(size);
      if (info != nullptr) {
        info->escapes = any_escape && d.escape != '\0';
        info->subcomponents = any_sub;
      }
      return count;
    }
    case level::literal:
    case level::component:
    case level::subcomponent:
      if (raw_.empty()) return 0;
      if (n > 0) out[0] = *this;
      if (info != nullptr) {
        // (A literal is never decoded; what subcomponent() splits on depends on the level.)
        info->escapes = level_ != level::literal && d.escape != '\0' &&
                        raw_.find(d.escape) != std::string_view::npos;
        info->subcomponents = level_ != level::literal &&
                              raw_.find(d.subcomponent) != std::string_view::npos;
      }
      return 1;
  }
  return 0;
}

std::uint32_t element::component_count() const {
  if (msg_ == nullptr) return {};
  switch (level_) {
    case level::field: return repetition(1).component_count();
    case level::repetition: return piece_count(raw_, msg_->delims().component);
    case level::literal:
    case level::component:
    case level::subcomponent: return raw_.empty() ? 0 : 1;
  }
  return 0;
}

element element::subcomponent(std::uint32_t s) const {
  if (msg_ == nullptr) return {};
  switch (level_) {
    case level::field:
    case level::repetition: return component(1).subcomponent(s);
    case level::component:
      return {nth_piece(raw_, msg_->delims().subcomponent, s), msg_, level::subcomponent};
    case level::literal:
    case level::subcomponent:
      return s == 1 ? *this : element{{}, msg_, level_};
  }
  return {};
}

std::uint32_t element::subcomponent_count() const {
  if (msg_ == nullptr) return {};
  switch (level_) {
    case level::field:
    case level::repetition: return component(1).subcomponent_count();
    case level::component: return piece_count(raw_, msg_->delims().subcomponent);
    case level::literal:
    case level::subcomponent: return raw_.empty() ? 0 : 1;
  }
  return 0;
}

std::string_view element::decoded(std::string& scratch) const {
  if (level_ == level::literal || msg_ == nullptr) return raw_;
  const char esc = msg_->delims().escape;
  if (esc == '\0') return raw_;
  // Values are short: eight bytes at a time beat a call to memchr.
  {
    const char* p = raw_.data();
    const char* const end = p + raw_.size();
    constexpr std::uint64_t ones = 0x0101010101010101ull;
    const std::uint64_t pattern = ones * static_cast<unsigned char>(esc);
    bool any = false;
    for (; end - p >= 8 && !any; p += 8) {
      std::uint64_t x;
      std::memcpy(&x, p, 8);
      x ^= pattern;
      any = ((x - ones) & ~x & (ones * 0x80)) != 0;
    }
    for (; p < end && !any; ++p) any = *p == esc;
    if (!any) return raw_;
  }
  scratch.clear();
  decode_escapes(raw_, msg_->delims(), msg_->source_charset(), scratch);
  return scratch;
}

std::string element::decoded() const {
  if (level_ == level::literal || msg_ == nullptr) return std::string(raw_);
  std::string out;
  out.reserve(raw_.size());
  decode_escapes(raw_, msg_->delims(), msg_->source_charset(), out);
  return out;
}

// ---- segment -----------------------------------------------------------------------------------

std::string_view segment_view::id() const {
  // Ids are three characters: look there first (find() is a call to memchr).
  const char fs = msg_->delims().field;
  if (raw_.size() > 3 && raw_[3] == fs && raw_[0] != fs && raw_[1] != fs && raw_[2] != fs)
    return raw_.substr(0, 3);
  return raw_.substr(0, raw_.find(fs));
}

std::uint32_t segment_view::field_count() const {
  const std::uint32_t pieces = piece_count(raw_, msg_->delims().field);
  if (id() == "MSH" || id() == "FHS" || id() == "BHS") return pieces;
  return pieces == 0 ? 0 : pieces - 1;
}

element segment_view::field(std::uint32_t n) const {
  const char fs = msg_->delims().field;
  if (n == 0) return {{}, msg_, element::level::field};
  const std::string_view sid = id();
  if (sid == "MSH" || sid == "FHS" || sid == "BHS") {
    if (n == 1) return {raw_.substr(3, 1), msg_, element::level::literal};
    if (n == 2) return {nth_piece(raw_, fs, 2), msg_, element::level::literal};
    return {nth_piece(raw_, fs, n), msg_, element::level::field};
  }
  return {nth_piece(raw_, fs, n + 1), msg_, element::level::field};
}

// ---- indexed_segment ---------------------------------------------------------------------------

indexed_segment::indexed_segment(const segment_view& s) : seg_(s), msg_(s.msg_) {
  if (msg_ == nullptr) return;
  const std::string_view sid = s.id();
  header_ = sid == "MSH" || sid == "FHS" || sid == "BHS";
  const char fs = msg_->delims().field;
  const std::string_view raw = s.raw();
  auto add = [&](std::size_t start) {
    if (count_ < starts_.size()) {
      starts_[count_] = static_cast<std::uint32_t>(start);
    } else {
      if (spill_.empty()) spill_.assign(starts_.begin(), starts_.end());
      spill_.push_back(static_cast<std::uint32_t>(start));
    }
    ++count_;
  };
  add(0);
  std::size_t i = 0;
#if defined(__SSE2__)
  // Sixteen bytes at a time: a block without a separator (most of a long field) costs one compare.
  const __m128i sep = _mm_set1_epi8(fs);
  for (; i + 16 <= raw.size(); i += 16) {
    auto m = static_cast<unsigned>(_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(raw.data() + i)), sep)));
    while (m != 0) {
      add(i + static_cast<std::size_t>(__builtin_ctz(m)) + 1);
      m &= m - 1;
    }
  }
#endif
  for (; i < raw.size(); ++i)
    if (raw[i] == fs) add(i + 1);
}

std::string_view indexed_segment::piece(std::uint32_t i) const {
  if (i >= count_) return {};
  const std::uint32_t* starts = spill_.empty() ? starts_.data() : spill_.data();
  const std::string_view raw = seg_.raw();
  const std::size_t from = starts[i];
  const std::size_t to = i + 1 < count_ ? starts[i + 1] - 1 : raw.size();
  return raw.substr(from, to - from);
}

std::uint32_t indexed_segment::field_count() const { return seg_.field_count(); }

element indexed_segment::field(std::uint32_t n) const {
  if (n == 0 || msg_ == nullptr) return {{}, msg_, element::level::field};
  if (header_) {
    if (n == 1) return seg_.field(1);
    if (n == 2) return {piece(1), msg_, element::level::literal};
    // MSH-n is the n-th piece (piece 0 is the id, piece 1 MSH-2).
    return {piece(n - 1), msg_, element::level::field};
  }
  return {piece(n), msg_, element::level::field};
}

// ---- message -----------------------------------------------------------------------------------

segment_view message::segment(std::size_t i) const {
  const span s = segments_.at(i);
  return {text_.substr(s.offset, s.length), this};
}

namespace {
// The segment's text starts with `id` and then a field separator or nothing (ids are three bytes:
// a loop, not a call to memcmp).
bool starts_segment(std::string_view raw, std::string_view id, char field) {
  if (raw.size() < id.size()) return false;
  for (std::size_t k = 0; k < id.size(); ++k)
    if (raw[k] != id[k]) return false;
  return raw.size() == id.size() || raw[id.size()] == field;
}
}  // namespace

std::optional<segment_view> message::find(std::string_view id, std::uint32_t occurrence) const {
  for (const span& s : segments_) {
    const std::string_view raw = text_.substr(s.offset, s.length);
    if (starts_segment(raw, id, delims_.field)) {
      if (--occurrence == 0) return segment_view{raw, this};
    }
  }
  return std::nullopt;
}

std::uint32_t message::count(std::string_view id) const {
  std::uint32_t n = 0;
  for (const span& s : segments_) {
    if (starts_segment(text_.substr(s.offset, s.length), id, delims_.field)) ++n;
  }
  return n;
}

element message::at(const path& p) const {
  const auto seg = find(p.segment_id(), p.occurrence);
  if (!seg) return {{}, this, element::level::field};
  element e = seg->field(p.field);
  e = e.repetition(p.repetition);
  if (p.component != 0) e = e.component(p.component);
  if (p.subcomponent != 0) e = e.subcomponent(p.subcomponent);
  return e;
}

boost::system::result<std::string> message::get(std::string_view path_text) const {
  auto p = parse_path(path_text);
  if (!p) return p.error();
  const element e = at(*p);
  if (e.depth() == element::level::literal) return std::string(e.raw());
  // A composite is returned as ER7 text: decoding it would make its delimiters ambiguous.
  std::string_view inner;
  switch (e.depth()) {
    case element::level::field:
    case element::level::repetition: inner = "cs"; break;
    case element::level::component: inner = "s"; break;
    case element::level::subcomponent:
    case element::level::literal: inner = ""; break;
  }
  for (char which : inner) {
    const char d = which == 'c' ? delims_.component : delims_.subcomponent;
    if (d != '\0' && e.raw().find(d) != std::string_view::npos) return std::string(e.raw());
  }
  return e.decoded();
}

std::string message::to_er7() const {
  std::size_t total = 0;
  for (const span& s : segments_) total += s.length + 1;
  std::string out;
  out.reserve(total);
  for (const span& s : segments_) {
    out.append(text_.substr(s.offset, s.length));
    out.push_back('\r');
  }
  return out;
}

namespace {
std::string_view msh_piece(const message& m, std::uint32_t field, std::uint32_t component) {
  if (m.segment_count() == 0) return {};
  element e = m.segment(0).field(field).repetition(1);
  if (component != 0) e = e.component(component);
  return e.raw();
}
}  // namespace

std::string_view message::sending_application() const { return msh_piece(*this, 3, 1); }
std::string_view message::sending_facility() const { return msh_piece(*this, 4, 1); }
std::string_view message::message_type() const { return msh_piece(*this, 9, 1); }
std::string_view message::trigger_event() const { return msh_piece(*this, 9, 2); }
std::string_view message::control_id() const { return msh_piece(*this, 10, 0); }
std::string_view message::processing_id() const { return msh_piece(*this, 11, 1); }
std::string_view message::version() const { return msh_piece(*this, 12, 1); }

// ---- parse -------------------------------------------------------------------------------------

namespace {

// UTF-16/32 input cannot be split on ASCII bytes: detect it from a byte-order mark or NUL bytes in
// the first characters ("M\0S\0H\0" or "\0M\0S\0H").
std::optional<std::string> wide_to_utf8(std::string_view bytes, std::size_t& invalid,
                                        charset& source) {
  if (bytes.size() < 4) return std::nullopt;
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
  const bool bom_be = b(0) == 0xFE && b(1) == 0xFF;
  const bool bom_le = b(0) == 0xFF && b(1) == 0xFE;
  const bool bom32_le = bom_le && b(2) == 0 && b(3) == 0;
  const bool bom32_be = b(0) == 0 && b(1) == 0 && b(2) == 0xFE && b(3) == 0xFF;
  std::string copy;
  if (bom32_le || bom32_be) {
    source = charset::utf32;
    copy.assign(bytes);
  } else if (bom_be || bom_le) {
    source = charset::utf16;
    copy.assign(bytes);
  } else if (b(0) == 'M' && b(1) == 0 && b(2) == 0 && b(3) == 0) {
    source = charset::utf32;
    copy = std::string("\xFF\xFE\0\0", 4) + std::string(bytes);
  } else if (b(0) == 0 && b(1) == 0 && b(2) == 0 && b(3) == 'M') {
    source = charset::utf32;
    copy.assign(bytes);
  } else if (b(0) == 'M' && b(1) == 0) {
    source = charset::utf16;
    copy = std::string("\xFF\xFE") + std::string(bytes);
  } else if (b(0) == 0 && b(1) == 'M') {
    source = charset::utf16;
    copy.assign(bytes);
  } else {
    return std::nullopt;
  }
  transcoded t = to_utf8(copy, source);
  invalid = t.invalid;
  return std::move(t.text);
}

}  // namespace

boost::system::result<message, parse_error> parse(std::string_view bytes,
                                                  const parse_options& options) {
  auto fail = [](error e, std::size_t at) {
    return parse_error{make_error_code(e), at};
  };
  // Segment offsets are 32-bit: no message may reach 4 GiB whatever the options say.
  const std::size_t max_bytes = std::min<std::size_t>(options.max_bytes, 0xFFFF'FFFFu);
  if (bytes.size() > max_bytes) return fail(error::too_large, max_bytes);

  message m;
  std::size_t base = 0;  // offset of `text` in the caller's bytes, for error positions
  std::string_view text = bytes;

  {
    std::size_t invalid = 0;
    charset wide = charset::none;
    if (auto utf8 = wide_to_utf8(bytes, invalid, wide)) {
      m.owned_ = std::make_shared<const std::string>(std::move(*utf8));
      text = *m.owned_;
      m.encoding_.source = wide;
      m.encoding_.transcoded = true;
      m.encoding_.invalid_bytes = invalid;
    }
  }
  if (text.substr(0, 3) == utf8_bom) {
    text.remove_prefix(3);
    base += 3;
  }
  while (!text.empty() && is_eol(text.front())) {
    text.remove_prefix(1);
    ++base;
  }
  if (text.empty()) return fail(error::empty_input, base);
  if (text.substr(0, 3) != "MSH") return fail(error::no_msh, base);

  const char* msh_end = find_eol(text.data(), text.data() + text.size());
  const std::string_view msh(text.data(), static_cast<std::size_t>(msh_end - text.data()));
  std::size_t bad_at = 0;
  auto d = read_delimiters(msh, bad_at);
  if (!d) return fail(static_cast<error>(d.error().value()), base + bad_at);
  m.delims_ = *d;

  // MSH-18, first repetition: the character set of the rest of the message.
  if (!m.encoding_.transcoded) {
    std::string_view declared = nth_piece(msh, d->field, 18);
    declared = trim(nth_piece(declared, d->repetition != '\0' ? d->repetition : d->field, 1));
    // MSH-18 names a character set, so it is ASCII; anything else is kept readable as UTF-8.
    m.encoding_.declared = is_valid_utf8(declared) ? std::string(declared)
                                                   : to_utf8(declared, charset::utf8).text;
    const std::optional<charset> named =
        declared.empty() ? std::optional<charset>(charset::none) : charset_from_msh18(declared);
    m.encoding_.unknown_declared = !named.has_value();
    charset cs = named.value_or(charset::none);
    // A message whose MSH was just read one byte per character is not UTF-16/32 whatever MSH-18
    // says (wide text is detected above, from its first bytes): read it as 8-bit text.
    if (cs == charset::utf16 || cs == charset::utf32) cs = charset::none;
    if (!named && options.fallback_charset != charset::none) {
      cs = options.fallback_charset;
      m.encoding_.used_fallback = true;
    }
    m.encoding_.source = cs == charset::none ? charset::utf8 : cs;

    const bool ascii_only = find_high_byte(text) == std::string_view::npos;
    const bool shifts = cs == charset::iso2022_jp &&
                        text.find('\x1B') != std::string_view::npos;
    bool keep = false;
    charset read_as = cs;
    if (ascii_only && !shifts) {
      keep = true;  // plain ASCII reads the same in every ASCII-transparent set
    } else if (cs == charset::none || cs == charset::utf8 || cs == charset::ascii) {
      if (is_valid_utf8(text)) {  // "ASCII" senders that send UTF-8 are read as UTF-8
        keep = true;
      } else if (options.fallback_charset != charset::none) {
        read_as = options.fallback_charset;
        m.encoding_.used_fallback = true;
      } else {
        read_as = cs == charset::ascii ? charset::ascii : charset::utf8;
      }
    }
    if (!keep) {
      transcoded t = to_utf8(text, read_as);
      m.encoding_.source = read_as == charset::none ? charset::utf8 : read_as;
      m.encoding_.invalid_bytes = t.invalid;
      m.encoding_.transcoded = true;
      m.owned_ = std::make_shared<const std::string>(std::move(t.text));
      text = *m.owned_;
      base = 0;
    }
  }

  m.text_ = text;
  m.segments_.reserve(text.size() / 64 + 4);
  const char* begin = text.data();
  const char* end = begin + text.size();
  const char* p = begin;
  while (p < end) {
    const char* e = find_eol(p, end);
    if (e > p) {
      if (m.segments_.size() >= options.max_segments)
        return fail(error::too_many_segments, base + static_cast<std::size_t>(p - begin));
      m.segments_.push_back({static_cast<std::uint32_t>(p - begin),
                             static_cast<std::uint32_t>(e - p)});
    }
    p = e + 1;
  }
  return m;
}

}  // namespace carebridge::mappings::hl7v2
