// Unit tests of HL7 paths (parse_path, message::at, message::get): `SEG[n].F[r].C.S`, 1-based,
// as in DESIGN.md ("The command line") and the `carebridge inspect --get` contract.

#include "mappings/hl7v2/message.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace {

namespace h = carebridge::mappings::hl7v2;

h::message must_parse(std::string_view in) {
  auto r = h::parse(in);
  if (!r) throw std::runtime_error("parse failed: " + r.error().describe());
  return *r;
}

h::path must_path(std::string_view text) {
  auto r = h::parse_path(text);
  if (!r) throw std::runtime_error("parse_path failed for '" + std::string(text) + "'");
  return *r;
}

// ---------------------------------------------------------------------------------------------
// parse_path

TEST(Hl7v2ParsePath, SegmentAndField) {
  const auto p = must_path("PV1.45");
  EXPECT_EQ(p.segment_id(), "PV1");
  EXPECT_EQ(p.occurrence, 1u);
  EXPECT_EQ(p.field, 45u);
  EXPECT_EQ(p.repetition, 1u);
  EXPECT_EQ(p.component, 0u);
  EXPECT_EQ(p.subcomponent, 0u);
}

TEST(Hl7v2ParsePath, Component) {
  const auto p = must_path("PID.5.1");
  EXPECT_EQ(p.segment_id(), "PID");
  EXPECT_EQ(p.field, 5u);
  EXPECT_EQ(p.repetition, 1u);
  EXPECT_EQ(p.component, 1u);
  EXPECT_EQ(p.subcomponent, 0u);
}

TEST(Hl7v2ParsePath, RepetitionAndComponent) {
  const auto p = must_path("PID.3[2].1");
  EXPECT_EQ(p.segment_id(), "PID");
  EXPECT_EQ(p.occurrence, 1u);
  EXPECT_EQ(p.field, 3u);
  EXPECT_EQ(p.repetition, 2u);
  EXPECT_EQ(p.component, 1u);
}

TEST(Hl7v2ParsePath, SegmentOccurrence) {
  const auto p = must_path("DG1[2].3.1");
  EXPECT_EQ(p.segment_id(), "DG1");
  EXPECT_EQ(p.occurrence, 2u);
  EXPECT_EQ(p.field, 3u);
  EXPECT_EQ(p.component, 1u);
}

TEST(Hl7v2ParsePath, EverythingAtOnce) {
  const auto p = must_path("OBX[12].5[3].4.2");
  EXPECT_EQ(p.segment_id(), "OBX");
  EXPECT_EQ(p.occurrence, 12u);
  EXPECT_EQ(p.field, 5u);
  EXPECT_EQ(p.repetition, 3u);
  EXPECT_EQ(p.component, 4u);
  EXPECT_EQ(p.subcomponent, 2u);
}

TEST(Hl7v2ParsePath, ZSegmentsAndMsh) {
  EXPECT_EQ(must_path("ZPI.2").segment_id(), "ZPI");
  EXPECT_EQ(must_path("MSH.1").field, 1u);
  EXPECT_EQ(must_path("MSH.2").field, 2u);
  EXPECT_EQ(must_path("MSH.9.2").component, 2u);
}

class Hl7v2BadPath : public ::testing::TestWithParam<std::string_view> {};

TEST_P(Hl7v2BadPath, IsBadPath) {
  const auto r = h::parse_path(GetParam());
  ASSERT_FALSE(r.has_value()) << "'" << GetParam() << "' was accepted";
  EXPECT_EQ(r.error(), h::error::bad_path);
}

INSTANTIATE_TEST_SUITE_P(
    Texts, Hl7v2BadPath,
    ::testing::Values(
        std::string_view(""), std::string_view("."), std::string_view("PI.5"),
        std::string_view("PIDX.5"), std::string_view("PID."), std::string_view("PID..5"),
        std::string_view("PID.5."), std::string_view("PID.x"), std::string_view("PID.5.a"),
        std::string_view("PID.-1"), std::string_view("PID.0"), std::string_view("PID.5.0"),
        std::string_view("PID.3[0]"), std::string_view("PID[0].3"), std::string_view("PID.3[2"),
        std::string_view("PID.3[]"), std::string_view("PID.3]2["), std::string_view("PID.3[x]"),
        std::string_view("PID.5.1.1.1"), std::string_view("PID.99999999999999999999"),
        std::string_view("PID.5 1"), std::string_view("PID.5.1[2]"),
        std::string_view("5.1")));

// ---------------------------------------------------------------------------------------------
// get()

constexpr std::string_view kMsg =
    "MSH|^~\\&|EPIC|MERCY^1.2.3^ISO|CB|PLAN|20261120143005-0500||ADT^A03^ADT_A03|CTRL77|P|2.5.1\r"
    "PID|1||MRN1^^^MERCY^MR~PLAN2^^^ACME&2.16.840&ISO^MB||O\\T\\BRIEN^MARY\\S\\ANN^^^^||19540312|"
    "F\r"
    "PV1|1|I|4W^401^A||||||||||||||||V1|||||||||||||||||||||||||20261115080000-0500|"
    "20261120143000-0500|extra46\r"
    "DG1|1|I10|I50.9^Heart failure, unspecified^I10\r"
    "DG1|2|I10|E11.9^Type 2 diabetes^I10||\"\"\r"
    "ZPI|1|custom\r";

TEST(Hl7v2Get, DesignExamples) {
  const auto msg = must_parse(kMsg);
  EXPECT_EQ(msg.get("PID.5.1").value(), "O&BRIEN");
  EXPECT_EQ(msg.get("PID.3[2].1").value(), "PLAN2");
  EXPECT_EQ(msg.get("DG1[2].3.1").value(), "E11.9");
  EXPECT_EQ(msg.get("PV1.45").value(), "20261120143000-0500");
}

TEST(Hl7v2Get, MshOneAndTwoAreTheDelimitersAsSent) {
  const auto msg = must_parse(kMsg);
  EXPECT_EQ(msg.get("MSH.1").value(), "|");
  EXPECT_EQ(msg.get("MSH.2").value(), "^~\\&");
  EXPECT_EQ(msg.get("MSH.3").value(), "EPIC");
  EXPECT_EQ(msg.get("MSH.4.1").value(), "MERCY");
  EXPECT_EQ(msg.get("MSH.4.2").value(), "1.2.3");
  EXPECT_EQ(msg.get("MSH.9.1").value(), "ADT");
  EXPECT_EQ(msg.get("MSH.9.2").value(), "A03");
  EXPECT_EQ(msg.get("MSH.9.3").value(), "ADT_A03");
  EXPECT_EQ(msg.get("MSH.10").value(), "CTRL77");
  EXPECT_EQ(msg.get("MSH.12").value(), "2.5.1");
}

TEST(Hl7v2Get, MshOneAndTwoWithOtherDelimiters) {
  static constexpr std::string_view in = "MSH#@!$%#A#B\rPID#1##X@Y\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.get("MSH.1").value(), "#");
  EXPECT_EQ(msg.get("MSH.2").value(), "@!$%");
  EXPECT_EQ(msg.get("MSH.3").value(), "A");
  EXPECT_EQ(msg.get("PID.3.2").value(), "Y");
}

TEST(Hl7v2Get, MshTwoWithTruncationCharacter) {
  static constexpr std::string_view in = "MSH|^~\\&#|A|B\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.get("MSH.2").value(), "^~\\&#");
  EXPECT_EQ(msg.get("MSH.3").value(), "A");
}

TEST(Hl7v2Get, LeavesAreDecoded) {
  const auto msg = must_parse(kMsg);
  EXPECT_EQ(msg.get("PID.5.2").value(), "MARY^ANN");
  EXPECT_EQ(msg.get("PID.3[2].4.2").value(), "2.16.840");
  EXPECT_EQ(msg.get("PID.3[2].4.3").value(), "ISO");
  EXPECT_EQ(msg.get("ZPI.2").value(), "custom");
  EXPECT_EQ(msg.get("PV1.46").value(), "extra46");
  EXPECT_EQ(msg.get("DG1.3.2").value(), "Heart failure, unspecified");
  EXPECT_EQ(msg.get("DG1[1].3.2").value(), "Heart failure, unspecified");
}

TEST(Hl7v2Get, CompositesAreReturnedAsEr7Text) {
  const auto msg = must_parse(kMsg);
  // Decoding a composite would make "O\T\BRIEN^…" ambiguous with a component separator.
  EXPECT_EQ(msg.get("PID.5").value(), "O\\T\\BRIEN^MARY\\S\\ANN^^^^");
  EXPECT_EQ(msg.get("PV1.3").value(), "4W^401^A");
  EXPECT_EQ(msg.get("PID.3[2].4").value(), "ACME&2.16.840&ISO");
}

TEST(Hl7v2Get, RepetitionWithoutComponentIsItsEr7Text) {
  const auto msg = must_parse(kMsg);
  EXPECT_EQ(msg.get("PID.3[2]").value(), "PLAN2^^^ACME&2.16.840&ISO^MB");
}

TEST(Hl7v2Get, SubcomponentOneOfALeafIsTheLeaf) {
  const auto msg = must_parse(kMsg);
  EXPECT_EQ(msg.get("PID.5.1.1").value(), "O&BRIEN");
  EXPECT_EQ(msg.get("MSH.10.1").value(), "CTRL77");
}

TEST(Hl7v2Get, AbsentValuesAreEmptyNotErrors) {
  const auto msg = must_parse(kMsg);
  EXPECT_EQ(msg.get("PID.99").value(), "");
  EXPECT_EQ(msg.get("PID.5.9").value(), "");
  EXPECT_EQ(msg.get("PID.5.1.2").value(), "");
  EXPECT_EQ(msg.get("PID.3[3].1").value(), "");
  EXPECT_EQ(msg.get("DG1[3].3.1").value(), "");
  EXPECT_EQ(msg.get("OBX.5").value(), "");
  EXPECT_EQ(msg.get("PV1.4").value(), "");
}

TEST(Hl7v2Get, BadPathIsAnError) {
  const auto msg = must_parse(kMsg);
  for (const std::string_view p : {"", "PID.", "PID.x", "PID.3[0]", "PID.5.1.1.1", "PI.5"}) {
    const auto r = msg.get(p);
    ASSERT_FALSE(r.has_value()) << p;
    EXPECT_EQ(r.error(), h::error::bad_path) << p;
  }
}

TEST(Hl7v2Get, AtGivesTheElementAtAPath) {
  const auto msg = must_parse(kMsg);
  const auto e = msg.at(must_path("PID.3[2].4"));
  EXPECT_EQ(e.raw(), "ACME&2.16.840&ISO");
  EXPECT_EQ(e.subcomponent_count(), 3u);
  EXPECT_EQ(e.subcomponent(2).raw(), "2.16.840");
  EXPECT_EQ(msg.at(must_path("DG1[2].3.1")).raw(), "E11.9");
  EXPECT_EQ(msg.at(must_path("PID.5.1")).raw(), "O\\T\\BRIEN");
  EXPECT_EQ(msg.at(must_path("PID.5.1")).decoded(), "O&BRIEN");
  EXPECT_TRUE(msg.at(must_path("DG1[3].1")).empty());
  EXPECT_TRUE(msg.at(must_path("DG1[2].5")).is_null());
  EXPECT_EQ(msg.at(must_path("MSH.1")).raw(), "|");
  EXPECT_EQ(msg.at(must_path("MSH.2")).raw(), "^~\\&");
}

TEST(Hl7v2Get, RepetitionsBeyondTheThirtieth) {
  std::string pid3;
  for (int i = 1; i <= 32; ++i) {
    if (i > 1) pid3 += '~';
    pid3 += "ID" + std::to_string(i) + "^^^A" + std::to_string(i);
  }
  const std::string in = "MSH|^~\\&|A|B\rPID|1||" + pid3 + "\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.get("PID.3[31].1").value(), "ID31");
  EXPECT_EQ(msg.get("PID.3[32].4").value(), "A32");
  EXPECT_EQ(msg.get("PID.3[33].1").value(), "");
}

TEST(Hl7v2Get, HexAndLineBreakInLeaves) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B\rPID|1||||||||||1 MAIN\\.br\\APT 2^^X\\X0D\\Y\r";
  const auto msg = must_parse(in);
  EXPECT_EQ(msg.get("PID.11.1").value(), "1 MAIN\nAPT 2");
  EXPECT_EQ(msg.get("PID.11.3").value(), "X\rY");
}

}  // namespace

namespace {

TEST(Hl7v2PathSpellings, DashesAndLowerCaseAreAccepted) {
  namespace h = carebridge::mappings::hl7v2;
  const auto dashed = h::parse_path("PID-5-1");
  ASSERT_TRUE(dashed);
  EXPECT_EQ(dashed->segment_id(), "PID");
  EXPECT_EQ(dashed->field, 5u);
  EXPECT_EQ(dashed->component, 1u);
  const auto lower = h::parse_path("dg1[2].3.1");
  ASSERT_TRUE(lower);
  EXPECT_EQ(lower->segment_id(), "DG1");
  EXPECT_EQ(lower->occurrence, 2u);
  EXPECT_FALSE(h::parse_path("PID--5"));
  EXPECT_FALSE(h::parse_path("PID-5-"));
}

}  // namespace
