// Character sets of HL7 v2 messages (MSH-18, HL7 table 0211) and their conversion to UTF-8.
//
// The conversion tables come from the C library's iconv: single-byte sets are turned into a
// 256-entry table once per process (thread-safe) and used from then on; multi-byte sets go through
// iconv itself. Bytes that are not valid in the source set become U+FFFD and are counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace carebridge::mappings::hl7v2 {

enum class charset : std::uint8_t {
  none,  // "no character set": used for "no fallback"
  ascii,
  utf8,
  iso8859_1,
  iso8859_2,
  iso8859_3,
  iso8859_4,
  iso8859_5,
  iso8859_6,
  iso8859_7,
  iso8859_8,
  iso8859_9,
  iso8859_15,
  windows_1250,
  windows_1251,
  windows_1252,
  utf16,       // UNICODE, UNICODE UTF-16 (byte-order mark honoured, big-endian without one)
  utf32,       // UNICODE UTF-32
  jis_x0201,   // ISO IR14
  iso2022_jp,  // ISO IR87 (JIS X 0208 with ISO 2022 escapes)
  euc_jp,      // ISO IR159 (JIS X 0212), read as EUC-JP
  gb18030,     // GB 18030-2000
  euc_kr,      // KS X 1001
  euc_tw,      // CNS 11643-1992
  big5,        // BIG-5
};

/// The character set an MSH-18 value names (HL7 table 0211, case-insensitive, surrounding spaces
/// ignored), e.g. "8859/1", "UNICODE UTF-8", "ISO IR87". nullopt for an unknown value.
std::optional<charset> charset_from_msh18(std::string_view value) noexcept;

/// The character set a configuration names: an MSH-18 value or a common label such as
/// "windows-1252", "ISO-8859-15", "latin1", "UTF-8". nullopt for an unknown name.
std::optional<charset> charset_from_name(std::string_view name) noexcept;

/// The HL7 table 0211 value for a set ("8859/1"), or its common label when HL7 has none.
std::string_view hl7_name(charset c) noexcept;

/// True when every byte below 0x80 stands for itself and never occurs inside a multi-byte
/// character, so that ER7 delimiters can be found before converting.
bool ascii_transparent(charset c) noexcept;

/// True when `bytes` is well-formed UTF-8 (no overlongs, surrogates or values above U+10FFFF).
bool is_valid_utf8(std::string_view bytes) noexcept;

/// Index of the first byte >= 0x80, or npos. Fast path for plain-ASCII messages.
std::size_t find_high_byte(std::string_view bytes) noexcept;

struct transcoded {
  std::string text;          // UTF-8
  std::size_t invalid = 0;   // bytes not valid in the source set, each replaced by U+FFFD
};

/// Converts `bytes` in `from` to UTF-8. For charset::utf8 and ascii this repairs invalid sequences.
transcoded to_utf8(std::string_view bytes, charset from);

/// Converts UTF-8 text to `to` (for writing a message back in the set it came in). Characters that
/// `to` cannot represent become '?', and are counted in `unencodable` when given.
std::string from_utf8(std::string_view utf8, charset to, std::size_t* unencodable = nullptr);

}  // namespace carebridge::mappings::hl7v2
