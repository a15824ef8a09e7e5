// A small streaming JSON writer for building FHIR resources, with helpers that leave out empty
// values (FHIR forbids empty strings, objects and arrays). No I/O.
//
// It writes straight into one std::string: the mapper writes a dozen resources per message and
// RapidJSON's Writer (a level stack, a Prefix() per token, a buffer to copy out) was a fifth of
// the conversion's time. The output is byte-for-byte what RapidJSON's Writer gives: the same string
// escapes (\" \\ \b \f \n \r \t, other control characters as \u00XX, nothing else) and its dtoa for
// doubles (tests/unit/fhir_json_test.cpp compares them). Commas need no stack: whether one is due
// depends only on the last token written.
// The caller keeps the nesting right (keys only inside objects), as with any streaming writer.
#pragma once

#include <rapidjson/internal/dtoa.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif


namespace carebridge::mappings::fhir {

namespace json_detail {
// RapidJSON's escapes: 'u' → \u00XX, another letter → backslash and that letter, 0 → as is.
constexpr char escape_of(unsigned char c) {
  switch (c) {
    case '\b': return 'b';
    case '\t': return 't';
    case '\n': return 'n';
    case '\f': return 'f';
    case '\r': return 'r';
    case '"': return '"';
    case '\\': return '\\';
    default: return c < 0x20 ? 'u' : 0;
  }
}
struct escape_table {
  char e[256];
  constexpr escape_table() : e() {
    for (int c = 0; c < 256; ++c) e[c] = escape_of(static_cast<unsigned char>(c));
  }
};
inline constexpr escape_table escapes{};
}  // namespace json_detail

/// A member name: a string literal (names come from the code, never from data, and need no
/// escapes; checked at compile time). It holds the literal's address and length, so that where a
/// writer call is inlined the copy is a few moves of a known size from read-only data.
class jkey {
 public:
  template <std::size_t N>
  consteval jkey(const char (&name)[N]) : text_(name), size_(N - 1) {  // NOLINT: implicit by design
    for (std::size_t i = 0; i + 1 < N; ++i) {
      if (static_cast<unsigned char>(name[i]) < 0x20 || name[i] == '"' || name[i] == '\\')
        throw "a member name needs no escapes";  // not a constant expression: a compile error
    }
  }
  const char* data() const { return text_; }
  std::size_t size() const { return size_; }

 private:
  const char* text_;
  std::size_t size_;
};

class json_out {
 public:
  /// `capacity`: the bytes to set aside (a resource is about a kilobyte; a Bundle, ten or more).
  explicit json_out(std::size_t capacity = 1024) { out_.resize(capacity < 64 ? 64 : capacity); }
  /// Writes into a buffer handed back by release() of an earlier writer (no allocation, no
  /// clearing): for callers that write many small documents one after another.
  static json_out reusing(std::string buffer) {
    if (buffer.size() < 64) buffer.resize(1024);
    return json_out(std::move(buffer));
  }

  /// A member name (see jkey).
  [[gnu::always_inline]] void key(const jkey& k) {
    char* p = room(k.size() + 4);
    if (comma_) *p++ = ',';
    *p++ = '"';
    std::memcpy(p, k.data(), k.size());  // inlined: a known size, a few moves
    p += k.size();
    *p++ = '"';
    *p++ = ':';
    done(p, false);
  }
  void str(std::string_view v) {
    char* p = room(v.size() * 6 + 3);
    if (comma_) *p++ = ',';
    *p++ = '"';
    p = escaped(p, v);
    *p++ = '"';
    done(p, true);
  }
  /// "key": "value", only when the value is not empty.
  [[gnu::always_inline]] void field(const jkey& k, std::string_view v) {
    if (v.empty()) return;
    char* p = room(k.size() + v.size() * 6 + 6);
    if (comma_) *p++ = ',';
    *p++ = '"';
    std::memcpy(p, k.data(), k.size());
    p += k.size();
    *p++ = '"';
    *p++ = ':';
    *p++ = '"';
    p = escaped(p, v);
    *p++ = '"';
    done(p, true);
  }
  void boolean(const jkey& k, bool v) {
    key(k);
    plain_value(v ? std::string_view("true") : std::string_view("false"));
  }
  /// A finite number (JSON has no NaN or infinity: anything else is left out).
  void number(const jkey& k, double v) {
    if (!std::isfinite(v)) return;
    key(k);
    char buf[32];
    const char* end = rapidjson::internal::dtoa(v, buf);
    plain_value({buf, static_cast<std::size_t>(end - buf)});
  }
  void integer(const jkey& k, long long v) {
    key(k);
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    plain_value({buf, static_cast<std::size_t>(r.ptr - buf)});
  }
  void begin_object() { open('{'); }
  void begin_object(const jkey& k) {
    key(k);
    open('{');
  }
  void end_object() { close('}'); }
  void begin_array(const jkey& k) {
    key(k);
    open('[');
  }
  void end_array() { close(']'); }
  /// Inserts already-serialized JSON as a value.
  void raw(std::string_view json) { plain_value(json); }
  /// {"reference": "Type/id"} under `k` (nothing when id is empty).
  void reference(const jkey& k, std::string_view type, std::string_view id) {
    if (id.empty()) return;
    begin_object(k);
    reference_body(type, id);
  }
  /// A reference as an array element.
  void reference_item(std::string_view type, std::string_view id) {
    begin_object();
    reference_body(type, id);
  }
  /// "key": "<a><b>" — a string value made of two parts (no temporary string).
  void field2(const jkey& k, std::string_view a, std::string_view b) {
    key(k);
    char* p = room((a.size() + b.size()) * 6 + 2);
    *p++ = '"';
    p = escaped(p, a);
    p = escaped(p, b);
    *p++ = '"';
    done(p, true);
  }
  /// The string value "<type>/<id>" (a relative reference or a request url).
  void str_path(std::string_view type, std::string_view id) {
    char* p = room((type.size() + id.size()) * 6 + 4);
    if (comma_) *p++ = ',';
    *p++ = '"';
    p = escaped(p, type);
    *p++ = '/';
    p = escaped(p, id);
    *p++ = '"';
    done(p, true);
  }

  /// The JSON written so far; the writer is left empty.
  std::string take() {
    out_.resize(len_);
    std::string s = std::move(out_);
    out_.clear();
    len_ = 0;
    comma_ = false;
    return s;
  }
  std::string_view view() const { return {out_.data(), len_}; }
  /// The buffer, for json_out::reusing(); the writer is left empty.
  std::string release() {
    std::string s = std::move(out_);
    out_.clear();
    len_ = 0;
    comma_ = false;
    return s;
  }

 private:
  explicit json_out(std::string&& buffer) : out_(std::move(buffer)) {}
  // out_ is kept longer than what is written (len_): room(n) makes sure n more bytes fit, so a
  // token is written through a pointer with one bounds check instead of one per append.
  [[gnu::always_inline]] char* room(std::size_t n) {
    if (out_.size() - len_ < n) [[unlikely]]
      grow(n);
    return out_.data() + len_;
  }
  [[gnu::noinline]] void grow(std::size_t n) { out_.resize(std::max(out_.size() * 2, len_ + n)); }
  void done(char* p, bool comma) {
    len_ = static_cast<std::size_t>(p - out_.data());
    comma_ = comma;
  }
  static char* copy(char* p, std::string_view s) {
    if (s.empty()) return p;  // an empty view may hold a null pointer: no memcpy from it
    std::memcpy(p, s.data(), s.size());
    return p + s.size();
  }
  void plain_value(std::string_view v) {
    char* p = room(v.size() + 1);
    if (comma_) *p++ = ',';
    done(copy(p, v), true);
  }
  void open(char c) {
    char* p = room(2);
    if (comma_) *p++ = ',';
    *p++ = c;
    done(p, false);
  }
  void close(char c) {
    char* p = room(1);
    *p++ = c;
    done(p, true);
  }
  void reference_body(std::string_view type, std::string_view id) {
    static constexpr std::string_view head = "\"reference\":\"";
    char* p = room(head.size() + (type.size() + id.size()) * 6 + 3);
    p = copy(p, head);
    p = escaped(p, type);
    *p++ = '/';
    p = escaped(p, id);
    *p++ = '"';
    *p++ = '}';
    done(p, true);
  }

  // True when one of the bytes of x needs an escape: a control character (< 0x20), '"' or '\'.
  // (The usual "has a zero byte" test on x, x ^ '"' and x ^ '\', and on x - 0x20 for "below".)
  template <class U>
  static bool special_word(U x) {
    constexpr U ones = static_cast<U>(0x0101010101010101ull);
    constexpr U highs = static_cast<U>(0x8080808080808080ull);
    auto zero_byte = [](U v) { return static_cast<U>((v - ones) & ~v & highs); };
    const U below_space = static_cast<U>((x - ones * 0x20) & ~x & highs);
    return (below_space | zero_byte(x ^ (ones * '"')) | zero_byte(x ^ (ones * '\\'))) != 0;
  }
#if defined(__SSE2__)
  static bool special16(__m128i v) {
    const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);  // v <= 0x1F
    const __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    const __m128i backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    return _mm_movemask_epi8(_mm_or_si128(control, _mm_or_si128(quote, backslash))) != 0;
  }
#endif

  // Writes `s` escaped at out (which has room for 6 bytes per input byte) and returns the end.
  // Text that needs no escape is nearly all of it, and most values are short (codes, dates, ids):
  // the value is checked and copied in whole words — 16, 8 or 4 bytes, the last one overlapping the
  // one before instead of a loop over the remaining bytes — and only a value that holds a byte to
  // escape is written again, byte by byte.
  static char* escaped(char* out, std::string_view s) {
    const char* const p = s.data();
    const std::size_t n = s.size();
    if (n >= 8) {
      std::size_t i = 0;
#if defined(__SSE2__)
      if (n >= 16) {
        for (; i + 16 < n; i += 16) {
          const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
          if (special16(v)) return escaped_slowly(out, s);
          _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), v);
        }
        const __m128i last = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + n - 16));
        if (special16(last)) return escaped_slowly(out, s);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + n - 16), last);
        return out + n;
      }
#endif
      for (; i + 8 < n; i += 8) {
        std::uint64_t x;
        std::memcpy(&x, p + i, 8);
        if (special_word(x)) return escaped_slowly(out, s);
        std::memcpy(out + i, &x, 8);
      }
      std::uint64_t x;
      std::memcpy(&x, p + n - 8, 8);
      if (special_word(x)) return escaped_slowly(out, s);
      std::memcpy(out + n - 8, &x, 8);
      return out + n;
    }
    if (n >= 4) {
      std::uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      if (special_word(a) || special_word(b)) return escaped_slowly(out, s);
      std::memcpy(out, &a, 4);
      std::memcpy(out + n - 4, &b, 4);
      return out + n;
    }
    if (n > 0) {  // 1 to 3 bytes: the first, the middle and the last one (some the same)
      const char a = p[0], b = p[n / 2], c = p[n - 1];
      const auto& e = json_detail::escapes.e;
      if ((e[static_cast<unsigned char>(a)] | e[static_cast<unsigned char>(b)] |
           e[static_cast<unsigned char>(c)]) != 0)
        return escaped_slowly(out, s);
      out[0] = a;
      out[n / 2] = b;
      out[n - 1] = c;
    }
    return out + n;
  }

  // One byte at a time, escaping where RapidJSON does.
  static char* escaped_slowly(char* out, std::string_view s) {
    for (const char c : s) {
      const char e = json_detail::escapes.e[static_cast<unsigned char>(c)];
      if (e == 0) {
        *out++ = c;
        continue;
      }
      *out++ = '\\';
      if (e == 'u') {
        static constexpr char hex[] = "0123456789ABCDEF";
        const auto u = static_cast<unsigned char>(c);
        *out++ = 'u';
        *out++ = '0';
        *out++ = '0';
        *out++ = hex[u >> 4];
        *out++ = hex[u & 0xF];
      } else {
        *out++ = e;
      }
    }
    return out;
  }

  std::string out_;
  std::size_t len_ = 0;
  bool comma_ = false;
};

}  // namespace carebridge::mappings::fhir
