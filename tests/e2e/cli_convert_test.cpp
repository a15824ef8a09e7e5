// `carebridge convert` end to end: the real binary on the sample messages, with the sample
// facilities' config; output shape, determinism, several messages, the event, and input errors.
#include "tests/e2e/process.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <sstream>

namespace {

using carebridge::test::process_result;
using carebridge::test::run_process;
using carebridge::test::temp_dir;
using carebridge::test::write_file;
using ::testing::HasSubstr;

const std::string bin = CAREBRIDGE_BIN;
const std::string data = CAREBRIDGE_TEST_DATA;
const std::string facilities = data + "/fhir/facilities.json";
const std::string a03 = data + "/hl7/adt/stbrigid_v24_A03_03.hl7";

process_result convert(std::vector<std::string> args, std::string_view input = {}) {
  std::vector<std::string> argv{bin, "convert"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, input);
}

TEST(CliConvert, A03BecomesATransactionBundleOfPutsWithAFinishedEncounter) {
  const auto r = convert({"--config", facilities, a03});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  rapidjson::Document d;
  d.Parse(r.out.c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_STREQ(d["resourceType"].GetString(), "Bundle");
  EXPECT_STREQ(d["type"].GetString(), "transaction");
  int encounters = 0;
  for (const auto& e : d["entry"].GetArray()) {
    const auto& res = e["resource"];
    const std::string url =
        std::string(res["resourceType"].GetString()) + "/" + res["id"].GetString();
    EXPECT_STREQ(e["request"]["method"].GetString(), "PUT");
    EXPECT_EQ(e["request"]["url"].GetString(), url);
    EXPECT_EQ(std::string(e["fullUrl"].GetString()),
              "urn:uuid:" + std::string(res["id"].GetString()));
    if (std::string_view(res["resourceType"].GetString()) == "Encounter") {
      ++encounters;
      EXPECT_STREQ(res["status"].GetString(), "finished");
      // PV1-45 was sent without an offset; New York's zone gives it (EST on 4 November).
      EXPECT_STREQ(res["period"]["end"].GetString(), "2026-11-04T11:40:00-05:00");
    }
  }
  EXPECT_EQ(encounters, 1);
  // Same input, same bytes: ids come from identifiers, never from a clock.
  EXPECT_EQ(convert({"--config", facilities, a03}).out, r.out);
}

TEST(CliConvert, WithoutTheFacilitysZoneTimesWithoutOffsetBecomeDates) {
  const auto r = convert({"--verbose", a03});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"end\": \"2026-11-04\""));
  EXPECT_THAT(r.err, HasSubstr("PV1-45 has no UTC offset and the facility has no time zone"));
}

TEST(CliConvert, SeveralMessagesGiveOneCompactBundlePerLine) {
  temp_dir dir;
  std::ostringstream both;
  for (const char* f : {"/hl7/adt/stbrigid_v24_A01_02.hl7", "/hl7/adt/stbrigid_v24_A03_03.hl7"}) {
    const auto one = run_process({"/bin/cat", data + f});
    both << one.out;
  }
  write_file(dir / "two.hl7", both.str());
  const auto r = convert({"--config", facilities, (dir / "two.hl7").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  std::vector<std::string> encounter_ids;
  while (std::getline(lines, line)) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_FALSE(d.HasParseError()) << line.substr(0, 80);
    for (const auto& e : d["entry"].GetArray())
      if (std::string_view(e["resource"]["resourceType"].GetString()) == "Encounter")
        encounter_ids.emplace_back(e["resource"]["id"].GetString());
  }
  ASSERT_EQ(encounter_ids.size(), 2u);
  EXPECT_EQ(encounter_ids[0], encounter_ids[1]) << "the admission and the discharge of one stay";
}

TEST(CliConvert, EventPrintsTheClinicalEvent) {
  const auto r = convert({"--config", facilities, "--event", a03});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d;
  d.Parse(r.out.c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_STREQ(d["kind"].GetString(), "discharge");
  EXPECT_STREQ(d["patient_class"].GetString(), "IMP");
  EXPECT_STREQ(d["member_id"].GetString(), "HMA300481772");
  EXPECT_STREQ(d["discharge_disposition"]["code"].GetString(), "06");
  EXPECT_TRUE(d["diagnoses"].IsArray());
}

TEST(CliConvert, InputItCannotConvertIsOneLineAndExitOne) {
  auto r = convert({"-"}, "this is not HL7\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("carebridge convert: -: not HL7 v2"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);

  r = convert({"-"}, "MSH|^~\\&|LAB|X|CB|P|20261120||ORM^O01|C1|P|2.5.1\rPID|1||1^^^X^MR\r");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("control id C1"));
  EXPECT_THAT(r.err, HasSubstr("unsupported message type"));

  r = convert({"-"}, "MSH|^~\\&|A|X|CB|P|20261120||ADT^A03|C2|P|2.5.1\rPV1|1|I\r");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no PID segment"));

  r = convert({"--config", "/nonexistent.json", a03});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot be read"));
}

}  // namespace
