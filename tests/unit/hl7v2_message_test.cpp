// Unit tests of the HL7 v2 message view (mappings/hl7v2/message.hpp): segments, fields,
// repetitions, components, sub-components, delimiters, terminators, limits and parse errors.
// Written from the header contract and the HL7 v2 standard (chapter 2), not from message.cpp.

#include "mappings/hl7v2/message.hpp"

#include <gtest/gtest.h>

#include <boost/system/system_error.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace h = carebridge::mappings::hl7v2;
using namespace std::string_view_literals;

// Parses or fails the test with the error's description (the message views `in`, which must
// outlive it).
h::message must_parse(std::string_view in, const h::parse_options& options = {}) {
  auto r = h::parse(in, options);
  if (!r) {
    throw std::runtime_error("parse failed: " + r.error().describe());
  }
  return *r;
}

h::parse_error must_fail(std::string_view in, const h::parse_options& options = {}) {
  auto r = h::parse(in, options);
  if (r) {
    throw std::runtime_error("parse unexpectedly succeeded");
  }
  return r.error();
}

bool points_into(std::string_view inner, std::string_view outer) {
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

constexpr std::string_view kAdt =
    "MSH|^~\\&|EPIC|MERCY^1.2.3^ISO|CAREBRIDGE|PLAN|20261120143005-0500||ADT^A01^ADT_A01|"
    "CTRL0001|P^T|2.5.1^USA\r"
    "EVN|A01|20261120143005-0500\r"
    "PID|1||MRN1^^^MERCY^MR~PLAN2^^^ACME^MB||DOE^JANE^Q||19540312|F|||1 MAIN "
    "ST^^SPRINGFIELD^IL^62701\r"
    "PV1|1|I|4W^401^A\r";

// ---------------------------------------------------------------------------------------------
// Segments and the header

TEST(Hl7v2Message, ParsesSegmentsInOrder) {
  const auto msg = must_parse(kAdt);
  ASSERT_EQ(msg.segment_count(), 4u);
  EXPECT_EQ(msg.segment(0).id(), "MSH");
  EXPECT_EQ(msg.segment(1).id(), "EVN");
  EXPECT_EQ(msg.segment(2).id(), "PID");
  EXPECT_EQ(msg.segment(3).id(), "PV1");
}

TEST(Hl7v2Message, SegmentRawIsTheSegmentWithoutItsTerminator) {
  const auto msg = must_parse(kAdt);
  EXPECT_EQ(msg.segment(1).raw(), "EVN|A01|20261120143005-0500");
  EXPECT_EQ(msg.segment(3).raw(), "PV1|1|I|4W^401^A");
  for (std::size_t i = 0; i < msg.segment_count(); ++i) {
    EXPECT_EQ(msg.segment(i).raw().find('\r'), std::string_view::npos);
    EXPECT_EQ(msg.segment(i).raw().find('\n'), std::string_view::npos);
  }
}

TEST(Hl7v2Message, MshFieldNumberingFollowsTheStandard) {
  const auto msg = must_parse(kAdt);
  const auto msh = msg.segment(0);
  EXPECT_EQ(msh.field(1).raw(), "|");
  EXPECT_EQ(msh.field(2).raw(), "^~\\&");
  EXPECT_EQ(msh.field(3).raw(), "EPIC");
  EXPECT_EQ(msh.field(4).raw(), "MERCY^1.2.3^ISO");
  EXPECT_EQ(msh.field(5).raw(), "CAREBRIDGE");
  EXPECT_EQ(msh.field(6).raw(), "PLAN");
  EXPECT_EQ(msh.field(7).raw(), "20261120143005-0500");
  EXPECT_TRUE(msh.field(8).empty());
  EXPECT_EQ(msh.field(9).raw(), "ADT^A01^ADT_A01");
  EXPECT_EQ(msh.field(9).component(2).raw(), "A01");
  EXPECT_EQ(msh.field(10).raw(), "CTRL0001");
  EXPECT_EQ(msh.field(12).raw(), "2.5.1^USA");
  EXPECT_EQ(msh.field_count(), 12u);
}

TEST(Hl7v2Message, IndexedSegmentReadsFieldsLikeSegmentView) {
  const auto m = must_parse(kAdt);
  const h::indexed_segment msh(m.segment(0));
  EXPECT_EQ(msh.field(1).raw(), "|");
  EXPECT_EQ(msh.field(1).depth(), h::element::level::literal);
  EXPECT_EQ(msh.field(2).raw(), "^~\\&");
  EXPECT_EQ(msh.field(2).depth(), h::element::level::literal);
  EXPECT_EQ(msh.field(4).component(2).raw(), "1.2.3");
  EXPECT_EQ(msh.field(10).raw(), "CTRL0001");
  EXPECT_EQ(msh.field(12).component(1).raw(), "2.5.1");
  EXPECT_TRUE(msh.field(13).empty());
  const h::indexed_segment pid(*m.find("PID"));
  EXPECT_EQ(pid.id(), "PID");
  EXPECT_EQ(pid.field(3).repetition(2).component(1).raw(), "PLAN2");
  EXPECT_EQ(pid.field(11).component(3).raw(), "SPRINGFIELD");
  EXPECT_EQ(pid.field_count(), 11u);
  EXPECT_TRUE(pid.field(0).empty());
  EXPECT_TRUE(pid.field(12).empty());
  EXPECT_TRUE(pid.field(1000).empty());
  EXPECT_TRUE(points_into(pid.field(5).raw(), kAdt));
  const h::indexed_segment none;
  EXPECT_TRUE(none.field(1).empty());
}

TEST(Hl7v2Message, ComponentsSplitsOnceAndCountsThemAll) {
  const auto m = must_parse(kAdt);
  const auto pid = *m.find("PID");
  h::element c[3];
  // PID-11: 1 MAIN ST^^SPRINGFIELD^IL^62701 has five components; three are stored.
  EXPECT_EQ(pid.field(11).components(c, 3), 5u);
  EXPECT_EQ(c[0].raw(), "1 MAIN ST");
  EXPECT_TRUE(c[1].empty());
  EXPECT_EQ(c[2].raw(), "SPRINGFIELD");
  EXPECT_EQ(c[2].depth(), h::element::level::component);
  // A field's components are those of its first repetition.
  EXPECT_EQ(pid.field(3).components(c, 3), 5u);
  EXPECT_EQ(c[0].raw(), "MRN1");
  EXPECT_EQ(pid.field(3).repetition(2).components(c, 3), 5u);
  EXPECT_EQ(c[0].raw(), "PLAN2");
  // Nothing sent: no components. A component has itself as its only one.
  EXPECT_EQ(pid.field(9).components(c, 3), 0u);
  EXPECT_EQ(pid.field(11).component(3).components(c, 3), 1u);
  EXPECT_EQ(c[0].raw(), "SPRINGFIELD");
  EXPECT_EQ(h::element().components(c, 3), 0u);
}

TEST(Hl7v2Message, ComponentsSaysWhatElseItFound) {
  // The same pass over the first repetition finds the escape character and the sub-component
  // separator; what later repetitions hold is not the first one's. The long values cross the
  // 16-byte blocks the scan reads, and one first repetition ends inside a block.
  const std::string text =
      "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|1|P|2.5\r"
      "ZZZ|plain text that is long^and more^x|a\\T\\b^c&d~e\\T\\f&g"
      "|0123456789ABCDEF^0123456789ABCDEF~x&y\\E\\|~second"
      "|0123456789^ABCDEFGHI~x&y\\E\\0123456789abcdef\r";
  const auto m = must_parse(text);
  const h::indexed_segment z(*m.find("ZZZ"));
  h::element c[4];
  h::element::split_info info;

  EXPECT_EQ(z.field(1).components(c, 4, &info), 3u);
  EXPECT_EQ(c[1].raw(), "and more");
  EXPECT_FALSE(info.escapes);
  EXPECT_FALSE(info.subcomponents);

  EXPECT_EQ(z.field(2).components(c, 4, &info), 2u);
  EXPECT_EQ(c[0].raw(), "a\\T\\b");
  EXPECT_EQ(c[1].raw(), "c&d");
  EXPECT_TRUE(info.escapes);
  EXPECT_TRUE(info.subcomponents);

  EXPECT_EQ(z.field(3).components(c, 4, &info), 2u);
  EXPECT_EQ(c[1].raw(), "0123456789ABCDEF");
  EXPECT_FALSE(info.escapes);
  EXPECT_FALSE(info.subcomponents);
  EXPECT_EQ(z.field(3).repetition(2).components(c, 4, &info), 1u);
  EXPECT_TRUE(info.escapes);
  EXPECT_TRUE(info.subcomponents);

  // An empty first repetition has no components, whatever follows.
  EXPECT_EQ(z.field(4).components(c, 4, &info), 0u);
  EXPECT_FALSE(info.escapes);

  EXPECT_EQ(z.field(5).components(c, 4, &info), 2u);
  EXPECT_EQ(c[1].raw(), "ABCDEFGHI");
  EXPECT_FALSE(info.escapes);
  EXPECT_FALSE(info.subcomponents);

  // A component is its own only component; its sub-components are what it holds.
  EXPECT_EQ(z.field(2).component(2).components(c, 4, &info), 1u);
  EXPECT_FALSE(info.escapes);
  EXPECT_TRUE(info.subcomponents);
  // MSH-2 is a literal: never decoded.
  EXPECT_EQ(m.segment(0).field(2).components(c, 4, &info), 1u);
  EXPECT_FALSE(info.escapes);
}

TEST(Hl7v2Message, IndexedSegmentOfManyFields) {
  // 200 fields: more than indexed_segment keeps inline.
  std::string text = std::string(kAdt) + "ZXX";
  for (int i = 1; i <= 200; ++i) text += "|" + std::to_string(i) + "^c" + std::to_string(i);
  text += "\r";
  const auto m = must_parse(text);
  const auto seg = *m.find("ZXX");
  const h::indexed_segment idx(seg);
  EXPECT_EQ(idx.field_count(), 200u);
  for (std::uint32_t n = 1; n <= 201; ++n) {
    EXPECT_EQ(idx.field(n).raw(), seg.field(n).raw()) << n;
  }
  EXPECT_EQ(idx.field(200).component(2).raw(), "c200");
  EXPECT_TRUE(idx.field(201).empty());
}

TEST(Hl7v2Message, MshOneAndTwoAreLiteralNeverSplitNorDecoded) {
  const auto msg = must_parse(kAdt);
  const auto msh = msg.segment(0);
  const auto f1 = msh.field(1);
  const auto f2 = msh.field(2);
  EXPECT_EQ(f1.depth(), h::element::level::literal);
  EXPECT_EQ(f2.depth(), h::element::level::literal);
  EXPECT_EQ(f1.decoded(), "|");
  EXPECT_EQ(f2.decoded(), "^~\\&");
  // '^' and '~' inside MSH-2 are not delimiters of MSH-2.
  EXPECT_EQ(f2.component_count(), 1u);
  EXPECT_EQ(f2.repetition_count(), 1u);
  EXPECT_EQ(f2.component(1).raw(), "^~\\&");
}

TEST(Hl7v2Message, HeaderConvenienceAccessors) {
  const auto msg = must_parse(kAdt);
  EXPECT_EQ(msg.sending_application(), "EPIC");
  EXPECT_EQ(msg.sending_facility(), "MERCY");  // MSH-4.1 only
  EXPECT_EQ(msg.message_type(), "ADT");
  EXPECT_EQ(msg.trigger_event(), "A01");
  EXPECT_EQ(msg.control_id(), "CTRL0001");
  EXPECT_EQ(msg.processing_id(), "P");  // MSH-11.1 of "P^T"
  EXPECT_EQ(msg.version(), "2.5.1");    // MSH-12.1 of "2.5.1^USA"
}

TEST(Hl7v2Message, MinimalMshSegmentParses) {
  // The MSH holds its field separator and all four encoding characters; nothing else is required
  // of a schema-less parse.
  for (const std::string_view in :
       {std::string_view("MSH|^~\\&\r"), std::string_view("MSH|^~\\&")}) {
    const auto msg = must_parse(in);
    EXPECT_EQ(msg.segment_count(), 1u);
    EXPECT_EQ(msg.delims().encoding_characters(), "^~\\&");
    EXPECT_EQ(msg.segment(0).field(2).raw(), "^~\\&");
    EXPECT_EQ(msg.sending_application(), "");
    EXPECT_EQ(msg.message_type(), "");
    EXPECT_EQ(msg.control_id(), "");
    EXPECT_EQ(msg.version(), "");
  }
}

TEST(Hl7v2Message, HeaderAccessorsOfAnEmptyHeaderAreEmpty) {
  static constexpr std::string_view in = "MSH|^~\\&|\rPID|1\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.segment_count(), 2u);
  EXPECT_EQ(msg.sending_application(), "");
  EXPECT_EQ(msg.sending_facility(), "");
  EXPECT_EQ(msg.message_type(), "");
  EXPECT_EQ(msg.trigger_event(), "");
  EXPECT_EQ(msg.control_id(), "");
  EXPECT_EQ(msg.processing_id(), "");
  EXPECT_EQ(msg.version(), "");
}

TEST(Hl7v2Message, FindAndCountSegments) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B|C|D|20260101||ADT^A08|X1|P|2.5\r"
      "PID|1||ID1\r"
      "DG1|1|I10|A00^Cholera^I10\r"
      "DG1|2|I10|B01^Varicella^I10\r"
      "ZPI|x\r"
      "DG1|3|I10|C50^Breast^I10\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.count("DG1"), 3u);
  EXPECT_EQ(msg.count("MSH"), 1u);
  EXPECT_EQ(msg.count("ZPI"), 1u);
  EXPECT_EQ(msg.count("OBX"), 0u);
  ASSERT_TRUE(msg.find("DG1").has_value());
  EXPECT_EQ(msg.find("DG1")->field(1).raw(), "1");
  ASSERT_TRUE(msg.find("DG1", 2).has_value());
  EXPECT_EQ(msg.find("DG1", 2)->field(3).component(1).raw(), "B01");
  ASSERT_TRUE(msg.find("DG1", 3).has_value());
  EXPECT_EQ(msg.find("DG1", 3)->field(1).raw(), "3");
  EXPECT_FALSE(msg.find("DG1", 4).has_value());
  EXPECT_FALSE(msg.find("OBX").has_value());
  ASSERT_TRUE(msg.find("ZPI").has_value());
  EXPECT_EQ(msg.find("ZPI")->raw(), "ZPI|x");
}

// ---------------------------------------------------------------------------------------------
// Fields, repetitions, components, sub-components

TEST(Hl7v2Message, FieldCountCountsTrailingEmptyFields) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B\r"
      "PID|1||123\r"
      "PV1|1||123||\r"
      "ZZZ\r"
      "ZZY|\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.segment(0).field_count(), 4u);
  EXPECT_EQ(msg.segment(1).field_count(), 3u);
  EXPECT_EQ(msg.segment(2).field_count(), 5u);
  EXPECT_EQ(msg.segment(3).field_count(), 0u);
  EXPECT_EQ(msg.segment(4).field_count(), 1u);
}

TEST(Hl7v2Message, AbsentFieldsAreEmptyNotNull) {
  const auto msg = must_parse(kAdt);
  const auto pv1 = *msg.find("PV1");
  EXPECT_TRUE(pv1.field(4).empty());
  EXPECT_EQ(pv1.field(4).raw(), "");
  EXPECT_FALSE(pv1.field(4).is_null());
  EXPECT_TRUE(pv1.field(99).empty());
  EXPECT_TRUE(pv1.field(99).component(3).subcomponent(2).empty());
  EXPECT_EQ(pv1.field(99).decoded(), "");
}

TEST(Hl7v2Message, EmptyFieldVersusExplicitNull) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B\r"
      "PID|1||\"\"||DOE^\"\"^Q|\"\"x\r";
  const auto msg = must_parse(in);
  const auto pid = *msg.find("PID");
  EXPECT_TRUE(pid.field(3).is_null());
  EXPECT_FALSE(pid.field(3).empty());
  EXPECT_EQ(pid.field(3).raw(), "\"\"");
  EXPECT_TRUE(pid.field(4).empty());
  EXPECT_FALSE(pid.field(4).is_null());
  EXPECT_TRUE(pid.field(5).component(2).is_null());
  EXPECT_FALSE(pid.field(5).component(1).is_null());
  EXPECT_FALSE(pid.field(5).is_null());
  // Only exactly two double quotes are the null.
  EXPECT_FALSE(pid.field(6).is_null());
}

TEST(Hl7v2Message, RepetitionsOfAField) {
  const auto msg = must_parse(kAdt);
  const auto pid3 = msg.find("PID")->field(3);
  EXPECT_EQ(pid3.depth(), h::element::level::field);
  ASSERT_EQ(pid3.repetition_count(), 2u);
  EXPECT_EQ(pid3.repetition(1).raw(), "MRN1^^^MERCY^MR");
  EXPECT_EQ(pid3.repetition(2).raw(), "PLAN2^^^ACME^MB");
  EXPECT_EQ(pid3.repetition(1).depth(), h::element::level::repetition);
  EXPECT_EQ(pid3.repetition(2).component(1).raw(), "PLAN2");
  EXPECT_EQ(pid3.repetition(2).component(4).raw(), "ACME");
  EXPECT_EQ(pid3.repetition(2).component(5).raw(), "MB");
  EXPECT_TRUE(pid3.repetition(3).empty());
  // component() of a field is the component of its first repetition.
  EXPECT_EQ(pid3.component(1).raw(), "MRN1");
  EXPECT_EQ(pid3.component(5).raw(), "MR");
  EXPECT_EQ(pid3.component_count(), 5u);
}

TEST(Hl7v2Message, FieldWithoutRepetitionSeparatorHasOneRepetition) {
  const auto msg = must_parse(kAdt);
  const auto pid5 = msg.find("PID")->field(5);
  EXPECT_EQ(pid5.repetition_count(), 1u);
  EXPECT_EQ(pid5.repetition(1).raw(), "DOE^JANE^Q");
  EXPECT_TRUE(pid5.repetition(2).empty());
}

TEST(Hl7v2Message, ComponentsAndSubcomponents) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B\r"
      "ZZ1|A^B&C&D^E||^^\r";
  const auto msg = must_parse(in);
  const auto f = msg.find("ZZ1")->field(1);
  ASSERT_EQ(f.component_count(), 3u);
  EXPECT_EQ(f.component(1).raw(), "A");
  EXPECT_EQ(f.component(2).raw(), "B&C&D");
  EXPECT_EQ(f.component(3).raw(), "E");
  EXPECT_TRUE(f.component(4).empty());
  EXPECT_EQ(f.component(2).depth(), h::element::level::component);
  ASSERT_EQ(f.component(2).subcomponent_count(), 3u);
  EXPECT_EQ(f.component(2).subcomponent(1).raw(), "B");
  EXPECT_EQ(f.component(2).subcomponent(2).raw(), "C");
  EXPECT_EQ(f.component(2).subcomponent(3).raw(), "D");
  EXPECT_EQ(f.component(2).subcomponent(3).depth(), h::element::level::subcomponent);
  EXPECT_TRUE(f.component(2).subcomponent(4).empty());
  EXPECT_EQ(f.component(1).subcomponent_count(), 1u);
  EXPECT_EQ(f.component(1).subcomponent(1).raw(), "A");
  // Empty components are counted.
  EXPECT_EQ(msg.find("ZZ1")->field(3).component_count(), 3u);
}

TEST(Hl7v2Message, ComponentAndRepetitionOfALeafAreTheLeafItself) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B\r"
      "ZZ1|A^B&C\r";
  const auto msg = must_parse(in);
  const auto comp = msg.find("ZZ1")->field(1).component(2);
  EXPECT_EQ(comp.repetition_count(), 1u);
  EXPECT_EQ(comp.repetition(1).raw(), "B&C");
  const auto sub = comp.subcomponent(2);
  EXPECT_EQ(sub.component_count(), 1u);
  EXPECT_EQ(sub.subcomponent_count(), 1u);
  EXPECT_EQ(sub.subcomponent(1).raw(), "C");
}

TEST(Hl7v2Message, EscapedDelimitersDoNotSplit) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B\r"
      "PID|1||A\\R\\B||SMITH\\S\\JONES^X\\T\\Y&Z\r";
  const auto msg = must_parse(in);
  const auto pid = *msg.find("PID");
  EXPECT_EQ(pid.field(3).repetition_count(), 1u);
  EXPECT_EQ(pid.field(3).decoded(), "A~B");
  EXPECT_EQ(pid.field(5).component_count(), 2u);
  EXPECT_EQ(pid.field(5).component(1).decoded(), "SMITH^JONES");
  EXPECT_EQ(pid.field(5).component(2).subcomponent_count(), 2u);
  EXPECT_EQ(pid.field(5).component(2).subcomponent(1).decoded(), "X&Y");
  EXPECT_EQ(pid.field(3).raw(), "A\\R\\B");
}

TEST(Hl7v2Message, ThirtyFiveRepetitionsAreAllKept) {
  std::string pid3;
  for (int i = 1; i <= 35; ++i) {
    if (i > 1) pid3 += '~';
    pid3 += "ID" + std::to_string(i) + "^^^AUTH" + std::to_string(i) + "^MR";
  }
  const std::string in = "MSH|^~\\&|A|B|C|D|20260101||ADT^A08|X1|P|2.5\rPID|1||" + pid3 + "||DOE\r";
  const auto msg = must_parse(in);
  const auto f = msg.find("PID")->field(3);
  ASSERT_EQ(f.repetition_count(), 35u);
  EXPECT_EQ(f.repetition(1).component(1).raw(), "ID1");
  EXPECT_EQ(f.repetition(30).component(1).raw(), "ID30");
  EXPECT_EQ(f.repetition(35).component(1).raw(), "ID35");
  EXPECT_EQ(f.repetition(35).component(4).raw(), "AUTH35");
  EXPECT_TRUE(f.repetition(36).empty());
  EXPECT_EQ(msg.find("PID")->field(5).raw(), "DOE");
  EXPECT_EQ(msg.to_er7(), in);
}

TEST(Hl7v2Message, ExtraRepetitionsOfANonRepeatingFieldAreKept) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B\r"
      "PID|1||ID||DOE||19540312|F~M~U\r";
  const auto msg = must_parse(in);
  const auto sex = msg.find("PID")->field(8);
  ASSERT_EQ(sex.repetition_count(), 3u);
  EXPECT_EQ(sex.repetition(3).raw(), "U");
}

TEST(Hl7v2Message, ExtraFieldsBeyondTheStandardAreKept) {
  // PV1 has 52 fields in v2.5; send 60.
  std::string pv1 = "PV1";
  for (int i = 1; i <= 60; ++i) pv1 += "|" + std::to_string(i * 10);
  const std::string in = "MSH|^~\\&|A|B\r" + pv1 + "\r";
  const auto msg = must_parse(in);
  const auto seg = *msg.find("PV1");
  EXPECT_EQ(seg.field_count(), 60u);
  EXPECT_EQ(seg.field(1).raw(), "10");
  EXPECT_EQ(seg.field(45).raw(), "450");
  EXPECT_EQ(seg.field(60).raw(), "600");
  EXPECT_TRUE(seg.field(61).empty());
  EXPECT_EQ(msg.to_er7(), in);
}

TEST(Hl7v2Message, UnknownAndZSegmentsAreKept) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|X1|P|2.5\r"
      "ZPI|1|custom^value&sub~rep2|\r"
      "PID|1||ID\r"
      "QQQ|whatever\r"
      "ZZ9|a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q|r|s|t|u|v|w|x|y|z\r";
  const auto msg = must_parse(in);
  ASSERT_EQ(msg.segment_count(), 5u);
  EXPECT_EQ(msg.segment(1).id(), "ZPI");
  EXPECT_EQ(msg.segment(3).id(), "QQQ");
  EXPECT_EQ(msg.segment(4).id(), "ZZ9");
  const auto zpi = *msg.find("ZPI");
  EXPECT_EQ(zpi.field_count(), 3u);
  EXPECT_EQ(zpi.field(2).repetition_count(), 2u);
  EXPECT_EQ(zpi.field(2).component(2).subcomponent(2).raw(), "sub");
  EXPECT_EQ(msg.find("ZZ9")->field(26).raw(), "z");
  EXPECT_EQ(msg.to_er7(), in);
}

TEST(Hl7v2Message, SegmentIdIsTheTextBeforeTheFirstFieldSeparator) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B\r"
      "ZZZ\r"
      "NTE|1||text\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.segment(1).id(), "ZZZ");
  EXPECT_EQ(msg.segment(2).id(), "NTE");
}

// ---------------------------------------------------------------------------------------------
// Delimiters

TEST(Hl7v2Delimiters, DefaultSet) {
  const auto msg = must_parse(kAdt);
  const auto& d = msg.delims();
  EXPECT_EQ(d.field, '|');
  EXPECT_EQ(d.component, '^');
  EXPECT_EQ(d.repetition, '~');
  EXPECT_EQ(d.escape, '\\');
  EXPECT_EQ(d.subcomponent, '&');
  EXPECT_EQ(d.truncation, '\0');
  EXPECT_EQ(d.encoding_characters(), "^~\\&");
}

TEST(Hl7v2Delimiters, EncodingCharactersOfADefaultConstructedSet) {
  h::delimiters d;
  EXPECT_EQ(d.encoding_characters(), "^~\\&");
  d.truncation = '#';
  EXPECT_EQ(d.encoding_characters(), "^~\\&#");
}

TEST(Hl7v2Delimiters, V27TruncationCharacter) {
  static constexpr std::string_view in =
      "MSH|^~\\&#|A|B|C|D|20260101||ADT^A01|X1|P|2.7\r"
      "PID|1||ID^^^AUTH||VERYLONGNAM#^JANE\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.delims().truncation, '#');
  EXPECT_EQ(msg.delims().subcomponent, '&');
  EXPECT_EQ(msg.delims().encoding_characters(), "^~\\&#");
  EXPECT_EQ(msg.segment(0).field(2).raw(), "^~\\&#");
  EXPECT_EQ(msg.segment(0).field(3).raw(), "A");
  EXPECT_EQ(msg.version(), "2.7");
  EXPECT_EQ(msg.find("PID")->field(5).component(2).raw(), "JANE");
  EXPECT_EQ(msg.to_er7(), in);
}

TEST(Hl7v2Delimiters, NonDefaultSetIsUsedThroughout) {
  // field '!', component '@', repetition '#', escape '$', sub-component '%'.
  static constexpr std::string_view in =
      "MSH!@#$%!APP!FAC!RCV!RFAC!20260101!!ADT@A01!C1!P!2.5\r"
      "PID!1!!ID1@@@AUTH#ID2@@@OTHER!!DOE$F$X@JO%HN\r";
  const auto msg = must_parse(in);
  const auto& d = msg.delims();
  EXPECT_EQ(d.field, '!');
  EXPECT_EQ(d.component, '@');
  EXPECT_EQ(d.repetition, '#');
  EXPECT_EQ(d.escape, '$');
  EXPECT_EQ(d.subcomponent, '%');
  EXPECT_EQ(d.encoding_characters(), "@#$%");
  EXPECT_EQ(msg.segment(0).field(1).raw(), "!");
  EXPECT_EQ(msg.segment(0).field(2).raw(), "@#$%");
  EXPECT_EQ(msg.sending_application(), "APP");
  EXPECT_EQ(msg.message_type(), "ADT");
  EXPECT_EQ(msg.trigger_event(), "A01");
  EXPECT_EQ(msg.control_id(), "C1");
  const auto pid = *msg.find("PID");
  ASSERT_EQ(pid.field(3).repetition_count(), 2u);
  EXPECT_EQ(pid.field(3).repetition(2).component(4).raw(), "OTHER");
  EXPECT_EQ(pid.field(5).component(1).decoded(), "DOE!X");
  EXPECT_EQ(pid.field(5).component(2).subcomponent(2).raw(), "HN");
  // The default delimiters mean nothing in this message.
  EXPECT_EQ(msg.to_er7(), in);
}

TEST(Hl7v2Delimiters, SwappedDefaultCharacters) {
  // field '^', component '|': legal, if unkind.
  static constexpr std::string_view in =
      "MSH^|~\\&^APP^FAC^^^20260101^^ADT|A01^C7^P^2.5\r"
      "PID^1^^ID1|||AUTH~ID2^^DOE|JANE\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.delims().field, '^');
  EXPECT_EQ(msg.delims().component, '|');
  EXPECT_EQ(msg.message_type(), "ADT");
  EXPECT_EQ(msg.trigger_event(), "A01");
  EXPECT_EQ(msg.control_id(), "C7");
  EXPECT_EQ(msg.get("MSH.1").value(), "^");
  EXPECT_EQ(msg.get("MSH.2").value(), "|~\\&");
  EXPECT_EQ(msg.get("PID.3[2].1").value(), "ID2");
  EXPECT_EQ(msg.get("PID.5.2").value(), "JANE");
  EXPECT_EQ(msg.to_er7(), in);
}

TEST(Hl7v2ParseError, BadDelimiterOffsetPointsIntoTheHeader) {
  static constexpr std::string_view in = "MSH|^^\\&|A|B\rPID|1\r";
  const auto e = must_fail(in);
  EXPECT_EQ(e.code, h::error::bad_delimiters);
  EXPECT_GE(e.offset, 3u);
  EXPECT_LE(e.offset, 8u);
}

TEST(Hl7v2Delimiters, DefaultCharactersAreDataUnderAnotherSet) {
  static constexpr std::string_view in =
      "MSH!@#$%!APP!FAC\r"
      "NTE!1!!a|b^c~d&e\\f\r";
  const auto msg = must_parse(in);
  const auto nte3 = msg.find("NTE")->field(3);
  EXPECT_EQ(nte3.component_count(), 1u);
  EXPECT_EQ(nte3.repetition_count(), 1u);
  EXPECT_EQ(nte3.decoded(), "a|b^c~d&e\\f");
}

struct bad_input_case {
  const char* name;
  std::string_view bytes;
  h::error expected;
};

void PrintTo(const bad_input_case& c, std::ostream* os) {
  *os << c.name;
}

class Hl7v2ParseErrors : public ::testing::TestWithParam<bad_input_case> {};

TEST_P(Hl7v2ParseErrors, ReportsTheTypedError) {
  const auto& c = GetParam();
  const auto e = must_fail(c.bytes);
  EXPECT_EQ(e.code, h::make_error_code(c.expected)) << c.name << ": " << e.describe();
  EXPECT_EQ(e.code.category(), h::error_category());
  EXPECT_FALSE(e.describe().empty());
  EXPECT_EQ(e.describe().find('\n'), std::string::npos);
  EXPECT_EQ(e.describe().find('\r'), std::string::npos);
  EXPECT_LE(e.offset, c.bytes.size());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, Hl7v2ParseErrors,
    ::testing::Values(
        bad_input_case{"empty", ""sv, h::error::empty_input},
        bad_input_case{"only_cr", "\r"sv, h::error::empty_input},
        bad_input_case{"only_terminators", "\r\n\n\r\r"sv, h::error::empty_input},
        bad_input_case{"bom_and_terminators", "\xEF\xBB\xBF\r\n"sv, h::error::empty_input},
        bad_input_case{"pid_first", "PID|1||123\rMSH|^~\\&|A\r"sv, h::error::no_msh},
        bad_input_case{"evn_only", "EVN|A01|20260101\r"sv, h::error::no_msh},
        bad_input_case{"bom_then_pid", "\xEF\xBB\xBFPID|1\r"sv, h::error::no_msh},
        bad_input_case{"text", "hello world"sv, h::error::no_msh},
        bad_input_case{"msh_only_id", "MSH"sv, h::error::truncated_msh},
        bad_input_case{"msh_id_then_cr", "MSH\rPID|1\r"sv, h::error::truncated_msh},
        bad_input_case{"msh_field_sep_only", "MSH|"sv, h::error::truncated_msh},
        bad_input_case{"msh_field_sep_then_cr", "MSH|\rPID|1\r"sv, h::error::truncated_msh},
        bad_input_case{"repeated_component", "MSH|^^\\&|A|B\r"sv, h::error::bad_delimiters},
        bad_input_case{"repeated_subcomponent", "MSH|^~\\~|A|B\r"sv, h::error::bad_delimiters},
        bad_input_case{"truncation_repeats", "MSH|^~\\&&|A|B\r"sv, h::error::bad_delimiters},
        bad_input_case{"alpha_component", "MSH|A~\\&|A|B\r"sv, h::error::bad_delimiters},
        bad_input_case{"digit_escape", "MSH|^~1&|A|B\r"sv, h::error::bad_delimiters},
        bad_input_case{"alpha_field_separator", "MSHX^~\\&XAXB\r"sv, h::error::bad_delimiters},
        bad_input_case{"digit_field_separator", "MSH1^~\\&1A1B\r"sv, h::error::bad_delimiters},
        bad_input_case{"nul_escape", std::string_view("MSH|^~\0&|A|B\r", 13),
                       h::error::bad_delimiters},
        bad_input_case{"nul_field_separator", std::string_view("MSH\0^~\\&\0A\r", 12),
                       h::error::bad_delimiters}),
    [](const ::testing::TestParamInfo<bad_input_case>& p) { return std::string(p.param.name); });

TEST(Hl7v2ParseError, NoMshIsAtByteZero) {
  const auto e = must_fail("PID|1||123\r");
  EXPECT_EQ(e.code, h::error::no_msh);
  EXPECT_EQ(e.offset, 0u);
}

TEST(Hl7v2ParseError, DescribeSaysWhereButNeverTheContent) {
  static constexpr std::string_view inputs[] = {
      "PID|1||SECRETMRN^^^HOSP||DOE^JOHNATHAN||19540312\r",
      "MSH|^^\\&|SECRETAPP|SECRETFAC\rPID|1||SECRETMRN||DOE^JOHNATHAN\r",
      "MSHXSECRETAPPXSECRETFAC\r",
      "JOHNATHAN DOE 19540312",
  };
  for (const auto in : inputs) {
    const auto e = must_fail(in);
    const std::string text = e.describe();
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(text.find("SECRET"), std::string::npos) << text;
    EXPECT_EQ(text.find("JOHNATHAN"), std::string::npos) << text;
    EXPECT_EQ(text.find("19540312"), std::string::npos) << text;
    EXPECT_EQ(text.find("DOE"), std::string::npos) << text;
    // "what and where": the byte offset is part of the text.
    EXPECT_NE(text.find(std::to_string(e.offset)), std::string::npos) << text;
  }
}

TEST(Hl7v2ParseError, ErrorCategoryNamesEveryCode) {
  const auto& cat = h::error_category();
  EXPECT_NE(std::string(cat.name()), "");
  const h::error all[] = {
      h::error::empty_input,    h::error::no_msh,       h::error::truncated_msh,
      h::error::bad_delimiters, h::error::too_large,    h::error::too_many_segments,
      h::error::bad_path,       h::error::bad_datetime, h::error::bad_batch};
  std::vector<std::string> texts;
  for (const auto e : all) {
    const auto ec = h::make_error_code(e);
    EXPECT_TRUE(ec.failed());
    EXPECT_EQ(&ec.category(), &cat);
    const std::string m = ec.message();
    EXPECT_FALSE(m.empty());
    for (const auto& other : texts) EXPECT_NE(m, other);
    texts.push_back(m);
  }
  // An error enum converts implicitly, so a code compares equal to it.
  boost::system::error_code ec = h::error::no_msh;
  EXPECT_EQ(ec, h::error::no_msh);
  EXPECT_NE(ec, h::error::bad_path);
}

TEST(Hl7v2ParseError, ValueOnAnErrorThrowsSystemError) {
  static constexpr std::string_view in = "PID|1\r";
  auto r = h::parse(in);
  ASSERT_FALSE(r);
  try {
    (void)r.value();
    FAIL() << "value() did not throw";
  } catch (const boost::system::system_error& e) {
    EXPECT_EQ(e.code(), h::error::no_msh);
  }
}

// ---------------------------------------------------------------------------------------------
// Segment terminators and the serializer

constexpr std::string_view kCanonical =
    "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|X1|P|2.5\r"
    "PID|1||ID1||DOE^JANE\r"
    "PV1|1|I\r";

struct terminator_case {
  const char* name;
  std::string_view bytes;
};

void PrintTo(const terminator_case& c, std::ostream* os) {
  *os << c.name;
}

class Hl7v2Terminators : public ::testing::TestWithParam<terminator_case> {};

TEST_P(Hl7v2Terminators, NormaliseToCarriageReturn) {
  const auto msg = must_parse(GetParam().bytes);
  ASSERT_EQ(msg.segment_count(), 3u);
  EXPECT_EQ(msg.segment(0).id(), "MSH");
  EXPECT_EQ(msg.segment(1).raw(), "PID|1||ID1||DOE^JANE");
  EXPECT_EQ(msg.segment(2).raw(), "PV1|1|I");
  EXPECT_EQ(msg.segment(0).field(12).raw(), "2.5");
  EXPECT_EQ(msg.to_er7(), kCanonical);
}

INSTANTIATE_TEST_SUITE_P(
    Forms, Hl7v2Terminators,
    ::testing::Values(
        terminator_case{"cr", kCanonical},
        terminator_case{
            "lf", "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|X1|P|2.5\nPID|1||ID1||DOE^JANE\nPV1|1|I\n"},
        terminator_case{"crlf",
                        "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|X1|P|2.5\r\nPID|1||ID1||DOE^JANE\r\n"
                        "PV1|1|I\r\n"},
        terminator_case{"mixed",
                        "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|X1|P|2.5\r\nPID|1||ID1||DOE^JANE\n"
                        "PV1|1|I\r"},
        terminator_case{
            "repeated",
            "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|X1|P|2.5\r\r\rPID|1||ID1||DOE^JANE\r\n\r\n"
            "PV1|1|I\r\r"},
        terminator_case{"trailing_newlines",
                        "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|X1|P|2.5\rPID|1||ID1||DOE^JANE\r"
                        "PV1|1|I\r\n\n\n"},
        terminator_case{
            "no_final_terminator",
            "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|X1|P|2.5\rPID|1||ID1||DOE^JANE\rPV1|1|I"},
        terminator_case{"bom",
                        "\xEF\xBB\xBFMSH|^~\\&|A|B|C|D|20260101||ADT^A01|X1|P|2.5\r"
                        "PID|1||ID1||DOE^JANE\rPV1|1|I\r"},
        terminator_case{"bom_lf",
                        "\xEF\xBB\xBFMSH|^~\\&|A|B|C|D|20260101||ADT^A01|X1|P|2.5\n"
                        "PID|1||ID1||DOE^JANE\nPV1|1|I\n"}),
    [](const ::testing::TestParamInfo<terminator_case>& p) { return std::string(p.param.name); });

TEST(Hl7v2Serializer, CanonicalInputIsWrittenBackByteForByte) {
  static constexpr std::string_view in =
      "MSH|^~\\&|EPIC|MERCY^1.2.3^ISO|CB|PLAN|20261120143005-0500||ADT^A01^ADT_A01|C9|P|2.5.1|||AL|"
      "NE|"
      "USA|UNICODE UTF-8\r"
      "EVN|A01|20261120143005-0500||||\r"
      "PID|1||MRN1^^^MERCY^MR~~PLAN2^^^ACME^MB||O\\T\\BRIEN^\"\"^^^^||19540312|F|||"
      "1 MAIN ST\\.br\\APT 2^^SPRINGFIELD^IL^62701||\\H\\555\\N\\ 0142|\r"
      "NTE|1|| leading and trailing spaces  |\\Xc3a9\\ \\.sp2\\ \\C2842\\ \\M242842\\ \\ZAB\\ \\\r"
      "ZPI|1|&&&^^^~~~|\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.to_er7(), in);
  EXPECT_EQ(msg.find("PID")->field(5).raw(), "O\\T\\BRIEN^\"\"^^^^");
}

TEST(Hl7v2Serializer, BomIsNotWrittenBack) {
  static constexpr std::string_view in = "\xEF\xBB\xBFMSH|^~\\&|A|B\rPID|1\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.to_er7(), "MSH|^~\\&|A|B\rPID|1\r");
  EXPECT_EQ(msg.text().substr(0, 3), "MSH");
  EXPECT_EQ(msg.segment(0).id(), "MSH");
}

TEST(Hl7v2Serializer, ReparsingTheOutputGivesTheSameMessage) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|X1|P|2.5\r\nPID|1||ID1~ID2||A\\S\\B^C\r\n";
  const auto first = must_parse(in);
  const std::string out = first.to_er7();
  const auto second = must_parse(out);
  EXPECT_EQ(second.to_er7(), out);
  ASSERT_EQ(second.segment_count(), first.segment_count());
  for (std::size_t i = 0; i < first.segment_count(); ++i) {
    EXPECT_EQ(second.segment(i).raw(), first.segment(i).raw());
  }
}

// ---------------------------------------------------------------------------------------------
// Zero-copy views, lifetime, limits

TEST(Hl7v2Message, AsciiMessageViewsTheCallersBytes) {
  const std::string in(kAdt);
  const auto msg = must_parse(in);
  EXPECT_FALSE(msg.encoding().transcoded);
  EXPECT_TRUE(points_into(msg.text(), in));
  EXPECT_TRUE(points_into(msg.segment(2).raw(), in));
  EXPECT_TRUE(points_into(msg.find("PID")->field(5).component(2).raw(), in));
}

TEST(Hl7v2Message, CopiesShareTheText) {
  const auto msg = must_parse(kAdt);
  const h::message copy = msg;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(copy.text().data(), msg.text().data());
  EXPECT_EQ(copy.segment_count(), msg.segment_count());
  EXPECT_EQ(copy.find("PID")->field(5).component(2).raw(), "JANE");
}

TEST(Hl7v2Message, DecodedWithScratchReturnsTheRawViewWhenNothingIsEscaped) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B\r"
      "PID|1||PLAIN||A\\T\\B\r";
  const auto msg = must_parse(in);
  const auto plain = msg.find("PID")->field(3);
  std::string scratch = "untouched";
  const std::string_view v = plain.decoded(scratch);
  EXPECT_EQ(v, "PLAIN");
  EXPECT_EQ(v.data(), plain.raw().data());
  const auto escaped = msg.find("PID")->field(5);
  const std::string_view w = escaped.decoded(scratch);
  EXPECT_EQ(w, "A&B");
  EXPECT_EQ(escaped.decoded(), "A&B");
}

TEST(Hl7v2Limits, MaxBytesIsInclusive) {
  const std::string in(kAdt);
  h::parse_options o;
  o.max_bytes = in.size();
  EXPECT_TRUE(h::parse(in, o).has_value());
  o.max_bytes = in.size() - 1;
  const auto r = h::parse(in, o);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, h::error::too_large);
}

TEST(Hl7v2Limits, MaxSegmentsIsInclusive) {
  const std::string in(kAdt);  // four segments
  h::parse_options o;
  o.max_segments = 4;
  EXPECT_TRUE(h::parse(in, o).has_value());
  o.max_segments = 3;
  const auto r = h::parse(in, o);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, h::error::too_many_segments);
  EXPECT_EQ(r.error().describe().find("DOE"), std::string::npos);
}

TEST(Hl7v2Limits, EmptyLinesAreNotSegments) {
  static constexpr std::string_view in = "MSH|^~\\&|A|B\r\r\r\n\nPID|1\r\r\r";
  h::parse_options o;
  o.max_segments = 2;
  const auto r = h::parse(in, o);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->segment_count(), 2u);
}

TEST(Hl7v2Message, ManySegmentsParse) {
  std::string in = "MSH|^~\\&|LAB|HOSP|||20260101||ORU^R01|L1|P|2.5.1\rPID|1||ID\rOBR|1\r";
  for (int i = 1; i <= 500; ++i) {
    in += "OBX|" + std::to_string(i) + "|NM|GLU^Glucose||" + std::to_string(i) + "|mg/dL\r";
  }
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.segment_count(), 503u);
  EXPECT_EQ(msg.count("OBX"), 500u);
  EXPECT_EQ(msg.find("OBX", 500)->field(5).raw(), "500");
  EXPECT_EQ(msg.to_er7(), in);
}

// ---------------------------------------------------------------------------------------------
// nth_piece / piece_count

TEST(Hl7v2Pieces, NthPieceAndPieceCount) {
  EXPECT_EQ(h::nth_piece("a|b|c", '|', 1), "a");
  EXPECT_EQ(h::nth_piece("a|b|c", '|', 2), "b");
  EXPECT_EQ(h::nth_piece("a|b|c", '|', 3), "c");
  EXPECT_EQ(h::nth_piece("a|b|c", '|', 4), "");
  EXPECT_EQ(h::nth_piece("a||c", '|', 2), "");
  EXPECT_EQ(h::nth_piece("a||c", '|', 3), "c");
  EXPECT_EQ(h::nth_piece("abc", '|', 1), "abc");
  EXPECT_EQ(h::nth_piece("", '|', 1), "");
  // A default-constructed view (null data) is empty too; it must not reach memchr.
  EXPECT_EQ(h::nth_piece(std::string_view(), '|', 1), "");
  EXPECT_EQ(h::nth_piece(std::string_view(), '|', 2), "");
  EXPECT_EQ(h::piece_count("a|b|c", '|'), 3u);
  EXPECT_EQ(h::piece_count("a||", '|'), 3u);
  EXPECT_EQ(h::piece_count("abc", '|'), 1u);
}

TEST(Hl7v2Pieces, LongInputsFindTheRightPiece) {
  // Long enough for any vectorised scan to take several blocks.
  std::string raw;
  for (int i = 1; i <= 300; ++i) {
    if (i > 1) raw += '|';
    raw += "v" + std::to_string(i);
  }
  EXPECT_EQ(h::piece_count(raw, '|'), 300u);
  EXPECT_EQ(h::nth_piece(raw, '|', 1), "v1");
  EXPECT_EQ(h::nth_piece(raw, '|', 17), "v17");
  EXPECT_EQ(h::nth_piece(raw, '|', 64), "v64");
  EXPECT_EQ(h::nth_piece(raw, '|', 299), "v299");
  EXPECT_EQ(h::nth_piece(raw, '|', 300), "v300");
  EXPECT_EQ(h::nth_piece(raw, '|', 301), "");
}

}  // namespace
