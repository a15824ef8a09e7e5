// Unit tests of the comorbidity part of the readmission-risk core (gateway/risk/comorbidity.hpp,
// code_lists.hpp) and of its code lists in mappings/tables/risk/: the Quan 2005 Charlson lists and
// weights of ../shared/spec/risk.md §3, the hierarchy, the ICD-10-CM decisions, and the
// chronic-condition flags. Expected values are worked by hand from the spec's tables.

#include "gateway/risk/comorbidity.hpp"
#include "gateway/risk/code_lists.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace r = carebridge::gateway::risk;
using r::condition;
using r::weight_set;

const std::filesystem::path k_lists_dir =
    std::filesystem::path(CAREBRIDGE_SOURCE_DIR) / "mappings" / "tables" / "risk";

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// ICD-10-CM diagnoses from code texts (views of the literals).
std::vector<r::diagnosis_code> cm(std::initializer_list<std::string_view> codes) {
  std::vector<r::diagnosis_code> out;
  for (std::string_view c : codes) out.push_back({r::icd10cm_system, c});
  return out;
}

r::comorbidity_result assess(std::initializer_list<std::string_view> codes,
                             weight_set w = weight_set::lace) {
  const auto dx = cm(codes);
  return r::assess_comorbidity(dx, w);
}

// The conditions found (superseded ones included), in order.
std::vector<condition> found(const r::comorbidity_result& res) {
  std::vector<condition> out;
  for (const auto& f : res.conditions) out.push_back(f.which);
  return out;
}

// The conditions of one code alone.
std::vector<condition> conditions_of(std::string_view code) {
  return found(assess({code}));
}

// --- Code normalization ----------------------------------------------------------------------

TEST(ComorbidityCodes, NormalizesDotCaseAndWhitespace) {
  for (std::string_view text : {"E11.22", "E1122", "e11.22", " E11.22\t", "\r\ne1122 "}) {
    SCOPED_TRACE(std::string(text));
    const auto c = r::icd10_code::parse(text);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->compact(), "E1122");
    EXPECT_EQ(c->dotted(), "E11.22");
  }
  EXPECT_EQ(r::icd10_code::parse("I21.A1")->compact(), "I21A1");
  EXPECT_EQ(r::icd10_code::parse("S72.001A")->dotted(), "S72.001A");
  EXPECT_EQ(r::icd10_code::parse("C4A.9")->compact(), "C4A9");
  EXPECT_EQ(r::icd10_code::parse("N18")->dotted(), "N18");
}

TEST(ComorbidityCodes, RejectsMalformedCodes) {
  for (std::string_view text :
       {"", "   ", "E1", "E.11", "E1.1", "11.65", "EE1.1", "E11..2", "E11.2.2", "E11.", "E 11.22",
        "E11-E13", "I21-I22", "E11.2222222", "E112222222", "G01*", "A17.0+", "E11,2",
        "\xC3\x89"
        "11"}) {
    SCOPED_TRACE(std::string(text));
    EXPECT_FALSE(r::icd10_code::parse(text));
  }
}

TEST(ComorbidityCodes, AnyCaseAndDotGiveTheSameConditions) {
  const auto a = assess({"i50.9", "J44.1", "e11.22"});
  const auto b = assess({"I509", "J441", "E1122"});
  EXPECT_EQ(found(a), found(b));
  EXPECT_EQ(a.sum, b.sum);
  EXPECT_EQ(a.sum, 6);  // chf 2 + cpd 2 + diabwc 2 (LACE worksheet)
  // Codes are reported dotted, whatever the form sent.
  EXPECT_EQ(a.find(condition::chf)->codes, std::vector<std::string>{"I50.9"});
  EXPECT_EQ(b.find(condition::diabwc)->codes, std::vector<std::string>{"E11.22"});
}

TEST(ComorbidityCodes, OtherSystemsAreNotConsideredAndReported) {
  const std::vector<r::diagnosis_code> dx = {
      {"http://hl7.org/fhir/sid/icd-9-cm", "428.0"},   // ICD-9 heart failure: ignored
      {"http://snomed.info/sct", "84114007"},          // SNOMED heart failure: ignored
      {"", "I50.9"},                                   // no system: not trusted as ICD-10
      {"http://hl7.org/fhir/sid/icd-10-CM", "I50.9"},  // URIs are case-sensitive
      {r::icd10_system, "J44.1"},                      // WHO ICD-10: read
      {r::icd10cm_system, "E11.9"},                    // ICD-10-CM: read
  };
  const auto res = r::assess_comorbidity(dx, weight_set::lace);
  EXPECT_EQ(res.considered, 2u);
  const std::vector<r::ignored_code> expected = {{0, r::ignore_reason::other_system},
                                                 {1, r::ignore_reason::other_system},
                                                 {2, r::ignore_reason::other_system},
                                                 {3, r::ignore_reason::other_system}};
  EXPECT_EQ(res.not_considered, expected);
  EXPECT_EQ(found(res), (std::vector<condition>{condition::cpd, condition::diab}));
  EXPECT_FALSE(res.find(condition::chf));
  EXPECT_EQ(res.sum, 3);
}

TEST(ComorbidityCodes, MalformedCodesAreNotConsideredAndReported) {
  const auto dx = cm({"I50.9", "I5.09", "", "C78-C79", "J44.1"});
  const auto res = r::assess_comorbidity(dx, weight_set::lace);
  EXPECT_EQ(res.considered, 2u);
  const std::vector<r::ignored_code> expected = {{1, r::ignore_reason::malformed},
                                                 {2, r::ignore_reason::malformed},
                                                 {3, r::ignore_reason::malformed}};
  EXPECT_EQ(res.not_considered, expected);
  EXPECT_EQ(found(res), (std::vector<condition>{condition::chf, condition::cpd}));
}

TEST(ComorbidityCodes, ACodeGivenTwiceCountsOnce) {
  const auto res = assess({"I50.9", "i509", "I50.9 ", "I50.1"});
  ASSERT_EQ(res.conditions.size(), 1u);
  EXPECT_EQ(res.conditions[0].codes, (std::vector<std::string>{"I50.9", "I50.1"}));
  EXPECT_EQ(res.sum, 2);
}

TEST(ComorbidityCodes, CodesInNoListAreConsideredButFindNothing) {
  const auto res = assess({"I10", "Z79.4", "R07.9", "S72.001A"});
  EXPECT_EQ(res.considered, 4u);
  EXPECT_TRUE(res.not_considered.empty());
  EXPECT_TRUE(res.conditions.empty());
  EXPECT_EQ(res.sum, 0);
  EXPECT_EQ(res.describe(), "no Charlson condition; sum 0 (lace weights)");
}

// --- The shipped lists -------------------------------------------------------------------------

TEST(ComorbidityTables, EveryShippedFileParsesAndMatchesTheCompiledInCopy) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(k_lists_dir)) {
    if (entry.path().extension() != ".csv") continue;
    files.push_back(entry.path().stem().string());
    EXPECT_EQ(read_file(entry.path()), r::builtin_list_text(entry.path().stem().string()))
        << entry.path() << ": rebuild after editing a list";
  }
  std::sort(files.begin(), files.end());
  const auto names = r::builtin_list_names();
  EXPECT_EQ(files, std::vector<std::string>(names.begin(), names.end()));
  EXPECT_EQ(files, (std::vector<std::string>{"charlson-icd10", "chronic-conditions-icd10"}));

  auto parsed = r::code_lists::from_csv(read_file(k_lists_dir / "charlson-icd10.csv"),
                                        read_file(k_lists_dir / "chronic-conditions-icd10.csv"));
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_EQ(parsed->charlson.rows().size(), r::code_lists::builtin().charlson.rows().size());
  EXPECT_EQ(parsed->chronic.rows().size(), r::code_lists::builtin().chronic.rows().size());
}

// Expands the spec's notation: "I60-I69" (a range of the trailing number, its width kept) and
// "E1x0" (x = 0..4, as the spec writes the diabetes codes).
std::vector<std::string> expand(std::string_view item) {
  std::vector<std::string> out;
  if (const auto x = item.find('x'); x != std::string_view::npos) {
    for (char d = '0'; d <= '4'; ++d) {
      std::string s(item);
      s[x] = d;
      out.push_back(s);
    }
    return out;
  }
  const auto dash = item.find('-');
  if (dash == std::string_view::npos) return {std::string(item)};
  const std::string_view a = item.substr(0, dash), b = item.substr(dash + 1);
  const std::size_t width = a.size() - 1;
  for (int n = std::stoi(std::string(a.substr(1))); n <= std::stoi(std::string(b.substr(1))); ++n) {
    std::string digits = std::to_string(n);
    digits.insert(0, width - digits.size(), '0');
    out.push_back(std::string(1, a[0]) + digits);
  }
  return out;
}

TEST(ComorbidityTables, QuanRowsAreTheSpecTable) {
  // ../shared/spec/risk.md §3.1, typed again here from the spec (not from the CSV): a second
  // transcription, so that an edit of either shows up.
  const std::vector<std::pair<std::string_view, std::vector<std::string_view>>> spec = {
      {"mi", {"I21", "I22", "I252"}},
      {"chf",
       {"I099", "I110", "I130", "I132", "I255", "I420", "I425", "I426", "I427", "I428", "I429",
        "I43", "I50", "P290"}},
      {"pvd",
       {"I70", "I71", "I731", "I738", "I739", "I771", "I790", "I792", "K551", "K558", "K559",
        "Z958", "Z959"}},
      {"cevd", {"G45", "G46", "H340", "I60-I69"}},
      {"dementia", {"F00", "F01", "F02", "F03", "F051", "G30", "G311"}},
      {"cpd", {"I278", "I279", "J40-J47", "J60-J67", "J684", "J701", "J703"}},
      {"rheumd", {"M05", "M06", "M315", "M32", "M33", "M34", "M351", "M353", "M360"}},
      {"pud", {"K25", "K26", "K27", "K28"}},
      {"mld",
       {"B18", "K700", "K701", "K702", "K703", "K709", "K713", "K714", "K715", "K717", "K73", "K74",
        "K760", "K762", "K763", "K764", "K768", "K769", "Z944"}},
      {"diab", {"E1x0", "E1x1", "E1x6", "E1x8", "E1x9"}},
      {"diabwc", {"E1x2", "E1x3", "E1x4", "E1x5", "E1x7"}},
      {"hp",
       {"G041", "G114", "G801", "G802", "G81", "G82", "G830", "G831", "G832", "G833", "G834",
        "G839"}},
      {"rend",
       {"I120", "I131", "N032-N037", "N052-N057", "N18", "N19", "N250", "Z490", "Z491", "Z492",
        "Z940", "Z992"}},
      {"canc",
       {"C00-C26", "C30-C34", "C37-C41", "C43", "C45-C58", "C60-C76", "C81-C85", "C88", "C90-C97"}},
      {"msld",
       {"I850", "I859", "I864", "I982", "K704", "K711", "K721", "K729", "K765", "K766", "K767"}},
      {"metacanc", {"C77", "C78", "C79", "C80"}},
      {"aids", {"B20", "B21", "B22", "B24"}},
  };
  std::set<std::pair<std::string, std::string>> expected, shipped, added;
  for (const auto& [key, items] : spec)
    for (std::string_view item : items)
      for (std::string& p : expand(item)) expected.emplace(std::move(p), key);
  for (const auto& row : r::code_lists::builtin().charlson.rows()) {
    const std::string key(r::to_string(static_cast<condition>(row.bit)));
    if (row.source == "quan2005") {
      shipped.emplace(row.prefix, key);
    } else {
      EXPECT_EQ(row.source, "carebridge") << row.prefix;
      added.emplace(row.prefix, key);
    }
  }
  EXPECT_EQ(shipped, expected);
  EXPECT_EQ(expected.size(), 289u);

  // CareBridge's rows are exactly the decisions documented in comorbidity.hpp.
  std::set<std::pair<std::string, std::string>> decisions;
  for (const char* x : {"E08", "E09"}) {
    for (const char* d : {"0", "1", "6", "8", "9"}) decisions.emplace(std::string(x) + d, "diab");
    for (const char* d : {"2", "3", "4", "5"}) decisions.emplace(std::string(x) + d, "diabwc");
  }
  decisions.emplace("N181", "mrend");
  decisions.emplace("N182", "mrend");
  EXPECT_EQ(added, decisions);
}

TEST(ComorbidityTables, ChronicRowsAreTheDocumentedPrefixes) {
  std::set<std::pair<std::string, std::string>> shipped;
  for (const auto& row : r::code_lists::builtin().chronic.rows())
    shipped.emplace(row.prefix, r::to_string(static_cast<r::chronic_condition>(row.bit)));
  const std::set<std::pair<std::string, std::string>> expected = {
      {"E08", "diabetes"}, {"E09", "diabetes"}, {"E10", "diabetes"}, {"E11", "diabetes"},
      {"E12", "diabetes"}, {"E13", "diabetes"}, {"E14", "diabetes"}, {"I20", "ihd"},
      {"I21", "ihd"},      {"I22", "ihd"},      {"I23", "ihd"},      {"I24", "ihd"},
      {"I25", "ihd"},      {"I50", "hf"},       {"I110", "hf"},      {"I130", "hf"},
      {"I132", "hf"},      {"I0981", "hf"},     {"J45", "asthma"},   {"J46", "asthma"},
      {"J41", "copd"},     {"J42", "copd"},     {"J43", "copd"},     {"J44", "copd"},
  };
  EXPECT_EQ(shipped, expected);
}

constexpr std::string_view k_chronic_min = "prefix,condition,source\nE11,diabetes,t\n";

r::list_error must_fail(std::string_view charlson_csv) {
  auto res = r::code_lists::from_csv(charlson_csv, k_chronic_min);
  if (res) throw std::runtime_error("from_csv accepted a bad list");
  return res.error();
}

TEST(ComorbidityTables, MalformedListsAreRejectedWithTheLine) {
  EXPECT_EQ(must_fail("code,condition,source\nI21,mi,t\n").describe(),
            "charlson-icd10.csv:1: expected the header prefix,condition,source");
  EXPECT_EQ(must_fail("# only a comment\n").describe(),
            "charlson-icd10.csv:1: expected the header prefix,condition,source");
  EXPECT_EQ(must_fail("prefix,condition,source\n").describe(), "charlson-icd10.csv:1: no rows");
  EXPECT_EQ(must_fail("prefix,condition,source\n# c\nI21,chd,t\n").describe(),
            "charlson-icd10.csv:3: unknown condition 'chd'");
  EXPECT_EQ(must_fail("prefix,condition,source\nI21,mi\n").describe(),
            "charlson-icd10.csv:2: expected 3 columns (prefix,condition,source), got 2");
  EXPECT_EQ(must_fail("prefix,condition,source\nI21,mi,t,x\n").describe(),
            "charlson-icd10.csv:2: expected 3 columns (prefix,condition,source), got 4");
  EXPECT_EQ(must_fail("prefix,condition,source\nI21,mi,\n").describe(),
            "charlson-icd10.csv:2: empty column");
  EXPECT_EQ(must_fail("prefix,condition,source\n\"I21\",mi,t\n").describe(),
            "charlson-icd10.csv:2: quoted fields are not used in code lists");
  for (std::string_view bad : {"I2", "I21-I22", " I21", "121", "I2100000", "I2.1"}) {
    const std::string csv = "prefix,condition,source\n" + std::string(bad) + ",mi,t\n";
    EXPECT_EQ(must_fail(csv).describe(), "charlson-icd10.csv:2: prefix '" + std::string(bad) +
                                             "' is not 3 to 7 ICD-10 code characters");
  }
  EXPECT_EQ(must_fail("prefix,condition,source\nI21,mi,a\r\nI22,mi,a\r\ni21,mi,b\r\n").describe(),
            "charlson-icd10.csv:4: duplicate row 'I21,mi' (first at line 2)");
  // The chronic list is checked the same way, and named in its errors.
  auto res = r::code_lists::from_csv("prefix,condition,source\nI21,mi,t\n",
                                     "prefix,condition,source\nI21,mi,t\n");
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().describe(), "chronic-conditions-icd10.csv:2: unknown condition 'mi'");
}

TEST(ComorbidityTables, DottedPrefixesCrLfAndByteOrderMarkAreAccepted) {
  auto res = r::code_lists::from_csv(
      "\xEF\xBB\xBF# list\r\nprefix,condition,source\r\n\r\nI25.2,mi,t\r\n", k_chronic_min);
  ASSERT_TRUE(res) << res.error().describe();
  ASSERT_EQ(res->charlson.rows().size(), 1u);
  EXPECT_EQ(res->charlson.rows()[0].prefix, "I252");
}

TEST(ComorbidityTables, OneCodeCanMapToSeveralConditions) {
  // Two rows with one prefix: I13.2 (hypertensive heart and kidney disease with heart failure and
  // stage 5 CKD) read as both chf and rend, as a site list might.
  auto lists = r::code_lists::from_csv(
      "prefix,condition,source\nI132,chf,t\nI132,rend,t\nI50,chf,t\n", k_chronic_min);
  ASSERT_TRUE(lists) << lists.error().describe();
  const auto dx = cm({"I13.2", "I50.9"});
  const auto res = r::assess_comorbidity(dx, weight_set::charlson_1987, *lists);
  EXPECT_EQ(found(res), (std::vector<condition>{condition::chf, condition::rend}));
  EXPECT_EQ(res.find(condition::chf)->codes, (std::vector<std::string>{"I13.2", "I50.9"}));
  EXPECT_EQ(res.find(condition::rend)->codes, (std::vector<std::string>{"I13.2"}));
  EXPECT_EQ(res.sum, 3);  // chf 1 + rend 2 (Charlson 1987)
}

TEST(ComorbidityTables, TheLongestPrefixDecides) {
  auto lists = r::code_lists::from_csv(
      "prefix,condition,source\nN18,rend,t\nN181,mrend,t\nK70,mld,t\nK704,msld,t\n", k_chronic_min);
  ASSERT_TRUE(lists);
  const auto& l = lists->charlson;
  const auto mask = [&](std::string_view code) { return l.match(*r::icd10_code::parse(code)); };
  const auto bit = [](condition c) { return std::uint32_t{1} << static_cast<unsigned>(c); };
  EXPECT_EQ(mask("N18"), bit(condition::rend));
  EXPECT_EQ(mask("N18.1"), bit(condition::mrend));
  EXPECT_EQ(mask("N18.4"), bit(condition::rend));
  EXPECT_EQ(mask("K70.40"), bit(condition::msld));
  EXPECT_EQ(mask("K70.30"), bit(condition::mld));
  EXPECT_EQ(mask("K69"), 0u);
}

// --- Conditions and weights ------------------------------------------------------------------

TEST(ComorbidityConditions, OneCodeOfEveryCondition) {
  // Real ICD-10-CM codes (WHO-only where said), each under one prefix of the spec's table.
  const std::vector<std::pair<std::string_view, condition>> cases = {
      {"I21.4", condition::mi},        {"I25.2", condition::mi},
      {"I50.23", condition::chf},      {"I11.0", condition::chf},
      {"I42.0", condition::chf},       {"P29.0", condition::chf},
      {"I70.213", condition::pvd},     {"Z95.820", condition::pvd},
      {"I63.9", condition::cevd},      {"G45.9", condition::cevd},
      {"H34.01", condition::cevd},     {"F03.90", condition::dementia},
      {"G30.1", condition::dementia},  {"J44.1", condition::cpd},
      {"J45.909", condition::cpd},     {"I27.83", condition::cpd},
      {"M05.79", condition::rheumd},   {"M32.14", condition::rheumd},
      {"K25.4", condition::pud},       {"K70.30", condition::mld},
      {"B18.2", condition::mld},       {"Z94.4", condition::mld},
      {"E11.9", condition::diab},      {"E10.10", condition::diab},
      {"E11.22", condition::diabwc},   {"E10.3599", condition::diabwc},
      {"G81.91", condition::hp},       {"G04.1", condition::hp},
      {"N18.4", condition::rend},      {"Z99.2", condition::rend},
      {"I12.0", condition::rend},      {"N03.2", condition::rend},
      {"C34.90", condition::canc},     {"C50.911", condition::canc},
      {"C91.10", condition::canc},     {"C43.9", condition::canc},
      {"K72.10", condition::msld},     {"I85.00", condition::msld},
      {"K76.6", condition::msld},      {"C78.00", condition::metacanc},
      {"C79.51", condition::metacanc}, {"B20", condition::aids},
      {"N18.2", condition::mrend},
  };
  std::set<condition> covered;
  for (const auto& [code, expected] : cases) {
    SCOPED_TRACE(std::string(code));
    EXPECT_EQ(conditions_of(code), std::vector<condition>{expected});
    covered.insert(expected);
  }
  EXPECT_EQ(covered.size(), r::condition_count);
}

TEST(ComorbidityConditions, NeighboursOfThePrefixesFindNothing) {
  // Just outside the spec's lists: skin cancer other than melanoma (C44); C4A (Merkel cell) and
  // C7A/C7B (neuroendocrine tumours), ICD-10-CM categories Quan's WHO list does not have; I25.10
  // (not old MI); I12.9 (hypertensive CKD stage 1–4); K71.0 (toxic liver disease, not listed);
  // E11 without its fourth character; J68.0 (acute); I73.00; F05 (delirium). The bare
  // three-character N18 and K25 are Quan prefixes themselves.
  for (std::string_view code : {"C44.91", "C4A.9", "C7A.00", "C7B.00", "I25.10", "I12.9", "K71.0",
                                "E11", "J68.0", "I73.00", "F05", "N18", "K25"}) {
    SCOPED_TRACE(std::string(code));
    if (code == "N18") {
      EXPECT_EQ(conditions_of(code), std::vector<condition>{condition::rend});  // Quan's N18
    } else if (code == "K25") {
      EXPECT_EQ(conditions_of(code), std::vector<condition>{condition::pud});
    } else {
      EXPECT_TRUE(conditions_of(code).empty());
    }
  }
}

TEST(ComorbidityWeights, EveryConditionUnderEverySet) {
  struct row {
    condition c;
    int lace, charlson, quan;
  };
  // Spec §1.1 (a) and §3.2.
  const std::vector<row> table = {
      {condition::mi, 1, 1, 0},       {condition::chf, 2, 1, 2},      {condition::pvd, 1, 1, 0},
      {condition::cevd, 1, 1, 0},     {condition::dementia, 3, 1, 2}, {condition::cpd, 2, 1, 1},
      {condition::rheumd, 3, 1, 1},   {condition::pud, 0, 1, 0},      {condition::mld, 2, 1, 2},
      {condition::diab, 1, 1, 0},     {condition::diabwc, 2, 2, 1},   {condition::hp, 0, 2, 2},
      {condition::rend, 4, 2, 1},     {condition::canc, 2, 2, 2},     {condition::msld, 4, 3, 4},
      {condition::metacanc, 6, 6, 6}, {condition::aids, 4, 6, 4},     {condition::mrend, 2, 0, 0},
  };
  ASSERT_EQ(table.size(), r::condition_count);
  for (const row& w : table) {
    SCOPED_TRACE(std::string(r::to_string(w.c)));
    EXPECT_EQ(r::weight(w.c, weight_set::lace), w.lace);
    EXPECT_EQ(r::weight(w.c, weight_set::charlson_1987), w.charlson);
    EXPECT_EQ(r::weight(w.c, weight_set::quan_2011), w.quan);
    EXPECT_EQ(r::condition_from_string(r::to_string(w.c)), w.c);
    EXPECT_FALSE(r::display(w.c).empty());
  }
  EXPECT_FALSE(r::condition_from_string("CHF"));
}

TEST(ComorbidityWeights, SumsOfOneDischargeUnderEachSet) {
  // I21.4 mi, I50.23 chf, J44.1 cpd, E11.22 diabwc, N18.4 rend, K25.4 pud, G81.91 hp
  const std::initializer_list<std::string_view> codes = {"I21.4", "I50.23", "J44.1", "E11.22",
                                                         "N18.4", "K25.4",  "G81.91"};
  EXPECT_EQ(assess(codes, weight_set::lace).sum, 1 + 2 + 2 + 2 + 4 + 0 + 0);           // 11
  EXPECT_EQ(assess(codes, weight_set::charlson_1987).sum, 1 + 1 + 1 + 2 + 2 + 1 + 2);  // 10
  EXPECT_EQ(assess(codes, weight_set::quan_2011).sum, 0 + 2 + 1 + 1 + 1 + 0 + 2);      // 7
  const auto lace = assess(codes, weight_set::lace);
  EXPECT_EQ(lace.find(condition::pud)->points, 0);  // found, listed, not on the worksheet
  EXPECT_EQ(lace.find(condition::hp)->points, 0);
  EXPECT_EQ(lace.weights, weight_set::lace);
}

TEST(ComorbidityWeights, Quan2011MaximumIs24) {
  // Every condition at once: the hierarchy leaves chf 2, dementia 2, cpd 1, rheumd 1, msld 4,
  // diabwc 1, hp 2, rend 1, metacanc 6, aids 4 (and canc, mld, diab, mrend dropped).
  const std::initializer_list<std::string_view> all = {
      "I21.4", "I50.9",  "I70.0",  "I63.9", "F03.90", "J44.9",  "M32.9",  "K25.9", "K70.30",
      "E11.9", "E11.22", "G81.90", "N18.4", "C34.90", "K72.10", "C78.00", "B20",   "N18.1"};
  EXPECT_EQ(assess(all, weight_set::quan_2011).sum, 24);
  EXPECT_EQ(assess(all, weight_set::charlson_1987).sum,
            1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 2 + 2 + 2 + 3 + 6 + 6);  // 29
  EXPECT_EQ(assess(all, weight_set::lace).sum,
            1 + 2 + 1 + 1 + 3 + 2 + 3 + 0 + 2 + 0 + 4 + 4 + 6 + 4);  // 33
}

// --- Hierarchy -------------------------------------------------------------------------------

void expect_superseded(std::initializer_list<std::string_view> codes, condition milder,
                       condition stronger) {
  for (weight_set w : {weight_set::lace, weight_set::charlson_1987, weight_set::quan_2011}) {
    SCOPED_TRACE(std::string(r::to_string(w)));
    const auto res = assess(codes, w);
    ASSERT_TRUE(res.find(milder));
    EXPECT_EQ(res.find(milder)->superseded_by, stronger);
    EXPECT_EQ(res.find(milder)->points, 0);
    EXPECT_FALSE(res.counts(milder));
    EXPECT_TRUE(res.counts(stronger));
    EXPECT_EQ(res.sum, r::weight(stronger, w));
  }
}

TEST(ComorbidityHierarchy, SevereLiverDiseaseDropsMild) {
  expect_superseded({"K70.30", "K72.10"}, condition::mld, condition::msld);
  EXPECT_EQ(assess({"K70.30"}).sum, 2);  // mild alone scores
}

TEST(ComorbidityHierarchy, ComplicatedDiabetesDropsUncomplicated) {
  expect_superseded({"E11.9", "E11.22"}, condition::diab, condition::diabwc);
  EXPECT_EQ(assess({"E11.9"}).sum, 1);
}

TEST(ComorbidityHierarchy, MetastasisDropsAnyMalignancy) {
  expect_superseded({"C34.90", "C78.00"}, condition::canc, condition::metacanc);
  EXPECT_EQ(assess({"C34.90"}).sum, 2);
}

TEST(ComorbidityHierarchy, ModerateRenalDropsMildRenal) {
  expect_superseded({"N18.2", "N18.4"}, condition::mrend, condition::rend);
  EXPECT_EQ(assess({"N18.2"}).sum, 2);
}

TEST(ComorbidityHierarchy, OnlyTheNamedPairsDrop) {
  // Unrelated conditions found together all count.
  const auto res = assess({"K70.30", "E11.9", "C34.90", "N18.2"});
  EXPECT_EQ(res.sum, 2 + 1 + 2 + 2);
  for (const auto& f : res.conditions) EXPECT_FALSE(f.superseded_by) << r::to_string(f.which);
  EXPECT_EQ(res.describe(), "mld 2, diab 1, canc 2, mrend 2; sum 7 (lace weights)");
  EXPECT_EQ(assess({"E11.9", "E11.22"}).describe(),
            "diab 0 (dropped for diabwc), diabwc 2; sum 2 (lace weights)");
}

// --- ICD-10-CM decisions (comorbidity.hpp) ---------------------------------------------------

TEST(ComorbidityCaveats, E08E09AndE13DiabetesFollowTheE10E14Split) {
  for (std::string_view code : {"E08.9", "E08.00", "E08.65", "E08.8", "E09.9", "E09.10", "E09.649",
                                "E13.9", "E13.10", "E13.65"}) {
    SCOPED_TRACE(std::string(code));
    EXPECT_EQ(conditions_of(code), std::vector<condition>{condition::diab});
  }
  for (std::string_view code : {"E08.22", "E08.311", "E08.40", "E08.51", "E09.21", "E09.3553",
                                "E09.42", "E09.52", "E13.22", "E13.40", "E13.51"}) {
    SCOPED_TRACE(std::string(code));
    EXPECT_EQ(conditions_of(code), std::vector<condition>{condition::diabwc});
  }
}

TEST(ComorbidityCaveats, E11Dot6xIsUncomplicatedAsInQuan) {
  for (std::string_view code :
       {"E11.610", "E11.618", "E11.620", "E11.621", "E11.622", "E11.628", "E11.630", "E11.638",
        "E11.641", "E11.649", "E11.65", "E11.69", "E10.65", "E10.641"}) {
    SCOPED_TRACE(std::string(code));
    EXPECT_EQ(conditions_of(code), std::vector<condition>{condition::diab});
  }
  // A coded chronic complication next to it decides: diabwc, and diab dropped.
  const auto res = assess({"E11.621", "E11.51"});
  EXPECT_TRUE(res.counts(condition::diabwc));
  EXPECT_EQ(res.find(condition::diab)->superseded_by, condition::diabwc);
  EXPECT_EQ(res.sum, 2);
}

TEST(ComorbidityCaveats, EveryF02CodeIsDementia) {
  for (std::string_view code : {"F02.80", "F02.81", "F02.811", "F02.818", "F02.82", "F02.83",
                                "F02.84", "F02.A0", "F02.B11", "F02.C4", "F01.50", "F03.90"}) {
    SCOPED_TRACE(std::string(code));
    EXPECT_EQ(conditions_of(code), std::vector<condition>{condition::dementia});
  }
  // Dementia in Parkinson's, coded as the guideline asks (the disease first): one condition.
  const auto res = assess({"G20", "F02.80"});
  EXPECT_EQ(found(res), std::vector<condition>{condition::dementia});
  EXPECT_EQ(res.sum, 3);
}

TEST(ComorbidityCaveats, Z21AsymptomaticHivIsNotAids) {
  const auto z21 = assess({"Z21"});
  EXPECT_TRUE(z21.conditions.empty());
  EXPECT_EQ(z21.considered, 1u);
  EXPECT_EQ(z21.sum, 0);
  // B20 (HIV disease) is, under every set; with Z21 beside it nothing changes.
  EXPECT_EQ(conditions_of("B20"), std::vector<condition>{condition::aids});
  EXPECT_EQ(assess({"B20", "Z21"}, weight_set::lace).sum, 4);
  EXPECT_EQ(assess({"B20"}, weight_set::charlson_1987).sum, 6);
  EXPECT_EQ(assess({"B20"}, weight_set::quan_2011).sum, 4);
  // Quan's WHO-only HIV codes still read in WHO ICD-10 feeds.
  const std::vector<r::diagnosis_code> who = {{r::icd10_system, "B22.7"}};
  EXPECT_TRUE(r::assess_comorbidity(who, weight_set::lace).counts(condition::aids));
}

TEST(ComorbidityCaveats, CkdStage1And2AreMildRenalNotCharlsonRenal) {
  for (std::string_view code : {"N18.1", "N18.2"}) {
    SCOPED_TRACE(std::string(code));
    EXPECT_EQ(conditions_of(code), std::vector<condition>{condition::mrend});
    EXPECT_EQ(assess({code}, weight_set::lace).sum, 2);           // LACE "mild renal" +2
    EXPECT_EQ(assess({code}, weight_set::charlson_1987).sum, 0);  // not Charlson renal disease
    EXPECT_EQ(assess({code}, weight_set::quan_2011).sum, 0);
  }
  for (std::string_view code : {"N18.30", "N18.31", "N18.32", "N18.4", "N18.5", "N18.6", "N18.9"}) {
    SCOPED_TRACE(std::string(code));
    EXPECT_EQ(conditions_of(code), std::vector<condition>{condition::rend});
    EXPECT_EQ(assess({code}, weight_set::lace).sum, 4);  // LACE "moderate/severe renal" +4
    EXPECT_EQ(assess({code}, weight_set::charlson_1987).sum, 2);
    EXPECT_EQ(assess({code}, weight_set::quan_2011).sum, 1);
  }
}

// --- Chronic-condition flags -----------------------------------------------------------------

TEST(ComorbidityChronic, EachFlagWithTheCodesThatSetIt) {
  const auto dx = cm({"E11.65", "E08.9", "I25.10", "I21.4", "I50.9", "I13.0", "I09.81", "J45.909",
                      "J44.1", "J43.9", "N18.4"});
  const auto res = r::find_chronic_conditions(dx);
  EXPECT_TRUE(res.known());
  EXPECT_EQ(res.considered, 11u);
  using cc = r::chronic_condition;
  const auto codes = [&](cc c) { return res.flags[static_cast<std::size_t>(c)].codes; };
  EXPECT_EQ(codes(cc::diabetes), (std::vector<std::string>{"E11.65", "E08.9"}));
  EXPECT_EQ(codes(cc::ischemic_heart_disease), (std::vector<std::string>{"I25.10", "I21.4"}));
  EXPECT_EQ(codes(cc::heart_failure), (std::vector<std::string>{"I50.9", "I13.0", "I09.81"}));
  EXPECT_EQ(codes(cc::asthma), (std::vector<std::string>{"J45.909"}));
  EXPECT_EQ(codes(cc::copd), (std::vector<std::string>{"J44.1", "J43.9"}));
  for (std::size_t i = 0; i < r::chronic_condition_count; ++i) {
    EXPECT_TRUE(res.flags[i].present);
    EXPECT_EQ(res.flags[i].which, static_cast<cc>(i));
    EXPECT_EQ(r::chronic_condition_from_string(r::to_string(static_cast<cc>(i))),
              static_cast<cc>(i));
  }
}

TEST(ComorbidityChronic, CodesOutsideTheFlagsSetNothing) {
  // Gestational diabetes, prediabetes, insulin use, cardiomyopathy (chf in Charlson, not heart
  // failure here), hypertensive CKD without heart failure, acute bronchitis, bronchiectasis.
  const auto dx = cm({"O24.410", "R73.03", "Z79.4", "I42.0", "I12.9", "I13.10", "J20.9", "J47.9"});
  const auto res = r::find_chronic_conditions(dx);
  EXPECT_TRUE(res.known());
  for (const auto& f : res.flags) {
    EXPECT_FALSE(f.present) << r::to_string(f.which);
    EXPECT_TRUE(f.codes.empty());
  }
}

TEST(ComorbidityChronic, NoConsideredCodeMeansUnknownNotAbsent) {
  const std::vector<r::diagnosis_code> dx = {{"http://hl7.org/fhir/sid/icd-9-cm", "250.00"},
                                             {r::icd10cm_system, "not a code"}};
  const auto res = r::find_chronic_conditions(dx);
  EXPECT_FALSE(res.known());
  EXPECT_EQ(res.not_considered.size(), 2u);
  EXPECT_FALSE(r::find_chronic_conditions({}).known());
  EXPECT_FALSE(res.has(r::chronic_condition::diabetes));
}

}  // namespace
