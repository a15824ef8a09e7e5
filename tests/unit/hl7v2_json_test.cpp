// Unit tests of the JSON form of parsed messages (mappings/hl7v2/json.hpp). The output is parsed
// with RapidJSON and checked against the shape the header documents.

#include "mappings/hl7v2/batch.hpp"
#include "mappings/hl7v2/json.hpp"
#include "mappings/hl7v2/message.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace h = carebridge::mappings::hl7v2;
using parsed_t = boost::system::result<h::message, h::parse_error>;

h::message must_parse(std::string_view in) {
  auto r = h::parse(in);
  if (!r) throw std::runtime_error("parse failed: " + r.error().describe());
  return *r;
}

rapidjson::Document must_json(std::string_view text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  if (d.HasParseError()) {
    throw std::runtime_error("invalid JSON at " + std::to_string(d.GetErrorOffset()) + ": " +
                             std::string(text));
  }
  return d;
}

rapidjson::Document message_json(const h::message& m) {
  std::string out;
  h::append_json(m, out);
  return must_json(out);
}

std::string_view str(const rapidjson::Value& v) {
  if (!v.IsString()) throw std::runtime_error("not a string");
  return {v.GetString(), v.GetStringLength()};
}

// The n-th (0-based) segment object with this id.
const rapidjson::Value& segment(const rapidjson::Value& msg, std::string_view id, int nth = 0) {
  for (const auto& s : msg["segments"].GetArray()) {
    if (str(s["id"]) == id && nth-- == 0) return s;
  }
  throw std::runtime_error("no segment " + std::string(id));
}

const rapidjson::Value& field(const rapidjson::Value& seg, const char* n) {
  const auto& fields = seg["fields"];
  if (!fields.IsObject() || !fields.HasMember(n)) {
    throw std::runtime_error(std::string("no field ") + n);
  }
  return fields[n];
}

constexpr std::string_view kMsg =
    "MSH|^~\\&|EPIC|MERCY|CB|PLAN|20261120143005-0500||ADT^A01^ADT_A01|C1|P|2.5.1\r"
    "PID|1||MRN1^^^MERCY&1.2.3&ISO^MR~PLAN2||O\\T\\BRIEN^MARY||19540312|\"\"|||"
    "1 MAIN\\.br\\APT 2^^SPRINGFIELD\r"
    "NTE|1||say \"hi\" \\E\\ tab\tend\r"
    "ZPI|A~B\r";

TEST(Hl7v2Json, TopLevelShape) {
  const auto msg = must_parse(kMsg);
  const auto d = message_json(msg);
  ASSERT_TRUE(d.IsObject());
  for (const char* k : {"control_id", "type", "version", "delimiters", "encoding", "segments"}) {
    EXPECT_TRUE(d.HasMember(k)) << k;
  }
  EXPECT_EQ(str(d["control_id"]), "C1");
  EXPECT_EQ(str(d["version"]), "2.5.1");
  ASSERT_TRUE(d["segments"].IsArray());
  ASSERT_EQ(d["segments"].Size(), 4u);
  EXPECT_EQ(str(d["segments"][0]["id"]), "MSH");
  EXPECT_EQ(str(d["segments"][1]["id"]), "PID");
  EXPECT_EQ(str(d["segments"][2]["id"]), "NTE");
  EXPECT_EQ(str(d["segments"][3]["id"]), "ZPI");
  for (const auto& s : d["segments"].GetArray()) {
    EXPECT_TRUE(s["fields"].IsObject());
  }
}

TEST(Hl7v2Json, AppendJsonAppendsOneCompactLine) {
  const auto msg = must_parse(kMsg);
  std::string out = "[";
  h::append_json(msg, out);
  EXPECT_EQ(out.find('\n'), std::string::npos);
  out += "]";
  const auto d = must_json(out);
  ASSERT_TRUE(d.IsArray());
  EXPECT_EQ(d.Size(), 1u);
}

TEST(Hl7v2Json, MshOneAndTwoAsSent) {
  const auto msg = must_parse(kMsg);
  const auto d = message_json(msg);
  const auto& msh = segment(d, "MSH");
  EXPECT_EQ(str(field(msh, "1")), "|");
  EXPECT_EQ(str(field(msh, "2")), "^~\\&");
  EXPECT_EQ(str(field(msh, "3")), "EPIC");
  EXPECT_EQ(str(field(msh, "10")), "C1");
  // MSH-9 has components: one repetition holding an array of components.
  const auto& f9 = field(msh, "9");
  ASSERT_TRUE(f9.IsArray());
  ASSERT_EQ(f9.Size(), 1u);
  ASSERT_TRUE(f9[0].IsArray());
  ASSERT_EQ(f9[0].Size(), 3u);
  EXPECT_EQ(str(f9[0][0]), "ADT");
  EXPECT_EQ(str(f9[0][1]), "A01");
  EXPECT_EQ(str(f9[0][2]), "ADT_A01");
}

TEST(Hl7v2Json, OnlyValuedFieldsArePresent) {
  const auto msg = must_parse(kMsg);
  const auto d = message_json(msg);
  const auto& pid = segment(d, "PID");
  const auto& f = pid["fields"];
  EXPECT_TRUE(f.HasMember("1"));
  EXPECT_FALSE(f.HasMember("2"));
  EXPECT_TRUE(f.HasMember("3"));
  EXPECT_FALSE(f.HasMember("4"));
  EXPECT_TRUE(f.HasMember("5"));
  EXPECT_FALSE(f.HasMember("6"));
  EXPECT_TRUE(f.HasMember("7"));
  EXPECT_TRUE(f.HasMember("8"));  // the null "" is valued
  EXPECT_FALSE(f.HasMember("9"));
  EXPECT_FALSE(f.HasMember("10"));
  EXPECT_TRUE(f.HasMember("11"));
  EXPECT_FALSE(f.HasMember("12"));
  const auto& msh = segment(d, "MSH");
  EXPECT_FALSE(msh["fields"].HasMember("8"));
}

TEST(Hl7v2Json, SimpleFieldIsAString) {
  const auto msg = must_parse(kMsg);
  const auto d = message_json(msg);
  const auto& pid = segment(d, "PID");
  EXPECT_EQ(str(field(pid, "1")), "1");
  EXPECT_EQ(str(field(pid, "7")), "19540312");
}

TEST(Hl7v2Json, HL7NullIsJsonNull) {
  const auto msg = must_parse(kMsg);
  const auto d = message_json(msg);
  EXPECT_TRUE(field(segment(d, "PID"), "8").IsNull());
}

TEST(Hl7v2Json, RepetitionsComponentsAndSubcomponents) {
  const auto msg = must_parse(kMsg);
  const auto d = message_json(msg);
  const auto& f3 = field(segment(d, "PID"), "3");
  // [["MRN1","","",["MERCY","1.2.3","ISO"],"MR"], "PLAN2"]
  ASSERT_TRUE(f3.IsArray());
  ASSERT_EQ(f3.Size(), 2u);
  ASSERT_TRUE(f3[0].IsArray());
  ASSERT_EQ(f3[0].Size(), 5u);
  EXPECT_EQ(str(f3[0][0]), "MRN1");
  EXPECT_EQ(str(f3[0][1]), "");
  EXPECT_EQ(str(f3[0][2]), "");
  ASSERT_TRUE(f3[0][3].IsArray());
  ASSERT_EQ(f3[0][3].Size(), 3u);
  EXPECT_EQ(str(f3[0][3][0]), "MERCY");
  EXPECT_EQ(str(f3[0][3][1]), "1.2.3");
  EXPECT_EQ(str(f3[0][3][2]), "ISO");
  EXPECT_EQ(str(f3[0][4]), "MR");
  EXPECT_EQ(str(f3[1]), "PLAN2");
  // Repetitions without components are strings.
  const auto& z = field(segment(d, "ZPI"), "1");
  ASSERT_TRUE(z.IsArray());
  ASSERT_EQ(z.Size(), 2u);
  EXPECT_EQ(str(z[0]), "A");
  EXPECT_EQ(str(z[1]), "B");
}

TEST(Hl7v2Json, StringsAreDecoded) {
  const auto msg = must_parse(kMsg);
  const auto d = message_json(msg);
  const auto& pid = segment(d, "PID");
  const auto& f5 = field(pid, "5");
  ASSERT_TRUE(f5.IsArray());
  ASSERT_EQ(f5.Size(), 1u);
  ASSERT_TRUE(f5[0].IsArray());
  EXPECT_EQ(str(f5[0][0]), "O&BRIEN");
  EXPECT_EQ(str(f5[0][1]), "MARY");
  const auto& f11 = field(pid, "11");
  EXPECT_EQ(str(f11[0][0]), "1 MAIN\nAPT 2");
  EXPECT_EQ(str(f11[0][2]), "SPRINGFIELD");
  // Quotes, backslashes and control characters survive JSON escaping.
  EXPECT_EQ(str(field(segment(d, "NTE"), "3")), "say \"hi\" \\ tab\tend");
}

// Every control character is escaped, wherever it sits in a long value. (RapidJSON 1.1.0 built with
// RAPIDJSON_SSE2 left 0x1A–0x1F raw in the 16-byte blocks of a long string: invalid JSON.)
TEST(Hl7v2Json, EveryControlCharacterIsEscapedInLongValues) {
  for (int c = 1; c < 0x20; ++c) {
    if (c == '\r' || c == '\n') continue;  // segment terminators
    std::string value(40, 'x');
    value[20] = static_cast<char>(c);
    const std::string text = std::string(kMsg) + "NTE|2||" + value + "\r";
    const auto msg = must_parse(text);
    std::string out;
    h::append_json(msg, out);
    for (char ch : out) ASSERT_GE(static_cast<unsigned char>(ch), 0x20u) << "byte " << c;
    const auto d = must_json(out);
    EXPECT_EQ(str(field(segment(d, "NTE", 1), "3")), value) << "byte " << c;
  }
}

TEST(Hl7v2Json, NonUtf8CharsetIsWrittenAsUtf8) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|C2|P|2.5.1|||||USA|8859/1\r"
      "PID|1||X||REN\xC9\r";
  const auto msg = must_parse(in);
  std::string out;
  h::append_json(msg, out);
  EXPECT_TRUE(h::is_valid_utf8(out));
  const auto d = must_json(out);
  EXPECT_EQ(str(field(segment(d, "PID"), "5")), "REN\xC3\x89");
}

TEST(Hl7v2Json, RepeatedSegmentsAreKeptInOrder) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|C3|P|2.5.1\r"
      "DG1|1|I10|A00\r"
      "DG1|2|I10|B01\r";
  const auto msg = must_parse(in);
  const auto d = message_json(msg);
  EXPECT_EQ(str(field(segment(d, "DG1", 0), "3")), "A00");
  EXPECT_EQ(str(field(segment(d, "DG1", 1), "3")), "B01");
}

// ---------------------------------------------------------------------------------------------
// to_json

TEST(Hl7v2Json, DocumentForASingleMessage) {
  const auto f = h::split_batch(kMsg);
  ASSERT_TRUE(f.has_value());
  std::vector<parsed_t> parsed;
  for (const auto m : f->messages()) parsed.push_back(h::parse(m));
  const std::string out = h::to_json(*f, parsed, false);
  const auto d = must_json(out);
  ASSERT_TRUE(d.IsObject());
  ASSERT_TRUE(d.HasMember("messages"));
  ASSERT_TRUE(d.HasMember("batch"));
  ASSERT_TRUE(d.HasMember("issues"));
  ASSERT_TRUE(d["messages"].IsArray());
  ASSERT_EQ(d["messages"].Size(), 1u);
  EXPECT_TRUE(d["batch"].IsNull());
  ASSERT_TRUE(d["issues"].IsArray());
  EXPECT_EQ(d["issues"].Size(), 0u);
  EXPECT_EQ(str(d["messages"][0]["control_id"]), "C1");
  // The message object is the one append_json writes.
  const auto msg = must_parse(kMsg);
  EXPECT_TRUE(d["messages"][0] == message_json(msg));
}

TEST(Hl7v2Json, DocumentForABatchWithAnIssue) {
  static constexpr std::string_view in =
      "FHS|^~\\&|A\rBHS|^~\\&|A\r"
      "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|M1|P|2.5\rPID|1||X\r"
      "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|M2|P|2.5\rPID|1||Y\r"
      "BTS|5\rFTS|1\r";
  const auto f = h::split_batch(in);
  ASSERT_TRUE(f.has_value());
  std::vector<parsed_t> parsed;
  for (const auto m : f->messages()) parsed.push_back(h::parse(m));
  const auto d = must_json(h::to_json(*f, parsed, false));
  ASSERT_EQ(d["messages"].Size(), 2u);
  EXPECT_EQ(str(d["messages"][0]["control_id"]), "M1");
  EXPECT_EQ(str(d["messages"][1]["control_id"]), "M2");
  EXPECT_TRUE(d["batch"].IsObject());
  EXPECT_EQ(d["issues"].Size(), 1u);
}

TEST(Hl7v2Json, MessageThatFailedToParseIsAnErrorObject) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|M1|P|2.5\rPID|1||SECRETNAME\r";
  const auto f = h::split_batch(in);
  ASSERT_TRUE(f.has_value());
  std::vector<parsed_t> parsed;
  parsed.push_back(parsed_t(boost::system::in_place_error,
                            h::parse_error{h::make_error_code(h::error::bad_delimiters), 4}));
  const std::string out = h::to_json(*f, parsed, false);
  EXPECT_EQ(out.find("SECRETNAME"), std::string::npos);
  const auto d = must_json(out);
  ASSERT_EQ(d["messages"].Size(), 1u);
  const auto& e = d["messages"][0];
  ASSERT_TRUE(e.IsObject());
  ASSERT_TRUE(e.HasMember("error"));
  ASSERT_TRUE(e.HasMember("offset"));
  EXPECT_FALSE(str(e["error"]).empty());
  ASSERT_TRUE(e["offset"].IsNumber());
  EXPECT_EQ(e["offset"].GetUint64(), 4u);
}

TEST(Hl7v2Json, PrettyAndCompactAreTheSameDocument) {
  const auto f = h::split_batch(kMsg);
  ASSERT_TRUE(f.has_value());
  std::vector<parsed_t> parsed;
  for (const auto m : f->messages()) parsed.push_back(h::parse(m));
  const std::string compact = h::to_json(*f, parsed, false);
  const std::string pretty = h::to_json(*f, parsed, true);
  EXPECT_EQ(compact.find('\n'), std::string::npos);
  EXPECT_NE(pretty.find('\n'), std::string::npos);
  EXPECT_TRUE(must_json(compact) == must_json(pretty));
}

}  // namespace
