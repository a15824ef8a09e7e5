// `carebridge roster import|stats` and `carebridge group list|set` end to end: the real binary on
// the fixtures in tests/data/roster, into a temporary data directory. Exit codes, the problem
// lines, the summary, and that no demographics are printed.
#include "tests/e2e/process.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using carebridge::test::process_result;
using carebridge::test::run_process;
using carebridge::test::temp_dir;
using carebridge::test::write_file;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string bin = CAREBRIDGE_BIN;
const std::string data = std::string(CAREBRIDGE_TEST_DATA) + "/roster";

process_result cli(std::vector<std::string> args) {
  args.insert(args.begin(), bin);
  return run_process(args);
}

void expect_no_phi(const process_result& r) {
  for (const char* phi :
       {"Testperson", "Sampleman", "1948-02-29", "1951-02-30", "60614", "312-555", "Main St"}) {
    EXPECT_THAT(r.out, Not(HasSubstr(phi)));
    EXPECT_THAT(r.err, Not(HasSubstr(phi)));
  }
}

TEST(CliRoster, ImportReportsSkippedRowsAndAppliesTheRest) {
  temp_dir dir;
  const std::string csv = data + "/roster_small.csv";
  const auto r =
      cli({"roster", "import", csv, "--data-dir", dir.path().string(), "--as-of", "2026-06-01"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.err, "roster: " + csv + ":6: birth_date: not a real YYYY-MM-DD date\n");
  EXPECT_THAT(r.out, HasSubstr("6 read, 1 skipped"));
  EXPECT_THAT(r.out, HasSubstr("members      4 new, 0 changed, 0 unchanged, 0 dropped"));
  EXPECT_THAT(r.out, HasSubstr("groups       2 new"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "members.db"));
  expect_no_phi(r);

  const auto stats = cli({"roster", "stats", "--data-dir", dir.path().string()});
  EXPECT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_THAT(stats.out, HasSubstr("members                4"));
  EXPECT_THAT(stats.out, HasSubstr("groups                 2"));
  EXPECT_THAT(stats.out, HasSubstr("source default"));
  expect_no_phi(stats);

  // The same file again: nothing new, nothing dropped (the bad row's member is left alone).
  const auto again =
      cli({"roster", "import", csv, "--data-dir", dir.path().string(), "--as-of", "2026-06-02"});
  EXPECT_EQ(again.exit_code, 3);
  EXPECT_THAT(again.out, HasSubstr("members      0 new, 0 changed, 4 unchanged, 0 dropped"));
}

TEST(CliRoster, CleanImportDryRunAndDrops) {
  temp_dir dir;
  const auto csv = dir / "roster.csv";
  write_file(csv,
             "member_id,family,given,birth_date,sex,postal_code,group_id,group_name,period_start,"
             "period_end\n"
             "M1,Doe,Al,1950-01-01,M,60601,G1,One,2026-01-01,\n"
             "M2,Roe,Bo,1951-01-01,F,60601,G1,One,2026-01-01,\n");
  const auto r = cli(
      {"roster", "import", csv.string(), "--data-dir", dir.path().string(), "--source", "plan-a"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  write_file(csv,
             "member_id,family,given,birth_date,sex,postal_code,group_id,group_name,period_start,"
             "period_end\n"
             "M1,Doe,Al,1950-01-01,M,60601,G1,One,2026-01-01,\n");
  const auto dry = cli({"roster", "import", csv.string(), "--data-dir", dir.path().string(),
                        "--source", "plan-a", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("dry run"));
  EXPECT_THAT(dry.out, HasSubstr("1 dropped"));
  const auto real = cli(
      {"roster", "import", csv.string(), "--data-dir", dir.path().string(), "--source", "plan-a"});
  EXPECT_THAT(real.out, HasSubstr("1 dropped"));  // the dry run wrote nothing
}

TEST(CliRoster, AtrBundleAndNdjsonDirectory) {
  temp_dir dir;
  const auto bundle = cli({"roster", "import", data + "/atr_bundle.json", "--data-dir",
                           dir.path().string(), "--source", "atr-7"});
  EXPECT_EQ(bundle.exit_code, 3);
  EXPECT_THAT(bundle.err, HasSubstr("atr_bundle.json:1: Group member[5]"));
  EXPECT_THAT(bundle.out, HasSubstr("atr-bundle"));
  EXPECT_THAT(bundle.out, HasSubstr("members      5 new"));
  const auto nd = cli({"roster", "import", data + "/ndjson", "--data-dir", dir.path().string(),
                       "--source", "north"});
  EXPECT_EQ(nd.exit_code, 3);
  EXPECT_THAT(nd.err, HasSubstr("ndjson/Group.ndjson:1: Group member[1]"));
  EXPECT_THAT(nd.err, HasSubstr("ndjson/Patient.ndjson:5: "));
  expect_no_phi(nd);
}

TEST(CliRoster, NothingReadableIsExitOneAndNothingApplied) {
  temp_dir dir;
  const auto missing =
      cli({"roster", "import", (dir / "nope.csv").string(), "--data-dir", dir.path().string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("cannot open"));
  const auto csv = dir / "bad.csv";
  write_file(csv, "member_id,family\nM1,Doe\n");
  const auto header = cli({"roster", "import", csv.string(), "--data-dir", dir.path().string()});
  EXPECT_EQ(header.exit_code, 1);
  EXPECT_THAT(header.err, HasSubstr(":1: header: required column given missing"));
  EXPECT_THAT(header.err, HasSubstr("nothing applied"));
  EXPECT_FALSE(std::filesystem::exists(dir / "members.db"));
  EXPECT_EQ(cli({"roster", "import"}).exit_code, 1);
  EXPECT_EQ(cli({"roster", "import", csv.string(), "--as-of", "2026-02-30"}).exit_code, 1);
  EXPECT_EQ(cli({"roster", "import", csv.string(), "--bogus"}).exit_code, 1);
  EXPECT_EQ(cli({"roster"}).exit_code, 1);
}

TEST(CliGroup, SetValidatesAndListShows) {
  temp_dir dir;
  const std::string d = dir.path().string();
  const auto bad_npi = cli({"group", "set", "G1", "--npi", "1234567890", "--data-dir", d});
  EXPECT_EQ(bad_npi.exit_code, 1);
  EXPECT_THAT(bad_npi.err, HasSubstr("NPI"));
  EXPECT_EQ(cli({"group", "set", "G1", "--tin", "12345", "--data-dir", d}).exit_code, 1);
  EXPECT_EQ(cli({"group", "set", "G1", "--risk-threshold", "extreme", "--data-dir", d}).exit_code,
            1);
  EXPECT_EQ(cli({"group", "set", "G1", "--events", "discharge,lunch", "--data-dir", d}).exit_code,
            1);
  const auto ok = cli({"group", "set", "G1", "--name", "Riverside PG", "--npi", "1234567893",
                       "--tin", "12-3456789", "--risk-threshold", "high", "--events",
                       "discharge,ed_visit", "--data-dir", d});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  const auto list = cli({"group", "list", "--data-dir", d});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("G1"));
  EXPECT_THAT(list.out, HasSubstr("Riverside PG"));
  EXPECT_THAT(list.out, HasSubstr("1234567893"));
  EXPECT_THAT(list.out, HasSubstr("123456789 "));
  EXPECT_THAT(list.out, HasSubstr("high"));
  EXPECT_THAT(list.out, HasSubstr("discharge,ed_visit"));
  // Changing one setting keeps the others.
  EXPECT_EQ(cli({"group", "set", "G1", "--risk-threshold", "low", "--data-dir", d}).exit_code, 0);
  const auto list2 = cli({"group", "list", "--data-dir", d});
  EXPECT_THAT(list2.out, HasSubstr("1234567893"));
  EXPECT_THAT(list2.out, HasSubstr("low"));
  EXPECT_THAT(list2.out, HasSubstr("discharge,ed_visit"));
}

}  // namespace
