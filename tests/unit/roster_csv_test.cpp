// read_roster_csv: columns in any order and case, extra columns, identifiers, RFC 4180 quoting,
// BOM, CRLF, chunk boundaries, and every row check with its exact line number, never the value.
#include "gateway/members/roster.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

namespace {

namespace gm = carebridge::gateway::members;
using ::testing::HasSubstr;
using ::testing::Not;

gm::roster_batch read(const std::string& text) {
  std::istringstream in(text);
  return gm::read_roster_csv(in);
}

const std::string header =
    "member_id,family,given,birth_date,sex,postal_code,group_id,group_name,period_start,"
    "period_end\n";

std::string problems_text(const gm::roster_batch& b) {
  std::string s;
  for (const auto& p : b.problems) s += std::to_string(p.line) + ": " + p.message + "\n";
  return s;
}

const gm::member_record* member(const gm::roster_batch& b, std::string_view id) {
  for (const auto& m : b.members)
    if (m.member_id == id) return &m;
  return nullptr;
}

TEST(RosterCsv, ReadsColumnsInAnyOrderWithExtraColumnsAndIdentifiers) {
  const auto b = read(
      "Group_ID,MEMBER_ID,Family,Given,Birth_Date,Sex,Postal_Code,Group_Name,Period_Start,"
      "Period_End,address_line1,mbi,medicaid_id,mrn:urn:oid:2.16.840.1.113883.3.1001,phone,"
      "medicaid_id:urn:oid:2.16.840.1.113883.4.3.17\n"
      "G1,M001,Testperson,Ann,1948-02-29,F,60614,Riverside PG,2026-01-01,,1 Main St,"
      "1EG4-TE5-MK73,,A100,312-555-0101,IL123\n");
  ASSERT_TRUE(b.problems.empty()) << problems_text(b);
  EXPECT_EQ(b.format, "csv");
  EXPECT_EQ(b.rows_read, 1u);
  ASSERT_EQ(b.members.size(), 1u);
  const auto& m = b.members[0];
  EXPECT_EQ(m.member_id, "M001");
  EXPECT_EQ(m.family, "Testperson");
  EXPECT_EQ(m.given, "Ann");
  EXPECT_EQ(m.birth_date, "1948-02-29");
  EXPECT_EQ(m.sex, "female");
  EXPECT_EQ(m.postal_code, "60614");
  EXPECT_EQ(m.phone, "312-555-0101");
  ASSERT_EQ(m.identifiers.size(), 3u);  // the empty medicaid_id gives none
  auto has = [&](std::string_view system, std::string_view value, std::string_view type) {
    for (const auto& i : m.identifiers)
      if (i.system == system && i.value == value && i.type == type) return true;
    return false;
  };
  EXPECT_TRUE(has("http://hl7.org/fhir/sid/us-mbi", "1EG4-TE5-MK73", "MC"));
  EXPECT_TRUE(has("urn:oid:2.16.840.1.113883.3.1001", "A100", "MR"));
  EXPECT_TRUE(has("urn:oid:2.16.840.1.113883.4.3.17", "IL123", "MA"));
  ASSERT_EQ(b.attributions.size(), 1u);
  EXPECT_EQ(b.attributions[0], (gm::attribution{"M001", "G1", "2026-01-01", ""}));
  ASSERT_EQ(b.groups.size(), 1u);
  EXPECT_EQ(b.groups[0].id, "G1");
  EXPECT_EQ(b.groups[0].name, "Riverside PG");
  EXPECT_EQ(b.groups[0].risk_threshold, "moderate");
}

TEST(RosterCsv, MedicaidWithoutSystemGetsTheDocumentedDefault) {
  const auto b = read(
      "member_id,family,given,birth_date,sex,postal_code,group_id,group_name,period_start,"
      "period_end,medicaid_id\nM1,,,,,,G1,,2026-01-01,,XY99\n");
  ASSERT_EQ(b.members.size(), 1u) << problems_text(b);
  ASSERT_EQ(b.members[0].identifiers.size(), 1u);
  EXPECT_EQ(b.members[0].identifiers[0].system, gm::default_medicaid_system);
  EXPECT_EQ(b.members[0].identifiers[0].type, "MA");
}

TEST(RosterCsv, BomCrlfQuotingAndMultiLineFieldsKeepLineNumbers) {
  const std::string text =
      "\xEF\xBB\xBF" +
      std::string(
          "member_id,family,given,birth_date,sex,postal_code,group_id,"
          "group_name,period_start,period_end\r\n") +
      "M1,\"O'Neil, Jr.\",\"Ann \"\"Nan\"\"\",1950-01-02,female,60601,G1,\"Lakeside, "
      "Two\nLines\",2026-01-01,2026-12-31\r\n"                // lines 2-3
      "M2,Doe,Jo,1950-13-01,male,60601,G1,x,2026-01-01,\r\n"  // line 4: bad birth date
      "\r\n"                                                  // line 5: empty, skipped
      "M3,Roe,Al,,,,G2,,2026-02-01,";                         // line 6, no final newline
  const auto b = read(text);
  ASSERT_EQ(b.problems.size(), 1u) << problems_text(b);
  EXPECT_EQ(b.problems[0].line, 4u);
  EXPECT_THAT(b.problems[0].message, HasSubstr("birth_date"));
  EXPECT_EQ(b.rows_read, 3u);
  EXPECT_EQ(b.rows_skipped, 1u);
  ASSERT_EQ(b.members.size(), 2u);
  const auto* m1 = member(b, "M1");
  ASSERT_NE(m1, nullptr);
  EXPECT_EQ(m1->family, "O'Neil, Jr.");
  EXPECT_EQ(m1->given, "Ann \"Nan\"");
  ASSERT_EQ(b.groups.size(), 2u);
  EXPECT_EQ(b.groups[0].name, "Lakeside, Two\nLines");
  EXPECT_EQ(b.skipped_member_ids, std::vector<std::string>{"M2"});
  const auto* m3 = member(b, "M3");
  ASSERT_NE(m3, nullptr);
  EXPECT_EQ(m3->sex, "");
  EXPECT_EQ(m3->birth_date, "");
}

TEST(RosterCsv, EachRuleIsReportedWithItsLineAndColumnNeverTheValue) {
  const std::string text = header +
                           ",Doe,Al,1950-01-01,male,60601,G1,n,2026-01-01,\n"              // 2
                           "M2,Doe,Al,1950-02-30,male,60601,G1,n,2026-01-01,\n"            // 3
                           "M3,Doe,Al,1950-01-01,mail,60601,G1,n,2026-01-01,\n"            // 4
                           "M4,Doe,Al,1950-01-01,male,60601,,n,2026-01-01,\n"              // 5
                           "M5,Doe,Al,1950-01-01,male,60601,G1,n,,\n"                      // 6
                           "M6,Doe,Al,1950-01-01,male,60601,G1,n,01/02/2026,\n"            // 7
                           "M7,Doe,Al,1950-01-01,male,60601,G1,n,2026-03-01,2026-02-28\n"  // 8
                           "M8,Doe,Al,1950-01-01,male,60601,G1,n,2026-01-01,2026-13-01\n"  // 9
                           "M9,Doe,Al,1950-01-01,male,60601,G1,n,2026-01-01\n"         // 10: short
                           "M10,Doe,\"Al\"x,1950-01-01,male,60601,G1,n,2026-01-01,\n"  // 11
                           "M11,Doe,Al,1950-01-01,U,60601,G1,n,2026-01-01,2026-01-01\n";  // 12 ok
  const auto b = read(text);
  ASSERT_EQ(b.problems.size(), 10u) << problems_text(b);
  const std::pair<std::size_t, const char*> expected[] = {
      {2, "member_id"},    {3, "birth_date"},   {4, "sex"},        {5, "group_id"},
      {6, "period_start"}, {7, "period_start"}, {8, "period_end"}, {9, "period_end"},
      {10, "fields"},      {11, "quote"}};
  for (std::size_t i = 0; i < std::size(expected); ++i) {
    EXPECT_EQ(b.problems[i].line, expected[i].first) << b.problems[i].message;
    EXPECT_THAT(b.problems[i].message, HasSubstr(expected[i].second));
    EXPECT_TRUE(b.problems[i].file.empty());
  }
  for (const auto& p : b.problems) {
    EXPECT_THAT(p.message, Not(HasSubstr("1950"))) << p.line;
    EXPECT_THAT(p.message, Not(HasSubstr("mail"))) << p.line;
    EXPECT_THAT(p.message, Not(HasSubstr("01/02"))) << p.line;
    EXPECT_THAT(p.message, Not(HasSubstr("Doe"))) << p.line;
  }
  ASSERT_EQ(b.members.size(), 1u);
  EXPECT_EQ(b.members[0].member_id, "M11");
  EXPECT_EQ(b.members[0].sex, "unknown");
  EXPECT_EQ(b.rows_read, 11u);
  EXPECT_EQ(b.rows_skipped, 10u);
  // Every bad row whose member id could be read is protected from being dropped.
  EXPECT_EQ(b.skipped_member_ids,
            (std::vector<std::string>{"M10", "M2", "M3", "M4", "M5", "M6", "M7", "M8", "M9"}));
}

TEST(RosterCsv, SeveralRowsOfOneMemberAreSeveralAttributions) {
  const auto b = read(header +
                      "M1,Doe,Al,1950-01-01,male,60601,G1,One,2025-01-01,2025-12-31\n"
                      "M2,Roe,Bo,1951-01-01,female,60601,G1,One,2026-01-01,\n"
                      "M1,Doe,Al,1950-01-01,male,60601,G2,Two,2026-01-01,\n"
                      "M1,Doe,Al,1950-01-01,male,60601,G2,Two,2026-01-01,\n");  // repeated row
  ASSERT_TRUE(b.problems.empty()) << problems_text(b);
  ASSERT_EQ(b.members.size(), 2u);
  ASSERT_EQ(b.attributions.size(), 3u);
  EXPECT_EQ(b.attributions[0], (gm::attribution{"M1", "G1", "2025-01-01", "2025-12-31"}));
  EXPECT_EQ(b.attributions[1], (gm::attribution{"M1", "G2", "2026-01-01", ""}));
  EXPECT_EQ(b.attributions[2], (gm::attribution{"M2", "G1", "2026-01-01", ""}));
  EXPECT_EQ(b.groups.size(), 2u);
}

TEST(RosterCsv, ConflictingDemographicsSkipEveryRowOfTheMember) {
  const auto b = read(header +
                      "M1,Doe,Al,1950-01-01,male,60601,G1,One,2025-01-01,\n"      // 2
                      "M2,Roe,Bo,1951-01-01,female,60601,G1,One,2026-01-01,\n"    // 3
                      "M1,Doe,Al,1950-01-02,male,60601,G2,Two,2026-01-01,\n"      // 4
                      "M1,Doe,Al,1950-01-01,male,60601,G3,Three,2026-01-01,\n");  // 5
  ASSERT_EQ(b.problems.size(), 3u) << problems_text(b);
  EXPECT_EQ(b.problems[0].line, 2u);
  EXPECT_THAT(b.problems[0].message, HasSubstr("line 4"));
  EXPECT_EQ(b.problems[1].line, 4u);
  EXPECT_THAT(b.problems[1].message, HasSubstr("birth_date"));
  EXPECT_THAT(b.problems[1].message, HasSubstr("line 2"));
  EXPECT_THAT(b.problems[1].message, Not(HasSubstr("1950")));
  EXPECT_EQ(b.problems[2].line, 5u);
  ASSERT_EQ(b.members.size(), 1u);
  EXPECT_EQ(b.members[0].member_id, "M2");
  EXPECT_EQ(b.attributions.size(), 1u);
  EXPECT_EQ(b.rows_skipped, 3u);
  EXPECT_EQ(b.skipped_member_ids, std::vector<std::string>{"M1"});
}

TEST(RosterCsv, AMissingRequiredColumnReadsNothing) {
  const auto b = read(
      "member_id,family,given,birth_date,sex,group_id,group_name,period_start,"
      "period_end\nM1,Doe,Al,1950-01-01,male,G1,n,2026-01-01,\n");
  ASSERT_EQ(b.problems.size(), 1u);
  EXPECT_EQ(b.problems[0].line, 1u);
  EXPECT_THAT(b.problems[0].message, HasSubstr("postal_code"));
  EXPECT_TRUE(b.members.empty());
  EXPECT_EQ(b.rows_read, 0u);
}

TEST(RosterCsv, EmptyInputAndDuplicateColumnsAreReported) {
  EXPECT_EQ(read("").problems.size(), 1u);
  EXPECT_EQ(read("\xEF\xBB\xBF\n\n").problems.size(), 1u);
  const auto b = read(header.substr(0, header.size() - 1) + ",member_id\n");
  ASSERT_EQ(b.problems.size(), 1u);
  EXPECT_THAT(b.problems[0].message, HasSubstr("twice"));
}

TEST(RosterCsv, AnUnterminatedQuoteSkipsOneLineAndReadingGoesOn) {
  const auto b =
      read(header +
           "M1,Doe,Al,1950-01-01,male,60601,G1,n,2026-01-01,\n"      // 2
           "M2,\"Doe,Al,1950-01-01,male,60601,G1,n,2026-01-01,\n"    // 3: quote never closed
           "M3,Roe,Bo,1951-01-01,female,60601,G1,n,2026-01-01,\n");  // 4
  ASSERT_EQ(b.problems.size(), 1u) << problems_text(b);
  EXPECT_EQ(b.problems[0].line, 3u);
  EXPECT_THAT(b.problems[0].message, HasSubstr("quote"));
  ASSERT_EQ(b.members.size(), 2u);
  EXPECT_EQ(b.members[1].member_id, "M3");
  EXPECT_EQ(b.skipped_member_ids, std::vector<std::string>{"M2"});
}

TEST(RosterCsv, ChunkBoundariesDoNotChangeWhatIsRead) {
  // > 1 MiB so that records (and quoted fields with newlines) straddle the reader's chunks.
  std::string text = header;
  const std::size_t rows = 30000;
  for (std::size_t i = 1; i <= rows; ++i) {
    char row[256];
    std::snprintf(row, sizeof row,
                  "M%06zu,\"Family, %zu\",\"Given\n%zu\",1950-01-01,female,60601,G%zu,\"Group "
                  "\"\"%zu\"\"\",2026-01-01,\r\n",
                  i, i, i, i % 7, i % 7);
    text += row;
    if (i == 29000) text += "M_BAD,x,y,1950-01-01,female,60601,G1,n,2026-02-30,\n";
  }
  ASSERT_GT(text.size(), 2u << 20);
  const auto b = read(text);
  ASSERT_EQ(b.problems.size(), 1u) << problems_text(b);
  // Each good row takes two physical lines; the bad row follows row 29000.
  EXPECT_EQ(b.problems[0].line, 2 + 2 * 29000u);
  ASSERT_EQ(b.members.size(), rows);
  EXPECT_EQ(b.members[12344].family, "Family, 12345");
  EXPECT_EQ(b.members[12344].given, "Given\n12345");
  EXPECT_EQ(b.groups.size(), 7u);
}

TEST(RosterCsv, NpiAndTinColumnsAreChecked) {
  const auto b = read(
      "member_id,family,given,birth_date,sex,postal_code,group_id,group_name,period_start,"
      "period_end,group_npi,group_tin\n"
      "M1,,,,,,G1,One,2026-01-01,,1234567893,123456789\n"
      "M2,,,,,,G2,Two,2026-01-01,,1234567890,\n"
      "M3,,,,,,G3,Three,2026-01-01,,,12345678\n");
  ASSERT_EQ(b.problems.size(), 2u) << problems_text(b);
  EXPECT_EQ(b.problems[0].line, 3u);
  EXPECT_THAT(b.problems[0].message, HasSubstr("group_npi"));
  EXPECT_EQ(b.problems[1].line, 4u);
  EXPECT_THAT(b.problems[1].message, HasSubstr("group_tin"));
  ASSERT_FALSE(b.groups.empty());
  EXPECT_EQ(b.groups[0].npi, "1234567893");
  EXPECT_EQ(b.groups[0].tin, "123456789");
}

TEST(RosterChecks, NpiTinDatesAndEvents) {
  EXPECT_TRUE(gm::is_valid_npi("1234567893"));
  EXPECT_TRUE(gm::is_valid_npi("1245319599"));
  EXPECT_FALSE(gm::is_valid_npi("1234567890"));
  EXPECT_FALSE(gm::is_valid_npi("123456789"));
  EXPECT_FALSE(gm::is_valid_npi("12345678a3"));
  EXPECT_TRUE(gm::is_valid_tin("123456789"));
  EXPECT_FALSE(gm::is_valid_tin("12-3456789"));
  EXPECT_TRUE(gm::is_valid_date("2024-02-29"));
  EXPECT_FALSE(gm::is_valid_date("2023-02-29"));
  EXPECT_FALSE(gm::is_valid_date("1900-02-29"));
  EXPECT_TRUE(gm::is_valid_date("2000-02-29"));
  EXPECT_FALSE(gm::is_valid_date("2024-04-31"));
  EXPECT_FALSE(gm::is_valid_date("2024-4-01"));
  EXPECT_EQ(gm::parse_alert_events("discharge, admission"),
            std::optional<std::uint8_t>(gm::alert_discharge | gm::alert_admission));
  EXPECT_EQ(gm::parse_alert_events("discharge,readmission"), std::nullopt);
  EXPECT_EQ(gm::parse_alert_events(""), std::nullopt);
  EXPECT_EQ(gm::alert_events_text(gm::alert_admission | gm::alert_ed_visit), "ed_visit,admission");
}

}  // namespace
