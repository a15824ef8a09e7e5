// The mapper's streaming JSON writer (mappings/fhir/fhir_json.hpp) against RapidJSON's Writer, whose
// output it promises byte for byte: escapes of every byte value, strings of every length around the
// 8-byte blocks it copies, nesting and commas, numbers, growth past the initial capacity.
// (Strings are compared with RapidJSON's escaping rules written out below; documents, which hold
// only short strings, with the Writer itself.)
#include "mappings/fhir/fhir_json.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using carebridge::mappings::fhir::json_out;

// RapidJSON's escaping, byte by byte (its Writer's table; written out here because the Writer itself
// compiled with RAPIDJSON_SSE2 skips 0x1A–0x1F inside long strings, a bug of 1.1.0).
std::string rapidjson_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          static constexpr char hex[] = "0123456789ABCDEF";
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  // And it reads back as the same text.
  rapidjson::Document d;
  d.Parse(out.data(), out.size());
  if (d.HasParseError() || std::string_view(d.GetString(), d.GetStringLength()) != s)
    throw std::runtime_error("reference escaping does not round-trip");
  return out;
}

std::string ours_string(std::string_view s) {
  json_out j(8);
  j.str(s);
  return j.take();
}

TEST(FhirJson, EveryByteIsEscapedLikeRapidJson) {
  for (int c = 0; c < 256; ++c) {
    const std::string one(1, static_cast<char>(c));
    EXPECT_EQ(ours_string(one), rapidjson_string(one)) << "byte " << c;
    // The same byte at every place in and around an 8-byte block.
    for (std::size_t at = 0; at < 20; ++at) {
      std::string s(20, 'a');
      s[at] = static_cast<char>(c);
      ASSERT_EQ(ours_string(s), rapidjson_string(s)) << "byte " << c << " at " << at;
    }
  }
}

TEST(FhirJson, EverySpecialByteAtEveryPlaceOfEveryShortLength) {
  // The writer checks a value in words of 16, 8 or 4 bytes (the last one overlapping the one
  // before) or, below 4 bytes, the first, middle and last byte: a byte to escape anywhere in any of
  // those shapes must be found.
  for (const char special : {'"', '\\', '\n', '\x01', '\x1f', '\0'}) {
    for (std::size_t length = 1; length <= 40; ++length) {
      for (std::size_t at = 0; at < length; ++at) {
        std::string s(length, 'q');
        s[at] = special;
        ASSERT_EQ(ours_string(s), rapidjson_string(s))
            << "byte " << int(special) << " at " << at << " of " << length;
      }
    }
  }
}

TEST(FhirJson, RandomTextOfEveryLengthMatchesRapidJson) {
  std::mt19937 rng(20261201);
  // Mostly plain text with a few of each kind that needs an escape, and UTF-8 sequences.
  const std::vector<std::string> pieces = {"a", "Z", "0", " ", "\"", "\\", "\n", "\r", "\t",
                                           std::string(1, '\x01'), std::string(1, '\x1f'),
                                           "\x7f", "\xc3\xa9", "\xe2\x82\xac", "/", "^", "&"};
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> plain(0, 9);
  for (int round = 0; round < 3000; ++round) {
    std::string s;
    const std::size_t length = static_cast<std::size_t>(round % 70);
    while (s.size() < length) s += plain(rng) < 8 ? std::string(1, static_cast<char>('a' + round % 26)) : pieces[pick(rng)];
    ASSERT_EQ(ours_string(s), rapidjson_string(s)) << "round " << round;
  }
}

TEST(FhirJson, DocumentMatchesRapidJsonWriter) {
  json_out j(16);  // far too small: the writer grows
  j.begin_object();
  j.field("resourceType", "Encounter");
  j.field("empty", "");  // left out
  j.begin_array("identifier");
  j.begin_object();
  j.field("system", "urn:oid:1.2.3");
  j.field("value", "V\"1\\2");
  j.end_object();
  j.begin_object();
  j.end_object();
  j.end_array();
  j.boolean("active", true);
  j.boolean("deceased", false);
  j.number("value", 3.0);
  j.number("small", 0.1);
  j.number("big", 1e30);
  j.number("nan", std::nan(""));  // left out
  j.integer("rank", -42);
  j.reference("subject", "Patient", "abc");
  j.reference("nobody", "Patient", "");  // left out
  j.begin_array("generalPractitioner");
  j.reference_item("Practitioner", "p1");
  j.reference_item("Practitioner", "p2");
  j.end_array();
  j.field2("fullUrl", "urn:uuid:", "1234");
  j.key("url");
  j.str_path("Encounter", "e\n1");
  j.key("resource");
  j.raw(R"({"a":[1,2]})");
  j.begin_array("list");
  j.str("x");
  j.str("y");
  j.end_array();
  j.end_object();
  const std::string ours = j.take();

  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("resourceType");
  w.String("Encounter");
  w.Key("identifier");
  w.StartArray();
  w.StartObject();
  w.Key("system");
  w.String("urn:oid:1.2.3");
  w.Key("value");
  w.String("V\"1\\2");
  w.EndObject();
  w.StartObject();
  w.EndObject();
  w.EndArray();
  w.Key("active");
  w.Bool(true);
  w.Key("deceased");
  w.Bool(false);
  w.Key("value");
  w.Double(3.0);
  w.Key("small");
  w.Double(0.1);
  w.Key("big");
  w.Double(1e30);
  w.Key("rank");
  w.Int64(-42);
  w.Key("subject");
  w.StartObject();
  w.Key("reference");
  w.String("Patient/abc");
  w.EndObject();
  w.Key("generalPractitioner");
  w.StartArray();
  for (const char* p : {"Practitioner/p1", "Practitioner/p2"}) {
    w.StartObject();
    w.Key("reference");
    w.String(p);
    w.EndObject();
  }
  w.EndArray();
  w.Key("fullUrl");
  w.String("urn:uuid:1234");
  w.Key("url");
  w.String("Encounter/e\n1");
  w.Key("resource");
  w.RawValue(R"({"a":[1,2]})", 11, rapidjson::kObjectType);
  w.Key("list");
  w.StartArray();
  w.String("x");
  w.String("y");
  w.EndArray();
  w.EndObject();
  EXPECT_EQ(ours, std::string(buf.GetString(), buf.GetSize()));

  rapidjson::Document d;
  d.Parse(ours.data(), ours.size());
  EXPECT_FALSE(d.HasParseError());
}

TEST(FhirJson, TakeLeavesAnEmptyWriterAndLargeOutputSurvivesGrowth) {
  json_out j(64);
  j.begin_object();
  j.end_object();
  EXPECT_EQ(j.take(), "{}");
  EXPECT_EQ(j.view(), "");
  // After take() the writer starts a new document (no comma carried over).
  j.begin_object();
  const std::string long_value(100000, 'x');
  j.field("a", long_value);
  j.field("b", long_value + "\"");
  j.end_object();
  const std::string out = j.take();
  EXPECT_EQ(out.size(), 2 + (4 + 100002) + 1 + (4 + 100004));
  rapidjson::Document d;
  d.Parse(out.data(), out.size());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_EQ(d["b"].GetStringLength(), 100001u);
}

}  // namespace
