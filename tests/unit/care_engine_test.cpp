// The care engine: matching, attribution on the event date, encounter history with cancels and
// merges, LACE/HOSPITAL inputs from history and labs, the RiskAssessment and its retraction, the
// alert decision; and the care tables' round trip.
#include "gateway/care/care_db.hpp"
#include "gateway/care/care_engine.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <filesystem>
#include <unistd.h>

namespace carebridge::gateway::care {
namespace {

using mappings::event::clinical_event;
using mappings::event::event_kind;
using ::testing::HasSubstr;

constexpr std::string_view mrn_system = "urn:oid:2.16.840.1.113883.3.999.1";

members::member_record member(std::string id, std::string family, std::string given,
                              std::string dob, std::string sex) {
  members::member_record m;
  m.member_id = std::move(id);
  m.family = std::move(family);
  m.given = std::move(given);
  m.birth_date = std::move(dob);
  m.sex = std::move(sex);
  m.postal_code = "02139";
  return m;
}

std::shared_ptr<const members::roster_snapshot> roster(
    std::int64_t version = 1,
    std::uint8_t g1_alerts = members::alert_discharge | members::alert_ed_visit) {
  auto s = std::make_shared<members::roster_snapshot>();
  s->version = version;
  std::vector<members::member_record> ms;
  ms.push_back(member("M100", "Okafor", "Adaeze", "1950-03-14", "female"));
  ms.push_back(member("M200", "Lindqvist", "Johan", "1962-11-02", "male"));
  // Twins: same family, birth date, postal code; given names alike.
  ms.push_back(member("M300", "Marsh", "Jonathan", "1970-07-07", "male"));
  ms.push_back(member("M301", "Marsh", "Jonathon", "1970-07-07", "male"));
  ms.push_back(member("M400", "Brandt", "Ilse", "1948-01-20", "female"));
  s->index = std::make_unique<members::roster_index>(std::move(ms));
  s->attributions["M100"] = {{"M100", "G1", "2026-01-01", ""}};
  s->attributions["M200"] = {{"M200", "G2", "2025-01-01", "2026-06-30"}};
  s->attributions["M300"] = {{"M300", "G1", "2026-01-01", ""}};
  s->attributions["M301"] = {{"M301", "G1", "2026-01-01", ""}};
  members::physician_group g1{"G1", "Riverside Primary Care", "", "", "moderate", g1_alerts};
  members::physician_group g2{"G2", "Harbor Physicians", "", "", "high", members::alert_discharge};
  s->groups.emplace("G1", g1);
  s->groups.emplace("G2", g2);
  return s;
}

clinical_event stay_event(event_kind kind, std::string mrn, std::string visit, std::string admit,
                          std::string discharge = {}, std::string patient_class = "IMP") {
  clinical_event e;
  e.kind = kind;
  e.source = "hl7v2";
  e.facility = "GENHOSP";
  e.patient_ids.push_back({std::string(mrn_system), mrn, "MR", "GENHOSP"});
  e.patient_resource_id = "pat-" + mrn;
  e.visit_id = visit;
  e.encounter_resource_id = "enc-" + visit;
  e.patient_class = std::move(patient_class);
  e.admit_time = std::move(admit);
  e.discharge_time = std::move(discharge);
  e.recorded = e.discharge_time.empty() ? e.admit_time : e.discharge_time;
  return e;
}

clinical_event okafor(event_kind kind, std::string visit, std::string admit,
                      std::string discharge = {}, std::string cls = "IMP") {
  auto e = stay_event(kind, "MRN1", std::move(visit), std::move(admit), std::move(discharge),
                      std::move(cls));
  e.family = "Okafor";
  e.given = "Adaeze";
  e.birth_date = "1950-03-14";
  e.sex = "female";
  e.postal_code = "02139";
  return e;
}

struct engine_fixture : ::testing::Test {
  care_engine engine;
  store::processing_result out;
  care_changes changes;
  std::int64_t next_message = 1;

  engine_fixture() { engine.set_roster(roster()); }

  care_outcome run(const clinical_event& e) {
    out = {};
    return engine.process(e, next_message++, out, changes);
  }
  const store::resource_row* risk_resource() const {
    for (const auto& r : out.resources)
      if (r.type == "RiskAssessment") return &r;
    return nullptr;
  }
};

TEST(CareInstant, ReadsDatesTimesAndOffsets) {
  EXPECT_EQ(instant_seconds("1970-01-02"), 86400);
  EXPECT_EQ(instant_seconds("2026-03-01T00:00:00Z"), 1772323200);
  EXPECT_EQ(instant_seconds("2026-03-01T05:00:00+05:00"), 1772323200);
  EXPECT_EQ(instant_seconds("2026-02-28T19:00:00-05:00"), 1772323200);
  EXPECT_EQ(instant_seconds("2026-03-01T00:00:00.250Z"), 1772323200);
  EXPECT_EQ(instant_seconds("2026-03-01T00:00"), std::nullopt);  // FHIR needs the seconds
  EXPECT_EQ(instant_seconds("2026-03"), std::nullopt);
  EXPECT_EQ(instant_seconds("2026-02-30"), std::nullopt);
  EXPECT_EQ(instant_seconds(""), std::nullopt);
}

TEST_F(engine_fixture, DischargeWithMemberIdIsAttributedScoredAndAlerted) {
  auto e = okafor(event_kind::discharge, "V1", "2026-10-01T08:00:00-04:00",
                  "2026-10-08T14:00:00-04:00");
  e.member_id = "M100";
  e.admission_type = "E";
  e.diagnoses.push_back({{"http://hl7.org/fhir/sid/icd-10-cm", "I50.9", "", "I10"}, "DD", 1});
  e.diagnoses.push_back({{"http://hl7.org/fhir/sid/icd-10-cm", "E11.9", "", "I10"}, "DD", 2});
  const auto o = run(e);
  EXPECT_EQ(o.match, "linked");
  EXPECT_EQ(o.rule, "member_id");
  EXPECT_EQ(o.member_id, "M100");
  EXPECT_EQ(o.event_date, "2026-10-08");
  EXPECT_EQ(o.attribution, "attributed");
  EXPECT_EQ(o.group_id, "G1");
  ASSERT_NE(risk_resource(), nullptr);
  EXPECT_EQ(o.risk_assessment_id, risk_resource()->id);
  // LACE: L 7 days → 5, A emergent → 3, C heart failure 2 + diabetes 1 (LACE weights) = 3 → 3,
  // E 0 → 0: 11 (high).
  rapidjson::Document d;
  d.Parse(risk_resource()->json.c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_STREQ(d["resourceType"].GetString(), "RiskAssessment");
  EXPECT_STREQ(d["status"].GetString(), "final");
  EXPECT_STREQ(d["subject"]["reference"].GetString(), "Patient/pat-MRN1");
  EXPECT_STREQ(d["encounter"]["reference"].GetString(), "Encounter/enc-V1");
  ASSERT_EQ(d["prediction"].Size(), 2u);
  EXPECT_THAT(d["prediction"][0]["rationale"].GetString(), HasSubstr("LACE"));
  EXPECT_STREQ(d["prediction"][0]["qualitativeRisk"]["coding"][0]["code"].GetString(), "high");
  EXPECT_EQ(o.risk_band, "high");
  EXPECT_TRUE(o.alert_wanted);
  EXPECT_EQ(o.alert_kind, "discharge");
  ASSERT_TRUE(changes.assessment);
  EXPECT_EQ(changes.assessment->status, "final");
  // The same discharge again (a replay) gives the same resource.
  const std::string first = risk_resource()->json;
  run(e);
  ASSERT_NE(risk_resource(), nullptr);
  EXPECT_EQ(risk_resource()->json, first);
}

TEST_F(engine_fixture, DemographicLinkIsLearnedAndUsedForTheNextMessage) {
  auto a = okafor(event_kind::admission, "V2", "2026-10-01T08:00:00Z");
  auto o = run(a);
  EXPECT_EQ(o.match, "linked");
  EXPECT_EQ(o.rule, "demographics");
  EXPECT_EQ(o.member_id, "M100");
  ASSERT_EQ(changes.links.size(), 1u);
  EXPECT_EQ(changes.links[0].patient_id, "pat-MRN1");
  // A later message with only the MRN (no demographics) links through the learned link.
  auto d = stay_event(event_kind::discharge, "MRN1", "V2", "2026-10-01T08:00:00Z",
                      "2026-10-03T08:00:00Z");
  o = run(d);
  EXPECT_EQ(o.match, "linked");
  EXPECT_EQ(o.rule, "patient_link");
  EXPECT_EQ(o.member_id, "M100");
  EXPECT_TRUE(changes.links.empty());
}

TEST_F(engine_fixture, TwinsGoToReviewAndNeverAlert) {
  auto e = stay_event(event_kind::discharge, "MRN9", "V9", "2026-10-01T08:00:00Z",
                      "2026-10-05T08:00:00Z");
  e.family = "Marsh";
  e.given = "Jonathan";
  e.birth_date = "1970-07-07";
  e.sex = "male";
  e.postal_code = "02139";
  const auto o = run(e);
  EXPECT_EQ(o.match, "review");
  EXPECT_TRUE(o.member_id.empty());
  EXPECT_EQ(o.attribution, "no_member");
  EXPECT_FALSE(o.alert_wanted);
  EXPECT_EQ(o.alert_reason, "review");
  ASSERT_TRUE(changes.review);
  EXPECT_GE(changes.review->candidates.size(), 2u);
  // Still scored (the hospital's data stands), without history.
  ASSERT_NE(risk_resource(), nullptr);
  EXPECT_THAT(risk_resource()->json, HasSubstr("no plan member linked"));
}

TEST_F(engine_fixture, AttributionFollowsTheEventDate) {
  auto e = stay_event(event_kind::discharge, "MRN2", "V20", "2026-06-20T08:00:00Z",
                      "2026-06-30T08:00:00Z");
  e.member_id = "M200";
  auto o = run(e);
  EXPECT_EQ(o.attribution, "attributed");  // the period's last day is included
  EXPECT_EQ(o.group_id, "G2");
  e.encounter_resource_id = "enc-V21";
  e.admit_time = "2026-07-01T08:00:00Z";
  e.discharge_time = "2026-07-02T08:00:00Z";
  o = run(e);
  EXPECT_EQ(o.attribution, "unattributed");
  EXPECT_FALSE(o.alert_wanted);
  EXPECT_EQ(o.alert_reason, "unattributed");
}

TEST_F(engine_fixture, NoMatchIsCountedNotGuessed) {
  auto e = stay_event(event_kind::discharge, "MRN7", "V70", "2026-10-01T08:00:00Z",
                      "2026-10-02T08:00:00Z");
  e.family = "Nobody";
  e.given = "Known";
  e.birth_date = "1999-09-09";
  const auto o = run(e);
  EXPECT_EQ(o.match, "no_match");
  EXPECT_EQ(o.alert_reason, "no_member");
}

TEST_F(engine_fixture, HistoryCountsEdVisitsAdmissionsAndReadmission) {
  // An ED visit four months before, an inpatient stay ten months before, another stay that ended
  // twenty days before; an ED visit two hours before the index admission (it led to it).
  auto ed = okafor(event_kind::registration, "E1", "2026-06-01T10:00:00Z", {}, "EMER");
  ed.member_id = "M100";
  run(ed);
  auto old_stay = okafor(event_kind::discharge, "S1", "2025-12-10T10:00:00Z",
                         "2025-12-15T10:00:00Z");
  old_stay.member_id = "M100";
  run(old_stay);
  auto recent = okafor(event_kind::discharge, "S2", "2026-09-01T10:00:00Z",
                       "2026-09-10T10:00:00Z");
  recent.member_id = "M100";
  run(recent);
  auto led = okafor(event_kind::registration, "E2", "2026-09-30T06:00:00Z", {}, "EMER");
  led.member_id = "M100";
  run(led);
  auto index = okafor(event_kind::discharge, "S3", "2026-09-30T08:00:00Z",
                      "2026-10-04T08:00:00Z");
  index.member_id = "M100";
  const auto o = run(index);
  const auto* stay = engine.history().find("enc-S3");
  ASSERT_NE(stay, nullptr);
  const auto c = engine.history().counts_before(*stay);
  EXPECT_EQ(c.ed_visits, 1);   // E1; E2 led to this stay
  EXPECT_EQ(c.admissions, 2);  // S1, S2
  EXPECT_TRUE(c.readmission);
  EXPECT_EQ(c.prior_stay, "enc-S2");
  EXPECT_TRUE(o.readmission);
  ASSERT_NE(risk_resource(), nullptr);
  EXPECT_THAT(risk_resource()->json, HasSubstr("1 ED visit(s) in 6 months, 2 admission(s)"));
}

TEST_F(engine_fixture, CancelledAdmissionIsNotCountedAndRetractsTheAssessment) {
  auto stay = okafor(event_kind::discharge, "S5", "2026-09-01T10:00:00Z", "2026-09-03T10:00:00Z");
  stay.member_id = "M100";
  auto o = run(stay);
  ASSERT_FALSE(o.risk_assessment_id.empty());
  const std::string ra = o.risk_assessment_id;
  auto cancel = okafor(event_kind::cancel_admission, "S5", "2026-09-01T10:00:00Z");
  cancel.member_id = "M100";
  o = run(cancel);
  EXPECT_TRUE(o.retracted);
  ASSERT_NE(risk_resource(), nullptr);
  EXPECT_EQ(risk_resource()->id, ra);
  EXPECT_THAT(risk_resource()->json, HasSubstr("\"status\":\"entered-in-error\""));
  ASSERT_TRUE(changes.assessment);
  EXPECT_EQ(changes.assessment->status, "entered-in-error");
  // A second cancel changes nothing.
  o = run(cancel);
  EXPECT_FALSE(o.retracted);
  EXPECT_EQ(risk_resource(), nullptr);
  // The cancelled stay no longer counts for a later one.
  auto later = okafor(event_kind::discharge, "S6", "2026-09-20T10:00:00Z", "2026-09-22T10:00:00Z");
  later.member_id = "M100";
  run(later);
  const auto c = engine.history().counts_before(*engine.history().find("enc-S6"));
  EXPECT_EQ(c.admissions, 0);
  EXPECT_FALSE(c.readmission);
}

TEST_F(engine_fixture, CancelledDischargeRetractsAndTheNextDischargeScoresAgain) {
  auto stay = okafor(event_kind::discharge, "S7", "2026-09-01T10:00:00Z", "2026-09-03T10:00:00Z");
  stay.member_id = "M100";
  run(stay);
  auto a13 = okafor(event_kind::cancel_discharge, "S7", "2026-09-01T10:00:00Z");
  a13.member_id = "M100";
  auto o = run(a13);
  EXPECT_TRUE(o.retracted);
  EXPECT_TRUE(engine.history().find("enc-S7")->end_text.empty());
  auto again = okafor(event_kind::discharge, "S7", "2026-09-01T10:00:00Z", "2026-09-05T10:00:00Z");
  again.member_id = "M100";
  o = run(again);
  ASSERT_NE(risk_resource(), nullptr);
  EXPECT_THAT(risk_resource()->json, HasSubstr("\"status\":\"final\""));
  EXPECT_EQ(engine.assessment_of("enc-S7")->status, "final");
}

TEST_F(engine_fixture, DischargeWithoutAdmissionSeenStillWorks) {
  auto e = okafor(event_kind::discharge, "S8", "2026-10-01T10:00:00Z", "2026-10-06T10:00:00Z");
  e.member_id = "M100";
  const auto o = run(e);
  EXPECT_FALSE(o.risk_assessment_id.empty());
  EXPECT_THAT(risk_resource()->json, HasSubstr("length of stay 5 days"));
}

TEST_F(engine_fixture, EmergencyOnlyDischargeIsNotScored) {
  auto e = okafor(event_kind::discharge, "E9", "2026-10-01T10:00:00Z", "2026-10-01T16:00:00Z",
                  "EMER");
  e.member_id = "M100";
  const auto o = run(e);
  EXPECT_TRUE(o.risk_assessment_id.empty());
  EXPECT_EQ(o.alert_reason, "not_scored");
}

TEST_F(engine_fixture, LabsOfTheStayFeedHospital) {
  auto adm = okafor(event_kind::admission, "S9", "2026-10-01T10:00:00Z");
  adm.member_id = "M100";
  run(adm);
  clinical_event oru = okafor(event_kind::lab_result, "S9", "2026-10-01T10:00:00Z");
  oru.member_id = "M100";
  mappings::event::lab hb;
  hb.code = {"http://loinc.org", "718-7", "Hemoglobin", "LN"};
  hb.value = 11.2;
  hb.unit = "g/dL";
  hb.effective = "2026-10-03T06:00:00Z";
  oru.labs.push_back(hb);
  mappings::event::lab na = hb;
  na.code = {"http://loinc.org", "2951-2", "Sodium", "LN"};
  na.value = 133;
  na.unit = "mmol/L";
  oru.labs.push_back(na);
  run(oru);
  EXPECT_EQ(changes.labs.size(), 2u);
  auto dis = okafor(event_kind::discharge, "S9", "2026-10-01T10:00:00Z", "2026-10-04T10:00:00Z");
  dis.member_id = "M100";
  run(dis);
  ASSERT_NE(risk_resource(), nullptr);
  // Hb < 12 → 1, Na < 135 → 1: neither reported missing.
  EXPECT_THAT(risk_resource()->json, HasSubstr("11.2"));
  EXPECT_THAT(risk_resource()->json, ::testing::Not(HasSubstr("missing: haemoglobin")));
}

TEST_F(engine_fixture, MergeMovesVisitsAndTheLearnedLink) {
  auto a = okafor(event_kind::admission, "S10", "2026-08-01T10:00:00Z");
  run(a);  // linked by demographics, learned for pat-MRN1
  ASSERT_NE(engine.link_of("pat-MRN1"), nullptr);
  clinical_event merge = stay_event(event_kind::merge, "MRN1B", "", "");
  merge.prior_patient_ids.push_back({std::string(mrn_system), "MRN1", "MR", "GENHOSP"});
  out = {};
  out.resources.push_back({"Patient", "pat-MRN1B", "{}"});
  out.resources.push_back({"Patient", "pat-MRN1", "{}"});
  const auto o = engine.process(merge, next_message++, out, changes);
  EXPECT_EQ(o.member_id, "M100");
  ASSERT_NE(engine.link_of("pat-MRN1B"), nullptr);
  EXPECT_EQ(engine.link_of("pat-MRN1B")->rule, "merge");
  EXPECT_EQ(engine.history().find("enc-S10")->patient_id, "pat-MRN1B");
  EXPECT_EQ(engine.history().find("enc-S10")->member_id, "M100");
}

TEST_F(engine_fixture, GroupSettingsDecideTheAlert) {
  // G2 wants discharges at high risk only.
  auto e = stay_event(event_kind::discharge, "MRN2", "V30", "2026-03-01T08:00:00Z",
                      "2026-03-02T08:00:00Z");
  e.member_id = "M200";
  e.admission_type = "C";
  e.diagnoses.push_back({{"http://hl7.org/fhir/sid/icd-10-cm", "J06.9", "", "I10"}, "DD", 1});
  auto o = run(e);
  EXPECT_EQ(o.group_id, "G2");
  EXPECT_EQ(o.risk_band, "low");
  EXPECT_FALSE(o.alert_wanted);
  EXPECT_EQ(o.alert_reason, "below_threshold");
  // G2 does not want ED visits.
  auto ed = stay_event(event_kind::registration, "MRN2", "V31", "2026-03-05T08:00:00Z", {}, "EMER");
  ed.member_id = "M200";
  o = run(ed);
  EXPECT_EQ(o.alert_kind, "ed_visit");
  EXPECT_EQ(o.alert_reason, "event_not_wanted");
}

// --- the outbox ----------------------------------------------------------------------------------

TEST(CareTask, BusinessDaysSkipWeekends) {
  EXPECT_EQ(add_business_days("2026-10-08", 2), "2026-10-12");  // Thursday → Monday
  EXPECT_EQ(add_business_days("2026-10-09", 2), "2026-10-13");  // Friday → Tuesday
  EXPECT_EQ(add_business_days("2026-10-10", 2), "2026-10-13");  // Saturday → Tuesday
  EXPECT_EQ(add_business_days("2026-10-05", 2), "2026-10-07");  // Monday → Wednesday
  EXPECT_EQ(add_business_days("2026-12-31", 2), "2027-01-04");  // across a year (a Thursday)
  EXPECT_EQ(add_business_days("2026-02-30", 2), "");
  EXPECT_EQ(add_business_days("2026-1-1", 2), "");
}

TEST_F(engine_fixture, AWantedDischargeQueuesAnAlertWithItsTask) {
  auto e = okafor(event_kind::discharge, "V40", "2026-10-01T08:00:00-04:00",
                  "2026-10-08T14:00:00-04:00");
  e.member_id = "M100";
  e.admission_type = "E";
  e.diagnoses.push_back({{"http://hl7.org/fhir/sid/icd-10-cm", "I50.9", "", "I10"}, "DD", 1});
  const auto o = run(e);
  ASSERT_TRUE(o.alert_wanted);
  ASSERT_EQ(out.alerts.size(), 1u);
  const store::alert_row& a = out.alerts[0];
  EXPECT_EQ(a.kind, "alert");
  EXPECT_EQ(a.event_kind, "discharge");
  EXPECT_EQ(a.group_id, "G1");
  EXPECT_EQ(a.patient_id, "pat-MRN1");
  EXPECT_EQ(a.encounter_id, "enc-V40");
  EXPECT_EQ(a.risk_assessment_id, o.risk_assessment_id);
  EXPECT_EQ(a.risk_band, o.risk_band);
  EXPECT_EQ(a.occurred, "2026-10-08T14:00:00-04:00");
  EXPECT_EQ(o.queued, "alert");
  EXPECT_EQ(o.task_id, a.task_id);
  const store::resource_row* task = nullptr;
  for (const auto& r : out.resources)
    if (r.type == "Task") task = &r;
  ASSERT_NE(task, nullptr);
  EXPECT_EQ(task->id, a.task_id);
  rapidjson::Document d;
  d.Parse(task->json.c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_STREQ(d["resourceType"].GetString(), "Task");
  EXPECT_STREQ(d["status"].GetString(), "requested");
  EXPECT_STREQ(d["intent"].GetString(), "order");
  EXPECT_STREQ(d["priority"].GetString(), o.risk_band == "high" ? "urgent" : "routine");
  EXPECT_STREQ(d["for"]["reference"].GetString(), "Patient/pat-MRN1");
  EXPECT_STREQ(d["focus"]["reference"].GetString(), "Encounter/enc-V40");
  EXPECT_STREQ(d["owner"]["identifier"]["value"].GetString(), "G1");
  EXPECT_STREQ(d["owner"]["display"].GetString(), "Riverside Primary Care");
  EXPECT_EQ(std::string(d["reasonReference"]["reference"].GetString()),
            "RiskAssessment/" + o.risk_assessment_id);
  EXPECT_STREQ(d["restriction"]["period"]["end"].GetString(), "2026-10-12");  // Thu + 2
  EXPECT_STREQ(d["authoredOn"].GetString(), "2026-10-08T14:00:00-04:00");
  // The stay remembers where it went (for a retraction after a restart).
  ASSERT_TRUE(changes.assessment);
  EXPECT_EQ(changes.assessment->alert_group, "G1");
  EXPECT_EQ(changes.assessment->task_id, a.task_id);
}

TEST_F(engine_fixture, ADischargeBelowTheThresholdIsANoticeWithoutTask) {
  auto e = stay_event(event_kind::discharge, "MRN2", "V41", "2026-03-01T08:00:00Z",
                      "2026-03-02T08:00:00Z");
  e.member_id = "M200";
  e.admission_type = "C";
  e.diagnoses.push_back({{"http://hl7.org/fhir/sid/icd-10-cm", "J06.9", "", "I10"}, "DD", 1});
  const auto o = run(e);
  ASSERT_EQ(o.alert_reason, "below_threshold");
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].kind, "notice");
  EXPECT_EQ(out.alerts[0].group_id, "G2");
  EXPECT_TRUE(out.alerts[0].task_id.empty());
  for (const auto& r : out.resources) EXPECT_NE(r.type, "Task");
}

TEST_F(engine_fixture, NoAlertWithoutAttributionOrForAReview) {
  // M400 has no attribution.
  auto e = stay_event(event_kind::discharge, "MRN4", "V42", "2026-03-01T08:00:00Z",
                      "2026-03-04T08:00:00Z");
  e.member_id = "M400";
  auto o = run(e);
  EXPECT_EQ(o.alert_reason, "unattributed");
  EXPECT_TRUE(out.alerts.empty());
  // Nobody matched.
  auto stranger = stay_event(event_kind::discharge, "MRN9", "V43", "2026-03-01T08:00:00Z",
                             "2026-03-04T08:00:00Z");
  stranger.family = "Nobody";
  stranger.given = "Known";
  stranger.birth_date = "1990-01-01";
  o = run(stranger);
  EXPECT_TRUE(out.alerts.empty());
}

TEST_F(engine_fixture, ACancelledDischargeRetractsTheAlertAndCancelsTheTask) {
  auto stay = okafor(event_kind::discharge, "V44", "2026-09-01T10:00:00Z", "2026-09-08T10:00:00Z");
  stay.member_id = "M100";
  stay.admission_type = "E";
  stay.diagnoses.push_back({{"http://hl7.org/fhir/sid/icd-10-cm", "I50.9", "", "I10"}, "DD", 1});
  auto o = run(stay);
  ASSERT_EQ(o.queued, "alert");
  const std::string task_id = o.task_id;
  // A restart in between: the engine knows the stay's alert from the care tables only.
  care_engine fresh;
  fresh.set_roster(roster());
  fresh.load_assessment(*engine.assessment_of("enc-V44"));
  auto a13 = okafor(event_kind::cancel_discharge, "V44", "2026-09-01T10:00:00Z");
  a13.member_id = "M100";
  out = {};
  o = fresh.process(a13, next_message++, out, changes);
  ASSERT_TRUE(o.retracted);
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].kind, "retraction");
  EXPECT_EQ(out.alerts[0].group_id, "G1");
  EXPECT_EQ(out.alerts[0].task_id, task_id);
  const store::resource_row* task = nullptr;
  for (const auto& r : out.resources)
    if (r.type == "Task") task = &r;
  ASSERT_NE(task, nullptr);
  EXPECT_EQ(task->id, task_id);
  EXPECT_THAT(task->json, HasSubstr("\"status\":\"cancelled\""));
  EXPECT_THAT(task->json, HasSubstr("A13"));
  ASSERT_TRUE(changes.assessment);
  EXPECT_TRUE(changes.assessment->alert_group.empty());
  // A second cancel has nothing left to retract.
  out = {};
  o = fresh.process(a13, next_message++, out, changes);
  EXPECT_TRUE(out.alerts.empty());
}

// Admission and ED-visit alerts: an A11 of the stay withdraws them as an A13 does a discharge's.
struct admission_fixture : engine_fixture {
  admission_fixture() {
    engine.set_roster(roster(1, members::alert_discharge | members::alert_ed_visit |
                                    members::alert_admission));
  }
  const store::resource_row* task(std::string_view id) const {
    for (const auto& r : out.resources)
      if (r.type == "Task" && r.id == id) return &r;
    return nullptr;
  }
  // The Task written back cancelled, with its reason; empty when none was.
  std::string cancelled_reason(std::string_view task_id) const {
    const auto* t = task(task_id);
    if (t == nullptr) return {};
    rapidjson::Document d;
    d.Parse(t->json.c_str());
    if (d.HasParseError() || std::string_view(d["status"].GetString()) != "cancelled") return {};
    return d["statusReason"]["text"].GetString();
  }
};

clinical_event okafor_admission(std::string visit) {
  auto e = okafor(event_kind::admission, std::move(visit), "2026-09-01T10:00:00Z");
  e.member_id = "M100";
  return e;
}

// The emergency stay's discharge, with a heart-failure diagnosis: scored high enough for G1.
clinical_event okafor_scored_discharge(std::string visit) {
  auto e = okafor(event_kind::discharge, std::move(visit), "2026-09-01T10:00:00Z",
                  "2026-09-08T10:00:00Z");
  e.member_id = "M100";
  e.admission_type = "E";
  e.diagnoses.push_back({{"http://hl7.org/fhir/sid/icd-10-cm", "I50.9", "", "I10"}, "DD", 1});
  return e;
}

clinical_event okafor_cancel_admission(std::string visit) {
  auto e = okafor(event_kind::cancel_admission, std::move(visit), "2026-09-01T10:00:00Z");
  e.member_id = "M100";
  e.recorded = "2026-09-01T12:00:00Z";
  return e;
}

TEST_F(admission_fixture, AnA11RetractsTheAdmissionAlertAndCancelsItsTask) {
  auto o = run(okafor_admission("V50"));
  ASSERT_EQ(o.queued, "alert");
  ASSERT_EQ(out.alerts.size(), 1u);
  ASSERT_EQ(out.alerts[0].event_kind, "admission");
  const std::string task_id = o.task_id;
  ASSERT_FALSE(task_id.empty());
  ASSERT_EQ(changes.admission_alerts.size(), 1u);
  EXPECT_EQ(changes.admission_alerts[0],
            (admission_alert_record{"enc-V50", "admission", "G1", task_id, "sent", 1}));

  o = run(okafor_cancel_admission("V50"));
  EXPECT_FALSE(o.retracted);  // no RiskAssessment: an admission is not scored
  EXPECT_EQ(o.queued, "retraction");
  EXPECT_EQ(o.task_id, task_id);
  ASSERT_EQ(out.alerts.size(), 1u);
  const store::alert_row& r = out.alerts[0];
  EXPECT_EQ(r.kind, "retraction");
  EXPECT_EQ(r.event_kind, "admission");
  EXPECT_EQ(r.group_id, "G1");
  EXPECT_EQ(r.patient_id, "pat-MRN1");
  EXPECT_EQ(r.encounter_id, "enc-V50");
  EXPECT_EQ(r.task_id, task_id);
  EXPECT_TRUE(r.risk_assessment_id.empty());
  EXPECT_EQ(r.occurred, "2026-09-01T12:00:00Z");
  EXPECT_EQ(cancelled_reason(task_id), "admission cancelled by the hospital (A11)");
  ASSERT_NE(task(task_id), nullptr);
  // A merge patch of the group's Task (status and reason only): what the group wrote stays.
  EXPECT_TRUE(task(task_id)->merge);
  EXPECT_FALSE(task(task_id)->create_only);
  EXPECT_THAT(task(task_id)->json, Not(HasSubstr("\"code\"")));
  ASSERT_EQ(changes.admission_alerts.size(), 1u);
  EXPECT_EQ(changes.admission_alerts[0].status, "retracted");
  EXPECT_EQ(changes.admission_alerts[0].message_id, 2);
  // A second A11 has nothing left to retract.
  o = run(okafor_cancel_admission("V50"));
  EXPECT_TRUE(out.alerts.empty());
  EXPECT_EQ(task(task_id), nullptr);
  EXPECT_TRUE(o.queued.empty());
}

TEST_F(admission_fixture, AnA11RetractsAnEdVisitAlert) {
  auto ed = okafor(event_kind::registration, "E50", "2026-09-01T10:00:00Z", {}, "EMER");
  ed.member_id = "M100";
  auto o = run(ed);
  ASSERT_EQ(o.queued, "alert");
  ASSERT_EQ(out.alerts[0].event_kind, "ed_visit");
  const std::string task_id = o.task_id;
  o = run(okafor_cancel_admission("E50"));
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].kind, "retraction");
  EXPECT_EQ(out.alerts[0].event_kind, "ed_visit");
  EXPECT_EQ(out.alerts[0].task_id, task_id);
  EXPECT_EQ(cancelled_reason(task_id), "admission cancelled by the hospital (A11)");
  EXPECT_TRUE(task(task_id)->merge);
}

TEST_F(admission_fixture, AnA11WithoutAnAdmissionAlertQueuesNothing) {
  // G2 does not want admissions: the A01 queues nothing, so its A11 has nothing to withdraw.
  auto adm = stay_event(event_kind::admission, "MRN2", "V51", "2026-03-01T08:00:00Z");
  adm.member_id = "M200";
  auto o = run(adm);
  ASSERT_EQ(o.alert_reason, "event_not_wanted");
  ASSERT_TRUE(out.alerts.empty());
  auto a11 = stay_event(event_kind::cancel_admission, "MRN2", "V51", "2026-03-01T08:00:00Z");
  a11.member_id = "M200";
  o = run(a11);
  EXPECT_TRUE(out.alerts.empty());
  EXPECT_TRUE(out.resources.empty());
  EXPECT_TRUE(changes.admission_alerts.empty());
  EXPECT_TRUE(o.queued.empty());
  // Nor does an A11 of a stay never seen.
  run(okafor_cancel_admission("V52"));
  EXPECT_TRUE(out.alerts.empty());
  EXPECT_TRUE(changes.admission_alerts.empty());
}

TEST_F(admission_fixture, AnA13LeavesTheAdmissionAlertAndAnA11ThenWithdrawsIt) {
  run(okafor_admission("V53"));
  const std::string admission_task = out.alerts.at(0).task_id;
  auto o = run(okafor_scored_discharge("V53"));
  ASSERT_EQ(o.queued, "alert");
  const std::string discharge_task = o.task_id;
  ASSERT_NE(discharge_task, admission_task);

  auto a13 = okafor(event_kind::cancel_discharge, "V53", "2026-09-01T10:00:00Z");
  a13.member_id = "M100";
  o = run(a13);
  ASSERT_EQ(out.alerts.size(), 1u);  // the discharge's only
  EXPECT_EQ(out.alerts[0].event_kind, "discharge");
  EXPECT_EQ(out.alerts[0].task_id, discharge_task);
  EXPECT_EQ(cancelled_reason(discharge_task), "discharge cancelled by the hospital (A13)");
  EXPECT_EQ(task(admission_task), nullptr);
  EXPECT_TRUE(changes.admission_alerts.empty());
  ASSERT_EQ(engine.admission_alerts_of("enc-V53").size(), 1u);
  EXPECT_EQ(engine.admission_alerts_of("enc-V53")[0].status, "sent");

  o = run(okafor_cancel_admission("V53"));
  ASSERT_EQ(out.alerts.size(), 1u);  // the discharge was withdrawn already
  EXPECT_EQ(out.alerts[0].event_kind, "admission");
  EXPECT_EQ(out.alerts[0].task_id, admission_task);
  EXPECT_EQ(cancelled_reason(admission_task), "admission cancelled by the hospital (A11)");
}

TEST_F(admission_fixture, AnA11WithdrawsBothTheDischargeAndTheAdmissionAlerts) {
  run(okafor_admission("V54"));
  const std::string admission_task = out.alerts.at(0).task_id;
  auto o = run(okafor_scored_discharge("V54"));
  ASSERT_EQ(o.queued, "alert");
  const std::string discharge_task = o.task_id;

  o = run(okafor_cancel_admission("V54"));
  EXPECT_TRUE(o.retracted);
  ASSERT_EQ(out.alerts.size(), 2u);
  EXPECT_EQ(out.alerts[0].event_kind, "discharge");
  EXPECT_EQ(out.alerts[0].task_id, discharge_task);
  EXPECT_EQ(out.alerts[1].event_kind, "admission");
  EXPECT_EQ(out.alerts[1].task_id, admission_task);
  for (const auto& a : out.alerts) {
    EXPECT_EQ(a.kind, "retraction");
    EXPECT_EQ(a.group_id, "G1");
    EXPECT_EQ(cancelled_reason(a.task_id), "admission cancelled by the hospital (A11)");
  }
}

// --- care_db -------------------------------------------------------------------------------------

struct temp_db {
  std::filesystem::path dir;
  temp_db() {
    dir = std::filesystem::temp_directory_path() /
          ("carebridge-care-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  ~temp_db() { std::filesystem::remove_all(dir); }
  std::filesystem::path file() const { return dir / "members.db"; }
};

TEST_F(engine_fixture, CareTablesRoundTrip) {
  temp_db t;
  auto db = care_db::open(t.file());
  auto write = [&](const clinical_event& e) {
    const auto id = next_message;
    const auto o = run(e);
    care_db::event_write w{0, &o, &changes};
    db->write(id, std::span(&w, 1));
    db->commit();
    return o;
  };
  auto stay = okafor(event_kind::discharge, "S11", "2026-09-01T10:00:00Z", "2026-09-04T10:00:00Z");
  write(stay);  // demographic link learned
  auto twins = stay_event(event_kind::discharge, "MRN9", "V90", "2026-10-01T08:00:00Z",
                          "2026-10-05T08:00:00Z");
  twins.family = "Marsh";
  twins.given = "Jonathan";
  twins.birth_date = "1970-07-07";
  twins.sex = "male";
  twins.postal_code = "02139";
  write(twins);

  care_engine fresh;
  fresh.set_roster(roster());
  db->load_into(fresh);
  ASSERT_NE(fresh.history().find("enc-S11"), nullptr);
  EXPECT_EQ(*fresh.history().find("enc-S11"), *engine.history().find("enc-S11"));
  ASSERT_NE(fresh.link_of("pat-MRN1"), nullptr);
  EXPECT_EQ(fresh.link_of("pat-MRN1")->member_id, "M100");
  ASSERT_NE(fresh.assessment_of("enc-S11"), nullptr);
  EXPECT_EQ(*fresh.assessment_of("enc-S11"), *engine.assessment_of("enc-S11"));

  const auto open = db->reviews("open", 10);
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].review.patient_id, "pat-MRN9");
  EXPECT_GE(open[0].review.candidates.size(), 2u);
  const auto outcomes = db->outcomes(2);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].match, "review");

  // A manual link from another connection (the CLI) reaches the running stage.
  auto cli = care_db::open(t.file());
  EXPECT_TRUE(cli->resolve_review("pat-MRN9", "M301"));
  EXPECT_FALSE(cli->resolve_review("pat-nobody", "M301"));
  const auto links = db->new_links();
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].member_id, "M301");
  EXPECT_EQ(links[0].rule, "manual");
  EXPECT_TRUE(db->reviews("open", 10).empty());
  EXPECT_TRUE(db->new_links().empty());

  EXPECT_EQ(db->last_message_id(), 2);
  const auto counts = db->counts();
  EXPECT_EQ(counts.encounters, 2);
  EXPECT_EQ(counts.links, 2);
  EXPECT_EQ(counts.open_reviews, 0);
}

TEST_F(admission_fixture, AnA11AfterARestartStillRetractsTheAdmissionAlert) {
  temp_db t;
  const auto through = [&](care_engine& e, care_db& db, const clinical_event& ev) {
    const auto id = next_message++;
    out = {};
    const auto o = e.process(ev, id, out, changes);
    care_db::event_write w{0, &o, &changes};
    db.write(id, std::span(&w, 1));
    db.commit();
    return o;
  };
  const auto restarted = [&] {
    auto e = std::make_unique<care_engine>();
    e->set_roster(roster(1, members::alert_discharge | members::alert_ed_visit |
                                members::alert_admission));
    care_db::open(t.file())->load_into(*e);
    return e;
  };
  std::string task_id;
  {
    auto db = care_db::open(t.file());
    task_id = through(engine, *db, okafor_admission("V55")).task_id;
    ASSERT_FALSE(task_id.empty());
  }
  // A new process: the engine knows the alert from the member database only.
  auto fresh = restarted();
  ASSERT_EQ(fresh->admission_alerts_of("enc-V55").size(), 1u);
  EXPECT_EQ(fresh->admission_alerts_of("enc-V55")[0],
            engine.admission_alerts_of("enc-V55")[0]);
  {
    auto db = care_db::open(t.file());
    const auto o = through(*fresh, *db, okafor_cancel_admission("V55"));
    EXPECT_EQ(o.queued, "retraction");
    ASSERT_EQ(out.alerts.size(), 1u);
    EXPECT_EQ(out.alerts[0].kind, "retraction");
    EXPECT_EQ(out.alerts[0].event_kind, "admission");
    EXPECT_EQ(out.alerts[0].group_id, "G1");
    EXPECT_EQ(out.alerts[0].task_id, task_id);
    EXPECT_EQ(cancelled_reason(task_id), "admission cancelled by the hospital (A11)");
  }
  // And after another restart the retraction is remembered: nothing is withdrawn twice.
  auto again = restarted();
  ASSERT_EQ(again->admission_alerts_of("enc-V55").size(), 1u);
  EXPECT_EQ(again->admission_alerts_of("enc-V55")[0].status, "retracted");
  out = {};
  again->process(okafor_cancel_admission("V55"), next_message++, out, changes);
  EXPECT_TRUE(out.alerts.empty());
}

}  // namespace
}  // namespace carebridge::gateway::care
