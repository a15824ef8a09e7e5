// Unit tests of the ACK builder (mappings/hl7v2/ack.hpp). Every ACK is parsed back with parse()
// and checked field by field against HL7 v2 chapter 2 (acknowledgment modes, MSA, ERR) and the
// header contract.

#include "mappings/hl7v2/ack.hpp"
#include "mappings/hl7v2/message.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

namespace h = carebridge::mappings::hl7v2;
using h::ack_condition;
using h::ack_mode;
using h::disposition;
using h::error_condition;

h::message must_parse(std::string_view in) {
  auto r = h::parse(in);
  if (!r) throw std::runtime_error("parse failed: " + r.error().describe());
  return *r;
}

std::string get(const h::message& m, std::string_view path) {
  auto r = m.get(path);
  if (!r) throw std::runtime_error("bad path " + std::string(path));
  return *r;
}

std::string inbound_with(std::string_view version, std::string_view msh15 = "",
                         std::string_view msh16 = "", std::string_view msh18 = "") {
  return "MSH|^~\\&|EPIC|MERCY^1.2.3^ISO|CAREBRIDGE|PLAN^9.9^ISO|20261120143005-0500||"
         "ADT^A01^ADT_A01|CTRL123|P|" +
         std::string(version) + "|||" + std::string(msh15) + "|" + std::string(msh16) + "|USA|" +
         std::string(msh18) +
         "\r"
         "EVN|A01|20261120143005-0500\r"
         "PID|1||SECRETMRN^^^MERCY^MR||SECRETNAME^JOHNATHAN||19540312|F|||1 SECRET ST\r";
}

const h::ack_context kCtx{"ACK0001", "20261120143006.123-0500"};

// Checks everything any ACK must satisfy against its inbound message.
void expect_common(const h::message& in, const h::message& ack, std::string_view raw) {
  ASSERT_GE(ack.segment_count(), 2u);
  EXPECT_EQ(ack.segment(0).id(), "MSH");
  EXPECT_EQ(ack.segment(1).id(), "MSA");
  // Delimiters echoed.
  EXPECT_EQ(ack.delims().field, in.delims().field);
  EXPECT_EQ(ack.delims().encoding_characters(), in.delims().encoding_characters());
  // Sender and receiver swapped, in full.
  EXPECT_EQ(ack.segment(0).field(3).raw(), in.segment(0).field(5).raw());
  EXPECT_EQ(ack.segment(0).field(4).raw(), in.segment(0).field(6).raw());
  EXPECT_EQ(ack.segment(0).field(5).raw(), in.segment(0).field(3).raw());
  EXPECT_EQ(ack.segment(0).field(6).raw(), in.segment(0).field(4).raw());
  // Own control id and timestamp; the inbound one in MSA-2.
  EXPECT_EQ(ack.control_id(), kCtx.control_id);
  EXPECT_EQ(ack.segment(0).field(7).raw(), kCtx.timestamp);
  EXPECT_EQ(ack.message_type(), "ACK");
  EXPECT_EQ(ack.find("MSA")->field(2).raw(), in.control_id());
  // MSH-11 and MSH-12 echoed.
  EXPECT_EQ(ack.processing_id(), in.processing_id());
  EXPECT_EQ(ack.version(), in.version());
  // Canonical terminators.
  ASSERT_FALSE(raw.empty());
  EXPECT_EQ(raw.back(), '\r');
  EXPECT_EQ(raw.find('\n'), std::string_view::npos);
  // No PHI from the inbound message.
  for (const char* phi : {"SECRET", "JOHNATHAN", "19540312"}) {
    EXPECT_EQ(raw.find(phi), std::string_view::npos) << phi;
  }
}

// ---------------------------------------------------------------------------------------------
// Codes and table 0357

TEST(Hl7v2Ack, AckCodes) {
  EXPECT_EQ(h::ack_code(disposition::accepted, ack_mode::original), "AA");
  EXPECT_EQ(h::ack_code(disposition::errored, ack_mode::original), "AE");
  EXPECT_EQ(h::ack_code(disposition::rejected, ack_mode::original), "AR");
  EXPECT_EQ(h::ack_code(disposition::accepted, ack_mode::enhanced), "CA");
  EXPECT_EQ(h::ack_code(disposition::errored, ack_mode::enhanced), "CE");
  EXPECT_EQ(h::ack_code(disposition::rejected, ack_mode::enhanced), "CR");
}

TEST(Hl7v2Ack, ErrorConditionTexts) {
  EXPECT_EQ(h::error_condition_text(error_condition::application_internal_error),
            "Application internal error");
  EXPECT_EQ(h::error_condition_text(error_condition::required_field_missing),
            "Required field missing");
  EXPECT_EQ(h::error_condition_text(error_condition::unsupported_message_type),
            "Unsupported message type");
  EXPECT_EQ(h::error_condition_text(error_condition::accepted), "Message accepted");
  std::set<std::string_view> seen;
  for (const auto c :
       {error_condition::accepted, error_condition::segment_sequence_error,
        error_condition::required_field_missing, error_condition::data_type_error,
        error_condition::table_value_not_found, error_condition::value_too_long,
        error_condition::unsupported_message_type, error_condition::unsupported_event_code,
        error_condition::unsupported_processing_id, error_condition::unsupported_version_id,
        error_condition::unknown_key_identifier, error_condition::duplicate_key_identifier,
        error_condition::application_record_locked, error_condition::application_internal_error}) {
    const auto t = h::error_condition_text(c);
    EXPECT_FALSE(t.empty()) << static_cast<int>(c);
    EXPECT_TRUE(seen.insert(t).second) << t;
  }
}

// ---------------------------------------------------------------------------------------------
// Mode from MSH-15 / MSH-16

// A message whose MSH-2 defines only '.' as component separator, '\\' as field separator (fuzz
// regression): the ACK's timestamp loses its fraction rather than its structure, and re-parses as
// an ACK with every field where it belongs.
TEST(Hl7v2Ack, NoEscapeCharacterKeepsTheAckWellFormed) {
  const std::string in = "MSH\\.\\SND\\FAC\\RCV\\RFAC\\20261122\\\\ADT.A01\\C1\\P\\2.3\r";
  const auto msg = must_parse(in);
  ASSERT_EQ(msg.delims().escape, '\0');
  ASSERT_EQ(msg.delims().component, '.');
  const h::ack_context ctx{"CBACK1", "20261122143005.123+0000"};
  const auto ack = h::build_ack(msg, disposition::accepted, ctx);
  ASSERT_TRUE(ack.has_value());
  const auto a = must_parse(ack->text);
  EXPECT_EQ(a.message_type(), "ACK");
  EXPECT_EQ(a.trigger_event(), "A01");
  EXPECT_EQ(a.control_id(), "CBACK1");
  EXPECT_EQ(a.segment(0).field(7).raw(), "20261122143005");
  EXPECT_EQ(a.segment(0).field(3).raw(), "RCV");
  EXPECT_EQ(*a.get("MSA.2"), "C1");
}

TEST(Hl7v2AckPolicy, OriginalModeWithoutMsh15Or16) {
  const std::string in = inbound_with("2.5.1");
  const auto msg = must_parse(in);
  EXPECT_EQ(h::ack_policy_of(msg).mode, ack_mode::original);
}

TEST(Hl7v2AckPolicy, Msh15Values) {
  const struct {
    std::string_view v;
    ack_condition c;
  } cases[] = {{"AL", ack_condition::always},
               {"NE", ack_condition::never},
               {"ER", ack_condition::error_only},
               {"SU", ack_condition::success_only}};
  for (const auto& k : cases) {
    const std::string in = inbound_with("2.5.1", k.v, "");
    const auto msg = must_parse(in);
    const auto p = h::ack_policy_of(msg);
    EXPECT_EQ(p.mode, ack_mode::enhanced) << k.v;
    EXPECT_EQ(p.accept, k.c) << k.v;
  }
}

TEST(Hl7v2AckPolicy, Msh16Values) {
  const struct {
    std::string_view v;
    ack_condition c;
  } cases[] = {{"AL", ack_condition::always},
               {"NE", ack_condition::never},
               {"ER", ack_condition::error_only},
               {"SU", ack_condition::success_only}};
  for (const auto& k : cases) {
    const std::string in = inbound_with("2.5.1", "AL", k.v);
    const auto msg = must_parse(in);
    const auto p = h::ack_policy_of(msg);
    EXPECT_EQ(p.mode, ack_mode::enhanced) << k.v;
    EXPECT_EQ(p.accept, ack_condition::always) << k.v;
    EXPECT_EQ(p.application, k.c) << k.v;
  }
}

TEST(Hl7v2AckPolicy, OnlyMsh16ValuedIsEnhancedWithAcceptAlways) {
  const std::string in = inbound_with("2.5.1", "", "NE");
  const auto msg = must_parse(in);
  const auto p = h::ack_policy_of(msg);
  EXPECT_EQ(p.mode, ack_mode::enhanced);
  EXPECT_EQ(p.accept, ack_condition::always);  // empty MSH-15 = AL
  EXPECT_EQ(p.application, ack_condition::never);
}

TEST(Hl7v2AckPolicy, UnknownValuesReadAsAlways) {
  const std::string in = inbound_with("2.5.1", "XX", "??");
  const auto msg = must_parse(in);
  const auto p = h::ack_policy_of(msg);
  EXPECT_EQ(p.mode, ack_mode::enhanced);
  EXPECT_EQ(p.accept, ack_condition::always);
  EXPECT_EQ(p.application, ack_condition::always);
}

// ---------------------------------------------------------------------------------------------
// Original mode

TEST(Hl7v2Ack, OriginalAccept) {
  const std::string in = inbound_with("2.5.1");
  const auto msg = must_parse(in);
  const auto built = h::build_ack(msg, disposition::accepted, kCtx);
  ASSERT_TRUE(built.has_value());
  EXPECT_EQ(built->code, "AA");
  const auto ack = must_parse(built->text);
  expect_common(msg, ack, built->text);
  EXPECT_EQ(get(ack, "MSA.1"), "AA");
  EXPECT_EQ(get(ack, "MSA.2"), "CTRL123");
  EXPECT_EQ(ack.count("ERR"), 0u);
  EXPECT_EQ(ack.segment_count(), 2u);
  EXPECT_EQ(get(ack, "MSH.3"), "CAREBRIDGE");
  EXPECT_EQ(get(ack, "MSH.4.1"), "PLAN");
  EXPECT_EQ(get(ack, "MSH.5"), "EPIC");
  EXPECT_EQ(get(ack, "MSH.6.1"), "MERCY");
  EXPECT_EQ(get(ack, "MSH.10"), "ACK0001");
  EXPECT_EQ(get(ack, "MSH.12"), "2.5.1");
  EXPECT_EQ(get(ack, "MSH.9.1"), "ACK");
  EXPECT_EQ(get(ack, "MSH.9.2"), "A01");  // v2.4+: ACK^<trigger>^ACK
}

TEST(Hl7v2Ack, OriginalAcceptIgnoresAnErrorGivenWithIt) {
  const std::string in = inbound_with("2.5.1");
  const auto msg = must_parse(in);
  const h::ack_error err{error_condition::data_type_error, "ignored", "PID", 1, 7};
  const auto built = h::build_ack(msg, disposition::accepted, kCtx, &err);
  ASSERT_TRUE(built.has_value());
  const auto ack = must_parse(built->text);
  EXPECT_EQ(get(ack, "MSA.1"), "AA");
  EXPECT_EQ(ack.count("ERR"), 0u);
}

TEST(Hl7v2Ack, OriginalErrorV25CarriesErr) {
  const std::string in = inbound_with("2.5.1");
  const auto msg = must_parse(in);
  const h::ack_error err{error_condition::required_field_missing, "PID-3 is required", "PID", 1, 3};
  const auto built = h::build_ack(msg, disposition::errored, kCtx, &err);
  ASSERT_TRUE(built.has_value());
  EXPECT_EQ(built->code, "AE");
  const auto ack = must_parse(built->text);
  expect_common(msg, ack, built->text);
  EXPECT_EQ(get(ack, "MSA.1"), "AE");
  EXPECT_EQ(get(ack, "MSA.2"), "CTRL123");
  ASSERT_EQ(ack.count("ERR"), 1u);
  // v2.5: ERR-2 location (ERL), ERR-3 code (CWE, table 0357), ERR-4 severity, ERR-8 user message.
  EXPECT_EQ(get(ack, "ERR.2.1"), "PID");
  EXPECT_EQ(get(ack, "ERR.2.2"), "1");
  EXPECT_EQ(get(ack, "ERR.2.3"), "3");
  EXPECT_EQ(get(ack, "ERR.3.1"), "101");
  EXPECT_EQ(get(ack, "ERR.3.2"), "Required field missing");
  EXPECT_EQ(get(ack, "ERR.3.3"), "HL70357");
  EXPECT_EQ(get(ack, "ERR.4"), "E");
  EXPECT_EQ(get(ack, "ERR.8"), "PID-3 is required");
}

TEST(Hl7v2Ack, OriginalRejectCarriesErr) {
  const std::string in = inbound_with("2.5.1");
  const auto msg = must_parse(in);
  const h::ack_error err{error_condition::unsupported_message_type, "message type not accepted",
                         "MSH", 1, 9};
  const auto built = h::build_ack(msg, disposition::rejected, kCtx, &err);
  ASSERT_TRUE(built.has_value());
  EXPECT_EQ(built->code, "AR");
  const auto ack = must_parse(built->text);
  expect_common(msg, ack, built->text);
  EXPECT_EQ(get(ack, "MSA.1"), "AR");
  ASSERT_EQ(ack.count("ERR"), 1u);
  EXPECT_EQ(get(ack, "ERR.3.1"), "200");
  EXPECT_EQ(get(ack, "ERR.2.1"), "MSH");
  EXPECT_EQ(get(ack, "ERR.2.3"), "9");
  EXPECT_EQ(get(ack, "ERR.8"), "message type not accepted");
}

TEST(Hl7v2Ack, ErrorWithoutDetailsIsApplicationInternalError) {
  const std::string in = inbound_with("2.5.1");
  const auto msg = must_parse(in);
  for (const auto d : {disposition::errored, disposition::rejected}) {
    const auto built = h::build_ack(msg, d, kCtx);
    ASSERT_TRUE(built.has_value());
    const auto ack = must_parse(built->text);
    ASSERT_EQ(ack.count("ERR"), 1u);
    EXPECT_EQ(get(ack, "ERR.3.1"), "207");
  }
}

TEST(Hl7v2Ack, PreV25ErrUsesErrOne) {
  for (const std::string_view version : {"2.3", "2.3.1", "2.4"}) {
    const std::string in = inbound_with(version);
    const auto msg = must_parse(in);
    const h::ack_error err{error_condition::required_field_missing, "PID-3 is required", "PID", 1,
                           3};
    const auto built = h::build_ack(msg, disposition::errored, kCtx, &err);
    ASSERT_TRUE(built.has_value()) << version;
    const auto ack = must_parse(built->text);
    expect_common(msg, ack, built->text);
    EXPECT_EQ(get(ack, "MSH.12"), version);
    ASSERT_EQ(ack.count("ERR"), 1u) << version;
    // ERR-1 (ELD): segment ^ sequence ^ field ^ code (CE, as sub-components).
    EXPECT_EQ(get(ack, "ERR.1.1"), "PID") << version;
    EXPECT_EQ(get(ack, "ERR.1.2"), "1") << version;
    EXPECT_EQ(get(ack, "ERR.1.3"), "3") << version;
    EXPECT_EQ(get(ack, "ERR.1.4.1"), "101") << version;
    EXPECT_EQ(get(ack, "ERR.1.4.2"), "Required field missing") << version;  // table 0357 text
    EXPECT_EQ(get(ack, "ERR.1.4.3"), "HL70357") << version;
    EXPECT_EQ(get(ack, "MSA.3"), "PID-3 is required") << version;  // the caller's text
  }
}

constexpr std::string_view kAwkwardText = "bad | value ^ in & field ~ with \\ and\rline";

TEST(Hl7v2Ack, ErrorTextIsEscapedNeverInterpretedV25) {
  const h::ack_error err{error_condition::data_type_error, kAwkwardText, "PV1", 1, 2};
  const std::string in = inbound_with("2.5.1");
  const auto msg = must_parse(in);
  const auto built = h::build_ack(msg, disposition::errored, kCtx, &err);
  ASSERT_TRUE(built.has_value());
  const auto ack = must_parse(built->text);
  EXPECT_EQ(ack.segment_count(), 3u);
  EXPECT_EQ(get(ack, "ERR.8"), kAwkwardText);
  EXPECT_EQ(get(ack, "ERR.3.1"), "102");
  EXPECT_EQ(get(ack, "MSA.2"), "CTRL123");
}

TEST(Hl7v2Ack, ErrorTextIsEscapedNeverInterpretedPreV25) {
  const h::ack_error err{error_condition::data_type_error, kAwkwardText, "PV1", 1, 2};
  const std::string in = inbound_with("2.3");
  const auto msg = must_parse(in);
  const auto built = h::build_ack(msg, disposition::errored, kCtx, &err);
  ASSERT_TRUE(built.has_value());
  const auto ack = must_parse(built->text);
  EXPECT_EQ(ack.segment_count(), 3u);
  EXPECT_EQ(get(ack, "MSA.1"), "AE");
  EXPECT_EQ(get(ack, "MSA.2"), "CTRL123");
  EXPECT_EQ(get(ack, "ERR.1.4.1"), "102");
  EXPECT_EQ(get(ack, "MSA.3"), kAwkwardText);  // the header: MSA-3 before v2.5
}

TEST(Hl7v2Ack, ErrWithoutLocation) {
  const std::string in = inbound_with("2.5.1");
  const auto msg = must_parse(in);
  const h::ack_error err{
      error_condition::application_internal_error, "store unavailable", {}, 1, 0};
  const auto built = h::build_ack(msg, disposition::errored, kCtx, &err);
  ASSERT_TRUE(built.has_value());
  const auto ack = must_parse(built->text);
  EXPECT_EQ(get(ack, "ERR.3.1"), "207");
  EXPECT_EQ(get(ack, "ERR.8"), "store unavailable");
  EXPECT_EQ(get(ack, "ERR.2.1"), "");
}

// ---------------------------------------------------------------------------------------------
// Delimiters, version and MSH-18 echoed

TEST(Hl7v2Ack, EchoesNonDefaultDelimiters) {
  static constexpr std::string_view in =
      "MSH!@#$%!EPIC!MERCY!CB!PLAN!20261120143005!!ADT@A01!CTRL9!P!2.5.1\r"
      "PID!1!!SECRETMRN!!SECRETNAME@JOHN\r";
  const auto msg = must_parse(in);
  const h::ack_error err{error_condition::data_type_error, "a ! b @ c", "PID", 1, 5};
  const auto built = h::build_ack(msg, disposition::errored, kCtx, &err);
  ASSERT_TRUE(built.has_value());
  EXPECT_TRUE(std::string_view(built->text).starts_with("MSH!@#$%!")) << built->text;
  const auto ack = must_parse(built->text);
  expect_common(msg, ack, built->text);
  EXPECT_EQ(ack.delims().component, '@');
  EXPECT_EQ(ack.delims().repetition, '#');
  EXPECT_EQ(ack.delims().escape, '$');
  EXPECT_EQ(ack.delims().subcomponent, '%');
  EXPECT_EQ(get(ack, "MSA.1"), "AE");
  EXPECT_EQ(get(ack, "MSA.2"), "CTRL9");
  EXPECT_EQ(get(ack, "ERR.8"), "a ! b @ c");
  EXPECT_EQ(ack.find("MSH")->field(9).component(1).raw(), "ACK");
}

TEST(Hl7v2Ack, EchoesTheTruncationCharacter) {
  static constexpr std::string_view in =
      "MSH|^~\\&#|EPIC|MERCY|CB|PLAN|20261120143005||ADT^A01|CTRL27|P|2.7\r"
      "PID|1||X\r";
  const auto msg = must_parse(in);
  const auto built = h::build_ack(msg, disposition::accepted, kCtx);
  ASSERT_TRUE(built.has_value());
  EXPECT_TRUE(std::string_view(built->text).starts_with("MSH|^~\\&#|")) << built->text;
  const auto ack = must_parse(built->text);
  EXPECT_EQ(ack.delims().truncation, '#');
  EXPECT_EQ(get(ack, "MSH.12"), "2.7");
  EXPECT_EQ(get(ack, "MSA.2"), "CTRL27");
}

TEST(Hl7v2Ack, EchoesProcessingIdAndMsh18) {
  static constexpr std::string_view in =
      "MSH|^~\\&|EPIC|MERCY|CB|PLAN|20261120143005||ADT^A01|CTRL5|T|2.6|||||USA|8859/1\r"
      "PID|1||X||M\xDCLLER\r";
  const auto msg = must_parse(in);
  const auto built = h::build_ack(msg, disposition::accepted, kCtx);
  ASSERT_TRUE(built.has_value());
  const auto ack = must_parse(built->text);
  EXPECT_EQ(get(ack, "MSH.11"), "T");
  EXPECT_EQ(get(ack, "MSH.12"), "2.6");
  EXPECT_EQ(get(ack, "MSH.18"), "8859/1");
}

TEST(Hl7v2Ack, NoMsh18WhenInboundHasNone) {
  const std::string in = inbound_with("2.5.1");
  const auto msg = must_parse(in);
  const auto built = h::build_ack(msg, disposition::accepted, kCtx);
  ASSERT_TRUE(built.has_value());
  const auto ack = must_parse(built->text);
  EXPECT_EQ(get(ack, "MSH.18"), "");
}

TEST(Hl7v2Ack, InboundWithLfTerminatorsStillGetsCrTerminatedAck) {
  static constexpr std::string_view in =
      "MSH|^~\\&|EPIC|MERCY|CB|PLAN|20261120143005||ADT^A01|CTRLLF|P|2.5.1\nPID|1||X\n";
  const auto msg = must_parse(in);
  const auto built = h::build_ack(msg, disposition::accepted, kCtx);
  ASSERT_TRUE(built.has_value());
  EXPECT_EQ(built->text.find('\n'), std::string::npos);
  const auto ack = must_parse(built->text);
  EXPECT_EQ(get(ack, "MSA.2"), "CTRLLF");
}

// ---------------------------------------------------------------------------------------------
// Enhanced mode

TEST(Hl7v2Ack, EnhancedCodes) {
  const std::string in = inbound_with("2.5.1", "AL", "NE");
  const auto msg = must_parse(in);
  const struct {
    disposition d;
    std::string_view code;
    bool err;
  } cases[] = {{disposition::accepted, "CA", false},
               {disposition::errored, "CE", true},
               {disposition::rejected, "CR", true}};
  for (const auto& k : cases) {
    const auto built = h::build_ack(msg, k.d, kCtx);
    ASSERT_TRUE(built.has_value()) << k.code;
    EXPECT_EQ(built->code, k.code);
    const auto ack = must_parse(built->text);
    expect_common(msg, ack, built->text);
    EXPECT_EQ(get(ack, "MSA.1"), k.code);
    EXPECT_EQ(get(ack, "MSA.2"), "CTRL123");
    EXPECT_EQ(ack.count("ERR"), k.err ? 1u : 0u) << k.code;
  }
}

TEST(Hl7v2Ack, EnhancedWhenOnlyMsh16IsValued) {
  const std::string in = inbound_with("2.5.1", "", "AL");
  const auto msg = must_parse(in);
  const auto built = h::build_ack(msg, disposition::accepted, kCtx);
  ASSERT_TRUE(built.has_value());
  EXPECT_EQ(built->code, "CA");
}

bool wanted(std::string_view condition, disposition d) {
  if (condition == "NE") return false;
  if (condition == "ER") return d != disposition::accepted;
  if (condition == "SU") return d == disposition::accepted;
  return true;  // AL (and empty MSH-15)
}

// The header: the accept ACK (CA/CE/CR) when MSH-15 wants one for this outcome; otherwise the
// application ACK (AA/AE/AR) at once when MSH-16 wants one; otherwise none.
TEST(Hl7v2Ack, Msh15AndMsh16DecideWhetherAndWhichAckIsSent) {
  const std::string_view conditions[] = {"AL", "NE", "ER", "SU"};
  for (const auto msh15 : conditions) {
    for (const auto msh16 : conditions) {
      const std::string in = inbound_with("2.5.1", msh15, msh16);
      const auto msg = must_parse(in);
      for (const auto d : {disposition::accepted, disposition::errored, disposition::rejected}) {
        const auto built = h::build_ack(msg, d, kCtx);
        const std::string where = std::string(msh15) + "/" + std::string(msh16) + " " +
                                  std::string(h::ack_code(d, ack_mode::original));
        if (wanted(msh15, d)) {
          ASSERT_TRUE(built.has_value()) << where;
          EXPECT_EQ(built->code, h::ack_code(d, ack_mode::enhanced)) << where;
        } else if (wanted(msh16, d)) {
          ASSERT_TRUE(built.has_value()) << where;
          EXPECT_EQ(built->code, h::ack_code(d, ack_mode::original)) << where;
        } else {
          EXPECT_FALSE(built.has_value()) << where;
          continue;
        }
        const auto ack = must_parse(built->text);
        expect_common(msg, ack, built->text);
        EXPECT_EQ(get(ack, "MSA.1"), built->code) << where;
        EXPECT_EQ(ack.count("ERR"), d == disposition::accepted ? 0u : 1u) << where;
      }
    }
  }
}

TEST(Hl7v2Ack, EmptyMsh15MeansAlways) {
  const std::string in = inbound_with("2.5.1", "", "NE");
  const auto msg = must_parse(in);
  for (const auto d : {disposition::accepted, disposition::errored, disposition::rejected}) {
    const auto built = h::build_ack(msg, d, kCtx);
    ASSERT_TRUE(built.has_value());
    EXPECT_EQ(built->code, h::ack_code(d, ack_mode::enhanced));
  }
}

TEST(Hl7v2Ack, OriginalModeAlwaysAnswers) {
  const std::string in = inbound_with("2.3");
  const auto msg = must_parse(in);
  for (const auto d : {disposition::accepted, disposition::errored, disposition::rejected}) {
    EXPECT_TRUE(h::build_ack(msg, d, kCtx).has_value());
  }
}

// ---------------------------------------------------------------------------------------------
// Unparseable input

TEST(Hl7v2Ack, RejectForUnparseableInput) {
  const h::ack_error err{
      error_condition::segment_sequence_error, "no MSH segment at byte 0", {}, 1, 0};
  const auto built = h::build_reject_for_unparseable(kCtx, err);
  EXPECT_EQ(built.code, "AR");
  const auto ack = must_parse(built.text);
  EXPECT_EQ(ack.delims().encoding_characters(), "^~\\&");
  EXPECT_EQ(ack.delims().field, '|');
  EXPECT_EQ(ack.version(), "2.5.1");
  EXPECT_EQ(ack.control_id(), "ACK0001");
  EXPECT_EQ(ack.message_type(), "ACK");
  EXPECT_EQ(get(ack, "MSH.7"), kCtx.timestamp);
  EXPECT_EQ(get(ack, "MSA.1"), "AR");
  EXPECT_EQ(get(ack, "MSA.2"), "");
  ASSERT_EQ(ack.count("ERR"), 1u);
  EXPECT_EQ(get(ack, "ERR.3.1"), "100");
  EXPECT_EQ(get(ack, "ERR.8"), "no MSH segment at byte 0");
  EXPECT_EQ(built.text.back(), '\r');
  EXPECT_EQ(built.text.find('\n'), std::string::npos);
}

}  // namespace
