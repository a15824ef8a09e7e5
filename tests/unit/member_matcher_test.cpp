// Unit tests of the member-matching core (gateway/members): name normalisation and the typo
// measures, the given-name variant table in mappings/tables/members/, each field comparison, each
// rule and its precedence, and the decisions that protect precision (twins, households, identifier
// conflicts, missing fields).

#include "gateway/members/member_matcher.hpp"
#include "gateway/members/name_variants.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace m = carebridge::gateway::members;
using m::comparison;
using m::field;
using m::match_decision;
using m::match_rule;

const std::filesystem::path k_tables_dir =
    std::filesystem::path(CAREBRIDGE_SOURCE_DIR) / "mappings" / "tables" / "members";

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool has_reason(const m::match_result& r, std::string_view code) {
  return std::find(r.reasons.begin(), r.reasons.end(), code) != r.reasons.end();
}

// --- Names ---------------------------------------------------------------------------------------

TEST(MemberNames, NormalizeFoldsCaseAccentsAndPunctuation) {
  EXPECT_EQ(m::normalize_name("  O'Brien-Smith, Jr. "), "o brien smith jr");
  EXPECT_EQ(m::normalize_name("José"), "jose");
  EXPECT_EQ(m::normalize_name("MÜLLER"), "muller");
  EXPECT_EQ(m::normalize_name("Łukasz Żółć"), "lukasz zolc");
  EXPECT_EQ(m::normalize_name("Straße"), "strasse");
  EXPECT_EQ(m::normalize_name("Nguyễn"), "nguy n");  // outside the folded blocks: a separator
  EXPECT_EQ(m::normalize_name("\xFF\xC3"), "");      // broken UTF-8 is not a letter
  EXPECT_EQ(m::normalize_name(""), "");
  EXPECT_EQ(m::joined("mary ann"), "maryann");
}

TEST(MemberNames, Soundex) {
  EXPECT_EQ(m::soundex("robert"), "R163");
  EXPECT_EQ(m::soundex("rupert"), "R163");
  EXPECT_EQ(m::soundex("ashcraft"), "A261");
  EXPECT_EQ(m::soundex("tymczak"), "T522");
  EXPECT_EQ(m::soundex("pfister"), "P236");
  EXPECT_EQ(m::soundex("lee"), "L000");
  EXPECT_EQ(m::soundex(""), "");
}

TEST(MemberNames, JaroWinklerAndDamerauLevenshtein) {
  EXPECT_NEAR(m::jaro_winkler("martha", "marhta"), 0.961, 0.001);
  EXPECT_NEAR(m::jaro_winkler("dwayne", "duane"), 0.840, 0.001);
  EXPECT_NEAR(m::jaro_winkler("dixon", "dicksonx"), 0.813, 0.001);
  EXPECT_EQ(m::jaro_winkler("abc", "xyz"), 0.0);
  EXPECT_EQ(m::jaro_winkler("", ""), 1.0);
  EXPECT_EQ(m::damerau_levenshtein("smith", "smtih"), 1u);
  EXPECT_EQ(m::damerau_levenshtein("kitten", "sitting"), 3u);
  EXPECT_EQ(m::damerau_levenshtein("", "abc"), 3u);
  EXPECT_EQ(m::damerau_levenshtein("ca", "abc"), 3u);  // optimal string alignment, not full DL
}

TEST(MemberNameVariants, BuiltinTableParsesAndIsCurrent) {
  const auto& v = m::name_variants::builtin();
  EXPECT_GE(v.group_count(), 60u);
  for (const auto& entry : std::filesystem::directory_iterator(k_tables_dir)) {
    if (entry.path().extension() != ".csv") continue;
    const std::string text = read_file(entry.path());
    EXPECT_EQ(text, m::builtin_table_text(entry.path().stem().string()))
        << entry.path() << " changed since CMake last ran";
    EXPECT_TRUE(m::name_variants::from_csv(text, entry.path().filename().string()).has_value());
  }
}

TEST(MemberNameVariants, SharedGroupMeansVariant) {
  const auto& v = m::name_variants::builtin();
  for (auto [a, b] :
       std::vector<std::pair<std::string_view, std::string_view>>{{"william", "bill"},
                                                                  {"bill", "will"},
                                                                  {"billy", "william"},
                                                                  {"robert", "bob"},
                                                                  {"elizabeth", "liz"},
                                                                  {"beth", "betty"},
                                                                  {"margaret", "peggy"},
                                                                  {"maggie", "margaret"},
                                                                  {"katherine", "kate"},
                                                                  {"james", "jim"},
                                                                  {"jimmy", "jim"}})
    EXPECT_TRUE(v.are_variants(a, b)) << a << " ~ " << b;
  EXPECT_FALSE(v.are_variants("christina", "christine"));  // both have chris, not each other
  EXPECT_FALSE(v.are_variants("william", "robert"));
  EXPECT_FALSE(v.are_variants("william", "william"));
  EXPECT_FALSE(v.are_variants("zzz", "bill"));
  EXPECT_EQ(v.canonical("bill"), "william");
  EXPECT_EQ(v.canonical("zelda"), "zelda");
}

TEST(MemberNameVariants, MalformedTablesAreRejected) {
  const auto bad = [](std::string_view csv) {
    auto r = m::name_variants::from_csv(csv, "t.csv");
    return r ? std::string() : r.error().describe();
  };
  EXPECT_EQ(bad("nick,name\nbill,william\n"), "t.csv:1: expected the header name,variant");
  EXPECT_EQ(bad("name,variant\nwilliam,bill,x\n"), "t.csv:2: expected 2 columns (name,variant)");
  EXPECT_EQ(bad("# c\nname,variant\nwilliam,bill\nwilliam,Bill\n"),
            "t.csv:4: duplicate pair 'william,bill' (first at line 3)");
  EXPECT_NE(bad("name,variant\nwilliam,b\n"), "");
  EXPECT_NE(bad("name,variant\nmary ann,molly\n"), "");
  EXPECT_EQ(bad("name,variant\n"), "t.csv:1: no rows");
  EXPECT_EQ(bad("\xEF\xBB\xBFname,variant\r\nwilliam,bill\r\n"), "");
}

// --- A small roster ------------------------------------------------------------------------------

const std::string k_mbi = "http://hl7.org/fhir/sid/us-mbi";
const std::string k_mrn_a = "urn:oid:2.16.840.1.113883.3.1234";  // hospital A's MRNs
const std::string k_mrn_b = "urn:oid:2.16.840.1.113883.3.9999";

m::member_record rec(std::string id, std::string family, std::string given, std::string dob,
                     std::string sex, std::string postal = "", std::string phone = "") {
  return m::member_record{std::move(id),  std::move(family), std::move(given), std::move(dob),
                          std::move(sex), std::move(postal), std::move(phone), {}};
}

m::patient_facts facts(std::string family, std::string given, std::string dob, std::string sex,
                       std::string postal = "", std::string phone = "") {
  m::patient_facts p;
  p.family = std::move(family);
  p.given = std::move(given);
  p.birth_date = std::move(dob);
  p.sex = std::move(sex);
  p.postal_code = std::move(postal);
  p.phone = std::move(phone);
  return p;
}

class MemberMatch : public ::testing::Test {
 protected:
  static std::vector<m::member_record> roster() {
    std::vector<m::member_record> r;
    r.push_back(rec("M-0001", "Smith", "William", "1950-03-14", "male", "60614", "312-555-0101"));
    r.back().identifiers = {{k_mbi, "1EG4-TE5-MK73", ""}, {k_mrn_a, "A100", "MR"}};
    r.push_back(rec("M-0002", "Smith", "Margaret", "1952-07-30", "female", "60614",
                    "312-555-0101"));  // his wife: same household
    r.push_back(rec("M-0003", "Smith", "James", "1980-03-14", "male", "60614",
                    "312-555-0101"));  // their son
    // Twins: same birth date, family, address, phone; different given names.
    r.push_back(rec("M-0010", "Nowak", "Anna", "1991-11-05", "female", "60622", "773-555-0199"));
    r.push_back(rec("M-0011", "Nowak", "Maria", "1991-11-05", "female", "60622", "773-555-0199"));
    r.push_back(rec("M-0020", "García-López", "José", "1968-02-09", "male", "60608", ""));
    r.push_back(
        rec("M-0030", "O'Brien", "Katherine", "1975-12-01", "female", "60657", "(773) 555-0123"));
    r.push_back(rec("M-0040", "Johnson", "Robert", "1961-04-21", "male", "", ""));
    r.push_back(rec("M-0050", "Lee", "Christina", "1988-06-17", "female", "60616", ""));
    r.push_back(rec("M-0051", "Lee", "Christine", "1988-06-17", "female", "60616", ""));
    return r;
  }
  m::roster_index index_{roster()};

  m::match_result run(const m::patient_facts& p) const { return m::match(index_, p); }
  static std::string linked_id(const m::match_result& r) {
    return r.linked() ? r.linked()->member_id : std::string("(none)");
  }
};

// --- Field comparisons ---------------------------------------------------------------------------

TEST_F(MemberMatch, FieldComparisons) {
  const auto c = [&](const m::patient_facts& p, std::uint32_t position, field f) {
    return m::score_member(index_, position, p)[f].outcome;
  };
  // Member 0: Smith, William, 1950-03-14, male, 60614, 312-555-0101.
  EXPECT_EQ(c(facts("SMITH", "william", "", ""), 0, field::family), comparison::exact);
  EXPECT_EQ(c(facts("Smyth", "Bill", "", ""), 0, field::family), comparison::typo);
  EXPECT_EQ(c(facts("Smyth", "Bill", "", ""), 0, field::given), comparison::nickname);
  EXPECT_EQ(c(facts("Smith", "Wiliam", "", ""), 0, field::given), comparison::typo);
  EXPECT_EQ(c(facts("Smith", "William Henry", "", ""), 0, field::given), comparison::name_part);
  EXPECT_EQ(c(facts("Smith", "W", "", ""), 0, field::given), comparison::initial);
  EXPECT_EQ(c(facts("Smith", "Walter", "", ""), 0, field::given), comparison::disagree);
  EXPECT_EQ(c(facts("Smith-Jones", "William", "", ""), 0, field::family), comparison::name_part);
  EXPECT_EQ(c(facts("Smith Jr.", "William", "", ""), 0, field::family), comparison::exact);
  EXPECT_EQ(c(facts("Brown", "William", "", ""), 0, field::family), comparison::disagree);
  EXPECT_EQ(c(facts("", "William", "", ""), 0, field::family), comparison::missing);

  EXPECT_EQ(c(facts("", "", "1950-03-14", ""), 0, field::birth_date), comparison::exact);
  EXPECT_EQ(c(facts("", "", "1950-03-41", ""), 0, field::birth_date), comparison::missing);
  EXPECT_EQ(c(facts("", "", "1950-03-15", ""), 0, field::birth_date), comparison::one_digit);
  EXPECT_EQ(c(facts("", "", "1950-03-14", ""), 1, field::birth_date), comparison::disagree);
  EXPECT_EQ(c(facts("", "", "1950-03-14", ""), 2, field::birth_date), comparison::year_typo);
  // Member 6: 1975-12-01.
  EXPECT_EQ(c(facts("", "", "1975-01-12", ""), 6, field::birth_date),
            comparison::month_day_swapped);
  EXPECT_EQ(c(facts("", "", "1975-12-10", ""), 6, field::birth_date), comparison::transposed);
  EXPECT_EQ(c(facts("", "", "1957-12-01", ""), 6, field::birth_date), comparison::year_typo);
  EXPECT_EQ(c(facts("", "", "1976-12-01", ""), 6, field::birth_date), comparison::one_digit);
  EXPECT_EQ(c(facts("", "", "1975", ""), 6, field::birth_date), comparison::missing);

  EXPECT_EQ(c(facts("", "", "", "M"), 0, field::sex), comparison::exact);
  EXPECT_EQ(c(facts("", "", "", "female"), 0, field::sex), comparison::disagree);
  EXPECT_EQ(c(facts("", "", "", "unknown"), 0, field::sex), comparison::missing);

  EXPECT_EQ(c(facts("", "", "", "", "60614-2210"), 0, field::postal_code), comparison::exact);
  EXPECT_EQ(c(facts("", "", "", "", "60601"), 0, field::postal_code), comparison::prefix);
  EXPECT_EQ(c(facts("", "", "", "", "10001"), 0, field::postal_code), comparison::disagree);
  EXPECT_EQ(c(facts("", "", "", "", "606"), 0, field::postal_code), comparison::missing);

  EXPECT_EQ(c(facts("", "", "", "", "", "+1 (312) 555-0101"), 0, field::phone), comparison::exact);
  EXPECT_EQ(c(facts("", "", "", "", "", "555-0101"), 0, field::phone), comparison::exact);
  EXPECT_EQ(c(facts("", "", "", "", "", "312 555 0199"), 0, field::phone), comparison::disagree);
  EXPECT_EQ(c(facts("", "", "", "", "", "0101"), 0, field::phone), comparison::missing);
}

TEST_F(MemberMatch, MissingFieldsAreNeutral) {
  const auto full = m::score_member(index_, 0, facts("Smith", "William", "1950-03-14", "male"));
  const auto no_sex = m::score_member(index_, 0, facts("Smith", "William", "1950-03-14", ""));
  EXPECT_EQ(no_sex[field::sex].weight, 0.0);
  EXPECT_EQ(full.total - no_sex.total, m::match_weights{}.sex_exact);
  // No field at all: 0, not a match and not a penalty.
  EXPECT_EQ(m::score_member(index_, 0, facts("", "", "", "")).total, 0.0);
  // A missing name never counts as a confirmed name.
  const auto r = run(facts("Smith", "", "1950-03-14", "male", "60614", "312-555-0101"));
  EXPECT_NE(r.decision, match_decision::auto_link);
  EXPECT_TRUE(has_reason(r, "name_not_confirmed"));
}

// --- Identifier rules ----------------------------------------------------------------------------

TEST_F(MemberMatch, MemberIdIgnoresCaseSpacesAndDashes) {
  m::patient_facts p = facts("Smith", "William", "1950-03-14", "male");
  p.member_ids = {"m 0001"};
  const auto r = run(p);
  EXPECT_EQ(r.decision, match_decision::auto_link);
  EXPECT_EQ(r.rule, match_rule::member_id);
  EXPECT_EQ(r.reasons.front(), "member_id");
  EXPECT_EQ(linked_id(r), "M-0001");
  EXPECT_EQ(m::normalize_id(" 1eg4-tE5 mk73 "), "1EG4TE5MK73");
}

TEST_F(MemberMatch, PayerIdAndMrnLinks) {
  m::patient_facts p = facts("", "", "", "");
  p.identifiers = {{k_mbi, "1eg4te5mk73", "MC"}};
  auto r = run(p);
  EXPECT_EQ(r.decision, match_decision::auto_link);
  EXPECT_EQ(r.rule, match_rule::payer_id);
  EXPECT_EQ(linked_id(r), "M-0001");

  p.identifiers = {{"URN:OID:2.16.840.1.113883.3.1234", "a100", "MR"}};
  r = run(p);
  EXPECT_EQ(r.rule, match_rule::identifier_link);
  EXPECT_EQ(r.reasons.front(), "mrn_link");
  EXPECT_EQ(linked_id(r), "M-0001");

  // The same MRN value from another hospital, or without an authority, links nothing.
  p.identifiers = {{k_mrn_b, "A100", "MR"}, {"", "A100", "MR"}};
  r = run(p);
  EXPECT_EQ(r.rule, match_rule::demographics);
  EXPECT_EQ(r.decision, match_decision::no_match);
}

TEST_F(MemberMatch, MemberIdWinsOverDemographics) {
  // Demographics say Margaret; the member id says William, and William's demographics do not
  // contradict (only the given name differs: a nickname in another field, a data entry error).
  m::patient_facts p = facts("Smith", "Margaret", "1950-03-14", "male", "60614");
  p.member_ids = {"M-0001"};
  const auto r = run(p);
  EXPECT_EQ(r.decision, match_decision::auto_link);
  EXPECT_EQ(r.rule, match_rule::member_id);
  EXPECT_EQ(linked_id(r), "M-0001");
}

TEST_F(MemberMatch, MemberIdOfAContradictingMemberGoesToReview) {
  // The wife registered under her husband's subscriber id: given name, birth date and sex differ.
  m::patient_facts p = facts("Smith", "Margaret", "1952-07-30", "female", "60614");
  p.member_ids = {"M-0001"};
  const auto r = run(p);
  EXPECT_EQ(r.decision, match_decision::review);
  EXPECT_EQ(r.rule, match_rule::member_id);
  EXPECT_TRUE(has_reason(r, "demographics_conflict"));
  ASSERT_EQ(r.candidates.size(), 1u);
  EXPECT_EQ(r.candidates[0].member_id, "M-0001");
  EXPECT_EQ(r.linked(), nullptr);
}

TEST_F(MemberMatch, TwinUnderHerSistersMemberIdGoesToReview) {
  // Only the given name disagrees, but it fits the other twin: not a typo, another person.
  m::patient_facts p = facts("Nowak", "Maria", "1991-11-05", "female", "60622");
  p.member_ids = {"M-0010"};
  auto r = run(p);
  EXPECT_EQ(r.decision, match_decision::review);
  EXPECT_TRUE(has_reason(r, "demographics_conflict"));
  ASSERT_EQ(r.candidates.size(), 2u);
  EXPECT_EQ(r.candidates[0].member_id, "M-0010");
  EXPECT_EQ(r.candidates[1].member_id, "M-0011");
  // The same disagreement without a better-fitting member: the id decides.
  p.given = "Marianne";
  r = run(p);
  EXPECT_EQ(linked_id(r), "M-0010");
}

TEST_F(MemberMatch, IdentifiersPointingAtDifferentMembersGoToReview) {
  m::patient_facts p = facts("Smith", "James", "1980-03-14", "male");
  p.member_ids = {"M-0003"};
  p.identifiers = {{k_mrn_a, "A100", "MR"}};  // linked to his father
  const auto r = run(p);
  EXPECT_EQ(r.decision, match_decision::review);
  EXPECT_EQ(r.rule, match_rule::member_id);
  EXPECT_TRUE(has_reason(r, "identifier_conflict"));
  EXPECT_EQ(r.candidates.size(), 2u);
  EXPECT_EQ(r.candidates[0].member_id, "M-0003");  // best demographic agreement first
}

TEST_F(MemberMatch, UnknownMemberIdFallsBackToDemographics) {
  m::patient_facts p = facts("Smith", "William", "1950-03-14", "male");
  p.member_ids = {"OTHER-PLAN-77"};
  const auto r = run(p);
  EXPECT_EQ(r.rule, match_rule::demographics);
  EXPECT_EQ(linked_id(r), "M-0001");
}

// --- Demographics --------------------------------------------------------------------------------

TEST_F(MemberMatch, ExactDemographicsAutoLink) {
  const auto r = run(facts("Smith", "William", "1950-03-14", "male", "60614", "3125550101"));
  EXPECT_EQ(r.decision, match_decision::auto_link);
  EXPECT_EQ(r.rule, match_rule::demographics);
  EXPECT_EQ(r.reasons.front(), "name+dob+sex+postal+phone");
  EXPECT_EQ(linked_id(r), "M-0001");
  EXPECT_EQ(r.candidates[0].total, 33.0);
  EXPECT_EQ(r.describe().find("Smith"), std::string::npos);
  EXPECT_EQ(r.describe().find("M-0001"), std::string::npos);
}

TEST_F(MemberMatch, NameDobSexAloneIsEnough) {
  const auto r = run(facts("Johnson", "Robert", "1961-04-21", "M"));
  EXPECT_EQ(r.decision, match_decision::auto_link);
  EXPECT_EQ(r.reasons.front(), "name+dob+sex");
  EXPECT_EQ(linked_id(r), "M-0040");
}

TEST_F(MemberMatch, NicknameTypoAccentAndDoubleNames) {
  auto r = run(facts("Johnson", "Bob", "1961-04-21", "male"));
  EXPECT_EQ(linked_id(r), "M-0040");
  EXPECT_TRUE(has_reason(r, "given_nickname"));

  r = run(facts("Jonhson", "Robert", "1961-04-21", "male"));
  EXPECT_EQ(linked_id(r), "M-0040");
  EXPECT_TRUE(has_reason(r, "family_typo"));

  r = run(facts("OBRIEN", "Kate", "1975-12-01", "F", "60657"));
  EXPECT_EQ(linked_id(r), "M-0030");

  r = run(facts("Garcia", "Jose", "1968-02-09", "male", "60608"));
  EXPECT_EQ(linked_id(r), "M-0020");
  EXPECT_TRUE(has_reason(r, "family_part"));

  r = run(facts("garcia lopez", "JOSE", "1968-02-09", "male"));
  EXPECT_EQ(linked_id(r), "M-0020");
  EXPECT_EQ(r.candidates[0][field::family].outcome, comparison::exact);
}

TEST_F(MemberMatch, SwappedGivenAndFamily) {
  const auto r = run(facts("Robert", "Johnson", "1961-04-21", "male"));
  EXPECT_EQ(r.decision, match_decision::auto_link);
  EXPECT_EQ(linked_id(r), "M-0040");
  EXPECT_TRUE(r.candidates[0].names_swapped);
  EXPECT_TRUE(has_reason(r, "swapped_names"));
}

TEST_F(MemberMatch, NearBirthDatesNeedCorroboration) {
  // One digit off, with the address: linked.
  auto r = run(facts("O'Brien", "Katherine", "1975-12-07", "female", "60657"));
  EXPECT_EQ(linked_id(r), "M-0030");
  EXPECT_TRUE(has_reason(r, "dob_near"));
  // Month and day swapped, nothing else beyond the name: 7 + 6 + 5 + 1 = 19, review.
  r = run(facts("Johnson", "Robert", "1961-21-04", "male"));  // 21 is no month: date missing
  EXPECT_EQ(r.decision, match_decision::review);
  EXPECT_TRUE(has_reason(r, "dob_not_confirmed"));
  r = run(facts("O'Brien", "Katherine", "1975-01-12", "female"));
  EXPECT_EQ(r.decision, match_decision::review);
  EXPECT_TRUE(has_reason(r, "below_auto_threshold"));
  // Another generation with the same name (a year typo, or father and son): never auto-linked.
  r = run(facts("Smith", "William", "1980-03-14", "male", "60614", "312-555-0101"));
  EXPECT_EQ(r.decision, match_decision::review);
  ASSERT_GE(r.candidates.size(), 2u);
  EXPECT_EQ(r.candidates[0].member_id, "M-0001");  // found through the month+day block
  EXPECT_EQ(r.candidates[0][field::birth_date].outcome, comparison::year_typo);
  EXPECT_TRUE(has_reason(r, "dob_not_confirmed"));
  EXPECT_EQ(r.candidates[1].member_id, "M-0003");  // the son: the birth date, not the name
}

TEST_F(MemberMatch, TwinsNeverLinkToTheWrongTwin) {
  // Each twin by her own name.
  auto r = run(facts("Nowak", "Anna", "1991-11-05", "female", "60622", "773-555-0199"));
  EXPECT_EQ(linked_id(r), "M-0010");
  r = run(facts("Nowak", "Maria", "1991-11-05", "female", "60622", "773-555-0199"));
  EXPECT_EQ(linked_id(r), "M-0011");
  // Without a given name, or with an initial that fits neither better: review, both candidates.
  r = run(facts("Nowak", "", "1991-11-05", "female", "60622", "773-555-0199"));
  EXPECT_EQ(r.decision, match_decision::review);
  EXPECT_TRUE(has_reason(r, "twin_conflict"));
  ASSERT_GE(r.candidates.size(), 2u);
  EXPECT_EQ(r.candidates[0].total, r.candidates[1].total);
  // A third, unenrolled sibling of the same birth: no link to either.
  r = run(facts("Nowak", "Zofia", "1991-11-05", "female", "60622", "773-555-0199"));
  EXPECT_NE(r.decision, match_decision::auto_link);
  EXPECT_TRUE(has_reason(r, "name_not_confirmed"));
  // Twins whose names are one letter apart: a name typo must not decide between them.
  r = run(facts("Lee", "Christin", "1988-06-17", "female", "60616"));
  EXPECT_EQ(r.decision, match_decision::review);
  EXPECT_TRUE(has_reason(r, "twin_conflict"));
  r = run(facts("Lee", "Chris", "1988-06-17", "female", "60616"));  // a nickname of both
  EXPECT_EQ(r.decision, match_decision::review);
}

TEST_F(MemberMatch, HouseholdMembersAreToldApart) {
  auto r = run(facts("Smith", "Peggy", "1952-07-30", "female", "60614", "312-555-0101"));
  EXPECT_EQ(linked_id(r), "M-0002");
  r = run(facts("Smith", "Jim", "1980-03-14", "male", "60614", "312-555-0101"));
  EXPECT_EQ(linked_id(r), "M-0003");
  // An unenrolled daughter at the same address: names and phone, but not the birth date.
  r = run(facts("Smith", "Emily", "1983-05-02", "female", "60614", "312-555-0101"));
  EXPECT_EQ(r.decision, match_decision::no_match);
}

TEST_F(MemberMatch, SexConflictAndMissingBirthDateGoToReview) {
  auto r = run(facts("Johnson", "Robert", "1961-04-21", "female", "", ""));
  EXPECT_EQ(r.decision, match_decision::review);
  EXPECT_TRUE(has_reason(r, "sex_conflict"));
  r = run(facts("Johnson", "Bob", "", "male"));
  EXPECT_EQ(r.decision, match_decision::review);  // found through the name block
  EXPECT_TRUE(has_reason(r, "dob_not_confirmed"));
  EXPECT_EQ(r.candidates.at(0).member_id, "M-0040");
}

TEST_F(MemberMatch, NotInTheRoster) {
  auto r = run(facts("Kowalski", "Piotr", "1970-01-01", "male", "60601"));
  EXPECT_EQ(r.decision, match_decision::no_match);
  EXPECT_TRUE(has_reason(r, "no_candidates"));
  // Shares a birth date with a member, nothing else.
  r = run(facts("Kowalski", "Piotr", "1961-04-21", "male"));
  EXPECT_EQ(r.decision, match_decision::no_match);
  EXPECT_TRUE(has_reason(r, "below_threshold"));
  EXPECT_EQ(r.candidates_considered, 1u);
}

TEST_F(MemberMatch, ThresholdsAreOptions) {
  m::match_options strict;
  strict.auto_link_threshold = 30;
  auto r = m::match(index_, facts("Johnson", "Robert", "1961-04-21", "male"), strict);
  EXPECT_EQ(r.decision, match_decision::review);
  m::match_options capped;
  capped.max_candidates = 1;
  r = m::match(index_, facts("Nowak", "Anna", "1991-11-05", "female"), capped);
  EXPECT_EQ(r.decision, match_decision::review);
  EXPECT_TRUE(has_reason(r, "candidates_truncated"));
}

TEST(MemberIndex, EmptyRosterAndEmptyPatient) {
  const m::roster_index empty{std::vector<m::member_record>{}};
  EXPECT_EQ(empty.size(), 0u);
  const auto r = m::match(empty, m::patient_facts{});
  EXPECT_EQ(r.decision, match_decision::no_match);
  EXPECT_TRUE(r.candidates.empty());
}

}  // namespace
