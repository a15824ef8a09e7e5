// Unit tests of HL7 v2 character sets (mappings/hl7v2/charset.hpp) and of MSH-18 handling in
// parse(). Expected bytes were checked against glibc iconv; names come from HL7 table 0211.

#include "mappings/hl7v2/charset.hpp"
#include "mappings/hl7v2/message.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace h = carebridge::mappings::hl7v2;
using h::charset;

h::message must_parse(std::string_view in, const h::parse_options& options = {}) {
  auto r = h::parse(in, options);
  if (!r) throw std::runtime_error("parse failed: " + r.error().describe());
  return *r;
}

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// ---------------------------------------------------------------------------------------------
// Names

struct msh18_case {
  std::string_view value;
  charset expected;
};

void PrintTo(const msh18_case& c, std::ostream* os) {
  *os << '"' << c.value << '"';
}

class Hl7v2CharsetFromMsh18 : public ::testing::TestWithParam<msh18_case> {};

TEST_P(Hl7v2CharsetFromMsh18, KnowsTable0211) {
  const auto got = h::charset_from_msh18(GetParam().value);
  ASSERT_TRUE(got.has_value()) << GetParam().value;
  EXPECT_EQ(*got, GetParam().expected) << GetParam().value;
}

INSTANTIATE_TEST_SUITE_P(
    Table0211, Hl7v2CharsetFromMsh18,
    ::testing::Values(
        msh18_case{"ASCII", charset::ascii}, msh18_case{"8859/1", charset::iso8859_1},
        msh18_case{"8859/2", charset::iso8859_2}, msh18_case{"8859/3", charset::iso8859_3},
        msh18_case{"8859/4", charset::iso8859_4}, msh18_case{"8859/5", charset::iso8859_5},
        msh18_case{"8859/6", charset::iso8859_6}, msh18_case{"8859/7", charset::iso8859_7},
        msh18_case{"8859/8", charset::iso8859_8}, msh18_case{"8859/9", charset::iso8859_9},
        msh18_case{"8859/15", charset::iso8859_15}, msh18_case{"UNICODE UTF-8", charset::utf8},
        msh18_case{"UNICODE UTF-16", charset::utf16}, msh18_case{"UNICODE", charset::utf16},
        msh18_case{"UNICODE UTF-32", charset::utf32}, msh18_case{"ISO IR14", charset::jis_x0201},
        msh18_case{"ISO IR87", charset::iso2022_jp}, msh18_case{"ISO IR159", charset::euc_jp},
        msh18_case{"GB 18030-2000", charset::gb18030}, msh18_case{"KS X 1001", charset::euc_kr},
        msh18_case{"CNS 11643-1992", charset::euc_tw}, msh18_case{"BIG-5", charset::big5},
        // case-insensitive, surrounding spaces ignored
        msh18_case{"unicode utf-8", charset::utf8}, msh18_case{"  8859/1  ", charset::iso8859_1},
        msh18_case{"ascii", charset::ascii}, msh18_case{" Unicode UTF-8", charset::utf8}));

TEST(Hl7v2Charset, UnknownMsh18ValuesAreNullopt) {
  EXPECT_FALSE(h::charset_from_msh18("KLINGON").has_value());
  EXPECT_FALSE(h::charset_from_msh18("8859/16").has_value());
  EXPECT_FALSE(h::charset_from_msh18("8859/10").has_value());
  EXPECT_FALSE(h::charset_from_msh18("8859").has_value());
  EXPECT_FALSE(h::charset_from_msh18("UNICODE UTF-7").has_value());
}

TEST(Hl7v2Charset, ConfigurationNames) {
  EXPECT_EQ(h::charset_from_name("windows-1252"), charset::windows_1252);
  EXPECT_EQ(h::charset_from_name("windows-1250"), charset::windows_1250);
  EXPECT_EQ(h::charset_from_name("windows-1251"), charset::windows_1251);
  EXPECT_EQ(h::charset_from_name("ISO-8859-15"), charset::iso8859_15);
  EXPECT_EQ(h::charset_from_name("ISO-8859-1"), charset::iso8859_1);
  EXPECT_EQ(h::charset_from_name("latin1"), charset::iso8859_1);
  EXPECT_EQ(h::charset_from_name("UTF-8"), charset::utf8);
  // MSH-18 values are names too.
  EXPECT_EQ(h::charset_from_name("8859/1"), charset::iso8859_1);
  EXPECT_EQ(h::charset_from_name("UNICODE UTF-8"), charset::utf8);
  EXPECT_FALSE(h::charset_from_name("no-such-charset").has_value());
  EXPECT_FALSE(h::charset_from_name("").has_value());
}

TEST(Hl7v2Charset, Hl7NamesAreTable0211Values) {
  EXPECT_EQ(h::hl7_name(charset::ascii), "ASCII");
  EXPECT_EQ(h::hl7_name(charset::iso8859_1), "8859/1");
  EXPECT_EQ(h::hl7_name(charset::iso8859_9), "8859/9");
  EXPECT_EQ(h::hl7_name(charset::iso8859_15), "8859/15");
  EXPECT_EQ(h::hl7_name(charset::utf8), "UNICODE UTF-8");
  EXPECT_EQ(h::hl7_name(charset::iso2022_jp), "ISO IR87");
  EXPECT_EQ(h::hl7_name(charset::big5), "BIG-5");
}

TEST(Hl7v2Charset, EveryNameReadsBackAsItsSet) {
  for (int i = static_cast<int>(charset::ascii); i <= static_cast<int>(charset::big5); ++i) {
    const auto c = static_cast<charset>(i);
    const auto name = h::hl7_name(c);
    EXPECT_FALSE(name.empty()) << i;
    const auto back = h::charset_from_name(name);
    ASSERT_TRUE(back.has_value()) << name;
    EXPECT_EQ(*back, c) << name;
  }
}

TEST(Hl7v2Charset, AsciiTransparency) {
  for (const auto c : {charset::ascii, charset::utf8, charset::iso8859_1, charset::iso8859_5,
                       charset::iso8859_15, charset::windows_1250, charset::windows_1252}) {
    EXPECT_TRUE(h::ascii_transparent(c)) << h::hl7_name(c);
  }
  // Multi-byte sets whose characters can contain bytes below 0x80.
  for (const auto c :
       {charset::utf16, charset::utf32, charset::iso2022_jp, charset::gb18030, charset::big5}) {
    EXPECT_FALSE(h::ascii_transparent(c)) << h::hl7_name(c);
  }
}

// ---------------------------------------------------------------------------------------------
// UTF-8 validation and the high-byte scan

TEST(Hl7v2Utf8, WellFormed) {
  EXPECT_TRUE(h::is_valid_utf8(""));
  EXPECT_TRUE(h::is_valid_utf8("plain ASCII|^~\\&\r"));
  EXPECT_TRUE(h::is_valid_utf8("\xC3\xA9"));                   // U+00E9
  EXPECT_TRUE(h::is_valid_utf8("\xC2\x80"));                   // U+0080, smallest 2-byte
  EXPECT_TRUE(h::is_valid_utf8("\xDF\xBF"));                   // U+07FF
  EXPECT_TRUE(h::is_valid_utf8("\xE0\xA0\x80"));               // U+0800, smallest 3-byte
  EXPECT_TRUE(h::is_valid_utf8("\xED\x9F\xBF"));               // U+D7FF, just below surrogates
  EXPECT_TRUE(h::is_valid_utf8("\xEE\x80\x80"));               // U+E000, just above surrogates
  EXPECT_TRUE(h::is_valid_utf8("\xEF\xBF\xBF"));               // U+FFFF
  EXPECT_TRUE(h::is_valid_utf8("\xF0\x90\x80\x80"));           // U+10000
  EXPECT_TRUE(h::is_valid_utf8("\xF0\x9F\x98\x80"));           // emoji
  EXPECT_TRUE(h::is_valid_utf8("\xF4\x8F\xBF\xBF"));           // U+10FFFF
  EXPECT_TRUE(h::is_valid_utf8(std::string_view("a\0b", 3)));  // NUL is valid UTF-8
}

TEST(Hl7v2Utf8, IllFormed) {
  EXPECT_FALSE(h::is_valid_utf8("\x80"));  // lone continuation
  EXPECT_FALSE(h::is_valid_utf8("\xBF"));
  EXPECT_FALSE(h::is_valid_utf8("\xC3"));              // truncated
  EXPECT_FALSE(h::is_valid_utf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(h::is_valid_utf8("\xF0\x9F\x98"));      // truncated
  EXPECT_FALSE(h::is_valid_utf8("\xC3("));             // bad continuation
  EXPECT_FALSE(h::is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(h::is_valid_utf8("\xC1\xBF"));          // overlong
  EXPECT_FALSE(h::is_valid_utf8("\xE0\x80\xAF"));      // overlong 3-byte
  EXPECT_FALSE(h::is_valid_utf8("\xE0\x9F\xBF"));      // overlong 3-byte (U+07FF)
  EXPECT_FALSE(h::is_valid_utf8("\xF0\x8F\xBF\xBF"));  // overlong 4-byte (U+FFFF)
  EXPECT_FALSE(h::is_valid_utf8("\xED\xA0\x80"));      // U+D800 surrogate
  EXPECT_FALSE(h::is_valid_utf8("\xED\xBF\xBF"));      // U+DFFF surrogate
  EXPECT_FALSE(h::is_valid_utf8("\xF4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(h::is_valid_utf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(h::is_valid_utf8("\xFE"));
  EXPECT_FALSE(h::is_valid_utf8("\xFF"));
  EXPECT_FALSE(h::is_valid_utf8("caf\xE9"));  // Latin-1 é
}

TEST(Hl7v2Utf8, InvalidByteDeepInALongValidText) {
  std::string s(1000, 'a');
  s += "\xC3\xA9";
  EXPECT_TRUE(h::is_valid_utf8(s));
  s[777] = '\xE9';
  EXPECT_FALSE(h::is_valid_utf8(s));
  std::string t(1000, 'a');
  t += "\xE2\x82";  // truncated at the very end
  EXPECT_FALSE(h::is_valid_utf8(t));
}

TEST(Hl7v2Utf8, FindHighByte) {
  EXPECT_EQ(h::find_high_byte(""), std::string_view::npos);
  EXPECT_EQ(h::find_high_byte("plain|text^~\\&\r\n"), std::string_view::npos);
  EXPECT_EQ(h::find_high_byte("\x80"), 0u);
  EXPECT_EQ(h::find_high_byte("ab\x80"
                              "c"),
            2u);
  EXPECT_EQ(h::find_high_byte("abc\xFF"), 3u);
  for (const std::size_t at : {0u, 1u, 15u, 16u, 31u, 32u, 63u, 64u, 77u, 199u}) {
    std::string s(200, 'x');
    s[at] = '\xC3';
    EXPECT_EQ(h::find_high_byte(s), at);
  }
  EXPECT_EQ(h::find_high_byte(std::string(200, 'x')), std::string_view::npos);
  EXPECT_EQ(h::find_high_byte(std::string_view("\0\x7F", 2)), std::string_view::npos);
}

// ---------------------------------------------------------------------------------------------
// Conversion to and from UTF-8

struct decode_case {
  const char* name;
  charset from;
  std::string_view bytes;
  std::string_view utf8;
};

void PrintTo(const decode_case& c, std::ostream* os) {
  *os << c.name;
}

class Hl7v2ToUtf8 : public ::testing::TestWithParam<decode_case> {};

TEST_P(Hl7v2ToUtf8, ConvertsTheSet) {
  const auto& c = GetParam();
  const auto t = h::to_utf8(c.bytes, c.from);
  EXPECT_EQ(t.text, c.utf8);
  EXPECT_EQ(t.invalid, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Sets, Hl7v2ToUtf8,
    ::testing::Values(
        decode_case{"ascii", charset::ascii, "PID|1||DOE^JOHN", "PID|1||DOE^JOHN"},
        decode_case{"utf8", charset::utf8, "Jos\xC3\xA9 \xE2\x82\xAC", "Jos\xC3\xA9 \xE2\x82\xAC"},
        decode_case{"latin1", charset::iso8859_1, "Ren\xE9 M\xFCller", "Ren\xC3\xA9 M\xC3\xBCller"},
        decode_case{"latin1_high", charset::iso8859_1, "\xFF\xA0", "\xC3\xBF\xC2\xA0"},
        decode_case{"latin2", charset::iso8859_2, "\xB1", "\xC4\x85"},       // ą
        decode_case{"latin3", charset::iso8859_3, "\xA1", "\xC4\xA6"},       // Ħ
        decode_case{"latin4", charset::iso8859_4, "\xA1", "\xC4\x84"},       // Ą
        decode_case{"cyrillic", charset::iso8859_5, "\xC0", "\xD0\xA0"},     // Р
        decode_case{"arabic", charset::iso8859_6, "\xC7", "\xD8\xA7"},       // ا
        decode_case{"greek", charset::iso8859_7, "\xE1", "\xCE\xB1"},        // α
        decode_case{"hebrew", charset::iso8859_8, "\xE0", "\xD7\x90"},       // א
        decode_case{"turkish", charset::iso8859_9, "\xFD", "\xC4\xB1"},      // ı
        decode_case{"latin9", charset::iso8859_15, "\xA4", "\xE2\x82\xAC"},  // €
        decode_case{"cp1252_quotes", charset::windows_1252, "\x93quoted\x94",
                    "\xE2\x80\x9Cquoted\xE2\x80\x9D"},
        decode_case{"cp1252_euro", charset::windows_1252, "\x80", "\xE2\x82\xAC"},
        decode_case{"cp1252_latin", charset::windows_1252, "caf\xE9", "caf\xC3\xA9"},
        decode_case{"utf16be", charset::utf16,
                    std::string_view("\x00"
                                     "A\x00\xE9",
                                     4),
                    "A\xC3\xA9"},
        decode_case{"utf16be_bom", charset::utf16,
                    std::string_view("\xFE\xFF\x00"
                                     "A\x00\xE9",
                                     6),
                    "A\xC3\xA9"},
        decode_case{"utf16le_bom", charset::utf16,
                    std::string_view("\xFF\xFE"
                                     "A\x00\xE9\x00",
                                     6),
                    "A\xC3\xA9"},
        decode_case{"gb18030", charset::gb18030, "\xC4\xE3\xBA\xC3", "\xE4\xBD\xA0\xE5\xA5\xBD"},
        decode_case{"big5", charset::big5, "\xA7\x41", "\xE4\xBD\xA0"},
        decode_case{"euc_kr", charset::euc_kr, "\xB0\xA1", "\xEA\xB0\x80"},
        decode_case{"euc_jp", charset::euc_jp, "\xA4\xA2", "\xE3\x81\x82"},
        decode_case{"iso2022_jp", charset::iso2022_jp, "\x1B$B$\"\x1B(B", "\xE3\x81\x82"}),
    [](const ::testing::TestParamInfo<decode_case>& p) { return std::string(p.param.name); });

TEST(Hl7v2ToUtf8, InvalidBytesAreReplacedAndCounted) {
  {
    const auto t = h::to_utf8(
        "a\xFF"
        "b\x80"
        "c",
        charset::utf8);
    EXPECT_EQ(t.text,
              std::string("a") + std::string(kReplacement) + "b" + std::string(kReplacement) + "c");
    EXPECT_EQ(t.invalid, 2u);
    EXPECT_TRUE(h::is_valid_utf8(t.text));
  }
  {
    const auto t = h::to_utf8(
        "a\xE9"
        "b",
        charset::ascii);
    EXPECT_EQ(t.text, std::string("a") + std::string(kReplacement) + "b");
    EXPECT_EQ(t.invalid, 1u);
  }
  {
    const auto t = h::to_utf8("\xC0\xAF", charset::utf8);  // overlong: both bytes invalid
    EXPECT_TRUE(h::is_valid_utf8(t.text));
    EXPECT_EQ(t.text.find('/'), std::string::npos);  // never decoded as the '/' it hides
    EXPECT_GE(t.invalid, 1u);
  }
  {
    // Bytes that no character of the set uses.
    const auto t = h::to_utf8("x\x81y", charset::windows_1252);
    EXPECT_EQ(t.text, std::string("x") + std::string(kReplacement) + "y");
    EXPECT_EQ(t.invalid, 1u);
  }
  {
    const auto t = h::to_utf8("\xA5", charset::iso8859_3);
    EXPECT_EQ(t.text, kReplacement);
    EXPECT_EQ(t.invalid, 1u);
  }
  {
    const auto t = h::to_utf8("\xA1", charset::iso8859_6);
    EXPECT_EQ(t.text, kReplacement);
    EXPECT_EQ(t.invalid, 1u);
  }
}

TEST(Hl7v2ToUtf8, EmptyInputInEverySet) {
  for (int i = static_cast<int>(charset::ascii); i <= static_cast<int>(charset::big5); ++i) {
    const auto t = h::to_utf8("", static_cast<charset>(i));
    EXPECT_EQ(t.text, "") << i;
    EXPECT_EQ(t.invalid, 0u) << i;
  }
}

TEST(Hl7v2ToUtf8, ValidUtf8PassesUnchanged) {
  const std::string_view s = "MSH|^~\\&|\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
  const auto t = h::to_utf8(s, charset::utf8);
  EXPECT_EQ(t.text, s);
  EXPECT_EQ(t.invalid, 0u);
}

TEST(Hl7v2FromUtf8, ConvertsAndCountsWhatCannotBeRepresented) {
  EXPECT_EQ(h::from_utf8("Ren\xC3\xA9", charset::iso8859_1), "Ren\xE9");
  EXPECT_EQ(h::from_utf8("\xE2\x82\xAC", charset::windows_1252), "\x80");
  EXPECT_EQ(h::from_utf8("\xE2\x82\xAC", charset::iso8859_15), "\xA4");
  EXPECT_EQ(h::from_utf8("plain", charset::ascii), "plain");
  EXPECT_EQ(h::from_utf8("Jos\xC3\xA9", charset::utf8), "Jos\xC3\xA9");
  std::size_t bad = 99;
  EXPECT_EQ(h::from_utf8("\xE2\x82\xAC 5", charset::iso8859_1, &bad), "? 5");
  EXPECT_EQ(bad, 1u);
  bad = 99;
  EXPECT_EQ(h::from_utf8("A\xC3\xA9"
                         "B\xE2\x82\xAC",
                         charset::ascii, &bad),
            "A?B?");
  EXPECT_EQ(bad, 2u);
  bad = 99;
  EXPECT_EQ(h::from_utf8("Ren\xC3\xA9", charset::iso8859_1, &bad), "Ren\xE9");
  EXPECT_EQ(bad, 0u);
  // Without a counter it still converts.
  EXPECT_EQ(h::from_utf8("\xE2\x82\xAC", charset::iso8859_1), "?");
}

TEST(Hl7v2FromUtf8, RoundTripsThroughEachSingleByteSet) {
  const struct {
    charset c;
    std::string_view utf8;
  } cases[] = {
      {charset::iso8859_1, "Ren\xC3\xA9 M\xC3\xBCller"},
      {charset::iso8859_2, "\xC4\x85"},
      {charset::iso8859_5, "\xD0\xA0"},
      {charset::iso8859_7, "\xCE\xB1"},
      {charset::iso8859_9, "\xC4\xB1"},
      {charset::iso8859_15, "\xE2\x82\xAC"},
      {charset::windows_1252, "\xE2\x80\x9Cq\xE2\x80\x9D \xE2\x82\xAC"},
  };
  for (const auto& k : cases) {
    std::size_t bad = 99;
    const std::string bytes = h::from_utf8(k.utf8, k.c, &bad);
    EXPECT_EQ(bad, 0u) << h::hl7_name(k.c);
    EXPECT_NE(h::find_high_byte(bytes), std::string_view::npos);
    const auto back = h::to_utf8(bytes, k.c);
    EXPECT_EQ(back.text, k.utf8) << h::hl7_name(k.c);
    EXPECT_EQ(back.invalid, 0u);
  }
}

// ---------------------------------------------------------------------------------------------
// MSH-18 in parse()

std::string msg_with(std::string_view msh18, std::string_view pid5) {
  return "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|X1|P|2.5.1|||||USA|" + std::string(msh18) +
         "\rPID|1||ID||" + std::string(pid5) + "\r";
}

TEST(Hl7v2ParseCharset, Latin1IsTranscodedToUtf8) {
  const std::string in = msg_with("8859/1", "REN\xC9^JOS\xE9");
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.find("PID")->field(5).component(1).decoded(), "REN\xC3\x89");
  EXPECT_EQ(msg.find("PID")->field(5).component(2).decoded(), "JOS\xC3\xA9");
  EXPECT_EQ(msg.get("PID.5.2").value(), "JOS\xC3\xA9");
  const auto& e = msg.encoding();
  EXPECT_EQ(e.declared, "8859/1");
  EXPECT_EQ(e.source, charset::iso8859_1);
  EXPECT_TRUE(e.transcoded);
  EXPECT_FALSE(e.used_fallback);
  EXPECT_FALSE(e.unknown_declared);
  EXPECT_EQ(e.invalid_bytes, 0u);
  EXPECT_EQ(msg.source_charset(), charset::iso8859_1);
  EXPECT_TRUE(h::is_valid_utf8(msg.text()));
}

TEST(Hl7v2ParseCharset, TranscodedMessageOwnsItsText) {
  std::string in = msg_with("8859/1", "M\xDCLLER^REN\xC9");
  auto r = h::parse(in);
  ASSERT_TRUE(r.has_value());
  // Destroy the caller's bytes: the message must not depend on them any more.
  std::fill(in.begin(), in.end(), 'X');
  in.clear();
  in.shrink_to_fit();
  const h::message copy = *r;
  EXPECT_EQ(copy.find("PID")->field(5).component(1).decoded(), "M\xC3\x9CLLER");
  EXPECT_EQ(copy.control_id(), "X1");
  EXPECT_EQ(copy.encoding().declared, "8859/1");
}

TEST(Hl7v2ParseCharset, EachIsoSetDecodes) {
  const struct {
    std::string_view msh18;
    std::string_view byte;
    std::string_view utf8;
    charset c;
  } cases[] = {
      {"8859/1", "\xE9", "\xC3\xA9", charset::iso8859_1},
      {"8859/2", "\xB1", "\xC4\x85", charset::iso8859_2},
      {"8859/3", "\xA1", "\xC4\xA6", charset::iso8859_3},
      {"8859/4", "\xA1", "\xC4\x84", charset::iso8859_4},
      {"8859/5", "\xC0", "\xD0\xA0", charset::iso8859_5},
      {"8859/6", "\xC7", "\xD8\xA7", charset::iso8859_6},
      {"8859/7", "\xE1", "\xCE\xB1", charset::iso8859_7},
      {"8859/8", "\xE0", "\xD7\x90", charset::iso8859_8},
      {"8859/9", "\xFD", "\xC4\xB1", charset::iso8859_9},
      {"8859/15", "\xA4", "\xE2\x82\xAC", charset::iso8859_15},
  };
  for (const auto& k : cases) {
    const std::string in = msg_with(k.msh18, "N" + std::string(k.byte) + "M^G");
    const auto msg = must_parse(in);
    EXPECT_EQ(msg.find("PID")->field(5).component(1).decoded(), "N" + std::string(k.utf8) + "M")
        << k.msh18;
    EXPECT_EQ(msg.find("PID")->field(5).component(2).decoded(), "G") << k.msh18;
    EXPECT_EQ(msg.encoding().source, k.c) << k.msh18;
    EXPECT_EQ(msg.encoding().invalid_bytes, 0u) << k.msh18;
  }
}

TEST(Hl7v2ParseCharset, Utf8AndUndeclaredMessagesAreNotCopied) {
  for (const std::string_view cs : {"UNICODE UTF-8", ""}) {
    const std::string in = msg_with(cs, "JOS\xC3\xA9^ANA");
    const auto msg = must_parse(in);
    EXPECT_FALSE(msg.encoding().transcoded) << cs;
    EXPECT_EQ(msg.encoding().invalid_bytes, 0u) << cs;
    EXPECT_EQ(msg.encoding().source, charset::utf8) << cs;
    EXPECT_EQ(msg.encoding().declared, cs);
    EXPECT_TRUE(msg.text().data() >= in.data() && msg.text().data() < in.data() + in.size()) << cs;
    EXPECT_EQ(msg.find("PID")->field(5).component(1).decoded(), "JOS\xC3\xA9") << cs;
  }
}

TEST(Hl7v2ParseCharset, PlainAsciiMessageIsNotCopied) {
  const std::string in = msg_with("ASCII", "JOSE^ANA");
  const auto msg = must_parse(in);
  EXPECT_FALSE(msg.encoding().transcoded);
  EXPECT_EQ(msg.encoding().invalid_bytes, 0u);
  EXPECT_EQ(msg.encoding().declared, "ASCII");
  EXPECT_TRUE(msg.text().data() >= in.data() && msg.text().data() < in.data() + in.size());
}

TEST(Hl7v2ParseCharset, AsciiDeclaredButValidUtf8IsReadAsUtf8) {
  // parse_options: the fallback is for "MSH-18 empty, ASCII or UTF-8 but the bytes are not valid
  // UTF-8", and a message that is "plain ASCII or valid UTF-8 views the caller's bytes": so valid
  // UTF-8 under an ASCII declaration is kept, not replaced.
  const std::string in = msg_with("ASCII", "JOS\xC3\xA9^ANA");
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.encoding().invalid_bytes, 0u);
  EXPECT_FALSE(msg.encoding().transcoded);
  EXPECT_EQ(msg.find("PID")->field(5).component(1).decoded(), "JOS\xC3\xA9");
}

TEST(Hl7v2ParseCharset, InvalidBytesAreCountedNotFatal) {
  const std::string in = msg_with("", "JOS\xE9^ANA\xFF");
  const auto msg = must_parse(in);
  const auto& e = msg.encoding();
  EXPECT_EQ(e.invalid_bytes, 2u);
  EXPECT_FALSE(e.used_fallback);
  EXPECT_TRUE(e.transcoded);
  EXPECT_EQ(msg.find("PID")->field(5).component(1).decoded(), "JOS" + std::string(kReplacement));
  EXPECT_EQ(msg.find("PID")->field(5).component(2).decoded(), "ANA" + std::string(kReplacement));
  EXPECT_TRUE(h::is_valid_utf8(msg.text()));
  EXPECT_EQ(msg.segment_count(), 2u);
}

TEST(Hl7v2ParseCharset, Windows1252FallbackForUndeclaredNonUtf8) {
  h::parse_options o;
  o.fallback_charset = charset::windows_1252;
  const std::string in = msg_with("",
                                  "\x93quoted\x94^\x80"
                                  "5");
  const auto msg = must_parse(in, o);
  EXPECT_EQ(msg.find("PID")->field(5).component(1).decoded(), "\xE2\x80\x9Cquoted\xE2\x80\x9D");
  EXPECT_EQ(msg.find("PID")->field(5).component(2).decoded(),
            "\xE2\x82\xAC"
            "5");
  const auto& e = msg.encoding();
  EXPECT_TRUE(e.used_fallback);
  EXPECT_TRUE(e.transcoded);
  EXPECT_EQ(e.source, charset::windows_1252);
  EXPECT_EQ(e.invalid_bytes, 0u);
}

TEST(Hl7v2ParseCharset, FallbackAppliesWhenUtf8IsDeclaredButBytesAreNot) {
  h::parse_options o;
  o.fallback_charset = charset::windows_1252;
  for (const std::string_view cs : {"UNICODE UTF-8", "ASCII"}) {
    const std::string in = msg_with(cs, "\x93q\x94");
    const auto msg = must_parse(in, o);
    EXPECT_TRUE(msg.encoding().used_fallback) << cs;
    EXPECT_EQ(msg.encoding().source, charset::windows_1252) << cs;
    EXPECT_EQ(msg.find("PID")->field(5).decoded(), "\xE2\x80\x9Cq\xE2\x80\x9D") << cs;
  }
}

TEST(Hl7v2ParseCharset, FallbackIsNotUsedForValidUtf8) {
  h::parse_options o;
  o.fallback_charset = charset::windows_1252;
  const std::string in = msg_with("", "JOS\xC3\xA9");
  const auto msg = must_parse(in, o);
  EXPECT_FALSE(msg.encoding().used_fallback);
  EXPECT_EQ(msg.encoding().source, charset::utf8);
  EXPECT_EQ(msg.find("PID")->field(5).decoded(), "JOS\xC3\xA9");
}

TEST(Hl7v2ParseCharset, FallbackIsNotUsedWhenAKnownSetIsDeclared) {
  h::parse_options o;
  o.fallback_charset = charset::windows_1252;
  // 0x80 is a C1 control (U+0080) in ISO 8859-1, the euro sign in windows-1252.
  const std::string in = msg_with("8859/1", "A\x80\xE9");
  const auto msg = must_parse(in, o);
  EXPECT_FALSE(msg.encoding().used_fallback);
  EXPECT_EQ(msg.encoding().source, charset::iso8859_1);
  EXPECT_EQ(msg.find("PID")->field(5).decoded(), "A\xC2\x80\xC3\xA9");
}

TEST(Hl7v2ParseCharset, UnknownDeclaredSet) {
  {
    const std::string in = msg_with("KLINGON", "plain");
    const auto msg = must_parse(in);
    EXPECT_TRUE(msg.encoding().unknown_declared);
    EXPECT_EQ(msg.encoding().declared, "KLINGON");
    EXPECT_FALSE(msg.encoding().used_fallback);
    EXPECT_EQ(msg.find("PID")->field(5).decoded(), "plain");
  }
  {
    h::parse_options o;
    o.fallback_charset = charset::windows_1252;
    const std::string in = msg_with("KLINGON", "\x80");
    const auto msg = must_parse(in, o);
    EXPECT_TRUE(msg.encoding().unknown_declared);
    EXPECT_TRUE(msg.encoding().used_fallback);
    EXPECT_EQ(msg.encoding().source, charset::windows_1252);
    EXPECT_EQ(msg.find("PID")->field(5).decoded(), "\xE2\x82\xAC");
  }
}

TEST(Hl7v2ParseCharset, Msh18IsFoundAfterNonAsciiHeaderFields) {
  // MSH-4 holds a Latin-1 byte before MSH-18 says what the set is.
  static constexpr std::string_view in =
      "MSH|^~\\&|APP|H\xD4PITAL|C|D|20260101||ADT^A01|X1|P|2.5.1|||||FRA|8859/1\r"
      "PID|1||ID||L\xC9"
      "A\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.encoding().source, charset::iso8859_1);
  EXPECT_EQ(msg.encoding().invalid_bytes, 0u);
  EXPECT_EQ(msg.sending_facility(), "H\xC3\x94PITAL");
  EXPECT_EQ(msg.find("PID")->field(5).decoded(),
            "L\xC3\x89"
            "A");
}

TEST(Hl7v2ParseCharset, UnknownDeclaredSetWithoutFallbackReadsAsUtf8) {
  const std::string in = msg_with("KLINGON", "JOS\xC3\xA9");
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.encoding().source, charset::utf8);
  EXPECT_EQ(msg.encoding().invalid_bytes, 0u);
  EXPECT_EQ(msg.find("PID")->field(5).decoded(), "JOS\xC3\xA9");
}

TEST(Hl7v2ParseCharset, DeclaredIsTheFirstRepetition) {
  const std::string in = msg_with("8859/1~ISO IR87", "REN\xC9");
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.encoding().declared, "8859/1");
  EXPECT_EQ(msg.encoding().source, charset::iso8859_1);
  EXPECT_EQ(msg.find("PID")->field(5).decoded(), "REN\xC3\x89");
}

TEST(Hl7v2ParseCharset, Msh18ValueIsCaseInsensitive) {
  const std::string in = msg_with("unicode utf-8", "JOS\xC3\xA9");
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.encoding().source, charset::utf8);
  EXPECT_FALSE(msg.encoding().unknown_declared);
}

TEST(Hl7v2ParseCharset, Iso2022JpIsConvertedBeforeDelimitersAreFound) {
  // 愛 is 0x30 0x26 ("0&") and 期 is 0x34 0x7C ("4|") in JIS X 0208: the ISO 2022 bytes hold
  // what look like a sub-component and a field separator.
  const std::string in = msg_with("ISO IR87", "\x1B$B0&4|\x1B(B^TARO");
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.encoding().source, charset::iso2022_jp);
  EXPECT_TRUE(msg.encoding().transcoded);
  const auto pid = *msg.find("PID");
  EXPECT_EQ(pid.field_count(), 5u);
  EXPECT_EQ(pid.field(5).component(1).decoded(), "\xE6\x84\x9B\xE6\x9C\x9F");  // 愛期
  EXPECT_EQ(pid.field(5).component(1).subcomponent_count(), 1u);
  EXPECT_EQ(pid.field(5).component(2).decoded(), "TARO");
}

TEST(Hl7v2ParseCharset, Latin1BytesNextToDelimiters) {
  // A Latin-1 byte next to a delimiter must not swallow it.
  const std::string in = msg_with("8859/1", "\xE9^\xE9~\xE9&\xE9");
  const auto msg = must_parse(in);
  const auto f = msg.find("PID")->field(5);
  EXPECT_EQ(f.repetition_count(), 2u);
  EXPECT_EQ(f.repetition(1).component(2).decoded(), "\xC3\xA9");
  EXPECT_EQ(f.repetition(2).component(1).subcomponent(2).decoded(), "\xC3\xA9");
}

}  // namespace
