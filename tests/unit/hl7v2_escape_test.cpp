// Unit tests of HL7 v2 escape sequences (mappings/hl7v2/escape.hpp and element::decoded()).
// From HL7 v2 chapter 2 ("Use of escape sequences in text fields") and the header contract.

#include "mappings/hl7v2/escape.hpp"
#include "mappings/hl7v2/message.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace {

namespace h = carebridge::mappings::hl7v2;

h::message must_parse(std::string_view in, const h::parse_options& options = {}) {
  auto r = h::parse(in, options);
  if (!r) throw std::runtime_error("parse failed: " + r.error().describe());
  return *r;
}

h::delimiters custom() {
  h::delimiters d;
  d.field = '!';
  d.component = '@';
  d.repetition = '#';
  d.escape = '$';
  d.subcomponent = '%';
  return d;
}

const h::delimiters kStd{};

// ---------------------------------------------------------------------------------------------
// Decoding

// MSH-2 of one character ("MSH\\." below): no escape character. Delimiters cannot be data there;
// an escape sequence would be read literally, or split the value when '\\' is a delimiter.
TEST(Hl7v2Escape, WithoutAnEscapeCharacterDelimitersBecomeSpaces) {
  h::delimiters d;
  d.field = '\\';
  d.component = '.';
  d.repetition = '\0';
  d.escape = '\0';
  d.subcomponent = '\0';
  EXPECT_EQ(h::escape("20261122143005.123+0000", d), "20261122143005 123+0000");
  EXPECT_EQ(h::escape("a\\b|c^d&e~f\rg\nh", d), "a b|c^d&e~f g h");
  EXPECT_EQ(h::escape("plain", d), "plain");
}

TEST(Hl7v2Unescape, DelimiterEscapes) {
  EXPECT_EQ(h::unescape("\\F\\", kStd), "|");
  EXPECT_EQ(h::unescape("\\S\\", kStd), "^");
  EXPECT_EQ(h::unescape("\\T\\", kStd), "&");
  EXPECT_EQ(h::unescape("\\R\\", kStd), "~");
  EXPECT_EQ(h::unescape("\\E\\", kStd), "\\");
}

TEST(Hl7v2Unescape, DelimiterEscapesInsideText) {
  EXPECT_EQ(h::unescape("A\\F\\B\\S\\C\\T\\D\\R\\E\\E\\F", kStd), "A|B^C&D~E\\F");
  EXPECT_EQ(h::unescape("\\F\\\\S\\\\T\\", kStd), "|^&");
  EXPECT_EQ(h::unescape("SMITH\\T\\JONES", kStd), "SMITH&JONES");
}

TEST(Hl7v2Unescape, TextWithoutEscapesIsUnchanged) {
  EXPECT_EQ(h::unescape("", kStd), "");
  EXPECT_EQ(h::unescape("plain text 123", kStd), "plain text 123");
  EXPECT_EQ(h::unescape("caf\xC3\xA9", kStd), "caf\xC3\xA9");
}

TEST(Hl7v2Unescape, EscapesDecodeToTheMessagesOwnDelimiters) {
  const auto d = custom();
  EXPECT_EQ(h::unescape("$F$", d), "!");
  EXPECT_EQ(h::unescape("$S$", d), "@");
  EXPECT_EQ(h::unescape("$T$", d), "%");
  EXPECT_EQ(h::unescape("$R$", d), "#");
  EXPECT_EQ(h::unescape("$E$", d), "$");
  // Under another escape character a backslash is plain data.
  EXPECT_EQ(h::unescape("\\F\\", d), "\\F\\");
}

TEST(Hl7v2Unescape, TruncationEscapeDecodesToTheTruncationCharacter) {
  h::delimiters d;
  d.truncation = '#';
  EXPECT_EQ(h::unescape("A\\P\\B", d), "A#B");
}

TEST(Hl7v2Unescape, HexEscapes) {
  EXPECT_EQ(h::unescape("\\X41\\", kStd), "A");
  EXPECT_EQ(h::unescape("\\X414243\\", kStd), "ABC");
  EXPECT_EQ(h::unescape("x\\X41\\y", kStd), "xAy");
  EXPECT_EQ(h::unescape("\\X0A\\", kStd), "\n");
  EXPECT_EQ(h::unescape("\\X7C\\", kStd), "|");
}

TEST(Hl7v2Unescape, LongHexRun) {
  EXPECT_EQ(h::unescape("\\X48656C6C6F20576F726C64\\", kStd), "Hello World");
  EXPECT_EQ(h::unescape("[\\X48656c6c6f\\]", kStd), "[Hello]");
}

TEST(Hl7v2Unescape, DecodedTextIsNotDecodedAgain) {
  // \E\ gives a backslash; the "F" after it is data, not the start of \F\.
  EXPECT_EQ(h::unescape("\\E\\F\\E\\", kStd), "\\F\\");
  EXPECT_EQ(h::unescape("\\E\\.br\\E\\", kStd), "\\.br\\");
  EXPECT_EQ(h::unescape("\\E\\X41\\E\\", kStd), "\\X41\\");
}

TEST(Hl7v2Unescape, AnEscapeCutByADelimiterIsIncomplete) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B\r"
      "ZZ1|A\\F^B\\\r";
  const auto msg = must_parse(in);
  const auto f = msg.find("ZZ1")->field(1);
  EXPECT_EQ(f.component_count(), 2u);
  EXPECT_EQ(f.component(1).decoded(), "A\\F");
  EXPECT_EQ(f.component(2).decoded(), "B\\");
}

TEST(Hl7v2Unescape, HexCarriageReturnInAnyLength) {
  EXPECT_EQ(h::unescape("\\X0D\\", kStd), "\r");
  EXPECT_EQ(h::unescape("\\X0d\\", kStd), "\r");
  EXPECT_EQ(h::unescape("\\X000d\\", kStd), "\r");
  EXPECT_EQ(h::unescape("\\X000D\\", kStd), "\r");
  EXPECT_EQ(h::unescape("\\X00D\\", kStd), "\r");  // odd count, padded with a leading zero
  EXPECT_EQ(h::unescape("line1\\X0D\\line2", kStd), "line1\rline2");
}

TEST(Hl7v2Unescape, HexBytesAreReadInTheSourceCharacterSet) {
  EXPECT_EQ(h::unescape("\\XC3A9\\", kStd, h::charset::utf8), "\xC3\xA9");            // é
  EXPECT_EQ(h::unescape("\\Xe2809c\\", kStd, h::charset::utf8), "\xE2\x80\x9C");      // “
  EXPECT_EQ(h::unescape("\\XE9\\", kStd, h::charset::iso8859_1), "\xC3\xA9");         // é
  EXPECT_EQ(h::unescape("\\X80\\", kStd, h::charset::windows_1252), "\xE2\x82\xAC");  // €
  EXPECT_EQ(h::unescape("\\XA4\\", kStd, h::charset::iso8859_15), "\xE2\x82\xAC");    // €
}

TEST(Hl7v2Unescape, LineBreak) {
  EXPECT_EQ(h::unescape("\\.br\\", kStd), "\n");
  EXPECT_EQ(h::unescape("1 MAIN ST\\.br\\APT 2", kStd), "1 MAIN ST\nAPT 2");
  EXPECT_EQ(h::unescape("$.br$", custom()), "\n");
}

class Hl7v2VerbatimEscapes : public ::testing::TestWithParam<const char*> {};

TEST_P(Hl7v2VerbatimEscapes, FormattingAndCharsetEscapesAreKept) {
  const std::string raw = GetParam();
  EXPECT_EQ(h::unescape(raw, kStd), raw);
  const std::string embedded = "before " + raw + " after\\F\\";
  EXPECT_EQ(h::unescape(embedded, kStd), "before " + raw + " after|");
}

INSTANTIATE_TEST_SUITE_P(Sequences, Hl7v2VerbatimEscapes,
                         ::testing::Values("\\H\\", "\\N\\", "\\H\\bold\\N\\", "\\.sp\\",
                                           "\\.sp2\\", "\\.sp+3\\", "\\.in+4\\", "\\.ti-2\\",
                                           "\\.fi\\", "\\.nf\\", "\\.ce\\", "\\.sk+3\\",
                                           "\\C2842\\", "\\C2D41\\", "\\M242842\\", "\\M242829\\",
                                           "\\ZAB\\", "\\Z1234\\"));

TEST(Hl7v2Unescape, IncompleteSequencesAreKeptVerbatim) {
  EXPECT_EQ(h::unescape("abc\\F", kStd), "abc\\F");
  EXPECT_EQ(h::unescape("abc\\", kStd), "abc\\");
  EXPECT_EQ(h::unescape("\\", kStd), "\\");
  EXPECT_EQ(h::unescape("\\X41", kStd), "\\X41");
  EXPECT_EQ(h::unescape("a\\.br", kStd), "a\\.br");
  // A complete sequence followed by a dangling escape character.
  EXPECT_EQ(h::unescape("\\F\\abc\\", kStd), "|abc\\");
}

TEST(Hl7v2Unescape, DecodeEscapesAppends) {
  std::string out = "pre:";
  h::decode_escapes("A\\S\\B", kStd, h::charset::utf8, out);
  EXPECT_EQ(out, "pre:A^B");
  h::decode_escapes("\\.br\\", kStd, h::charset::utf8, out);
  EXPECT_EQ(out, "pre:A^B\n");
}

// ---------------------------------------------------------------------------------------------
// Decoding on access, in a message

TEST(Hl7v2Unescape, NamesAndAddressesDecodeOnAccess) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|X1|P|2.5.1\r"
      "PID|1||ID||SMITH\\T\\JONES^MARY\\S\\ANN^^^^||19540312|F|||"
      "1 MAIN ST\\.br\\APT 2^C\\F\\O OFFICE^SPRINGFIELD^IL^62701\r"
      "NTE|1||Result \\H\\HIGH\\N\\ see \\E\\notes\\E\\\r";
  const auto msg = must_parse(in);
  const auto pid = *msg.find("PID");
  EXPECT_EQ(pid.field(5).component(1).decoded(), "SMITH&JONES");
  EXPECT_EQ(pid.field(5).component(2).decoded(), "MARY^ANN");
  EXPECT_EQ(pid.field(5).component(1).raw(), "SMITH\\T\\JONES");
  EXPECT_EQ(pid.field(11).component(1).decoded(), "1 MAIN ST\nAPT 2");
  EXPECT_EQ(pid.field(11).component(2).decoded(), "C|O OFFICE");
  EXPECT_EQ(pid.field(11).component(3).decoded(), "SPRINGFIELD");
  EXPECT_EQ(msg.find("NTE")->field(3).decoded(), "Result \\H\\HIGH\\N\\ see \\notes\\");
  // get() decodes leaves.
  EXPECT_EQ(msg.get("PID.5.1").value(), "SMITH&JONES");
  EXPECT_EQ(msg.get("PID.11.1").value(), "1 MAIN ST\nAPT 2");
}

TEST(Hl7v2Unescape, HexCrInAMessageFieldDoesNotSplitTheSegment) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B\r"
      "NTE|1||first\\X0D\\second\\X000d\\third\r"
      "PID|1\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.segment_count(), 3u);
  EXPECT_EQ(msg.find("NTE")->field(3).decoded(), "first\rsecond\rthird");
}

TEST(Hl7v2Unescape, HexIsReadInTheMessagesCharacterSet) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|X1|P|2.5.1|||||USA|8859/1\r"
      "PID|1||ID||REN\\XC9\\^JOS\xC9\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.find("PID")->field(5).component(1).decoded(), "REN\xC3\x89");  // RENÉ
  EXPECT_EQ(msg.find("PID")->field(5).component(2).decoded(), "JOS\xC3\x89");  // JOSÉ
}

TEST(Hl7v2Unescape, TruncationEscapeInAV27Message) {
  static constexpr std::string_view in =
      "MSH|^~\\&#|A|B|C|D|20260101||ADT^A01|X1|P|2.7\r"
      "NTE|1||issue \\P\\42\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.find("NTE")->field(3).decoded(), "issue #42");
}

// ---------------------------------------------------------------------------------------------
// Encoding

TEST(Hl7v2Escape, EachDelimiterIsEscaped) {
  EXPECT_EQ(h::escape("|", kStd), "\\F\\");
  EXPECT_EQ(h::escape("^", kStd), "\\S\\");
  EXPECT_EQ(h::escape("&", kStd), "\\T\\");
  EXPECT_EQ(h::escape("~", kStd), "\\R\\");
  EXPECT_EQ(h::escape("\\", kStd), "\\E\\");
  EXPECT_EQ(h::escape("a|b^c~d&e\\f", kStd), "a\\F\\b\\S\\c\\R\\d\\T\\e\\E\\f");
}

TEST(Hl7v2Escape, CarriageReturnAndLineFeedBecomeHex) {
  EXPECT_EQ(h::escape("\r", kStd), "\\X0D\\");
  EXPECT_EQ(h::escape("\n", kStd), "\\X0A\\");
  EXPECT_EQ(h::escape("a\r\nb", kStd), "a\\X0D\\\\X0A\\b");
}

TEST(Hl7v2Escape, PlainTextIsUnchanged) {
  EXPECT_EQ(h::escape("", kStd), "");
  EXPECT_EQ(h::escape("DOE JOHN 1954-03-12, #4 (x) \"q\"", kStd),
            "DOE JOHN 1954-03-12, #4 (x) \"q\"");
  EXPECT_EQ(h::escape("Jos\xC3\xA9 \xE2\x82\xAC", kStd), "Jos\xC3\xA9 \xE2\x82\xAC");
}

TEST(Hl7v2Escape, UsesTheGivenDelimiters) {
  const auto d = custom();
  EXPECT_EQ(h::escape("a!b@c#d%e$f", d), "a$F$b$S$c$R$d$T$e$E$f");
  // The default delimiters are plain data under another set.
  EXPECT_EQ(h::escape("|^~&\\", d), "|^~&\\");
}

TEST(Hl7v2Escape, ResultIsASingleLeafValue) {
  const std::string text = "x|y^z~w&v\\u\r\nt";
  const std::string e = h::escape(text, kStd);
  for (const char c : std::string_view("|^~&\r\n")) {
    EXPECT_EQ(e.find(c), std::string::npos) << "raw delimiter " << int(c) << " in " << e;
  }
}

TEST(Hl7v2Escape, TruncationCharacterIsEscapedWhenDefined) {
  h::delimiters d;
  d.truncation = '#';
  const std::string e = h::escape("issue #42", d);
  EXPECT_EQ(e.find('#'), std::string::npos) << e;
  EXPECT_EQ(h::unescape(e, d), "issue #42");
  // Without a truncation character '#' is data.
  EXPECT_EQ(h::escape("issue #42", kStd), "issue #42");
}

class Hl7v2EscapeRoundTrip : public ::testing::TestWithParam<std::string_view> {};

TEST_P(Hl7v2EscapeRoundTrip, UnescapeOfEscapeIsIdentity) {
  const std::string text(GetParam());
  EXPECT_EQ(h::unescape(h::escape(text, kStd), kStd), text);
  const auto d = custom();
  EXPECT_EQ(h::unescape(h::escape(text, d), d), text);
}

INSTANTIATE_TEST_SUITE_P(
    Texts, Hl7v2EscapeRoundTrip,
    ::testing::Values(std::string_view(""), std::string_view("plain"),
                      std::string_view("a|b^c~d&e\\f"), std::string_view("\\F\\ literal"),
                      std::string_view("\\.br\\ is not a line break here"),
                      std::string_view("\\H\\ not bold \\N\\"), std::string_view("\\X41\\"),
                      std::string_view("line1\nline2\r\nline3\r"), std::string_view("!@#$%"),
                      std::string_view("\\\\\\"),
                      std::string_view("O'Brien & Sons | \"Ltd\" ~ 100%"),
                      std::string_view("Jos\xC3\xA9 M\xC3\xBCller \xE2\x80\x9Cq\xE2\x80\x9D")));

TEST(Hl7v2Escape, EscapedValueSurvivesAMessageRoundTrip) {
  const std::string value = "Smith & Sons | \"Ltd\" ^ line\r\nnext ~ \\back\\";
  const std::string in = "MSH|^~\\&|A|B\rNTE|1||" + h::escape(value, kStd) + "|after\rPID|1\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.segment_count(), 3u);
  const auto nte = *msg.find("NTE");
  EXPECT_EQ(nte.field_count(), 4u);
  EXPECT_EQ(nte.field(3).component_count(), 1u);
  EXPECT_EQ(nte.field(3).repetition_count(), 1u);
  EXPECT_EQ(nte.field(3).decoded(), value);
  EXPECT_EQ(nte.field(4).raw(), "after");
}

}  // namespace
