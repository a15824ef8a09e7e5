// FHIR input (mappings/fhir/fhir_ingest): each route, each refusal, the ids and references of what
// is stored, and — the point of it — the same clinical event as the HL7 v2 mapper gives for the
// same stay: the Bundle `carebridge convert` makes of an ADT^A03, sent back in as a transaction, as
// a Da Vinci discharge notification and as a stand-alone finished Encounter.
#include "mappings/fhir/fhir_ingest.hpp"
#include "gateway/config/config.hpp"
#include "mappings/fhir/resource_ids.hpp"
#include "mappings/fhir/v2_to_fhir.hpp"
#include "mappings/hl7v2/message.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

namespace {

namespace fs = std::filesystem;
namespace hl7 = carebridge::mappings::hl7v2;
namespace fhir = carebridge::mappings::fhir;
namespace ev = carebridge::mappings::event;
using fhir::fhir_route;
using ::testing::HasSubstr;
using ::testing::Not;

const fs::path data = CAREBRIDGE_TEST_DATA;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const carebridge::gateway::config::config& sample_config() {
  static const auto cfg = carebridge::gateway::config::load_text(
      slurp(data / "fhir" / "facilities.json"), "facilities.json");
  return cfg;
}

const fhir::sender_profile* profile(const std::string& facility) {
  const auto& f = sample_config().facilities;
  auto it = f.find(facility);
  return it == f.end() ? nullptr : &it->second;
}

fhir::conversion convert_v2(const std::string& sample) {
  const std::string raw = slurp(data / "hl7" / "adt" / (sample + ".hl7"));
  auto parsed = hl7::parse(raw);
  EXPECT_TRUE(parsed);
  fhir::convert_options o;
  o.sender = profile(std::string(parsed->segment(0).field(4).component(1).raw()));
  auto c = fhir::convert(*parsed, o);
  EXPECT_TRUE(c) << c.error().message();
  return std::move(*c);
}

fhir::fhir_input_options options_for(const std::string& facility, std::string encounter_id = {}) {
  fhir::fhir_input_options o;
  o.facility = facility;
  o.encounter_id = std::move(encounter_id);
  o.sender = profile(facility);
  return o;
}

std::string to_string(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  EXPECT_FALSE(d.HasParseError()) << json.substr(0, 200);
  return d;
}

/// The v2 mapper's Bundle of a sample re-shaped as a Da Vinci message: MessageHeader first (event
/// `code`, focus the Encounter), then the same resources; no entry.request.
std::string as_davinci_message(const std::string& transaction, const std::string& code) {
  rapidjson::Document tx = parse(transaction);
  rapidjson::Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  std::string encounter_ref;
  for (auto& e : tx["entry"].GetArray())
    if (std::string(e["resource"]["resourceType"].GetString()) == "Encounter")
      encounter_ref = std::string("Encounter/") + e["resource"]["id"].GetString();
  const std::string header =
      R"({"fullUrl":"urn:uuid:8d0e2f8c-0c7e-4a10-9b1e-6f1b8a520c1e","resource":{
      "resourceType":"MessageHeader","id":"mh1",
      "eventCoding":{"system":"http://hl7.org/fhir/us/davinci-alerts/CodeSystem/notification-event",
                     "code":")" +
      code + R"("},
      "source":{"endpoint":"https://hospital.example.org/fhir"},
      "focus":[{"reference":")" +
      encounter_ref + R"("}]}})";
  rapidjson::Document h = parse(header);
  out.AddMember("resourceType", "Bundle", a);
  out.AddMember("id", "msg-1", a);
  out.AddMember("type", "message", a);
  out.AddMember("timestamp", "2026-11-04T11:52:03-05:00", a);
  rapidjson::Value entries(rapidjson::kArrayType);
  entries.PushBack(rapidjson::Value(h, a), a);
  for (auto& e : tx["entry"].GetArray()) {
    rapidjson::Value x(rapidjson::kObjectType);
    x.AddMember("fullUrl", rapidjson::Value(e["fullUrl"], a), a);
    x.AddMember("resource", rapidjson::Value(e["resource"], a), a);
    entries.PushBack(x, a);
  }
  out.AddMember("entry", entries, a);
  return to_string(out);
}

/// The Encounter of the v2 mapper's Bundle, stand-alone: its patient by identifier (the MRN), the
/// references it cannot carry along dropped.
std::string standalone_encounter(const fhir::conversion& c, const std::string& id) {
  std::string encounter, patient;
  for (const auto& r : c.resources) {
    if (r.type == "Encounter") encounter = r.json;
    if (r.type == "Patient" && patient.empty()) patient = r.json;
  }
  rapidjson::Document e = parse(encounter);
  rapidjson::Document p = parse(patient);
  auto& a = e.GetAllocator();
  e["id"].SetString(id.c_str(), a);
  rapidjson::Value subject(rapidjson::kObjectType);
  rapidjson::Value ident(rapidjson::kObjectType);
  ident.AddMember("system", rapidjson::Value(p["identifier"][0]["system"], a), a);
  ident.AddMember("value", rapidjson::Value(p["identifier"][0]["value"], a), a);
  ident.AddMember("type", rapidjson::Value(p["identifier"][0]["type"], a), a);
  subject.AddMember("identifier", ident, a);
  e["subject"] = subject;
  return to_string(e);
}

/// What both paths must agree on for one stay (trigger, source, control id and the v2-only
/// original code-system names aside; assigners are compared where the system is unambiguous).
void expect_same_stay(const ev::clinical_event& fhir_ev, const ev::clinical_event& v2) {
  EXPECT_EQ(fhir_ev.kind, v2.kind);
  EXPECT_EQ(fhir_ev.facility, v2.facility);
  EXPECT_EQ(fhir_ev.patient_resource_id, v2.patient_resource_id);
  EXPECT_EQ(fhir_ev.encounter_resource_id, v2.encounter_resource_id);
  EXPECT_EQ(fhir_ev.visit_id, v2.visit_id);
  EXPECT_EQ(fhir_ev.patient_class, v2.patient_class);
  EXPECT_EQ(fhir_ev.admit_time, v2.admit_time);
  EXPECT_EQ(fhir_ev.discharge_time, v2.discharge_time);
  EXPECT_EQ(fhir_ev.recorded, v2.recorded);
  EXPECT_EQ(fhir_ev.admission_type, v2.admission_type);
  EXPECT_EQ(fhir_ev.admit_source, v2.admit_source);
  EXPECT_EQ(fhir_ev.service, v2.service);
  EXPECT_EQ(fhir_ev.discharge_disposition, v2.discharge_disposition);
  EXPECT_EQ(fhir_ev.readmission_flag, v2.readmission_flag);
  EXPECT_EQ(fhir_ev.length_of_stay_days, v2.length_of_stay_days);
  EXPECT_EQ(fhir_ev.member_id, v2.member_id);
  ASSERT_EQ(fhir_ev.diagnoses.size(), v2.diagnoses.size());
  for (std::size_t i = 0; i < v2.diagnoses.size(); ++i) {
    ev::diagnosis want = v2.diagnoses[i];
    want.code.original_system.clear();
    EXPECT_EQ(fhir_ev.diagnoses[i], want) << "diagnosis " << i;
  }
  ASSERT_EQ(fhir_ev.procedures.size(), v2.procedures.size());
  for (std::size_t i = 0; i < v2.procedures.size(); ++i) {
    ev::procedure want = v2.procedures[i];
    want.code.original_system.clear();
    EXPECT_EQ(fhir_ev.procedures[i], want) << "procedure " << i;
  }
}

void expect_same_patient(const ev::clinical_event& fhir_ev, const ev::clinical_event& v2) {
  EXPECT_EQ(fhir_ev.family, v2.family);
  EXPECT_EQ(fhir_ev.given, v2.given);
  EXPECT_EQ(fhir_ev.birth_date, v2.birth_date);
  EXPECT_EQ(fhir_ev.sex, v2.sex);
  EXPECT_EQ(fhir_ev.postal_code, v2.postal_code);
  EXPECT_EQ(fhir_ev.phone, v2.phone);
  // Every PID-3 identifier is there (the FHIR Patient also carries PID-19 and the like).
  for (const auto& want : v2.patient_ids) {
    const bool found = std::any_of(
        fhir_ev.patient_ids.begin(), fhir_ev.patient_ids.end(), [&](const ev::identifier& i) {
          return i.system == want.system && i.value == want.value && i.type == want.type;
        });
    EXPECT_TRUE(found) << want.system << "|" << want.value;
  }
  ASSERT_EQ(fhir_ev.member_ids.size(), v2.member_ids.size());
  for (std::size_t i = 0; i < v2.member_ids.size(); ++i) {
    EXPECT_EQ(fhir_ev.member_ids[i].system, v2.member_ids[i].system);
    EXPECT_EQ(fhir_ev.member_ids[i].value, v2.member_ids[i].value);
    EXPECT_EQ(fhir_ev.member_ids[i].type, v2.member_ids[i].type);
  }
}

std::set<std::string> ids_of(const std::vector<fhir::resource_json>& rs, std::string_view type) {
  std::set<std::string> out;
  for (const auto& r : rs)
    if (r.type == type) out.insert(r.id);
  return out;
}

/// Every literal reference inside the stored resources points at one of them.
void expect_references_resolve(const std::vector<fhir::resource_json>& rs) {
  std::set<std::string> known;
  for (const auto& r : rs) known.insert(r.type + "/" + r.id);
  std::function<void(const rapidjson::Value&, const std::string&)> walk =
      [&](const rapidjson::Value& v, const std::string& where) {
        if (v.IsArray()) {
          for (const auto& x : v.GetArray()) walk(x, where);
        } else if (v.IsObject()) {
          if (v.HasMember("reference") && v["reference"].IsString()) {
            const std::string ref = v["reference"].GetString();
            EXPECT_TRUE(known.count(ref) || ref.starts_with("#")) << where << " -> " << ref;
          }
          for (const auto& m : v.GetObject()) walk(m.value, where);
        }
      };
  for (const auto& r : rs) {
    rapidjson::Document d = parse(r.json);
    EXPECT_EQ(std::string(d["id"].GetString()), r.id);
    EXPECT_EQ(std::string(d["resourceType"].GetString()), r.type);
    walk(d, r.type + "/" + r.id);
  }
}

// ---- ids shared with the v2 mapper
// ---------------------------------------------------------------

TEST(ResourceIds, TheSharedKeysGiveTheV2MappersIds) {
  const auto c = convert_v2("stbrigid_v24_A03_03");
  EXPECT_EQ(
      c.event.patient_resource_id,
      fhir::ids::patient("STBRIGID", "urn:oid:2.16.840.1.113883.19.2", "STBRIGID", "SB21288734"));
  EXPECT_EQ(c.event.encounter_resource_id,
            fhir::ids::encounter("STBRIGID", "urn:oid:2.16.840.1.113883.19.2.2", "STBRIGID",
                                 "4471782215"));
  const auto practitioners = ids_of(c.resources, "Practitioner");
  EXPECT_TRUE(practitioners.count(
      fhir::ids::practitioner("http://hl7.org/fhir/sid/us-npi", "NPI", "1620374185")));
  const auto organizations = ids_of(c.resources, "Organization");
  EXPECT_TRUE(organizations.count(fhir::ids::facility_organization("STBRIGID", "")));
  const auto conditions = ids_of(c.resources, "Condition");
  EXPECT_TRUE(conditions.count(fhir::ids::condition(
      c.event.encounter_resource_id, "http://hl7.org/fhir/sid/icd-10-cm", "I50.33")));
  EXPECT_TRUE(ids_of(c.resources, "Procedure")
                  .count(fhir::ids::procedure(c.event.encounter_resource_id,
                                              "http://www.ama-assn.org/go/cpt", "93306",
                                              "2026-10-30T10:20:00-04:00")));
  EXPECT_TRUE(ids_of(c.resources, "Coverage")
                  .count(fhir::ids::coverage(c.event.patient_resource_id, "HHP",
                                             "Harbor Health Plan", "HHP-MA", "HMA300481772")));
}

TEST(ResourceIds, AssignerIsFoundFromTheFacilityProfile) {
  const auto* p = profile("STBRIGID");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(fhir::ids::assigner_for(p, "STBRIGID", "urn:oid:2.16.840.1.113883.19.2", "MR"),
            "STBRIGID");
  EXPECT_EQ(fhir::ids::assigner_for(p, "STBRIGID", "urn:oid:2.16.840.1.113883.19.2.2", "VN"),
            "STBRIGID");
  EXPECT_EQ(fhir::ids::assigner_for(p, "STBRIGID", "http://hl7.org/fhir/sid/us-npi", "NPI"), "NPI");
  // Not configured: the coding-system table's name, else nothing.
  EXPECT_EQ(fhir::ids::assigner_for(nullptr, "X", "http://hl7.org/fhir/sid/us-npi", ""), "NPI");
  EXPECT_EQ(fhir::ids::assigner_for(p, "STBRIGID", "urn:oid:1.2.3.4.5.6.7", "MR"), "");
}

// ---- the same stay through every route ---------------------------------------------------------

TEST(FhirIngest, TransactionOfTheV2BundleGivesTheV2Event) {
  const auto v2 = convert_v2("stbrigid_v24_A03_03");
  auto r = fhir::from_fhir(v2.bundle, fhir_route::bundle, options_for("STBRIGID"));
  ASSERT_TRUE(r) << r.error().diagnostics << " at " << r.error().expression;
  EXPECT_EQ(r->bundle_type, "transaction");
  ASSERT_EQ(r->events.size(), 1u);
  const auto& e = r->events[0];
  expect_same_stay(e, v2.event);
  expect_same_patient(e, v2.event);
  EXPECT_EQ(e.trigger, "Encounter");
  EXPECT_EQ(e.source, "fhir");
  // Every kept resource lands on the v2 mapper's id, except the Location (keyed on PV1-3's parts,
  // which FHIR does not carry); the RelatedPersons are left out.
  for (std::string_view type : {"Patient", "Encounter", "Condition", "Procedure", "Coverage",
                                "Practitioner", "Organization"})
    EXPECT_EQ(ids_of(r->resources, type), ids_of(v2.resources, type)) << type;
  EXPECT_TRUE(ids_of(r->resources, "RelatedPerson").empty());
  ASSERT_EQ(r->entries.size(), v2.resources.size());
  for (std::size_t i = 0; i < r->entries.size(); ++i) {
    EXPECT_EQ(r->entries[i].type, v2.resources[i].type);
    EXPECT_EQ(r->entries[i].id.empty(), v2.resources[i].type == "RelatedPerson");
  }
  expect_references_resolve(r->resources);
}

TEST(FhirIngest, DaVinciDischargeNotificationGivesTheV2Event) {
  const auto v2 = convert_v2("stbrigid_v24_A03_03");
  const std::string msg = as_davinci_message(v2.bundle, "notification-discharge");
  auto r = fhir::from_fhir(msg, fhir_route::process_message, options_for("STBRIGID"));
  ASSERT_TRUE(r) << r.error().diagnostics << " at " << r.error().expression;
  EXPECT_EQ(r->bundle_type, "message");
  ASSERT_EQ(r->events.size(), 1u);
  expect_same_stay(r->events[0], v2.event);
  expect_same_patient(r->events[0], v2.event);
  EXPECT_EQ(r->events[0].trigger, "notification-discharge");
  EXPECT_EQ(r->events[0].control_id, "msg-1");
  // The MessageHeader is an entry of the request but not a stored resource.
  ASSERT_FALSE(r->entries.empty());
  EXPECT_EQ(r->entries[0].type, "MessageHeader");
  EXPECT_TRUE(r->entries[0].id.empty());
  EXPECT_TRUE(ids_of(r->resources, "MessageHeader").empty());
  expect_references_resolve(r->resources);
}

TEST(FhirIngest, StandaloneFinishedEncounterIsTheSameDischarge) {
  const auto v2 = convert_v2("stbrigid_v24_A03_03");
  const std::string body = standalone_encounter(v2, "stb-4471782215");
  for (fhir_route route : {fhir_route::encounter_update, fhir_route::encounter_create}) {
    auto r = fhir::from_fhir(body, route, options_for("STBRIGID", "stb-4471782215"));
    ASSERT_TRUE(r) << r.error().diagnostics << " at " << r.error().expression;
    ASSERT_EQ(r->events.size(), 1u);
    const auto& e = r->events[0];
    EXPECT_EQ(e.kind, ev::event_kind::discharge);
    EXPECT_EQ(e.encounter_resource_id, v2.event.encounter_resource_id);
    EXPECT_EQ(e.patient_resource_id, v2.event.patient_resource_id);
    EXPECT_EQ(e.admit_time, v2.event.admit_time);
    EXPECT_EQ(e.discharge_time, v2.event.discharge_time);
    EXPECT_EQ(e.patient_class, v2.event.patient_class);
    EXPECT_EQ(e.discharge_disposition, v2.event.discharge_disposition);
    EXPECT_EQ(e.visit_id, v2.event.visit_id);
    ASSERT_EQ(r->resources.size(), 1u);
    EXPECT_EQ(r->resources[0].type, "Encounter");
    EXPECT_EQ(r->resources[0].id, v2.event.encounter_resource_id);
    ASSERT_EQ(r->entries.size(), 1u);
    // References it cannot resolve keep what they say (type, display) but not a dangling target.
    EXPECT_THAT(r->resources[0].json, Not(HasSubstr("\"reference\":\"Practitioner/")));
    EXPECT_THAT(r->resources[0].json, Not(HasSubstr("\"reference\":\"Condition/")));
  }
}

// The sample inputs (tests/data/fhir/input, as a FHIR-capable hospital would send the stays of the
// HL7 samples) land on the resources of the same stays.
TEST(FhirIngest, SampleInputsLandOnTheStaysOfTheHl7Samples) {
  struct sample {
    const char* input;
    fhir_route route;
    const char* facility;
    const char* url_id;
    const char* hl7;
    ev::event_kind kind;
  };
  const sample samples[] = {
      {"davinci_discharge_notification.json", fhir_route::process_message, "STBRIGID", "",
       "stbrigid_v24_A03_03", ev::event_kind::discharge},
      {"transaction_bundle.json", fhir_route::bundle, "LUH", "", "lakeshore_v251_A01_01",
       ev::event_kind::admission},
      {"finished_encounter.json", fhir_route::encounter_update, "RRMC", "rrmc-v000418231",
       "riverbend_v23_A03_01", ev::event_kind::discharge},
  };
  for (const sample& s : samples) {
    SCOPED_TRACE(s.input);
    const auto v2 = convert_v2(s.hl7);
    auto r = fhir::from_fhir(slurp(data / "fhir" / "input" / s.input), s.route,
                             options_for(s.facility, s.url_id));
    ASSERT_TRUE(r) << r.error().diagnostics << " at " << r.error().expression;
    ASSERT_EQ(r->events.size(), 1u);
    EXPECT_EQ(r->events[0].kind, s.kind);
    EXPECT_EQ(r->events[0].encounter_resource_id, v2.event.encounter_resource_id);
    EXPECT_EQ(r->events[0].patient_resource_id, v2.event.patient_resource_id);
    EXPECT_EQ(r->events[0].discharge_time, v2.event.discharge_time);
    EXPECT_EQ(r->events[0].diagnoses.size(), v2.event.diagnoses.size());
    expect_references_resolve(r->resources);
  }
}

TEST(FhirIngest, ContainedResourcesOfKeptTypesArePromoted) {
  auto r = fhir::from_fhir(slurp(data / "fhir" / "input" / "finished_encounter.json"),
                           fhir_route::encounter_update, options_for("RRMC", "rrmc-v000418231"));
  ASSERT_TRUE(r) << r.error().diagnostics;
  const auto conditions = ids_of(r->resources, "Condition");
  EXPECT_EQ(conditions.size(), 4u);
  std::string encounter;
  for (const auto& x : r->resources)
    if (x.type == "Encounter") encounter = x.json;
  EXPECT_THAT(encounter, Not(HasSubstr("\"contained\"")));
  for (const auto& id : conditions) EXPECT_THAT(encounter, HasSubstr("Condition/" + id));
  // The Conditions point back at the Encounter by its derived id.
  for (const auto& x : r->resources)
    if (x.type == "Condition") {
      EXPECT_THAT(x.json, HasSubstr("Encounter/" + r->events[0].encounter_resource_id));
    }
  // The diagnoses come from the promoted Conditions.
  EXPECT_EQ(r->events[0].diagnoses.size(), 4u);
}

TEST(FhirIngest, OutputIsDeterministicAndDropsServerMeta) {
  const std::string body = R"({"resourceType":"Bundle","type":"batch","entry":[
    {"fullUrl":"urn:uuid:1","request":{"method":"PUT","url":"Patient/p1"},
     "resource":{"resourceType":"Patient","id":"p1","meta":{"versionId":"7","lastUpdated":"2026-01-01T00:00:00Z",
       "profile":["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
       "identifier":[{"system":"urn:oid:9.9","value":"M1"}]}}]})";
  auto a = fhir::from_fhir(body, fhir_route::bundle, options_for("X"));
  auto b = fhir::from_fhir(body, fhir_route::bundle, options_for("X"));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->bundle_type, "batch");
  ASSERT_EQ(a->resources.size(), 1u);
  EXPECT_EQ(a->resources[0].json, b->resources[0].json);
  EXPECT_EQ(a->resources[0].id, fhir::ids::patient("X", "urn:oid:9.9", "", "M1"));
  EXPECT_THAT(a->resources[0].json, Not(HasSubstr("versionId")));
  EXPECT_THAT(a->resources[0].json, Not(HasSubstr("lastUpdated")));
  EXPECT_THAT(a->resources[0].json, HasSubstr("us-core-patient"));
  // Scoped by facility when the identifier has no system.
  const std::string nosys = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"request":{"method":"POST","url":"Patient"},
     "resource":{"resourceType":"Patient","identifier":[{"value":"M1"}]}}]})";
  auto x = fhir::from_fhir(nosys, fhir_route::bundle, options_for("X"));
  auto y = fhir::from_fhir(nosys, fhir_route::bundle, options_for("Y"));
  ASSERT_TRUE(x && y);
  EXPECT_NE(x->resources[0].id, y->resources[0].id);
}

// ---- event kinds -------------------------------------------------------------------------------

std::string encounter_json(
    const std::string& status, const std::string& cls,
    const std::string& cls_system = "http://terminology.hl7.org/CodeSystem/v3-ActCode") {
  return R"({"resourceType":"Encounter","id":"e1","identifier":[{"system":"urn:oid:9.9.2","value":"V1"}],
    "status":")" +
         status + R"(","class":{"system":")" + cls_system + R"(","code":")" + cls + R"("},
    "subject":{"identifier":{"system":"urn:oid:9.9","value":"M1"}},
    "period":{"start":"2026-11-01T08:00:00-05:00"}})";
}

TEST(FhirIngest, EncounterStatusAndClassGiveTheEventKind) {
  struct row {
    const char* status;
    const char* cls;
    ev::event_kind kind;
  };
  const row rows[] = {
      {"finished", "IMP", ev::event_kind::discharge},
      {"in-progress", "IMP", ev::event_kind::admission},
      {"arrived", "IMP", ev::event_kind::admission},
      {"in-progress", "EMER", ev::event_kind::registration},
      {"in-progress", "AMB", ev::event_kind::registration},
      {"planned", "IMP", ev::event_kind::preadmission},
      {"cancelled", "IMP", ev::event_kind::cancel_admission},
      {"entered-in-error", "EMER", ev::event_kind::cancel_admission},
      {"unknown", "IMP", ev::event_kind::update},
  };
  for (const row& x : rows) {
    auto r = fhir::from_fhir(encounter_json(x.status, x.cls), fhir_route::encounter_create,
                             options_for("X"));
    ASSERT_TRUE(r) << x.status << ": " << r.error().diagnostics;
    ASSERT_EQ(r->events.size(), 1u);
    EXPECT_EQ(r->events[0].kind, x.kind) << x.status << " " << x.cls;
    EXPECT_EQ(r->events[0].patient_class, x.cls);
  }
  // A v2-0004 class is read through the patient-class table.
  auto r = fhir::from_fhir(
      encounter_json("in-progress", "I", "http://terminology.hl7.org/CodeSystem/v2-0004"),
      fhir_route::encounter_create, options_for("X"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->events[0].patient_class, "IMP");
  EXPECT_EQ(r->events[0].kind, ev::event_kind::admission);
  EXPECT_EQ(r->events[0].recorded, "2026-11-01T08:00:00-05:00");
}

TEST(FhirIngest, DaVinciEventCodesGiveTheEventKind) {
  const auto v2 = convert_v2("stbrigid_v24_A01_02");
  struct row {
    const char* code;
    ev::event_kind kind;
  };
  for (const row& x : {row{"notification-admit", ev::event_kind::admission},
                       row{"notification-transfer", ev::event_kind::transfer},
                       row{"notification-discharge", ev::event_kind::discharge}}) {
    auto r = fhir::from_fhir(as_davinci_message(v2.bundle, x.code), fhir_route::process_message,
                             options_for("STBRIGID"));
    ASSERT_TRUE(r) << r.error().diagnostics;
    EXPECT_EQ(r->events[0].kind, x.kind) << x.code;
  }
  // A discharge without period.end takes Bundle.timestamp, and says so.
  auto r = fhir::from_fhir(as_davinci_message(v2.bundle, "notification-discharge"),
                           fhir_route::process_message, options_for("STBRIGID"));
  ASSERT_TRUE(r);
  if (v2.event.discharge_time.empty()) {
    EXPECT_EQ(r->events[0].discharge_time, "2026-11-04T11:52:03-05:00");
    EXPECT_FALSE(r->notes.empty());
  }
  // An emergency visit notified as an admission is a registration, as A04 is.
  const auto er = convert_v2("lakeshore_v251_A04_01");
  ASSERT_EQ(er.event.patient_class, "EMER");
  auto e = fhir::from_fhir(as_davinci_message(er.bundle, "notification-admit"),
                           fhir_route::process_message, options_for("LUH"));
  ASSERT_TRUE(e) << e.error().diagnostics;
  EXPECT_EQ(e->events[0].kind, ev::event_kind::registration);
  EXPECT_EQ(e->events[0].kind, er.event.kind);
}

TEST(FhirIngest, BundlesWithoutEncounterGiveAPatientEvent) {
  const std::string patient =
      R"({"fullUrl":"urn:uuid:p","request":{"method":"POST","url":"Patient"},
      "resource":{"resourceType":"Patient","identifier":[{"system":"urn:oid:9.9","value":"M1"}],
                  "name":[{"family":"Testcase","given":["Pat"]}]}})";
  auto u =
      fhir::from_fhir(R"({"resourceType":"Bundle","type":"transaction","entry":[)" + patient + "]}",
                      fhir_route::bundle, options_for("X"));
  ASSERT_TRUE(u);
  ASSERT_EQ(u->events.size(), 1u);
  EXPECT_EQ(u->events[0].kind, ev::event_kind::update);
  EXPECT_EQ(u->events[0].family, "Testcase");
  const std::string obs = R"({"request":{"method":"POST","url":"Observation"},
      "resource":{"resourceType":"Observation","status":"final",
        "code":{"coding":[{"system":"http://loinc.org","code":"718-7"}]},"subject":{"reference":"urn:uuid:p"},
        "effectiveDateTime":"2026-11-03T06:00:00-05:00",
        "valueQuantity":{"value":9.1,"unit":"g/dL","system":"http://unitsofmeasure.org","code":"g/dL"},
        "interpretation":[{"coding":[{"code":"L"}]}]}})";
  auto l = fhir::from_fhir(
      R"({"resourceType":"Bundle","type":"transaction","entry":[)" + patient + "," + obs + "]}",
      fhir_route::bundle, options_for("X"));
  ASSERT_TRUE(l) << l.error().diagnostics;
  ASSERT_EQ(l->events.size(), 1u);
  EXPECT_EQ(l->events[0].kind, ev::event_kind::lab_result);
  ASSERT_EQ(l->events[0].labs.size(), 1u);
  EXPECT_EQ(l->events[0].labs[0].code.code, "718-7");
  EXPECT_EQ(l->events[0].labs[0].value, 9.1);
  EXPECT_EQ(l->events[0].labs[0].unit, "g/dL");
  EXPECT_EQ(l->events[0].labs[0].abnormal_flag, "L");
}

TEST(FhirIngest, LeftOutTypesAreNotedAndLoseTheirReferences) {
  const std::string body = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:acct","request":{"method":"POST","url":"Account"},
     "resource":{"resourceType":"Account","status":"active"}},
    {"fullUrl":"urn:uuid:e","request":{"method":"POST","url":"Encounter"},
     "resource":{"resourceType":"Encounter","status":"in-progress","class":{"code":"IMP"},
       "identifier":[{"system":"urn:oid:9.9.2","value":"V1"}],
       "subject":{"identifier":{"system":"urn:oid:9.9","value":"M1"}},
       "account":[{"reference":"urn:uuid:acct"}]}}]})";
  auto r = fhir::from_fhir(body, fhir_route::bundle, options_for("X"));
  ASSERT_TRUE(r) << r.error().diagnostics;
  ASSERT_EQ(r->entries.size(), 2u);
  EXPECT_EQ(r->entries[0], (fhir::fhir_entry_result{"Account", ""}));
  EXPECT_FALSE(r->entries[1].id.empty());
  ASSERT_EQ(r->resources.size(), 1u);
  EXPECT_THAT(r->resources[0].json, HasSubstr(R"("account":[{"type":"Account"}])"));
  EXPECT_FALSE(r->notes.empty());
}

TEST(FhirIngest, TwoEntriesForOneResourceStoreOne) {
  const std::string p = R"({"request":{"method":"POST","url":"Patient"},
      "resource":{"resourceType":"Patient","identifier":[{"system":"urn:oid:9.9","value":"M1"}]}})";
  auto r = fhir::from_fhir(
      R"({"resourceType":"Bundle","type":"transaction","entry":[)" + p + "," + p + "]}",
      fhir_route::bundle, options_for("X"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->resources.size(), 1u);
  ASSERT_EQ(r->entries.size(), 2u);
  EXPECT_EQ(r->entries[0].id, r->entries[1].id);
}

TEST(FhirIngest, LengthOfStayUnits) {
  std::string body = encounter_json("finished", "IMP");
  body.insert(
      body.size() - 1,
      R"(,"length":{"value":36,"unit":"h","system":"http://unitsofmeasure.org","code":"h"})");
  auto r = fhir::from_fhir(body, fhir_route::encounter_create, options_for("X"));
  ASSERT_TRUE(r) << r.error().diagnostics;
  EXPECT_EQ(r->events[0].length_of_stay_days, 1.5);
}

// ---- refusals ----------------------------------------------------------------------------------

struct refusal_case {
  const char* name;
  fhir_route route;
  std::string body;
  unsigned status;
  const char* code;
  const char* expression;  // "" when none is expected
  std::string url_id = {};
};

// A well-formed transaction with one Patient and one Encounter (by reference), to break in one
// place per case. "Secretname" stands for content that must never reach an error text.
std::string tx(const std::string& patient_extra = "", const std::string& encounter_extra = "",
               const std::string& bundle_type = "transaction", const std::string& method = "POST") {
  return R"({"resourceType":"Bundle","type":")" + bundle_type + R"(","entry":[
    {"fullUrl":"urn:uuid:p","request":{"method":")" +
         method + R"(","url":"Patient"},
     "resource":{"resourceType":"Patient","name":[{"family":"Secretname"}])" +
         patient_extra + R"(}},
    {"fullUrl":"urn:uuid:e","request":{"method":"POST","url":"Encounter"},
     "resource":{"resourceType":"Encounter","class":{"code":"IMP"},"subject":{"reference":"urn:uuid:p"})" +
         encounter_extra + R"(}}]})";
}
const std::string ok_patient =
    R"(,"identifier":[{"system":"urn:oid:9.9","value":"Secretname-MRN"}])";
const std::string ok_encounter = R"(,"status":"finished")";

std::vector<refusal_case> refusal_cases() {
  const std::string deep = std::string(200, '[') + std::string(200, ']');
  std::vector<refusal_case> c = {
      {"NotJson", fhir_route::bundle, "Secretname {", 400, "structure", ""},
      {"NotAnObject", fhir_route::bundle, "[\"Secretname\"]", 400, "structure", ""},
      {"InvalidUtf8", fhir_route::bundle, "{\"resourceType\":\"Bundle\",\"id\":\"\xC3\x28\"}", 400,
       "structure", ""},
      {"TooDeep", fhir_route::bundle, "{\"a\":" + deep + "}", 400, "structure", ""},
      {"NoResourceType", fhir_route::bundle, R"({"type":"transaction"})", 400, "structure",
       "resourceType"},
      {"NotABundle", fhir_route::bundle,
       R"({"resourceType":"Patient","name":[{"family":"Secretname"}]})", 400, "invalid",
       "resourceType"},
      {"CollectionBundle", fhir_route::bundle, tx(ok_patient, ok_encounter, "collection"), 422,
       "not-supported", "Bundle.type"},
      {"MessageOnBundleRoute", fhir_route::bundle, tx(ok_patient, ok_encounter, "message"), 422,
       "not-supported", "Bundle.type"},
      {"TransactionOnProcessMessage", fhir_route::process_message, tx(ok_patient, ok_encounter),
       422, "invalid", "Bundle.type"},
      {"EntryNotAnArray", fhir_route::bundle,
       R"({"resourceType":"Bundle","type":"batch","entry":{}})", 400, "structure", "Bundle.entry"},
      {"DeleteEntry", fhir_route::bundle, tx(ok_patient, ok_encounter, "transaction", "DELETE"),
       422, "not-supported", "Bundle.entry[0].request.method"},
      {"EntryWithoutRequest", fhir_route::bundle,
       R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient"}}]})",
       422, "required", "Bundle.entry[0].request"},
      {"UrlOfAnotherType", fhir_route::bundle,
       R"({"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"PUT","url":"Encounter/x"},
         "resource":{"resourceType":"Patient","identifier":[{"value":"1"}]}}]})",
       422, "invalid", "Bundle.entry[0].request.url"},
      {"PatientWithoutIdentifier", fhir_route::bundle, tx("", ok_encounter), 422, "required",
       "Bundle.entry[0].resource.identifier"},
      {"EncounterWithoutStatus", fhir_route::bundle, tx(ok_patient, ""), 422, "required",
       "Bundle.entry[1].resource.status"},
      {"EncounterWithBadStatus", fhir_route::bundle, tx(ok_patient, R"(,"status":"Secretname")"),
       422, "code-invalid", "Bundle.entry[1].resource.status"},
      {"EncounterWithoutSubject", fhir_route::bundle,
       R"({"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Encounter"},
         "resource":{"resourceType":"Encounter","status":"finished","class":{"code":"IMP"}}}]})",
       422, "required", "Bundle.entry[0].resource.subject"},
      {"EncounterWithoutClass", fhir_route::bundle,
       R"({"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Encounter"},
         "resource":{"resourceType":"Encounter","status":"finished","subject":{"identifier":{"value":"1"}}}}]})",
       422, "required", "Bundle.entry[0].resource.class"},
      {"DanglingReference", fhir_route::bundle,
       tx(ok_patient,
          R"(,"status":"finished","serviceProvider":{"reference":"Organization/Secretname"})"),
       422, "invalid", "Bundle.entry[1].resource.serviceProvider.reference"},
      {"DateTimeWithoutZone", fhir_route::bundle,
       tx(ok_patient, R"(,"status":"finished","period":{"start":"2026-11-01T08:00:00"})"), 422,
       "value", "Bundle.entry[1].resource.period.start"},
      {"SameFullUrlTwice", fhir_route::bundle,
       R"({"resourceType":"Bundle","type":"transaction","entry":[
         {"fullUrl":"urn:uuid:a","request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","identifier":[{"value":"1"}]}},
         {"fullUrl":"urn:uuid:a","request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","identifier":[{"value":"2"}]}}]})",
       422, "invalid", "Bundle.entry[1].resource"},
      {"WrongJsonType", fhir_route::bundle,
       tx(ok_patient, R"(,"status":"finished","period":"Secretname")"), 400, "structure",
       "Bundle.entry[1].resource.period"},
      {"NotAnEncounter", fhir_route::encounter_create,
       R"({"resourceType":"Patient","name":[{"family":"Secretname"}]})", 400, "invalid",
       "resourceType"},
      {"UpdateIdMismatch", fhir_route::encounter_update, encounter_json("finished", "IMP"), 400,
       "invalid", "Encounter.id", "other"},
      {"EncounterSubjectByReferenceOnly", fhir_route::encounter_create,
       R"({"resourceType":"Encounter","status":"finished","class":{"code":"IMP"},"subject":{"reference":"Patient/Secretname"}})",
       422, "invalid", "Encounter.subject"},
      {"MessageWithoutHeaderFirst", fhir_route::process_message,
       tx(ok_patient, ok_encounter, "message"), 422, "invalid", "Bundle.entry[0].resource"},
  };
  // Da Vinci messages that break one rule.
  auto message = [](const std::string& event, const std::string& focus) {
    return R"({"resourceType":"Bundle","type":"message","timestamp":"2026-11-04T11:52:03-05:00","entry":[
      {"fullUrl":"urn:uuid:h","resource":{"resourceType":"MessageHeader","eventCoding":)" +
           event + R"(,"source":{"endpoint":"https://x.example"},"focus":[{"reference":")" + focus +
           R"("}]}},
      {"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","identifier":[{"value":"Secretname"}]}},
      {"fullUrl":"urn:uuid:e","resource":{"resourceType":"Encounter","status":"finished","class":{"code":"IMP"},
        "subject":{"reference":"urn:uuid:p"}}}]})";
  };
  const std::string discharge =
      R"({"system":"http://hl7.org/fhir/us/davinci-alerts/CodeSystem/notification-event","code":"notification-discharge"})";
  c.push_back(
      {"MessageWithOtherEvent", fhir_route::process_message,
       message(
           R"({"system":"http://hl7.org/fhir/us/davinci-alerts/CodeSystem/notification-event","code":"notification-lab-report"})",
           "urn:uuid:e"),
       422, "not-supported", "Bundle.entry[0].resource.eventCoding"});
  c.push_back({"MessageFocusNotEncounter", fhir_route::process_message,
               message(discharge, "urn:uuid:p"), 422, "invalid", "Bundle.entry[0].resource.focus"});
  c.push_back({"MessageFocusOutside", fhir_route::process_message,
               message(discharge, "Encounter/elsewhere"), 422, "invalid",
               "Bundle.entry[0].resource.focus"});
  return c;
}

class FhirIngestRefusal : public testing::TestWithParam<refusal_case> {};

TEST_P(FhirIngestRefusal, StatusCodeAndPathWithoutContent) {
  const refusal_case& c = GetParam();
  auto r = fhir::from_fhir(c.body, c.route, options_for("X", c.url_id));
  ASSERT_FALSE(r) << "accepted";
  EXPECT_EQ(r.error().status, c.status) << r.error().diagnostics;
  EXPECT_EQ(r.error().code, c.code) << r.error().diagnostics;
  EXPECT_EQ(r.error().expression, c.expression);
  EXPECT_FALSE(r.error().diagnostics.empty());
  EXPECT_THAT(r.error().diagnostics, Not(HasSubstr("Secretname")));
  EXPECT_THAT(r.error().expression, Not(HasSubstr("Secretname")));
  const std::string oo = fhir::operation_outcome(r.error());
  EXPECT_THAT(oo, Not(HasSubstr("Secretname")));
  rapidjson::Document d = parse(oo);
  EXPECT_STREQ(d["resourceType"].GetString(), "OperationOutcome");
  EXPECT_STREQ(d["issue"][0]["severity"].GetString(), "error");
  EXPECT_STREQ(d["issue"][0]["code"].GetString(), c.code);
}

INSTANTIATE_TEST_SUITE_P(Cases, FhirIngestRefusal, testing::ValuesIn(refusal_cases()),
                         [](const testing::TestParamInfo<refusal_case>& i) {
                           return std::string(i.param.name);
                         });

TEST(FhirIngest, TooManyEntriesIsTooCostly) {
  std::string body = R"({"resourceType":"Bundle","type":"batch","entry":[)";
  for (int i = 0; i < 5; ++i)
    body +=
        std::string(i ? "," : "") +
        R"({"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","identifier":[{"value":")" +
        std::to_string(i) + R"("}]}})";
  body += "]}";
  auto o = options_for("X");
  o.max_entries = 4;
  auto r = fhir::from_fhir(body, fhir_route::bundle, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 422u);
  EXPECT_EQ(r.error().code, "too-costly");
  o.max_entries = 5;
  EXPECT_TRUE(fhir::from_fhir(body, fhir_route::bundle, o));
}

// ---- the route names the store keeps ----------------------------------------------------------

TEST(FhirIngest, StoreTypesRoundTrip) {
  EXPECT_EQ(fhir::store_type(fhir_route::bundle), "FHIR:bundle");
  EXPECT_EQ(fhir::store_type(fhir_route::encounter_create), "FHIR:encounter");
  EXPECT_EQ(fhir::store_type(fhir_route::encounter_update, "abc-1"), "FHIR:encounter/abc-1");
  EXPECT_EQ(fhir::store_type(fhir_route::process_message), "FHIR:process-message");
  for (fhir_route r : {fhir_route::bundle, fhir_route::encounter_create,
                       fhir_route::encounter_update, fhir_route::process_message}) {
    const auto back = fhir::route_from_store_type(fhir::store_type(r, "abc-1"));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->route, r);
    EXPECT_EQ(back->encounter_id, r == fhir_route::encounter_update ? "abc-1" : "");
  }
  EXPECT_FALSE(fhir::route_from_store_type("ADT^A03"));
  EXPECT_FALSE(fhir::route_from_store_type("FHIR:encounter/bad id"));
  EXPECT_FALSE(fhir::route_from_store_type("FHIR:other"));
}

TEST(FhirIngest, ValidIds) {
  EXPECT_TRUE(fhir::valid_id("a-B.9"));
  EXPECT_TRUE(fhir::valid_id(std::string(64, 'a')));
  EXPECT_FALSE(fhir::valid_id(std::string(65, 'a')));
  EXPECT_FALSE(fhir::valid_id(""));
  EXPECT_FALSE(fhir::valid_id("a/b"));
  EXPECT_FALSE(fhir::valid_id("a_b"));
}

}  // namespace
