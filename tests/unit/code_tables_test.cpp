// Unit tests of the code tables (mappings/fhir/code_tables.hpp) and of the shipped tables in
// mappings/tables/*.csv: the values come from the HL7 v2-to-FHIR IG concept maps, THO and NUBC.

#include "mappings/fhir/code_tables.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace f = carebridge::mappings::fhir;
namespace tbl = carebridge::mappings::fhir::table;

const std::filesystem::path k_tables_dir =
    std::filesystem::path(CAREBRIDGE_SOURCE_DIR) / "mappings" / "tables";

const f::code_tables& builtin() {
  return f::code_tables::builtin();
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

f::code_tables must_parse(std::string_view table, std::string_view csv) {
  auto r = f::code_tables::from_csv(table, csv, "test.csv");
  if (!r) throw std::runtime_error("from_csv failed: " + r.error().describe());
  return *r;
}

f::table_error must_fail(std::string_view table, std::string_view csv) {
  auto r = f::code_tables::from_csv(table, csv, "sender.csv");
  if (r) throw std::runtime_error("from_csv accepted a bad table");
  return r.error();
}

// Expects `code` in `table` to map to exactly system|target.
void expect_maps(const f::code_tables& t, std::string_view table, std::string_view code,
                 std::string_view system, std::string_view target) {
  SCOPED_TRACE(std::string(table) + " " + std::string(code));
  const f::coding* c = t.find(table, code);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->system, system);
  EXPECT_EQ(c->code, target);
  EXPECT_FALSE(c->display.empty());
}

const std::vector<std::string_view> k_named_tables = {
    tbl::patient_class,
    tbl::admission_type,
    tbl::discharge_disposition,
    tbl::sex,
    tbl::name_use,
    tbl::address_use,
    tbl::address_type,
    tbl::telecom_use,
    tbl::telecom_system,
    tbl::identifier_type,
    tbl::coding_system,
    tbl::diagnosis_type,
    tbl::hospital_service,
    tbl::readmission,
    tbl::relationship,
    tbl::marital_status,
    tbl::abnormal_flag,
    tbl::observation_status,
    tbl::admit_source,
    tbl::encounter_status,
};

constexpr std::string_view k_act_code = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
constexpr std::string_view k_nubc = "https://www.nubc.org/CodeSystem/PatDischargeStatus";

// ---------------------------------------------------------------------------------------------
// The shipped tables

TEST(CodeTablesBuiltin, EveryNamedTableIsShippedAndNotEmpty) {
  for (std::string_view name : k_named_tables) {
    EXPECT_GT(builtin().size(name), 0u) << name;
    EXPECT_TRUE(std::filesystem::exists(k_tables_dir / (std::string(name) + ".csv"))) << name;
  }
  EXPECT_EQ(builtin().tables().size(), k_named_tables.size());
}

TEST(CodeTablesBuiltin, EveryShippedFileParsesAndMatchesTheCompiledInCopy) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(k_tables_dir)) {
    if (entry.path().extension() != ".csv") continue;
    const std::string name = entry.path().stem().string();
    files.push_back(name);
    auto parsed =
        f::code_tables::from_csv(name, read_file(entry.path()), entry.path().filename().string());
    ASSERT_TRUE(parsed) << parsed.error().describe();
    EXPECT_EQ(parsed->size(name), builtin().size(name)) << name << ": rebuild after editing a CSV";
    parsed->for_each_row(name, [&](std::string_view code, const f::coding& c) {
      const f::coding* shipped = builtin().find(name, code);
      ASSERT_NE(shipped, nullptr) << name << " " << code;
      EXPECT_EQ(*shipped, c) << name << " " << code;
    });
  }
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, builtin().tables());
}

TEST(CodeTablesBuiltin, EveryRowHasACodeATargetAndASystem) {
  for (const std::string& name : builtin().tables()) {
    builtin().for_each_row(name, [&](std::string_view code, const f::coding& c) {
      SCOPED_TRACE(name + " " + std::string(code));
      EXPECT_FALSE(code.empty());
      EXPECT_FALSE(c.code.empty());
      if (name == tbl::coding_system) {
        EXPECT_TRUE(c.system.empty());
        EXPECT_TRUE(c.code.starts_with("http://") || c.code.starts_with("https://"));
      } else {
        EXPECT_TRUE(c.system.starts_with("http://") || c.system.starts_with("https://"));
      }
      EXPECT_EQ(c.code.find_first_of(" \t\r\n"), std::string::npos);
      EXPECT_EQ(code.find_first_of(" \t\r\n"), std::string_view::npos);
    });
  }
}

TEST(CodeTablesBuiltin, NoTwoCodesInATableDifferOnlyInCase) {
  // Otherwise the case-insensitive fallback would have to pick one of them.
  for (const std::string& name : builtin().tables()) {
    std::set<std::string> folded;
    builtin().for_each_row(name, [&](std::string_view code, const f::coding&) {
      std::string lower(code);
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      EXPECT_TRUE(folded.insert(lower).second) << name << " " << code;
    });
  }
}

TEST(CodeTablesBuiltin, PatientClass) {
  expect_maps(builtin(), tbl::patient_class, "E", k_act_code, "EMER");
  expect_maps(builtin(), tbl::patient_class, "I", k_act_code, "IMP");
  expect_maps(builtin(), tbl::patient_class, "O", k_act_code, "AMB");
  expect_maps(builtin(), tbl::patient_class, "P", k_act_code, "PRENC");
  expect_maps(builtin(), tbl::patient_class, "S", k_act_code, "SS");
  expect_maps(builtin(), tbl::patient_class, "V", k_act_code, "OBSENC");
  expect_maps(builtin(), tbl::patient_class, "R", "http://terminology.hl7.org/CodeSystem/v2-0004",
              "R");
  EXPECT_EQ(builtin().find(tbl::patient_class, "I")->display, "inpatient encounter");
  EXPECT_EQ(builtin().find(tbl::patient_class, "B")->display, "Obstetrics");
  EXPECT_EQ(builtin().size(tbl::patient_class), 11u);
}

TEST(CodeTablesBuiltin, EncounterStatusFromPatientClass) {
  constexpr std::string_view status = "http://hl7.org/fhir/encounter-status";
  expect_maps(builtin(), tbl::encounter_status, "P", status, "planned");
  expect_maps(builtin(), tbl::encounter_status, "I", status, "in-progress");
  expect_maps(builtin(), tbl::encounter_status, "E", status, "in-progress");
  expect_maps(builtin(), tbl::encounter_status, "U", status, "unknown");
}

TEST(CodeTablesBuiltin, DischargeDispositionIsNubc) {
  expect_maps(builtin(), tbl::discharge_disposition, "01", k_nubc, "01");
  EXPECT_NE(builtin().find(tbl::discharge_disposition, "01")->display.find("home"),
            std::string::npos);
  // Senders that drop the leading zero.
  expect_maps(builtin(), tbl::discharge_disposition, "1", k_nubc, "01");
  expect_maps(builtin(), tbl::discharge_disposition, "7", k_nubc, "07");
  EXPECT_EQ(*builtin().find(tbl::discharge_disposition, "3"),
            *builtin().find(tbl::discharge_disposition, "03"));
  expect_maps(builtin(), tbl::discharge_disposition, "20", k_nubc, "20");
  EXPECT_EQ(builtin().find(tbl::discharge_disposition, "20")->display, "Expired");
  expect_maps(builtin(), tbl::discharge_disposition, "95", k_nubc, "95");
  // The quoted display (it has commas) arrives whole.
  EXPECT_EQ(builtin().find(tbl::discharge_disposition, "41")->display,
            "Expired in a medical facility (e.g. hospital, SNF, ICF, or freestanding hospice) "
            "(hospice claims only)");
  EXPECT_EQ(builtin().find(tbl::discharge_disposition, "08"), nullptr);  // retired
  EXPECT_EQ(builtin().find(tbl::discharge_disposition, "8"), nullptr);
  EXPECT_EQ(builtin().find(tbl::discharge_disposition, "99"), nullptr);
}

TEST(CodeTablesBuiltin, OtherVocabularies) {
  expect_maps(builtin(), tbl::sex, "F", "http://hl7.org/fhir/administrative-gender", "female");
  expect_maps(builtin(), tbl::sex, "A", "http://hl7.org/fhir/administrative-gender", "other");
  expect_maps(builtin(), tbl::admission_type, "E", "http://terminology.hl7.org/CodeSystem/v2-0007",
              "E");
  EXPECT_EQ(builtin().find(tbl::admission_type, "EM"), nullptr);  // local codes are not invented
  expect_maps(builtin(), tbl::identifier_type, "MR",
              "http://terminology.hl7.org/CodeSystem/v2-0203", "MR");
  EXPECT_EQ(builtin().find(tbl::identifier_type, "MR")->display, "Medical record number");
  expect_maps(builtin(), tbl::relationship, "SEL",
              "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "ONESELF");
  expect_maps(builtin(), tbl::relationship, "EMC", "http://terminology.hl7.org/CodeSystem/v2-0131",
              "C");
  expect_maps(builtin(), tbl::telecom_system, "Internet",
              "http://hl7.org/fhir/contact-point-system", "email");
  expect_maps(builtin(), tbl::telecom_system, "CP", "http://hl7.org/fhir/contact-point-system",
              "phone");
  expect_maps(builtin(), tbl::diagnosis_type, "A",
              "http://terminology.hl7.org/CodeSystem/diagnosis-role", "AD");
  expect_maps(builtin(), tbl::diagnosis_type, "W", "http://terminology.hl7.org/CodeSystem/v2-0052",
              "W");
  expect_maps(builtin(), tbl::abnormal_flag, "HH",
              "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "HH");
  expect_maps(builtin(), tbl::abnormal_flag, "<",
              "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "<");
  expect_maps(builtin(), tbl::observation_status, "F", "http://hl7.org/fhir/observation-status",
              "final");
  expect_maps(builtin(), tbl::observation_status, "W", "http://hl7.org/fhir/observation-status",
              "entered-in-error");
  expect_maps(builtin(), tbl::admit_source, "4",
              "http://terminology.hl7.org/CodeSystem/admit-source", "hosp-trans");
  EXPECT_EQ(builtin().find(tbl::admit_source, "5"), nullptr);  // SNF or newborn: ambiguous
}

TEST(CodeTablesBuiltin, CodingSystemNamesGiveUris) {
  expect_maps(builtin(), tbl::coding_system, "I10", "", "http://hl7.org/fhir/sid/icd-10-cm");
  expect_maps(builtin(), tbl::coding_system, "ICD10CM", "", "http://hl7.org/fhir/sid/icd-10-cm");
  expect_maps(builtin(), tbl::coding_system, "LN", "", "http://loinc.org");
  expect_maps(builtin(), tbl::coding_system, "SCT", "", "http://snomed.info/sct");
  expect_maps(builtin(), tbl::coding_system, "SSA", "", "http://hl7.org/fhir/sid/us-ssn");
  EXPECT_EQ(builtin().find(tbl::coding_system, "C5"), nullptr);  // CPT-5, not HCPCS
  EXPECT_EQ(builtin().find(tbl::coding_system, "99LOCAL"), nullptr);
}

TEST(CodeTablesBuiltin, Hl7TableNamesGiveTheV2CodeSystem) {
  const f::coding* c = builtin().find(tbl::coding_system, "HL70004");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->code, "http://terminology.hl7.org/CodeSystem/v2-0004");
  EXPECT_TRUE(c->system.empty());
  // Same object each time (made once), any case.
  EXPECT_EQ(builtin().find(tbl::coding_system, "HL70004"), c);
  EXPECT_EQ(builtin().find(tbl::coding_system, "hl70004"), c);
  EXPECT_EQ(builtin().find(tbl::coding_system, "HL70396")->code,
            "http://terminology.hl7.org/CodeSystem/v2-0396");
  // Only "HL7" + exactly 4 digits, and only in the coding-system table.
  EXPECT_EQ(builtin().find(tbl::coding_system, "HL7004"), nullptr);
  EXPECT_EQ(builtin().find(tbl::coding_system, "HL700041"), nullptr);
  EXPECT_EQ(builtin().find(tbl::coding_system, "HL7000A"), nullptr);
  EXPECT_EQ(builtin().find(tbl::coding_system, "HX70004"), nullptr);
  EXPECT_EQ(builtin().find(tbl::patient_class, "HL70004"), nullptr);
  // A row for the name wins.
  f::code_tables t = builtin();
  t.set(tbl::coding_system, "HL70004", {"", "urn:example:class", "local"});
  EXPECT_EQ(t.find(tbl::coding_system, "HL70004")->code, "urn:example:class");
}

TEST(CodeTablesBuiltin, CaseInsensitiveFallback) {
  expect_maps(builtin(), tbl::sex, "f", "http://hl7.org/fhir/administrative-gender", "female");
  expect_maps(builtin(), tbl::patient_class, "e", k_act_code, "EMER");
  expect_maps(builtin(), tbl::coding_system, "loinc", "", "http://loinc.org");
  expect_maps(builtin(), tbl::telecom_system, "INTERNET",
              "http://hl7.org/fhir/contact-point-system", "email");
  expect_maps(builtin(), tbl::telecom_system, "x.400", "http://hl7.org/fhir/contact-point-system",
              "email");
}

TEST(CodeTablesBuiltin, UnknownCodeOrTableIsNull) {
  EXPECT_EQ(builtin().find(tbl::patient_class, "Z"), nullptr);
  EXPECT_EQ(builtin().find(tbl::patient_class, ""), nullptr);
  EXPECT_EQ(builtin().find(tbl::patient_class, "EE"), nullptr);  // not a prefix match
  EXPECT_EQ(builtin().find("no-such-table", "E"), nullptr);
  EXPECT_EQ(builtin().size("no-such-table"), 0u);
}

// ---------------------------------------------------------------------------------------------
// Lookup order

TEST(CodeTablesLookup, ExactMatchBeatsCaseInsensitive) {
  auto t = must_parse("t",
                      "code,system,target,display\n"
                      "ab,urn:s,lower,\n"
                      "AB,urn:s,upper,\n"
                      "Xy,urn:s,mixed,\n");
  EXPECT_EQ(t.find("t", "ab")->code, "lower");
  EXPECT_EQ(t.find("t", "AB")->code, "upper");
  EXPECT_EQ(t.find("t", "xy")->code, "mixed");
  EXPECT_EQ(t.find("t", "XY")->code, "mixed");
  // Several rows equal ignoring case: the first in code order ("AB" < "ab").
  EXPECT_EQ(t.find("t", "Ab")->code, "upper");
  EXPECT_EQ(t.find("t", "a"), nullptr);
  EXPECT_EQ(t.find("t", "abc"), nullptr);
}

TEST(CodeTablesLookup, NonAsciiBytesCompareExactly) {
  auto t = must_parse("t", "code,system,target,display\n\xC3\x89t\xC3\xA9,urn:s,x,\n");
  EXPECT_NE(t.find("t", "\xC3\x89t\xC3\xA9"), nullptr);
  EXPECT_EQ(t.find("t", "\xC3\xA9t\xC3\xA9"), nullptr);  // no Unicode case folding
}

// ---------------------------------------------------------------------------------------------
// The CSV form

TEST(CodeTablesCsv, CommentsBlankLinesCrlfAndBom) {
  auto t = must_parse("t",
                      "\xEF\xBB\xBF# a comment\r\n"
                      "# another, with \"quotes\"\r\n"
                      "\r\n"
                      "code,system,target,display\r\n"
                      "A,urn:s,a,Alpha\r\n"
                      "\r\n"
                      "B,urn:s,b,Beta");  // no final line break
  EXPECT_EQ(t.size("t"), 2u);
  EXPECT_EQ(*t.find("t", "A"), (f::coding{"urn:s", "a", "Alpha"}));
  EXPECT_EQ(*t.find("t", "B"), (f::coding{"urn:s", "b", "Beta"}));
  EXPECT_EQ(t.tables(), std::vector<std::string>{"t"});
}

TEST(CodeTablesCsv, Rfc4180Quoting) {
  auto t = must_parse("t",
                      "code,system,target,display\n"
                      "A,urn:s,a,\"Expired, place unknown\"\n"
                      "\"B,2\",urn:s,b,\"He said \"\"hi\"\"\"\n"
                      "C,\"urn:s\",c,\"two\nlines\"\n"
                      "D,urn:s,d,\"\"\n");
  EXPECT_EQ(t.find("t", "A")->display, "Expired, place unknown");
  EXPECT_EQ(t.find("t", "B,2")->display, "He said \"hi\"");
  EXPECT_EQ(t.find("t", "C")->display, "two\nlines");
  EXPECT_EQ(t.find("t", "C")->system, "urn:s");
  EXPECT_EQ(t.find("t", "D")->display, "");
}

TEST(CodeTablesCsv, HeaderOnlyIsAnEmptyTable) {
  auto t = must_parse("t", "# nothing yet\ncode,system,target,display\n");
  EXPECT_EQ(t.size("t"), 0u);
  EXPECT_EQ(t.tables(), std::vector<std::string>{"t"});
}

TEST(CodeTablesCsv, CodingSystemRowsMayLeaveSystemEmpty) {
  auto t = must_parse(tbl::coding_system, "code,system,target,display\nXY,,urn:xy,XY\n");
  EXPECT_EQ(t.find(tbl::coding_system, "XY")->code, "urn:xy");
  auto e = must_fail("other", "code,system,target,display\nXY,,urn:xy,XY\n");
  EXPECT_EQ(e.where, "sender.csv:2");
  EXPECT_NE(e.what.find("empty system"), std::string::npos) << e.what;
}

TEST(CodeTablesCsv, BadHeader) {
  auto e = must_fail("t", "# c1\n# c2\ncode,system,target\nA,urn:s,a,x\n");
  EXPECT_EQ(e.where, "sender.csv:3");
  EXPECT_NE(e.what.find("bad header"), std::string::npos) << e.what;

  e = must_fail("t", "code,target,system,display\n");
  EXPECT_EQ(e.where, "sender.csv:1");

  e = must_fail("t", "# only comments\n\n");
  EXPECT_EQ(e.where, "sender.csv:3");
  EXPECT_NE(e.what.find("no header"), std::string::npos) << e.what;

  e = must_fail("t", "");
  EXPECT_EQ(e.where, "sender.csv:1");
}

TEST(CodeTablesCsv, WrongColumnCount) {
  auto e = must_fail("t", "code,system,target,display\nA,urn:s,a,x\n\nB,urn:s,SECRET\n");
  EXPECT_EQ(e.where, "sender.csv:4");
  EXPECT_EQ(e.what, "expected 4 columns (code,system,target,display), found 3");

  e = must_fail("t", "code,system,target,display\nA,urn:s,a,x,SECRET\n");
  EXPECT_EQ(e.where, "sender.csv:2");
  EXPECT_NE(e.what.find("found 5"), std::string::npos) << e.what;
}

TEST(CodeTablesCsv, EmptyCodeOrTarget) {
  auto e = must_fail("t", "code,system,target,display\n,urn:s,a,SECRET\n");
  EXPECT_EQ(e.where, "sender.csv:2");
  EXPECT_EQ(e.what, "empty code");

  e = must_fail("t", "code,system,target,display\nA,urn:s,a,x\nB,urn:s,,SECRET\n");
  EXPECT_EQ(e.where, "sender.csv:3");
  EXPECT_EQ(e.what, "empty target for code 'B'");
}

TEST(CodeTablesCsv, DuplicateCode) {
  auto e = must_fail("t",
                     "code,system,target,display\n"
                     "A,urn:s,a,x\n"
                     "b,urn:s,b,x\n"
                     "A,urn:s,SECRET,SECRET\n");
  EXPECT_EQ(e.where, "sender.csv:4");
  EXPECT_EQ(e.what, "duplicate code 'A' (first at line 2)");
  EXPECT_EQ(e.describe(), "sender.csv:4: duplicate code 'A' (first at line 2)");
  // Codes that differ in case are different codes.
  EXPECT_EQ(must_parse("t", "code,system,target,display\nA,urn:s,a,\na,urn:s,b,\n").size("t"), 2u);
}

TEST(CodeTablesCsv, QuotingErrorsGiveTheLineTheRecordStartsOn) {
  auto e = must_fail("t",
                     "code,system,target,display\n"
                     "A,urn:s,a,\"one\ntwo\"\n"
                     "B,urn:s,b,\"SECRET never closed\n"
                     "C,urn:s,c,x\n");
  EXPECT_EQ(e.where, "sender.csv:4");
  EXPECT_EQ(e.what, "unterminated quoted field");

  // Line numbers after a multi-line field stay physical.
  e = must_fail("t", "code,system,target,display\nA,urn:s,a,\"one\r\ntwo\"\r\nB,urn:s\r\n");
  EXPECT_EQ(e.where, "sender.csv:4");

  e = must_fail("t", "code,system,target,display\nA,urn:s,a,\"SECRET\"x\n");
  EXPECT_EQ(e.where, "sender.csv:2");
  EXPECT_EQ(e.what, "text after a closing quote");

  e = must_fail("t", "code,system,target,display\nA,urn:s,a,SE\"CRET\n");
  EXPECT_EQ(e.what, "a quote inside an unquoted field");
}

TEST(CodeTablesCsv, ErrorsCarryNoRowContentButAPrintableCode) {
  const std::string bad_rows[] = {
      "code,system,target,display\nA,urn:s,SECRET\n",
      "code,system,target,display\n,SECRET,SECRET,SECRET\n",
      "code,system,target,display\nA,,SECRET,SECRET\n",
      "code,system,target,display\nA,SECRET,,SECRET\n",
      "code,system,target,display\nA,urn:s,a,\"SECRET\n",
      "code,system,target,display\nA,urn:s,a,x\nA,SECRET,SECRET,SECRET\n",
  };
  for (const std::string& csv : bad_rows) {
    auto e = must_fail("t", csv);
    EXPECT_EQ(e.describe().find("SECRET"), std::string::npos) << e.describe();
  }
  auto e =
      must_fail("t", "code,system,target,display\nA\x01" + std::string(40, 'Z') + ",urn:s,,x\n");
  EXPECT_EQ(e.what, "empty target for code 'A?" + std::string(30, 'Z') + "...'");
}

TEST(CodeTablesCsv, ValueThrowsWithTheDescription) {
  auto r = f::code_tables::from_csv("t", "code,system,target,display\n,urn:s,a,\n", "x.csv");
  ASSERT_FALSE(r);
  try {
    (void)r.value();
    FAIL() << "value() did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "x.csv:2: empty code");
  }
}

// ---------------------------------------------------------------------------------------------
// Sender overrides

TEST(CodeTablesOverride, SetReplacesOrAddsOneRow) {
  f::code_tables sender = builtin();
  sender.set(tbl::patient_class, "E", {"urn:local", "ED", "Emergency dept"});
  sender.set(tbl::patient_class, "OBS", {std::string(k_act_code), "OBSENC", "observation"});
  sender.set("new-table", "x", {"urn:s", "y", ""});
  EXPECT_EQ(*sender.find(tbl::patient_class, "E"),
            (f::coding{"urn:local", "ED", "Emergency dept"}));
  EXPECT_EQ(sender.find(tbl::patient_class, "obs")->code, "OBSENC");
  EXPECT_EQ(sender.find(tbl::patient_class, "I")->code, "IMP");  // untouched rows stay
  EXPECT_EQ(sender.size(tbl::patient_class), builtin().size(tbl::patient_class) + 1);
  EXPECT_EQ(sender.find("new-table", "x")->code, "y");
  // The built-ins are a separate copy.
  EXPECT_EQ(builtin().find(tbl::patient_class, "E")->code, "EMER");
  EXPECT_EQ(builtin().find(tbl::patient_class, "OBS"), nullptr);
  EXPECT_EQ(builtin().size("new-table"), 0u);
}

TEST(CodeTablesOverride, MergeLayersASendersTablesOverTheBuiltins) {
  auto overrides = must_parse(tbl::discharge_disposition,
                              "code,system,target,display\n"
                              "HOME,https://www.nubc.org/CodeSystem/PatDischargeStatus,01,Home\n"
                              "20,http://terminology.hl7.org/CodeSystem/discharge-disposition,exp,"
                              "Expired\n");
  f::code_tables sender = builtin();
  sender.merge(overrides);
  EXPECT_EQ(sender.find(tbl::discharge_disposition, "home")->code, "01");
  EXPECT_EQ(sender.find(tbl::discharge_disposition, "20")->code, "exp");
  EXPECT_EQ(sender.find(tbl::discharge_disposition, "01")->system, k_nubc);
  EXPECT_EQ(sender.size(tbl::discharge_disposition),
            builtin().size(tbl::discharge_disposition) + 1);
  EXPECT_EQ(sender.tables(), builtin().tables());

  // A later layer wins; merging a table with itself changes nothing.
  f::code_tables later;
  later.set(tbl::discharge_disposition, "20", {"urn:s", "dead", ""});
  sender.merge(later);
  EXPECT_EQ(sender.find(tbl::discharge_disposition, "20")->code, "dead");
  const std::size_t before = sender.size(tbl::discharge_disposition);
  sender.merge(sender);
  EXPECT_EQ(sender.size(tbl::discharge_disposition), before);
}

TEST(CodeTablesOverride, OverrideInAnotherCaseSitsBesideTheBuiltIn) {
  f::code_tables sender = builtin();
  sender.set(tbl::sex, "f", {"http://hl7.org/fhir/administrative-gender", "other", "Other"});
  EXPECT_EQ(sender.find(tbl::sex, "f")->code, "other");   // exact
  EXPECT_EQ(sender.find(tbl::sex, "F")->code, "female");  // exact
}

TEST(CodeTablesLookup, ManyRowsAndKeysThatShareBytes) {
  // Enough rows to grow the exact-match index several times; table and code split differently
  // across the same bytes ("ab" + "c" and "a" + "bc"), codes of every length around the word sizes
  // the hash reads, and a replaced row after the growth.
  f::code_tables t;
  std::vector<std::pair<std::string, std::string>> keys;
  for (int i = 0; i < 2000; ++i) {
    const std::string table = i % 3 == 0 ? "ab" : i % 3 == 1 ? "a" : "table-with-a-long-name";
    std::string code = (i % 3 == 1 ? "b" : "") + std::to_string(i);
    code.append(static_cast<std::size_t>(i % 19), 'x');
    t.set(table, code, {"urn:s", std::to_string(i), ""});
    keys.emplace_back(table, code);
  }
  t.set("ab", "0", {"urn:s", "replaced", ""});
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const f::coding* c = t.find(keys[i].first, keys[i].second);
    ASSERT_NE(c, nullptr) << keys[i].first << " " << keys[i].second;
    EXPECT_EQ(c->code, i == 0 ? "replaced" : std::to_string(i));
  }
  EXPECT_EQ(t.size("ab") + t.size("a") + t.size("table-with-a-long-name"), keys.size());
  // "a" + "b1x" is a row (i = 1); the same bytes split as "ab" + "1x" are not, nor a prefix.
  EXPECT_NE(t.find("a", "b1x"), nullptr);
  EXPECT_EQ(t.find("ab", "1x"), nullptr);
  EXPECT_EQ(t.find("a", "b1"), nullptr);
  EXPECT_EQ(t.find("", ""), nullptr);
  // A copy finds the same rows; changing it leaves the original as it was.
  f::code_tables copy = t;
  copy.set("a", "b1x", {"urn:s", "changed", ""});
  EXPECT_EQ(copy.find("a", "b1x")->code, "changed");
  EXPECT_EQ(t.find("a", "b1x")->code, "1");
}

TEST(CodeTablesOverride, TablesAreListedSorted) {
  f::code_tables t;
  EXPECT_TRUE(t.tables().empty());
  t.set("b", "1", {"urn:s", "1", ""});
  t.set("a", "1", {"urn:s", "1", ""});
  EXPECT_EQ(t.tables(), (std::vector<std::string>{"a", "b"}));
  const auto names = builtin().tables();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

}  // namespace
