#include "mappings/hl7v2/charset.hpp"

#include <iconv.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace carebridge::mappings::hl7v2 {
namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD

struct charset_info {
  charset id;
  std::string_view hl7;    // HL7 table 0211 value, or the common label
  const char* iconv_name;  // glibc iconv name
  bool single_byte;
  bool ascii_transparent;
};

constexpr std::array<charset_info, 25> infos{{
    {charset::none, "", "", true, true},
    {charset::ascii, "ASCII", "ASCII", true, true},
    {charset::utf8, "UNICODE UTF-8", "UTF-8", false, true},
    {charset::iso8859_1, "8859/1", "ISO-8859-1", true, true},
    {charset::iso8859_2, "8859/2", "ISO-8859-2", true, true},
    {charset::iso8859_3, "8859/3", "ISO-8859-3", true, true},
    {charset::iso8859_4, "8859/4", "ISO-8859-4", true, true},
    {charset::iso8859_5, "8859/5", "ISO-8859-5", true, true},
    {charset::iso8859_6, "8859/6", "ISO-8859-6", true, true},
    {charset::iso8859_7, "8859/7", "ISO-8859-7", true, true},
    {charset::iso8859_8, "8859/8", "ISO-8859-8", true, true},
    {charset::iso8859_9, "8859/9", "ISO-8859-9", true, true},
    {charset::iso8859_15, "8859/15", "ISO-8859-15", true, true},
    {charset::windows_1250, "windows-1250", "WINDOWS-1250", true, true},
    {charset::windows_1251, "windows-1251", "WINDOWS-1251", true, true},
    {charset::windows_1252, "windows-1252", "WINDOWS-1252", true, true},
    {charset::utf16, "UNICODE UTF-16", "UTF-16", false, false},
    {charset::utf32, "UNICODE UTF-32", "UTF-32", false, false},
    {charset::jis_x0201, "ISO IR14", "JIS_X0201", true, true},
    {charset::iso2022_jp, "ISO IR87", "ISO-2022-JP", false, false},
    {charset::euc_jp, "ISO IR159", "EUC-JP", false, true},
    {charset::gb18030, "GB 18030-2000", "GB18030", false, false},
    {charset::euc_kr, "KS X 1001", "EUC-KR", false, true},
    {charset::euc_tw, "CNS 11643-1992", "EUC-TW", false, true},
    {charset::big5, "BIG-5", "BIG5", false, false},
}};

const charset_info& info(charset c) noexcept { return infos[static_cast<std::size_t>(c)]; }

// Upper-cases and drops spaces, '-', '_' and '/', so "8859/1", "ISO-8859-1" and "iso8859_1" meet.
std::string normalise(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    if (ch == ' ' || ch == '-' || ch == '_' || ch == '/' || ch == '\t') continue;
    out.push_back(ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 'a' + 'A') : ch);
  }
  return out;
}

struct alias {
  std::string_view key;  // normalised
  charset id;
};

constexpr std::array<alias, 46> aliases{{
    {"ASCII", charset::ascii},        {"USASCII", charset::ascii},
    {"UNICODEUTF8", charset::utf8},   {"UTF8", charset::utf8},
    {"88591", charset::iso8859_1},    {"ISO88591", charset::iso8859_1},
    {"LATIN1", charset::iso8859_1},   {"88592", charset::iso8859_2},
    {"ISO88592", charset::iso8859_2}, {"88593", charset::iso8859_3},
    {"ISO88593", charset::iso8859_3}, {"88594", charset::iso8859_4},
    {"ISO88594", charset::iso8859_4}, {"88595", charset::iso8859_5},
    {"ISO88595", charset::iso8859_5}, {"88596", charset::iso8859_6},
    {"ISO88596", charset::iso8859_6}, {"88597", charset::iso8859_7},
    {"ISO88597", charset::iso8859_7}, {"88598", charset::iso8859_8},
    {"ISO88598", charset::iso8859_8}, {"88599", charset::iso8859_9},
    {"ISO88599", charset::iso8859_9}, {"885915", charset::iso8859_15},
    {"ISO885915", charset::iso8859_15}, {"LATIN9", charset::iso8859_15},
    {"WINDOWS1250", charset::windows_1250}, {"CP1250", charset::windows_1250},
    {"WINDOWS1251", charset::windows_1251}, {"CP1251", charset::windows_1251},
    {"WINDOWS1252", charset::windows_1252}, {"CP1252", charset::windows_1252},
    {"UNICODE", charset::utf16},      {"UNICODEUTF16", charset::utf16},
    {"UTF16", charset::utf16},        {"UNICODEUTF32", charset::utf32},
    {"UTF32", charset::utf32},        {"ISOIR14", charset::jis_x0201},
    {"ISOIR87", charset::iso2022_jp}, {"ISOIR159", charset::euc_jp},
    {"GB180302000", charset::gb18030}, {"GB18030", charset::gb18030},
    {"KSX1001", charset::euc_kr},     {"CNS116431992", charset::euc_tw},
    {"BIG5", charset::big5},          {"EUCKR", charset::euc_kr},
}};

// A single-byte set as a table: the UTF-8 bytes of each byte value (len 0 = not valid in the set).
struct byte_table {
  std::array<std::array<char, 4>, 256> utf8{};
  std::array<std::uint8_t, 256> len{};
};

byte_table build_table(const char* name) {
  byte_table t;
  iconv_t cd = iconv_open("UTF-8", name);
  for (int b = 0; b < 256; ++b) {
    if (cd == reinterpret_cast<iconv_t>(-1)) {  // iconv lacks the set: ASCII only
      if (b < 0x80) {
        t.utf8[static_cast<std::size_t>(b)][0] = static_cast<char>(b);
        t.len[static_cast<std::size_t>(b)] = 1;
      }
      continue;
    }
    char in = static_cast<char>(b);
    char* inp = &in;
    std::size_t inleft = 1;
    char* outp = t.utf8[static_cast<std::size_t>(b)].data();
    std::size_t outleft = 4;
    iconv(cd, nullptr, nullptr, nullptr, nullptr);
    if (iconv(cd, &inp, &inleft, &outp, &outleft) != static_cast<std::size_t>(-1) && inleft == 0)
      t.len[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(4 - outleft);
  }
  if (cd != reinterpret_cast<iconv_t>(-1)) iconv_close(cd);
  return t;
}

const byte_table& table_for(charset c) {
  static std::array<std::once_flag, infos.size()> once;
  static std::array<byte_table, infos.size()> tables;
  const auto i = static_cast<std::size_t>(c);
  std::call_once(once[i], [i] { tables[i] = build_table(infos[i].iconv_name); });
  return tables[i];
}

// Length of the valid UTF-8 sequence at p (1–4), or 0 when the bytes there are not one.
std::size_t utf8_sequence(const unsigned char* p, const unsigned char* end) noexcept {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) return 1;
  auto cont = [&](std::size_t i) { return p + i < end && (p[i] & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (b0 == 0xE0 && p[1] < 0xA0) return 0;   // overlong
    if (b0 == 0xED && p[1] >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (b0 == 0xF0 && p[1] < 0x90) return 0;   // overlong
    if (b0 == 0xF4 && p[1] >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

transcoded repair_utf8(std::string_view bytes, bool ascii_only) {
  transcoded r;
  r.text.reserve(bytes.size() + 16);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  while (p < end) {
    const std::size_t n = ascii_only ? (*p < 0x80 ? 1 : 0) : utf8_sequence(p, end);
    if (n == 0) {
      r.text.append(replacement);
      ++r.invalid;
      ++p;
    } else {
      r.text.append(reinterpret_cast<const char*>(p), n);
      p += n;
    }
  }
  return r;
}

transcoded via_table(std::string_view bytes, const byte_table& t) {
  transcoded r;
  r.text.reserve(bytes.size() + bytes.size() / 8);
  for (char ch : bytes) {
    const auto b = static_cast<unsigned char>(ch);
    if (b < 0x80 && t.len[b] == 1) {
      r.text.push_back(ch);
    } else if (t.len[b] != 0) {
      r.text.append(t.utf8[b].data(), t.len[b]);
    } else {
      r.text.append(replacement);
      ++r.invalid;
    }
  }
  return r;
}

transcoded via_iconv(std::string_view bytes, const char* name) {
  transcoded r;
  iconv_t cd = iconv_open("UTF-8", name);
  if (cd == reinterpret_cast<iconv_t>(-1)) {  // the C library lacks this set: keep what is ASCII
    r = repair_utf8(bytes, true);
    return r;
  }
  std::string out(bytes.size() * 2 + 16, '\0');
  char* inp = const_cast<char*>(bytes.data());
  std::size_t inleft = bytes.size();
  std::size_t used = 0;
  while (inleft > 0) {
    if (out.size() - used < 16) out.resize(out.size() * 2);
    char* outp = out.data() + used;
    std::size_t outleft = out.size() - used;
    const std::size_t rc = iconv(cd, &inp, &inleft, &outp, &outleft);
    used = out.size() - outleft;
    if (rc != static_cast<std::size_t>(-1)) break;
    if (errno == E2BIG) {
      out.resize(out.size() * 2);
      continue;
    }
    // EILSEQ (invalid) or EINVAL (incomplete at the end): replace one byte and go on.
    if (out.size() - used < replacement.size()) out.resize(out.size() * 2);
    std::memcpy(out.data() + used, replacement.data(), replacement.size());
    used += replacement.size();
    ++r.invalid;
    ++inp;
    --inleft;
    iconv(cd, nullptr, nullptr, nullptr, nullptr);
  }
  iconv_close(cd);
  out.resize(used);
  r.text = std::move(out);
  return r;
}

}  // namespace

std::optional<charset> charset_from_msh18(std::string_view value) noexcept {
  try {
    const std::string key = normalise(value);
    for (const auto& a : aliases)
      if (a.key == key) return a.id;
  } catch (...) {  // allocation failure: treat as unknown
  }
  return std::nullopt;
}

std::optional<charset> charset_from_name(std::string_view name) noexcept {
  return charset_from_msh18(name);
}

std::string_view hl7_name(charset c) noexcept { return info(c).hl7; }

bool ascii_transparent(charset c) noexcept { return info(c).ascii_transparent; }

bool is_valid_utf8(std::string_view bytes) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  while (p < end) {
    const std::size_t hi = find_high_byte({reinterpret_cast<const char*>(p),
                                           static_cast<std::size_t>(end - p)});
    if (hi == std::string_view::npos) return true;
    p += hi;
    const std::size_t n = utf8_sequence(p, end);
    if (n == 0) return false;
    p += n;
  }
  return true;
}

std::size_t find_high_byte(std::string_view bytes) noexcept {
  const char* p = bytes.data();
  const std::size_t n = bytes.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w & 0x8080808080808080ULL) break;
  }
  for (; i < n; ++i)
    if (static_cast<unsigned char>(p[i]) >= 0x80) return i;
  return std::string_view::npos;
}

transcoded to_utf8(std::string_view bytes, charset from) {
  switch (from) {
    case charset::none:
    case charset::utf8:
      return repair_utf8(bytes, false);
    case charset::ascii:
      return repair_utf8(bytes, true);
    default:
      break;
  }
  const charset_info& ci = info(from);
  if (ci.single_byte) return via_table(bytes, table_for(from));
  if (from == charset::utf16 || from == charset::utf32) {
    // With a byte-order mark iconv follows it; without one the HL7 default is big-endian, which
    // glibc's plain "UTF-16"/"UTF-32" would not assume.
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
    const bool bom16 = bytes.size() >= 2 && ((b(0) == 0xFE && b(1) == 0xFF) || (b(0) == 0xFF && b(1) == 0xFE));
    const bool bom32 = bytes.size() >= 4 && ((b(0) == 0 && b(1) == 0 && b(2) == 0xFE && b(3) == 0xFF) ||
                                             (b(0) == 0xFF && b(1) == 0xFE && b(2) == 0 && b(3) == 0));
    if (from == charset::utf16 && !bom16) return via_iconv(bytes, "UTF-16BE");
    if (from == charset::utf32 && !bom32) return via_iconv(bytes, "UTF-32BE");
  }
  return via_iconv(bytes, ci.iconv_name);
}

std::string from_utf8(std::string_view utf8, charset to, std::size_t* unencodable) {
  std::size_t bad = 0;
  std::string out;
  if (to == charset::none || to == charset::utf8) {
    out.assign(utf8);
  } else {
    iconv_t cd = iconv_open(info(to).iconv_name, "UTF-8");
    if (cd == reinterpret_cast<iconv_t>(-1)) {
      out.assign(utf8);
    } else {
      out.assign(utf8.size() * 4 + 16, '\0');
      char* inp = const_cast<char*>(utf8.data());
      std::size_t inleft = utf8.size();
      std::size_t used = 0;
      while (inleft > 0) {
        char* outp = out.data() + used;
        std::size_t outleft = out.size() - used;
        const std::size_t rc = iconv(cd, &inp, &inleft, &outp, &outleft);
        used = out.size() - outleft;
        if (rc != static_cast<std::size_t>(-1)) break;
        if (errno == E2BIG) {
          out.resize(out.size() * 2);
          continue;
        }
        // Cannot be represented (or invalid UTF-8): write '?' and skip one character.
        if (used == out.size()) out.resize(out.size() * 2);
        out[used++] = '?';
        ++bad;
        const auto* p = reinterpret_cast<const unsigned char*>(inp);
        std::size_t n = utf8_sequence(p, p + inleft);
        if (n == 0) n = 1;
        inp += n;
        inleft -= n;
      }
      // Flush any shift state (ISO-2022).
      char* outp = out.data() + used;
      std::size_t outleft = out.size() - used;
      iconv(cd, nullptr, nullptr, &outp, &outleft);
      used = out.size() - outleft;
      out.resize(used);
      iconv_close(cd);
    }
  }
  if (unencodable) *unencodable = bad;
  return out;
}

}  // namespace carebridge::mappings::hl7v2
