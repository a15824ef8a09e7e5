// `carebridge inspect` end to end: the real binary, real files, exit codes and stderr lines.
#include "tests/e2e/process.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace {

using carebridge::test::process_result;
using carebridge::test::run_process;
using carebridge::test::temp_dir;
using carebridge::test::write_file;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string bin = CAREBRIDGE_BIN;

// A discharge with escapes in the name, two identifiers, a null field and a Z-segment.
const std::string a03 =
    "MSH|^~\\&|EPIC|GENHOSP|CAREBRIDGE|PLAN|20261120143005-0500||ADT^A03^ADT_A03|MSG00001|P|2.5.1\r"
    "EVN|A03|20261120143005-0500\r"
    "PID|1||12345^^^GENHOSP^MR~W123456789^^^PLAN^MB||O\\T\\Brien^Mary^J||19500101|F|||"
    "12 Main St\\S\\Apt 4^^Springfield^IL^62701\r"
    "PV1|1|I|4W^401^A|E|||||||||||||||V123|||||||||||||||||01||||||||20261115080000-0500|"
    "20261120143000-0500\r"
    "DG1|1|I10|I50.9^Heart failure, unspecified^I10||20261115|A\r"
    "DG1|2|I10|E11.9^Type 2 diabetes mellitus without complications^I10||20261115|S\r"
    "ZPI|custom|\"\"|\r";

process_result inspect(const std::vector<std::string>& args, std::string_view input = {}) {
  std::vector<std::string> argv{bin, "inspect"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, input);
}

TEST(CliInspect, GetPrintsDecodedValuesOnePerLine) {
  const auto r = inspect({"--get", "PID.5.1", "--get", "PID.3[2].1", "--get", "DG1[2].3.1",
                          "--get", "PV1.45", "--get", "MSH.1", "--get", "MSH.2", "--get",
                          "PID.11.1", "--get", "ZPI.2", "--get", "PID.99", "-"},
                         a03);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "O&Brien\nW123456789\nE11.9\n20261120143000-0500\n|\n^~\\&\n12 Main St^Apt 4\n"
            "\"\"\n\n");
  EXPECT_EQ(r.err, "");
}

TEST(CliInspect, ReadsFilesWithLineFeedTerminatorsAndBom) {
  temp_dir dir;
  std::string lf = "\xEF\xBB\xBF" + a03;
  for (char& c : lf)
    if (c == '\r') c = '\n';
  write_file(dir / "lf.hl7", lf);
  const auto r = inspect({"--get", "PID.5.2", "--get", "DG1[2].3.1", (dir / "lf.hl7").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Mary\nE11.9\n");
}

TEST(CliInspect, Er7WritesTheMessageBackByteIdentical) {
  const auto r = inspect({"--er7", "-"}, a03);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, a03);
}

TEST(CliInspect, Er7WritesLatin1MessagesBackInLatin1) {
  const std::string latin1 =
      "MSH|^~\\&|A|B|C|D|20261120||ADT^A03|X1|P|2.5||||||8859/1\rPID|1||1||M\xFCller^Ren\xE9\r";
  const auto r = inspect({"--er7", "-"}, latin1);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, latin1);
  const auto g = inspect({"--get", "PID.5.1", "--get", "PID.5.2", "-"}, latin1);
  EXPECT_EQ(g.out, "M\xC3\xBCller\nRen\xC3\xA9\n");
}

TEST(CliInspect, JsonHasTheDocumentedShape) {
  const auto r = inspect({"--compact", "-"}, a03);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document doc;
  doc.Parse(r.out.c_str());
  ASSERT_FALSE(doc.HasParseError());
  ASSERT_TRUE(doc["messages"].IsArray());
  ASSERT_EQ(doc["messages"].Size(), 1u);
  const auto& m = doc["messages"][0];
  EXPECT_STREQ(m["control_id"].GetString(), "MSG00001");
  EXPECT_STREQ(m["type"].GetString(), "ADT^A03");
  const auto& segs = m["segments"];
  ASSERT_EQ(segs.Size(), 7u);
  EXPECT_STREQ(segs[2]["id"].GetString(), "PID");
  const auto& pid3 = segs[2]["fields"]["3"];  // two repetitions, each with components
  ASSERT_TRUE(pid3.IsArray());
  ASSERT_EQ(pid3.Size(), 2u);
  EXPECT_STREQ(pid3[1][0].GetString(), "W123456789");
  EXPECT_STREQ(segs[2]["fields"]["5"][0][0].GetString(), "O&Brien");
  EXPECT_TRUE(segs[6]["fields"]["2"].IsNull());  // "" is the HL7 null
  EXPECT_TRUE(doc["batch"].IsNull());
}

TEST(CliInspect, BatchFileGivesEveryMessageAndTheCountIssue) {
  std::string batch = "FHS|^~\\&|SENDER\rBHS|^~\\&|SENDER\r" + a03 + a03 + "BTS|3\rFTS|1\r";
  const auto r = inspect({"--compact", "-"}, batch);
  rapidjson::Document doc;
  doc.Parse(r.out.c_str());
  ASSERT_FALSE(doc.HasParseError()) << r.out;
  EXPECT_EQ(doc["messages"].Size(), 2u);
  ASSERT_EQ(doc["issues"].Size(), 1u);
  EXPECT_THAT(doc["issues"][0].GetString(), HasSubstr("BTS-1 says 3"));
  EXPECT_EQ(r.exit_code, 0);  // the messages are good; the count problem is reported, not fatal

  const auto e = inspect({"--er7", "-"}, batch);
  EXPECT_EQ(e.out, batch);
}

TEST(CliInspect, NotHl7ExitsOneWithOneLineAndNoContent) {
  for (const std::string& input : {std::string("{\"resourceType\":\"Patient\",\"name\":\"Secret\"}"),
                                  std::string(""), std::string("MSX|^~\\&|SECRETNAME\r"),
                                  std::string("MSH|^~")}) {
    const auto r = inspect({"-"}, input);
    EXPECT_EQ(r.exit_code, 1) << input;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("not HL7 v2"));
    EXPECT_THAT(r.err, Not(HasSubstr("Secret")));
    EXPECT_THAT(r.err, Not(HasSubstr("SECRETNAME")));
  }
}

TEST(CliInspect, UsageErrorsExitOne) {
  EXPECT_EQ(inspect({}).exit_code, 1);
  EXPECT_EQ(inspect({"--get", "PID", "-"}, a03).exit_code, 1);
  EXPECT_EQ(inspect({"--bogus", "-"}, a03).exit_code, 1);
  EXPECT_EQ(inspect({"/nonexistent/file.hl7"}).exit_code, 1);
  EXPECT_EQ(run_process({bin, "frobnicate"}).exit_code, 1);
  EXPECT_EQ(run_process({bin}).exit_code, 1);
  const auto help = run_process({bin, "help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("inspect"));
}

TEST(CliInspect, FallbackCharsetOption) {
  const std::string cp1252 = "MSH|^~\\&|A|B|C|D|20261120||ADT^A03|X1|P|2.5\rOBX|1|TX|||\x93ok\x94 \x80\r";
  const auto r = inspect({"--fallback-charset", "windows-1252", "--get", "OBX.5", "-"}, cp1252);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "\xE2\x80\x9Cok\xE2\x80\x9D \xE2\x82\xAC\n");
  EXPECT_EQ(inspect({"--fallback-charset", "klingon", "-"}, cp1252).exit_code, 1);
}

}  // namespace
