// The clinical event's stored form (mappings/event/clinical_event): to_json()/from_json() round trip
// every field, absent values are left out, and what is not a clinical event is rejected.
#include "mappings/event/clinical_event.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <cmath>
#include <limits>
#include <string>

namespace {

namespace ev = carebridge::mappings::event;
using ::testing::HasSubstr;
using ::testing::Not;

// Every field set, none to its default, each with a distinct value.
ev::clinical_event full_event() {
  ev::clinical_event e;
  e.kind = ev::event_kind::discharge;
  e.trigger = "A03";
  e.source = "hl7v2";
  e.facility = "STBRIGID";
  e.control_id = "STB202611041152030008";
  e.recorded = "2026-11-04T11:40:00-05:00";
  e.patient_ids = {{"urn:oid:2.16.840.1.113883.19.2", "SB21288734", "MR", "STBRIGID"},
                   {"http://hl7.org/fhir/sid/us-ssn", "987364419", "SS", "SSA"}};
  e.family = "Doherty \"Frank\" O'Neil\\";
  e.given = "Fran\xC3\xA7ois";  // UTF-8 survives
  e.birth_date = "1947-06-03";
  e.sex = "male";
  e.postal_code = "02127";
  e.phone = "+1 (617) 555-0155";
  e.member_id = "HMA300481772";
  e.member_ids = {{"urn:oid:2.16.840.1.113883.19.213", "HMA300481772", "MB", "HARBORMA"}};
  e.patient_resource_id = "7f57d7f4-10ed-8774-b6eb-6119f480fa3f";
  e.visit_id = "4471782215";
  e.encounter_resource_id = "6bc8a9ba-3903-8761-bd64-fbfe89642e70";
  e.patient_class = "IMP";
  e.admit_time = "2026-10-29T16:25:00-04:00";
  e.discharge_time = "2026-11-04T11:40:00-05:00";
  e.admission_type = "U";
  e.admit_source = {"http://terminology.hl7.org/CodeSystem/admit-source", "gp", "General Practitioner referral", "HL70023"};
  e.service = "MED";
  e.discharge_disposition = {"https://www.nubc.org/CodeSystem/PatDischargeStatus", "06", "Home health", "UB04FL17"};
  e.readmission_flag = true;
  e.length_of_stay_days = 5.75;
  e.diagnoses = {{{"http://hl7.org/fhir/sid/icd-10-cm", "I13.0", "Hypertensive heart and CKD", "I10"}, "DD", 1},
                 {{"http://hl7.org/fhir/sid/icd-10-cm", "R06.00", "Dyspnea", "I10"}, "AD", std::nullopt}};
  e.procedures = {{{"http://www.ama-assn.org/go/cpt", "93306", "Echo", "C4"}, "2026-10-30T10:20:00-04:00"}};
  ev::lab hgb;
  hgb.code = {"http://loinc.org", "718-7", "Hemoglobin", "LN"};
  hgb.value = 10.2;
  hgb.unit = "g/dL";
  hgb.abnormal_flag = "L";
  hgb.effective = "2026-11-20T05:30:00-05:00";
  ev::lab text;
  text.code = {"http://loinc.org", "2951-2", "Sodium", "LN"};
  text.value_text = "133 (hemolyzed)";
  text.effective = "2026-11-20";
  e.labs = {hgb, text};
  e.prior_patient_ids = {{"urn:oid:2.16.840.1.113883.19.4", "M000529904", "MR", "NCH"}};
  return e;
}

TEST(ClinicalEvent, RoundTripsEveryField) {
  const ev::clinical_event e = full_event();
  const std::string json = ev::to_json(e);
  auto back = ev::from_json(json);
  ASSERT_TRUE(back.has_value()) << json;
  EXPECT_TRUE(*back == e);
  // Field by field, so a failure says which one.
  EXPECT_EQ(back->kind, e.kind);
  EXPECT_EQ(back->patient_ids, e.patient_ids);
  EXPECT_EQ(back->family, e.family);
  EXPECT_EQ(back->given, e.given);
  EXPECT_EQ(back->member_ids, e.member_ids);
  EXPECT_EQ(back->admit_source, e.admit_source);
  EXPECT_EQ(back->discharge_disposition, e.discharge_disposition);
  EXPECT_EQ(back->readmission_flag, e.readmission_flag);
  EXPECT_EQ(back->length_of_stay_days, e.length_of_stay_days);
  EXPECT_EQ(back->diagnoses, e.diagnoses);
  EXPECT_EQ(back->procedures, e.procedures);
  EXPECT_EQ(back->labs, e.labs);
  EXPECT_EQ(back->prior_patient_ids, e.prior_patient_ids);
  // And the stored text is stable.
  EXPECT_EQ(ev::to_json(*back), json);
}

TEST(ClinicalEvent, StoredFormIsACompactObjectWithStableKeys) {
  const std::string json = ev::to_json(full_event());
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  ASSERT_FALSE(d.HasParseError());
  ASSERT_TRUE(d.IsObject());
  EXPECT_STREQ(d["kind"].GetString(), "discharge");
  EXPECT_STREQ(d["trigger"].GetString(), "A03");
  EXPECT_STREQ(d["patient_ids"][0]["value"].GetString(), "SB21288734");
  EXPECT_STREQ(d["discharge_disposition"]["code"].GetString(), "06");
  EXPECT_TRUE(d["readmission_flag"].GetBool());
  EXPECT_DOUBLE_EQ(d["length_of_stay_days"].GetDouble(), 5.75);
  EXPECT_EQ(d["diagnoses"][0]["rank"].GetInt(), 1);
  EXPECT_FALSE(d["diagnoses"][1].HasMember("rank"));
  EXPECT_DOUBLE_EQ(d["labs"][0]["value"].GetDouble(), 10.2);
  EXPECT_FALSE(d["labs"][1].HasMember("value"));
  EXPECT_THAT(json, Not(HasSubstr("\n")));
}

TEST(ClinicalEvent, DefaultsAreLeftOutAndComeBack) {
  ev::clinical_event e;
  e.kind = ev::event_kind::update;
  const std::string json = ev::to_json(e);
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d.MemberCount(), 1u) << json;  // only "kind"
  auto back = ev::from_json(json);
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(*back == e);
  EXPECT_FALSE(back->readmission_flag);
  EXPECT_FALSE(back->length_of_stay_days.has_value());
}

TEST(ClinicalEvent, EveryKindHasAName) {
  for (int k = 0; k <= static_cast<int>(ev::event_kind::other); ++k) {
    const auto kind = static_cast<ev::event_kind>(k);
    const std::string_view name = ev::to_string(kind);
    SCOPED_TRACE(name);
    EXPECT_FALSE(name.empty());
    EXPECT_EQ(ev::event_kind_from_string(name), kind);
    ev::clinical_event e;
    e.kind = kind;
    auto back = ev::from_json(ev::to_json(e));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->kind, kind);
  }
  EXPECT_FALSE(ev::event_kind_from_string("Discharge").has_value());
  EXPECT_FALSE(ev::event_kind_from_string("").has_value());
}

TEST(ClinicalEvent, ZeroAndNegativeNumbersSurvive) {
  ev::clinical_event e;
  e.kind = ev::event_kind::lab_result;
  e.length_of_stay_days = 0;
  ev::lab l;
  l.value = -0.5;
  e.labs = {l};
  e.diagnoses = {{{}, "AD", 1}};
  auto back = ev::from_json(ev::to_json(e));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->length_of_stay_days, 0.0);
  EXPECT_EQ(back->labs[0].value, -0.5);
  EXPECT_EQ(back->diagnoses[0].rank, 1);
}

// A lab value as a sender may write it (80 digits: 4.4…e79) reads back as the same double; the
// default fast parse of RapidJSON gave a neighbouring one (found by fuzz_v2_to_fhir).
TEST(ClinicalEvent, LargeNumbersReadBackExactly) {
  ev::clinical_event e;
  e.kind = ev::event_kind::lab_result;
  ev::lab l;
  l.value = std::stod(std::string(80, '4') + ".1");
  e.labs = {l};
  auto back = ev::from_json(ev::to_json(e));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->labs[0].value, l.value);
  EXPECT_EQ(*back, e);
}

TEST(ClinicalEvent, BadJsonIsRejected) {
  for (const char* bad : {"", "{", "[]", "null", "\"discharge\"", "42", "{}", R"({"kind": 3})",
                          R"({"kind": "teleportation"})", R"({"trigger": "A03"})",
                          R"({"kind": "discharge",})", "{\"kind\": \"discharge\"} trailing"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ev::from_json(bad).has_value());
  }
}

TEST(ClinicalEvent, WrongTypesInsideAreIgnoredNotFatal) {
  // A known kind with oddly typed members: read what can be read.
  auto e = ev::from_json(
      R"({"kind": "discharge", "family": 7, "patient_ids": "x", "diagnoses": [1, {"use": "DD"}],
          "readmission_flag": "yes", "length_of_stay_days": "5", "labs": {}})");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->family, "");
  EXPECT_TRUE(e->patient_ids.empty());
  ASSERT_EQ(e->diagnoses.size(), 1u);
  EXPECT_EQ(e->diagnoses[0].use, "DD");
  EXPECT_FALSE(e->readmission_flag);
  EXPECT_FALSE(e->length_of_stay_days.has_value());
  EXPECT_TRUE(e->labs.empty());
}

TEST(ClinicalEvent, OutOfRangeRankIsNotTurnedIntoGarbage) {
  // 1e300 does not fit an int: converting it is undefined; it must be rejected or dropped.
  auto e = ev::from_json(R"({"kind": "discharge", "diagnoses": [{"use": "DD", "rank": 1e300}]})");
  if (e.has_value()) {
    ASSERT_EQ(e->diagnoses.size(), 1u);
    EXPECT_FALSE(e->diagnoses[0].rank.has_value()) << "rank " << *e->diagnoses[0].rank;
  }
  auto f = ev::from_json(R"({"kind": "discharge", "diagnoses": [{"use": "DD", "rank": 2.5}]})");
  if (f.has_value()) {
    ASSERT_EQ(f->diagnoses.size(), 1u);
    EXPECT_NE(f->diagnoses[0].rank, 2) << "a fraction is not a rank";
  }
}

TEST(ClinicalEvent, NonFiniteNumbersStillGiveValidJson) {
  ev::clinical_event e;
  e.kind = ev::event_kind::discharge;
  e.length_of_stay_days = std::numeric_limits<double>::infinity();
  ev::lab l;
  l.value = std::numeric_limits<double>::quiet_NaN();
  e.labs = {l};
  const std::string json = ev::to_json(e);
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  EXPECT_FALSE(d.HasParseError()) << json;
  EXPECT_TRUE(ev::from_json(json).has_value()) << json;
}

}  // namespace
