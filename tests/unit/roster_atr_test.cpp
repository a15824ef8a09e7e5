// read_atr_bundle / read_atr_ndjson / read_roster_path on the fixtures in tests/data/roster:
// member ids from Coverage and Patient, the physician group (attributed provider or the Group),
// periods, change types, identifiers (no SSN), problems with entry/line numbers.
#include "gateway/members/roster.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace {

namespace gm = carebridge::gateway::members;
using ::testing::HasSubstr;

const std::filesystem::path data = std::filesystem::path(CAREBRIDGE_TEST_DATA) / "roster";

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return std::move(s).str();
}

const gm::member_record* member(const gm::roster_batch& b, std::string_view id) {
  for (const auto& m : b.members)
    if (m.member_id == id) return &m;
  return nullptr;
}

const gm::physician_group* group(const gm::roster_batch& b, std::string_view id) {
  for (const auto& g : b.groups)
    if (g.id == id) return &g;
  return nullptr;
}

std::vector<gm::attribution> attributions_of(const gm::roster_batch& b, std::string_view id) {
  std::vector<gm::attribution> out;
  for (const auto& a : b.attributions)
    if (a.member_id == id) out.push_back(a);
  return out;
}

TEST(RosterAtr, BundleGivesMembersGroupsAndPeriods) {
  const auto b = gm::read_atr_bundle(slurp(data / "atr_bundle.json"));
  EXPECT_EQ(b.format, "atr-bundle");
  EXPECT_EQ(b.rows_read, 6u);
  ASSERT_EQ(b.problems.size(), 1u);
  EXPECT_EQ(b.problems[0].line, 1u);  // the Group's entry
  EXPECT_THAT(b.problems[0].message, HasSubstr("member[5]"));
  EXPECT_THAT(b.problems[0].message, HasSubstr("not a Patient"));

  ASSERT_EQ(b.members.size(), 5u);
  // Coverage (by the coverageReference extension) → its MB identifier.
  const auto* m1 = member(b, "MBR-0001");
  ASSERT_NE(m1, nullptr);
  EXPECT_EQ(m1->family, "Testperson");  // the official name, not the nickname
  EXPECT_EQ(m1->given, "Ann");
  EXPECT_EQ(m1->birth_date, "1948-02-29");
  EXPECT_EQ(m1->sex, "female");
  EXPECT_EQ(m1->postal_code, "60614");  // the home address
  EXPECT_EQ(m1->phone, "312-555-0101");
  ASSERT_EQ(m1->identifiers.size(), 2u);  // MB and MC; the SSN is not kept
  for (const auto& i : m1->identifiers) EXPECT_NE(i.type, "SB");
  EXPECT_EQ(
      attributions_of(b, "MBR-0001"),
      (std::vector<gm::attribution>{{"MBR-0001", "riverside-pg", "2026-01-01", "2026-12-31"}}));
  // Coverage by beneficiary, without an MB identifier → subscriberId; provider through a
  // PractitionerRole to an Organization that is not in the Bundle; a dateTime start.
  EXPECT_EQ(attributions_of(b, "SUB-0002"),
            (std::vector<gm::attribution>{{"SUB-0002", "northside-clinic", "2026-03-01", ""}}));
  // No Coverage → the Patient's MB identifier; no provider → the Group; no period → the
  // contract's; a partial birth date reads as none.
  const auto* m3 = member(b, "MBR-0003");
  ASSERT_NE(m3, nullptr);
  EXPECT_EQ(m3->birth_date, "");
  EXPECT_EQ(m3->sex, "other");
  EXPECT_EQ(
      attributions_of(b, "MBR-0003"),
      (std::vector<gm::attribution>{{"MBR-0003", "atr-contract-7", "2026-01-01", "2026-12-31"}}));
  // Dropped with an end: the ended period stays. Cancelled: a member without attribution.
  EXPECT_EQ(
      attributions_of(b, "SUB-0004"),
      (std::vector<gm::attribution>{{"SUB-0004", "atr-contract-7", "2026-01-01", "2026-06-30"}}));
  EXPECT_NE(member(b, "SUB-0005"), nullptr);
  EXPECT_TRUE(attributions_of(b, "SUB-0005").empty());

  const auto* contract = group(b, "atr-contract-7");
  ASSERT_NE(contract, nullptr);
  EXPECT_EQ(contract->name, "Lakeside ACO contract 7");
  EXPECT_EQ(contract->npi, "1234567893");
  EXPECT_EQ(contract->tin, "123456789");
  const auto* riverside = group(b, "riverside-pg");
  ASSERT_NE(riverside, nullptr);
  EXPECT_EQ(riverside->name, "Riverside Physician Group");
  EXPECT_EQ(riverside->npi, "1245319599");
  ASSERT_NE(group(b, "northside-clinic"), nullptr);
}

TEST(RosterAtr, NdjsonProblemsNameTheirFileAndLine) {
  const auto b =
      gm::read_atr_ndjson({data / "ndjson" / "Coverage.ndjson", data / "ndjson" / "Group.ndjson",
                           data / "ndjson" / "Patient.ndjson"});
  EXPECT_EQ(b.format, "atr-ndjson");
  EXPECT_EQ(b.rows_read, 3u);
  ASSERT_EQ(b.problems.size(), 2u);
  EXPECT_EQ(b.problems[0].file, "Group.ndjson");
  EXPECT_EQ(b.problems[0].line, 1u);
  EXPECT_THAT(b.problems[0].message, HasSubstr("member[1]"));
  EXPECT_THAT(b.problems[0].message, HasSubstr("Patient.ndjson line 2"));
  EXPECT_THAT(b.problems[0].message, HasSubstr("birthDate"));
  EXPECT_THAT(b.problems[0].message, ::testing::Not(HasSubstr("1953")));
  EXPECT_EQ(b.problems[1].file, "Patient.ndjson");
  EXPECT_EQ(b.problems[1].line, 5u);
  ASSERT_EQ(b.members.size(), 2u);
  EXPECT_EQ(b.members[0].member_id, "N-001");
  ASSERT_EQ(b.members[0].identifiers.size(), 1u);
  EXPECT_EQ(b.members[0].identifiers[0].type, "MR");
  EXPECT_EQ(b.members[1].member_id, "N-003");  // no MB identifier: subscriberId
  EXPECT_EQ(b.skipped_member_ids, std::vector<std::string>{"N-002"});
  ASSERT_EQ(b.groups.size(), 1u);
  EXPECT_EQ(b.groups[0].id, "grp-north");
  EXPECT_EQ(b.groups[0].tin, "987654321");
}

TEST(RosterAtr, ReadRosterPathChoosesTheReaderByContent) {
  const auto dir = gm::read_roster_path(data / "ndjson");
  EXPECT_EQ(dir.format, "atr-ndjson");
  EXPECT_EQ(dir.members.size(), 2u);
  const auto bundle = gm::read_roster_path(data / "atr_bundle.json");
  EXPECT_EQ(bundle.format, "atr-bundle");
  EXPECT_EQ(bundle.origin, (data / "atr_bundle.json").string());
  const auto csv = gm::read_roster_path(data / "roster_small.csv");
  EXPECT_EQ(csv.format, "csv");
  EXPECT_FALSE(csv.members.empty());
  EXPECT_THROW(gm::read_roster_path(data / "no-such-file.csv"), std::runtime_error);
}

TEST(RosterAtr, NotABundleIsOneProblem) {
  const auto b = gm::read_atr_bundle("{\"resourceType\":\"Patient\"}");
  ASSERT_EQ(b.problems.size(), 1u);
  EXPECT_TRUE(b.members.empty());
  const auto broken = gm::read_atr_bundle("{\"resourceType\":");
  ASSERT_EQ(broken.problems.size(), 1u);
  EXPECT_THAT(broken.problems[0].message, HasSubstr("JSON"));
}

}  // namespace
