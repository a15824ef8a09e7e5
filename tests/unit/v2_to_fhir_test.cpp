// HL7 v2 → FHIR R4 (mappings/fhir/v2_to_fhir): Bundles checked as parsed JSON, field by field, on
// the realistic samples in tests/data/hl7/adt/ and on variants of them. The facility profiles come
// from tests/data/hl7/adt/hospitals.json, loaded the way the gateway loads them (a `facilities`
// object through gateway::config::load_text).
#include "gateway/config/config.hpp"
#include "mappings/event/clinical_event.hpp"
#include "mappings/fhir/ids.hpp"
#include "mappings/fhir/v2_to_fhir.hpp"
#include "mappings/hl7v2/message.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fhir = carebridge::mappings::fhir;
namespace hl7 = carebridge::mappings::hl7v2;
namespace ev = carebridge::mappings::event;
namespace cfg = carebridge::gateway::config;
using rapidjson::Value;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string adt_dir = CAREBRIDGE_TEST_DATA "/hl7/adt";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return std::move(s).str();
}

std::string sample(std::string_view name) { return slurp(adt_dir + "/" + std::string(name) + ".hl7"); }

// ---- editing messages --------------------------------------------------------------------------

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t p = s.find(sep, start);
    out.emplace_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

std::vector<std::string> segments(std::string_view msg) {
  std::vector<std::string> out;
  for (std::string& s : split(msg, '\r'))
    if (!s.empty()) out.push_back(std::move(s));
  return out;
}

std::string join_segments(const std::vector<std::string>& segs) {
  std::string out;
  for (const std::string& s : segs) out.append(s).push_back('\r');
  return out;
}

// Sets field n (standard numbering, MSH-n too) of the occurrence-th segment `id` (CR-terminated
// message, default delimiters), adding empty fields as needed.
std::string set_field(std::string_view msg, std::string_view id, std::size_t n, std::string_view value,
                      int occurrence = 1) {
  auto segs = segments(msg);
  int seen = 0;
  for (std::string& seg : segs) {
    if (seg.compare(0, 3, id) != 0 || ++seen != occurrence) continue;
    auto fields = split(seg, '|');
    const std::size_t index = id == "MSH" ? n - 1 : n;
    if (fields.size() <= index) fields.resize(index + 1);
    fields[index] = std::string(value);
    seg.clear();
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i) seg.push_back('|');
      seg.append(fields[i]);
    }
    return join_segments(segs);
  }
  throw std::runtime_error("no segment " + std::string(id));
}

std::string drop_segments(std::string_view msg, std::string_view id) {
  auto segs = segments(msg);
  std::erase_if(segs, [&](const std::string& s) { return s.compare(0, 3, id) == 0; });
  return join_segments(segs);
}

std::string add_segment(std::string_view msg, std::string_view seg) {
  std::string out(msg);
  out.append(seg).push_back('\r');
  return out;
}

// ---- facility profiles from hospitals.json ------------------------------------------------------

// hospitals.json → the gateway config's `facilities` object. local_codes become code_overrides
// (patient_class → ActCode, discharge_disposition → NUBC, admission_type → v2-0007); `lab` has no
// table in the mapper and is left out.
std::string facilities_config(bool with_overrides) {
  const std::string text = slurp(adt_dir + "/hospitals.json");
  rapidjson::Document h;
  h.Parse(text.data(), text.size());
  if (h.HasParseError() || !h.IsObject()) throw std::runtime_error("hospitals.json is not JSON");
  rapidjson::Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  Value facilities(rapidjson::kObjectType);
  const std::tuple<const char*, const char*, const char*> local_tables[] = {
      {"patient_class", "patient-class", "http://terminology.hl7.org/CodeSystem/v3-ActCode"},
      {"discharge_disposition", "discharge-disposition", "https://www.nubc.org/CodeSystem/PatDischargeStatus"},
      {"admission_type", "admission-type", "http://terminology.hl7.org/CodeSystem/v2-0007"}};
  for (const auto& m : h.GetObject()) {
    const Value& src = m.value;
    Value f(rapidjson::kObjectType);
    f.AddMember("time_zone", Value(src["time_zone"], a), a);
    f.AddMember("identifier_systems", Value(src["identifier_systems"], a), a);
    f.AddMember("identifier_systems_by_type", Value(src["identifier_systems_by_type"], a), a);
    if (src["practitioner_system_default"].IsString())
      f.AddMember("practitioner_system", Value(src["practitioner_system_default"], a), a);
    f.AddMember("code_systems", Value(src["code_systems"], a), a);
    Value overrides(rapidjson::kObjectType);
    for (const auto& [local, table, system] : local_tables) {
      Value rows(rapidjson::kObjectType);
      for (const auto& row : src["local_codes"][local].GetObject()) {
        Value target(rapidjson::kObjectType);
        target.AddMember("system", Value(system, a), a);
        target.AddMember("code", Value(row.value, a), a);
        rows.AddMember(Value(row.name, a), target, a);
      }
      if (!rows.ObjectEmpty()) overrides.AddMember(Value(table, a), rows, a);
    }
    if (with_overrides && !overrides.ObjectEmpty()) f.AddMember("code_overrides", overrides, a);
    facilities.AddMember(Value(m.name, a), f, a);
  }
  out.AddMember("facilities", facilities, a);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  out.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

const cfg::config& hospitals(bool with_overrides = true) {
  static const cfg::config with = cfg::load_text(facilities_config(true), "hospitals.json");
  static const cfg::config without = cfg::load_text(facilities_config(false), "hospitals.json");
  return with_overrides ? with : without;
}

const fhir::sender_profile* profile(std::string_view facility, bool with_overrides = true) {
  const auto& f = hospitals(with_overrides).facilities;
  auto it = f.find(facility);
  if (it == f.end()) throw std::runtime_error("no profile for " + std::string(facility));
  return &it->second;
}

// ---- converting --------------------------------------------------------------------------------

enum class use_profile { yes, no, without_overrides };

struct converted {
  std::string text;
  std::optional<hl7::message> msg;
  fhir::conversion out;
  rapidjson::Document doc;

  std::vector<const Value*> all(std::string_view type) const {
    std::vector<const Value*> found;
    for (const Value& e : doc["entry"].GetArray()) {
      const Value& r = e["resource"];
      if (std::string_view(r["resourceType"].GetString()) == type) found.push_back(&r);
    }
    return found;
  }
  const Value& one(std::string_view type) const {
    const auto found = all(type);
    if (found.size() != 1)
      throw std::runtime_error("expected one " + std::string(type) + ", found " + std::to_string(found.size()));
    return *found[0];
  }
  const Value* by_id(std::string_view type, std::string_view id) const {
    for (const Value* r : all(type))
      if (std::string_view((*r)["id"].GetString()) == id) return r;
    return nullptr;
  }
  bool has_unmapped(std::string_view table, std::string_view code) const {
    return std::find(out.unmapped.begin(), out.unmapped.end(),
                     fhir::unmapped_code{std::string(table), std::string(code)}) != out.unmapped.end();
  }
  bool has_note(std::string_view part) const {
    return std::any_of(out.notes.begin(), out.notes.end(),
                       [&](const std::string& n) { return n.find(part) != std::string::npos; });
  }
};

std::unique_ptr<converted> run(std::string text, const fhir::sender_profile* sender) {
  auto c = std::make_unique<converted>();
  c->text = std::move(text);
  auto parsed = hl7::parse(c->text);
  if (!parsed) throw std::runtime_error("parse: " + parsed.error().describe());
  c->msg.emplace(std::move(*parsed));
  fhir::convert_options options;
  options.sender = sender;
  auto r = fhir::convert(*c->msg, options);
  if (!r) throw std::runtime_error("convert: " + r.error().message());
  c->out = std::move(*r);
  c->doc.Parse<rapidjson::kParseValidateEncodingFlag>(c->out.bundle.data(), c->out.bundle.size());
  if (c->doc.HasParseError() || !c->doc.IsObject())
    throw std::runtime_error("the Bundle is not valid JSON: " + c->out.bundle.substr(0, 200));
  return c;
}

const fhir::sender_profile* profile_for(std::string_view text, use_profile p) {
  if (p == use_profile::no) return nullptr;
  auto m = hl7::parse(text);
  if (!m) throw std::runtime_error("parse: " + m.error().describe());
  return profile(m->sending_facility(), p == use_profile::yes);
}

std::unique_ptr<converted> run_text(std::string text, use_profile p = use_profile::yes) {
  const fhir::sender_profile* sender = profile_for(text, p);
  return run(std::move(text), sender);
}

std::unique_ptr<converted> run_sample(std::string_view name, use_profile p = use_profile::yes) {
  return run_text(sample(name), p);
}

boost::system::error_code convert_error_of(const std::string& text) {
  auto m = hl7::parse(text);
  if (!m) throw std::runtime_error("parse: " + m.error().describe());
  auto r = fhir::convert(*m, {});
  return r ? boost::system::error_code{} : r.error();
}

// ---- JSON helpers ------------------------------------------------------------------------------

const Value* at(const Value& v, const char* pointer) { return rapidjson::Pointer(pointer).Get(v); }

std::string str(const Value& v, const char* pointer) {
  const Value* x = at(v, pointer);
  return x != nullptr && x->IsString() ? std::string(x->GetString(), x->GetStringLength()) : std::string();
}

std::optional<double> num(const Value& v, const char* pointer) {
  const Value* x = at(v, pointer);
  if (x == nullptr || !x->IsNumber()) return std::nullopt;
  return x->GetDouble();
}

std::string ref(std::string_view type, std::string_view id) { return std::string(type) + "/" + std::string(id); }

std::string id_of(const Value& r) { return str(r, "/id"); }

// The coding of a CodeableConcept (or Coding array) with this system, or nullptr.
const Value* coding_with_system(const Value* concept_or_array, std::string_view system) {
  if (concept_or_array == nullptr) return nullptr;
  const Value* codings = concept_or_array->IsArray() ? concept_or_array : at(*concept_or_array, "/coding");
  if (codings == nullptr || !codings->IsArray()) return nullptr;
  for (const Value& c : codings->GetArray())
    if (c.HasMember("system") && std::string_view(c["system"].GetString()) == system) return &c;
  return nullptr;
}

// The identifier of a resource with this type code (identifier[].type.coding[0].code).
const Value* identifier_of_type(const Value& r, std::string_view type) {
  const Value* ids = at(r, "/identifier");
  if (ids == nullptr) return nullptr;
  for (const Value& i : ids->GetArray())
    if (str(i, "/type/coding/0/code") == type) return &i;
  return nullptr;
}

bool is_fhir_id(std::string_view s) {
  static const std::regex re("[A-Za-z0-9\\-\\.]{1,64}");
  return std::regex_match(s.begin(), s.end(), re);
}
bool is_uuid(std::string_view s) {
  static const std::regex re("[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  return std::regex_match(s.begin(), s.end(), re);
}
bool is_fhir_datetime(std::string_view s) {
  static const std::regex re(
      R"(([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?)");
  return std::regex_match(s.begin(), s.end(), re);
}

// Walks a JSON value: every reference string, every empty value, every date-time-valued key.
struct walk_result {
  std::vector<std::string> references;
  std::vector<std::string> empties;      // JSON pointers-ish of "", {}, []
  std::vector<std::string> bad_times;    // key: value of date/time keys that are not FHIR dateTime
};
void walk(const Value& v, const std::string& where, walk_result& out) {
  static const std::set<std::string_view> time_keys = {
      "start", "end", "onsetDateTime", "recordedDate", "performedDateTime", "effectiveDateTime",
      "deceasedDateTime", "birthDate", "timestamp"};
  if (v.IsString() && v.GetStringLength() == 0) out.empties.push_back(where);
  if (v.IsArray()) {
    if (v.Empty()) out.empties.push_back(where);
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) walk(v[i], where + "/" + std::to_string(i), out);
  }
  if (v.IsObject()) {
    if (v.ObjectEmpty()) out.empties.push_back(where);
    for (const auto& m : v.GetObject()) {
      const std::string_view key(m.name.GetString(), m.name.GetStringLength());
      if (key == "reference" && m.value.IsString()) out.references.emplace_back(m.value.GetString());
      if (time_keys.count(key) && m.value.IsString() && !is_fhir_datetime(m.value.GetString()))
        out.bad_times.push_back(std::string(key) + ": " + m.value.GetString());
      walk(m.value, where + "/" + std::string(key), out);
    }
  }
}

std::vector<std::string> all_samples() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(adt_dir))
    if (e.path().extension() == ".hl7") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

// ================================================================================================
// Bundle shape, on every sample, with and without the facility's profile.

void expect_well_formed(const converted& c) {
  const Value& b = c.doc;
  EXPECT_EQ(str(b, "/resourceType"), "Bundle");
  EXPECT_EQ(str(b, "/type"), "transaction");
  EXPECT_EQ(str(b, "/identifier/value"), std::string(c.msg->control_id()));
  const Value* entries = at(b, "/entry");
  ASSERT_NE(entries, nullptr);
  ASSERT_TRUE(entries->IsArray());
  ASSERT_EQ(entries->Size(), c.out.resources.size());
  std::set<std::string> ids;
  std::set<std::string> targets;  // "Type/id"
  for (rapidjson::SizeType i = 0; i < entries->Size(); ++i) {
    const Value& e = (*entries)[i];
    const std::string type = str(e, "/resource/resourceType");
    const std::string id = str(e, "/resource/id");
    SCOPED_TRACE(type + "/" + id);
    EXPECT_TRUE(is_fhir_id(id));
    EXPECT_TRUE(is_uuid(id));
    EXPECT_EQ(str(e, "/fullUrl"), "urn:uuid:" + id);
    EXPECT_EQ(str(e, "/request/method"), "PUT");
    EXPECT_EQ(str(e, "/request/url"), ref(type, id));
    EXPECT_TRUE(ids.insert(id).second) << "duplicate id";
    targets.insert(ref(type, id));
    // conversion.resources is the same list, each resource's JSON its own.
    EXPECT_EQ(c.out.resources[i].type, type);
    EXPECT_EQ(c.out.resources[i].id, id);
    rapidjson::Document own;
    own.Parse(c.out.resources[i].json.data(), c.out.resources[i].json.size());
    ASSERT_FALSE(own.HasParseError());
    EXPECT_TRUE(own == e["resource"]);
  }
  walk_result w;
  walk(b, "", w);
  for (const std::string& r : w.references) EXPECT_TRUE(targets.count(r)) << "dangling reference " << r;
  EXPECT_THAT(w.empties, ::testing::IsEmpty());
  EXPECT_THAT(w.bad_times, ::testing::IsEmpty());
  // The event names resources of this Bundle.
  EXPECT_TRUE(targets.count(ref("Patient", c.out.event.patient_resource_id)));
  // A lab result points at its stay by the visit number (a logical reference: the Encounter is the
  // ADT messages' to write); every other event's Encounter is in the Bundle.
  if (c.out.event.kind == ev::event_kind::lab_result) {
    EXPECT_EQ(c.all("Encounter").size(), 0u);
    for (const Value* o : c.all("Observation")) {
      if (c.out.event.visit_id.empty()) {
        EXPECT_EQ(at(*o, "/encounter"), nullptr);
      } else {
        EXPECT_EQ(str(*o, "/encounter/type"), "Encounter");
        EXPECT_EQ(str(*o, "/encounter/identifier/value"), c.out.event.visit_id);
      }
    }
  } else if (!c.out.event.encounter_resource_id.empty()) {
    EXPECT_TRUE(targets.count(ref("Encounter", c.out.event.encounter_resource_id)));
  }
}

TEST(V2ToFhirBundle, EverySampleGivesAWellFormedTransactionBundle) {
  const auto names = all_samples();
  ASSERT_GE(names.size(), 30u);
  for (const std::string& name : names) {
    for (use_profile p : {use_profile::yes, use_profile::no}) {
      SCOPED_TRACE(name + (p == use_profile::yes ? " with profile" : " without profile"));
      const auto c = run_sample(name, p);
      expect_well_formed(*c);
    }
  }
}

TEST(V2ToFhirBundle, ConvertingTwiceGivesIdenticalBytes) {
  for (const std::string& name : all_samples()) {
    SCOPED_TRACE(name);
    const auto a = run_sample(name);
    const auto b = run_sample(name);
    EXPECT_EQ(a->out.bundle, b->out.bundle);
    EXPECT_EQ(ev::to_json(a->out.event), ev::to_json(b->out.event));
    EXPECT_EQ(a->out.notes, b->out.notes);
    EXPECT_EQ(a->out.unmapped, b->out.unmapped);
  }
}

// Legal but unusual values: FHIR forbids empty arrays and objects, whatever the sender did.
TEST(V2ToFhirBundle, UnusualValuesStillGiveWellFormedBundles) {
  const std::string base = sample("stbrigid_v24_A03_03");
  const std::pair<const char*, std::string> variants[] = {
      {"PID-5 family only as a second sub-component", set_field(base, "PID", 5, "&Doherty")},
      {"PID-11 street only as a second sub-component", set_field(base, "PID", 11, "&130 Dorchester Ave")},
      {"NK1-2 family only as a second sub-component", set_field(base, "NK1", 2, "&Lynch")},
      {"PID-5 HL7 null", set_field(base, "PID", 5, "\"\"")},
      {"PV1-2 HL7 null", set_field(base, "PV1", 2, "\"\"")},
      {"DG1-3 without code or text", set_field(set_field(base, "DG1", 3, "^^I10"), "DG1", 4, "")},
      {"IN1 without plan, company or member",
       set_field(set_field(set_field(set_field(set_field(base, "IN1", 2, ""), "IN1", 3, ""), "IN1", 4, ""),
                           "IN1", 36, ""),
                 "IN1", 49, "")},
      {"OBX with empty value", add_segment(base, "OBX|1|NM|718-7^Hgb^LN||||")},
  };
  for (const auto& [what, text] : variants) {
    SCOPED_TRACE(what);
    std::unique_ptr<converted> c;
    ASSERT_NO_THROW(c = run_text(text));
    expect_well_formed(*c);
  }
}

TEST(V2ToFhirBundle, NameInALaterRepetitionIsNotLost) {
  // PID-5 with an empty first repetition: the name sent in the second still names the patient.
  const auto c = run_text(set_field(sample("stbrigid_v24_A03_03"), "PID", 5, "~Doherty^Francis^^^^^L"));
  EXPECT_EQ(str(c->one("Patient"), "/name/0/family"), "Doherty");
  EXPECT_EQ(c->out.event.family, "Doherty");
}

TEST(V2ToFhirBundle, TimestampAndIdentifierFromMsh) {
  const auto c = run_sample("stbrigid_v24_A03_03");
  EXPECT_EQ(str(c->doc, "/timestamp"), "2026-11-04T11:52:03-05:00");  // MSH-7, New York
  EXPECT_EQ(str(c->doc, "/identifier/value"), "STB202611041152030008");
  EXPECT_FALSE(str(c->doc, "/identifier/system").empty());
  // With no zone MSH-7 has no instant: no timestamp rather than an invented offset.
  const auto none = run_sample("stbrigid_v24_A03_03", use_profile::no);
  EXPECT_EQ(at(none->doc, "/timestamp"), nullptr);
  // An offset sent is an instant whatever the profile.
  const auto cvh = run_sample("cascadia_v28_A03_01", use_profile::no);
  EXPECT_THAT(str(cvh->doc, "/timestamp"), ::testing::EndsWith("-08:00"));
}

// ================================================================================================
// Identity: one stay, one Encounter; one MRN, one Patient.

TEST(V2ToFhirIds, OneStayKeepsItsEncounterAndPatientIds) {
  for (use_profile p : {use_profile::yes, use_profile::no}) {
    SCOPED_TRACE(p == use_profile::yes ? "with profile" : "without profile");
    std::set<std::string> encounters, patients;
    for (const char* name : {"stbrigid_v24_A01_02", "stbrigid_v24_A02_01", "stbrigid_v24_A08_01",
                             "stbrigid_v24_A03_03", "stbrigid_v24_ORU_R01_01"}) {
      SCOPED_TRACE(name);
      const auto c = run_sample(name, p);
      const bool lab = c->out.event.kind == ev::event_kind::lab_result;
      const std::string enc = lab ? c->out.event.encounter_resource_id : id_of(c->one("Encounter"));
      const std::string pat = id_of(c->one("Patient"));
      EXPECT_EQ(enc, c->out.event.encounter_resource_id);
      EXPECT_EQ(pat, c->out.event.patient_resource_id);
      EXPECT_EQ(c->out.event.visit_id, "4471782215");
      encounters.insert(enc);
      patients.insert(pat);
    }
    EXPECT_EQ(encounters.size(), 1u);
    EXPECT_EQ(patients.size(), 1u);
  }
}

TEST(V2ToFhirIds, OtherStaysAndCancelsKeyTheSameWay) {
  // Riverbend: A03, its cancel (A13) and the real discharge (A03) of one visit.
  const auto a = run_sample("riverbend_v23_A03_01");
  const auto b = run_sample("riverbend_v23_A13_01");
  const auto d = run_sample("riverbend_v23_A03_04");
  EXPECT_EQ(a->out.event.encounter_resource_id, b->out.event.encounter_resource_id);
  EXPECT_EQ(a->out.event.encounter_resource_id, d->out.event.encounter_resource_id);
  EXPECT_EQ(a->out.event.patient_resource_id, d->out.event.patient_resource_id);
  // Lakeshore: an A11 cancels the A01's Encounter.
  const auto adm = run_sample("lakeshore_v251_A01_01");
  const auto cancel = run_sample("lakeshore_v251_A11_01");
  EXPECT_EQ(adm->out.event.encounter_resource_id, cancel->out.event.encounter_resource_id);
  // Northfield: observation registration then inpatient (A04, A06), and the ORU of another stay.
  EXPECT_EQ(run_sample("northfield_v26_A04_02")->out.event.encounter_resource_id,
            run_sample("northfield_v26_A06_01")->out.event.encounter_resource_id);
  EXPECT_EQ(run_sample("northfield_v26_A03_02")->out.event.encounter_resource_id,
            run_sample("northfield_v26_ORU_R01_01")->out.event.encounter_resource_id);
}

TEST(V2ToFhirIds, DifferentStaysAndPatientsGetDifferentIds) {
  std::set<std::string> encounters, patients;
  std::size_t n = 0;
  for (const char* name : {"stbrigid_v24_A03_01", "stbrigid_v24_A03_02", "stbrigid_v24_A03_03",
                           "lakeshore_v251_A03_01", "lakeshore_v251_A03_02", "riverbend_v23_A03_01",
                           "riverbend_v23_A03_02", "northfield_v26_A03_01", "cascadia_v28_A03_01"}) {
    const auto c = run_sample(name);
    encounters.insert(c->out.event.encounter_resource_id);
    patients.insert(c->out.event.patient_resource_id);
    ++n;
  }
  EXPECT_EQ(encounters.size(), n);
  EXPECT_EQ(patients.size(), n);
}

TEST(V2ToFhirIds, ControlIdAndMessageTimeDoNotChangeResourceIds) {
  const std::string text = sample("stbrigid_v24_A03_03");
  const auto a = run_text(text);
  const auto b = run_text(set_field(set_field(text, "MSH", 10, "OTHER-CONTROL-ID"), "MSH", 7, "20261105000000"));
  ASSERT_EQ(a->out.resources.size(), b->out.resources.size());
  for (std::size_t i = 0; i < a->out.resources.size(); ++i) EXPECT_EQ(a->out.resources[i].id, b->out.resources[i].id);
}

TEST(V2ToFhirIds, VisitNumberOfAnotherAuthorityIsAnotherEncounter) {
  const std::string text = sample("stbrigid_v24_A03_03");
  const auto a = run_text(text);
  const auto b = run_text(set_field(text, "PV1", 19, "4471782215^^^OTHERHOSP^VN"));
  const auto c = run_text(set_field(text, "PV1", 19, "4471782216^^^STBRIGID^VN"));
  EXPECT_NE(a->out.event.encounter_resource_id, b->out.event.encounter_resource_id);
  EXPECT_NE(a->out.event.encounter_resource_id, c->out.event.encounter_resource_id);
}

TEST(V2ToFhirIds, NoVisitNumberKeysTheEncounterOnTheMessage) {
  const std::string text = set_field(sample("stbrigid_v24_A03_03"), "PV1", 19, "");
  const auto a = run_text(text);
  EXPECT_TRUE(a->has_note("PV1-19"));
  EXPECT_EQ(a->out.event.visit_id, "");
  const auto b = run_text(set_field(text, "MSH", 10, "ANOTHER"));
  EXPECT_NE(a->out.event.encounter_resource_id, b->out.event.encounter_resource_id);
  // PV1-50 (alternate visit id) is the fallback key.
  const auto alt = run_text(set_field(text, "PV1", 50, "ALT77^^^STBRIGID^VN"));
  EXPECT_EQ(alt->out.event.visit_id, "ALT77");
  EXPECT_EQ(str(alt->one("Encounter"), "/identifier/0/value"), "ALT77");
}

TEST(V2ToFhirIds, IdsCarryNoPhi) {
  const auto c = run_sample("stbrigid_v24_A03_03");
  const std::vector<std::string> phi = {"SB21288734", "4471782215", "Doherty", "Francis", "19470603",
                                        "1947-06-03", "987364419", "HMA300481772", "7TQ2GD5VH38", "02127"};
  for (const Value& e : c->doc["entry"].GetArray()) {
    for (const std::string& p : phi) {
      EXPECT_THAT(str(e, "/fullUrl"), Not(HasSubstr(p)));
      EXPECT_THAT(str(e, "/request/url"), Not(HasSubstr(p)));
    }
  }
  for (const std::string& note : c->out.notes)
    for (const std::string& p : phi) EXPECT_THAT(note, Not(HasSubstr(p)));
}

// ================================================================================================
// Encounter status and period by trigger event.

TEST(V2ToFhirEncounter, A03IsFinishedWithBothEndsInTheirOwnDstOffsets) {
  const auto c = run_sample("stbrigid_v24_A03_03");
  const Value& enc = c->one("Encounter");
  EXPECT_EQ(str(enc, "/status"), "finished");
  EXPECT_EQ(str(enc, "/period/start"), "2026-10-29T16:25:00-04:00");  // EDT
  EXPECT_EQ(str(enc, "/period/end"), "2026-11-04T11:40:00-05:00");    // EST
  EXPECT_EQ(str(enc, "/class/system"), "http://terminology.hl7.org/CodeSystem/v3-ActCode");
  EXPECT_EQ(str(enc, "/class/code"), "IMP");
  EXPECT_EQ(str(enc, "/subject/reference"), ref("Patient", id_of(c->one("Patient"))));
  EXPECT_EQ(str(enc, "/location/0/status"), "completed");
  EXPECT_EQ(num(enc, "/length/value"), 6.0);
  EXPECT_EQ(str(enc, "/length/code"), "d");
  EXPECT_EQ(str(enc, "/length/system"), "http://unitsofmeasure.org");
  const Value* dd = coding_with_system(at(enc, "/hospitalization/dischargeDisposition"),
                                       "https://www.nubc.org/CodeSystem/PatDischargeStatus");
  ASSERT_NE(dd, nullptr);
  EXPECT_EQ(str(*dd, "/code"), "06");
  EXPECT_EQ(str(enc, "/hospitalization/reAdmission/coding/0/code"), "R");
  EXPECT_EQ(str(enc, "/hospitalization/reAdmission/coding/0/system"), "http://terminology.hl7.org/CodeSystem/v2-0092");
  EXPECT_EQ(str(enc, "/type/0/coding/0/system"), "http://terminology.hl7.org/CodeSystem/v2-0007");
  EXPECT_EQ(str(enc, "/type/0/coding/0/code"), "U");
  EXPECT_EQ(str(enc, "/identifier/0/value"), "4471782215");
  EXPECT_EQ(str(enc, "/identifier/0/type/coding/0/code"), "VN");
  // Participants: attending (PV1-7) and admitting (PV1-17), each a Practitioner of the Bundle.
  std::set<std::string> roles;
  for (const Value& p : enc["participant"].GetArray()) {
    roles.insert(str(p, "/type/0/coding/0/code"));
    const std::string r = str(p, "/individual/reference");
    ASSERT_EQ(r.rfind("Practitioner/", 0), 0u);
    EXPECT_NE(c->by_id("Practitioner", r.substr(13)), nullptr);
  }
  EXPECT_EQ(roles, (std::set<std::string>{"ATND", "ADM"}));
}

TEST(V2ToFhirEncounter, A03WithoutPv145TakesTheEndFromEvn) {
  std::string text = set_field(sample("stbrigid_v24_A03_03"), "PV1", 45, "");
  text = set_field(text, "EVN", 6, "20261104113000");
  const auto c = run_text(text);
  const Value& enc = c->one("Encounter");
  EXPECT_EQ(str(enc, "/status"), "finished");
  EXPECT_EQ(str(enc, "/period/end"), "2026-11-04T11:30:00-05:00");
  EXPECT_EQ(c->out.event.discharge_time, "2026-11-04T11:30:00-05:00");
  EXPECT_TRUE(c->has_note("PV1-45"));
  // Without EVN-6, EVN-2 (recorded) is the next best; without EVN, MSH-7.
  const auto c2 = run_text(set_field(text, "EVN", 6, ""));
  EXPECT_EQ(str(c2->one("Encounter"), "/period/end"), "2026-11-04T11:52:03-05:00");
  const auto c3 = run_text(set_field(drop_segments(text, "EVN"), "MSH", 7, "20261104120000"));
  EXPECT_EQ(str(c3->one("Encounter"), "/period/end"), "2026-11-04T12:00:00-05:00");
}

TEST(V2ToFhirEncounter, A11IsCancelled) {
  const auto c = run_sample("lakeshore_v251_A11_01");
  EXPECT_EQ(str(c->one("Encounter"), "/status"), "cancelled");
  EXPECT_EQ(c->out.event.kind, ev::event_kind::cancel_admission);
  EXPECT_EQ(str(c->one("Encounter"), "/period/start"), "2026-11-21T22:40:00-06:00");
}

TEST(V2ToFhirEncounter, A13IsInProgressWithoutAnEnd) {
  const auto c = run_sample("riverbend_v23_A13_01");
  const Value& enc = c->one("Encounter");
  EXPECT_EQ(str(enc, "/status"), "in-progress");
  EXPECT_EQ(at(enc, "/period/end"), nullptr);
  EXPECT_EQ(str(enc, "/period/start"), "2026-11-14T18:42:00-06:00");  // minute precision, Chicago
  EXPECT_EQ(c->out.event.kind, ev::event_kind::cancel_discharge);
  EXPECT_EQ(c->out.event.discharge_time, "");
  // Even when the sender repeats the cancelled discharge time in PV1-45.
  const auto c2 = run_text(set_field(sample("riverbend_v23_A13_01"), "PV1", 45, "202611191115"));
  EXPECT_EQ(str(c2->one("Encounter"), "/status"), "in-progress");
  EXPECT_EQ(at(c2->one("Encounter"), "/period/end"), nullptr);
  EXPECT_EQ(c2->out.event.discharge_time, "");
}

TEST(V2ToFhirEncounter, A05IsPlanned) {
  const auto c = run_sample("cascadia_v28_A05_01");
  const Value& enc = c->one("Encounter");
  EXPECT_EQ(str(enc, "/status"), "planned");
  EXPECT_EQ(str(enc, "/class/code"), "PRENC");
  EXPECT_EQ(str(enc, "/location/0/status"), "planned");
  EXPECT_EQ(str(enc, "/hospitalization/preAdmissionIdentifier/value"), "PA2612070042");
  EXPECT_EQ(at(enc, "/period"), nullptr);
  EXPECT_EQ(c->out.event.kind, ev::event_kind::preadmission);
}

TEST(V2ToFhirEncounter, AdmissionAndTransferAreInProgress) {
  for (const char* name : {"stbrigid_v24_A01_02", "stbrigid_v24_A02_01", "stbrigid_v24_A08_01"}) {
    SCOPED_TRACE(name);
    const auto c = run_sample(name);
    EXPECT_EQ(str(c->one("Encounter"), "/status"), "in-progress");
    EXPECT_EQ(at(c->one("Encounter"), "/period/end"), nullptr);
  }
  // A02: the new bed is active, the prior one (PV1-6) completed.
  const auto t = run_sample("stbrigid_v24_A02_01");
  const Value& enc = t->one("Encounter");
  ASSERT_EQ(enc["location"].Size(), 2u);
  EXPECT_EQ(str(enc, "/location/0/status"), "active");
  EXPECT_EQ(str(enc, "/location/1/status"), "completed");
  EXPECT_NE(str(enc, "/location/0/location/reference"), str(enc, "/location/1/location/reference"));
  EXPECT_EQ(t->out.event.kind, ev::event_kind::transfer);
}

// ================================================================================================
// A40 merge.

TEST(V2ToFhirMerge, A40LinksSurvivorAndMergedAwayPatient) {
  const auto c = run_sample("northfield_v26_A40_01");
  const auto patients = c->all("Patient");
  ASSERT_EQ(patients.size(), 2u);
  const std::string survivor = c->out.event.patient_resource_id;
  const Value* keep = c->by_id("Patient", survivor);
  ASSERT_NE(keep, nullptr);
  const Value* old = nullptr;
  for (const Value* p : patients)
    if (id_of(*p) != survivor) old = p;
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(str(*keep, "/identifier/0/value"), "M000318842");
  EXPECT_EQ(str(*keep, "/link/0/type"), "replaces");
  EXPECT_EQ(str(*keep, "/link/0/other/reference"), ref("Patient", id_of(*old)));
  EXPECT_TRUE((*keep)["active"].GetBool());
  EXPECT_FALSE((*old)["active"].GetBool());
  EXPECT_EQ(str(*old, "/link/0/type"), "replaced-by");
  EXPECT_EQ(str(*old, "/link/0/other/reference"), ref("Patient", survivor));
  EXPECT_EQ(str(*old, "/identifier/0/value"), "M000529904");
  // The merged-away Patient is the one the duplicate's own registration (A04) created.
  EXPECT_EQ(id_of(*old), run_sample("northfield_v26_A04_01")->out.event.patient_resource_id);
  EXPECT_EQ(c->all("Encounter").size(), 0u);
  EXPECT_EQ(c->out.event.kind, ev::event_kind::merge);
  ASSERT_EQ(c->out.event.prior_patient_ids.size(), 1u);
  EXPECT_EQ(c->out.event.prior_patient_ids[0].value, "M000529904");
  EXPECT_EQ(c->out.event.prior_patient_ids[0].system, "urn:oid:2.16.840.1.113883.19.4");
}

// ================================================================================================
// ORU → Observation.

TEST(V2ToFhirObservation, NumericResultsWithUcumRangeAndInterpretation) {
  const auto c = run_sample("northfield_v26_ORU_R01_01");
  const auto obs = c->all("Observation");
  ASSERT_EQ(obs.size(), 3u);
  const Value* hgb = nullptr;
  for (const Value* o : obs)
    if (coding_with_system(at(*o, "/code"), "http://loinc.org") &&
        str(*coding_with_system(at(*o, "/code"), "http://loinc.org"), "/code") == "718-7")
      hgb = o;
  ASSERT_NE(hgb, nullptr);
  EXPECT_EQ(str(*hgb, "/status"), "final");
  EXPECT_EQ(str(*hgb, "/category/0/coding/0/code"), "laboratory");
  EXPECT_EQ(num(*hgb, "/valueQuantity/value"), 10.2);
  EXPECT_EQ(str(*hgb, "/valueQuantity/system"), "http://unitsofmeasure.org");
  EXPECT_EQ(str(*hgb, "/valueQuantity/code"), "g/dL");
  EXPECT_EQ(num(*hgb, "/referenceRange/0/low/value"), 13.5);
  EXPECT_EQ(num(*hgb, "/referenceRange/0/high/value"), 17.5);
  EXPECT_EQ(str(*hgb, "/referenceRange/0/low/code"), "g/dL");
  EXPECT_EQ(str(*hgb, "/interpretation/0/coding/0/code"), "L");
  EXPECT_EQ(str(*hgb, "/interpretation/0/coding/0/system"),
            "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation");
  EXPECT_EQ(str(*hgb, "/effectiveDateTime"), "2026-11-20T05:30:00-05:00");
  EXPECT_EQ(str(*hgb, "/subject/reference"), ref("Patient", c->out.event.patient_resource_id));
  // The stay by its visit number, in the facility's VN system (the Encounter is the ADT's to write).
  EXPECT_EQ(at(*hgb, "/encounter/reference"), nullptr);
  EXPECT_EQ(str(*hgb, "/encounter/type"), "Encounter");
  EXPECT_EQ(str(*hgb, "/encounter/identifier/value"), "V00771875");
  EXPECT_EQ(str(*hgb, "/encounter/identifier/system"), "urn:oid:2.16.840.1.113883.19.4.2");
  EXPECT_EQ(c->all("Encounter").size(), 0u);
  // The local first triplet stays, in the sender's configured code system.
  const Value* local = coding_with_system(at(*hgb, "/code"), "urn:oid:2.16.840.1.113883.19.4.5");
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(str(*local, "/code"), "HGB");
}

TEST(V2ToFhirObservation, EventLabsPreferLoincOverTheLocalTriplet) {
  const auto c = run_sample("northfield_v26_ORU_R01_01");
  const auto& labs = c->out.event.labs;
  ASSERT_EQ(labs.size(), 3u);
  EXPECT_EQ(c->out.event.kind, ev::event_kind::lab_result);
  EXPECT_EQ(labs[0].code.system, "http://loinc.org");
  EXPECT_EQ(labs[0].code.code, "718-7");
  EXPECT_EQ(labs[0].code.original_system, "LN");
  EXPECT_EQ(labs[0].value, 10.2);
  EXPECT_EQ(labs[0].unit, "g/dL");
  EXPECT_EQ(labs[0].abnormal_flag, "L");
  EXPECT_EQ(labs[0].effective, "2026-11-20T05:30:00-05:00");
  EXPECT_EQ(labs[1].code.code, "2951-2");
  EXPECT_EQ(labs[1].value, 137.0);
  EXPECT_EQ(labs[2].code.code, "2823-3");
  // Without the profile the local system is still named, and reported as unmapped.
  const auto bare = run_sample("northfield_v26_ORU_R01_01", use_profile::no);
  EXPECT_EQ(bare->out.event.labs[0].code.code, "718-7");
  EXPECT_TRUE(bare->has_unmapped("coding-system", "99NCH"));
  EXPECT_FALSE(c->has_unmapped("coding-system", "99NCH"));
}

TEST(V2ToFhirObservation, StringResultsStayStrings) {
  const auto c = run_sample("stbrigid_v24_ORU_R01_01");
  ASSERT_EQ(c->all("Observation").size(), 5u);
  const auto& labs = c->out.event.labs;
  ASSERT_EQ(labs.size(), 5u);
  EXPECT_EQ(labs[2].code.code, "2951-2");
  EXPECT_EQ(labs[2].value_text, "133");
  bool found = false;
  for (const Value* o : c->all("Observation")) {
    if (str(*o, "/code/coding/0/code") != "2951-2") continue;
    found = true;
    EXPECT_EQ(str(*o, "/valueString"), "133");
    EXPECT_EQ(num(*o, "/referenceRange/0/low/value"), 136.0);
    EXPECT_EQ(num(*o, "/referenceRange/0/high/value"), 145.0);
  }
  EXPECT_TRUE(found);
}

TEST(V2ToFhirObservation, ResultWithoutVisitNumberNamesNoEncounter) {
  // No PV1-19: nothing identifies the stay, so the event must not name an Encounter id that no
  // message will ever write (a message-keyed id would never match the ADT's Encounter).
  const auto c = run_text(set_field(sample("stbrigid_v24_ORU_R01_01"), "PV1", 19, ""));
  EXPECT_EQ(c->out.event.visit_id, "");
  EXPECT_EQ(c->out.event.encounter_resource_id, "");
  for (const Value* o : c->all("Observation")) EXPECT_EQ(at(*o, "/encounter"), nullptr);
  EXPECT_FALSE(c->has_note("the Encounter is keyed on the message"));
}

TEST(V2ToFhirObservation, ResultWithOnlyAnAlternateVisitIdNamesThatStay) {
  // The ADT keys the Encounter on PV1-50 when PV1-19 is empty; the results must point at the same.
  std::string text = set_field(sample("stbrigid_v24_ORU_R01_01"), "PV1", 19, "");
  text = set_field(text, "PV1", 50, "ALT77^^^STBRIGID^VN");
  const auto c = run_text(text);
  EXPECT_EQ(c->out.event.visit_id, "ALT77");
  for (const Value* o : c->all("Observation")) EXPECT_EQ(str(*o, "/encounter/identifier/value"), "ALT77");
}

TEST(V2ToFhirObservation, ObservationIdsAreDistinctAcrossOrders) {
  // Two orders each with OBX-4 sub-id 1: distinct Observations.
  const auto c = run_sample("cascadia_v28_ORU_R01_01");
  std::set<std::string> ids;
  for (const Value* o : c->all("Observation")) ids.insert(id_of(*o));
  EXPECT_EQ(ids.size(), 11u);
}

TEST(V2ToFhirObservation, NonFiniteNumbersNeverReachTheJson) {
  // from_chars reads "nan" and "inf"; JSON has no such numbers.
  std::string text = sample("stbrigid_v24_ORU_R01_01");
  text = set_field(text, "OBX", 5, "NaN", 1);
  text = set_field(text, "OBX", 5, "inf", 2);
  text = set_field(text, "OBX", 7, "nan-5", 2);
  std::unique_ptr<converted> c;
  ASSERT_NO_THROW(c = run_text(text));  // throws when the Bundle is not valid JSON
  for (const Value* o : c->all("Observation")) EXPECT_EQ(at(*o, "/valueQuantity"), nullptr);
  const std::string event_json = ev::to_json(c->out.event);
  EXPECT_TRUE(ev::from_json(event_json).has_value()) << event_json;
  // PV2-11 (length of stay) likewise.
  std::unique_ptr<converted> d;
  ASSERT_NO_THROW(d = run_text(set_field(sample("stbrigid_v24_A03_03"), "PV2", 11, "INF")));
  EXPECT_EQ(at(d->one("Encounter"), "/length"), nullptr);
  EXPECT_TRUE(ev::from_json(ev::to_json(d->out.event)).has_value());
}

// ================================================================================================
// DG1 → Condition and Encounter.diagnosis; PR1 → Procedure.

TEST(V2ToFhirDiagnosis, ConditionsWithCategoryAndEncounterDiagnosisUseAndRank) {
  const auto c = run_sample("stbrigid_v24_A03_03");
  const auto conditions = c->all("Condition");
  ASSERT_EQ(conditions.size(), 5u);
  const std::string enc_id = c->out.event.encounter_resource_id;
  std::map<std::string, std::string> condition_code;  // id → ICD-10-CM code
  for (const Value* cond : conditions) {
    EXPECT_EQ(str(*cond, "/category/0/coding/0/system"), "http://terminology.hl7.org/CodeSystem/condition-category");
    EXPECT_EQ(str(*cond, "/category/0/coding/0/code"), "encounter-diagnosis");
    EXPECT_EQ(str(*cond, "/code/coding/0/system"), "http://hl7.org/fhir/sid/icd-10-cm");
    EXPECT_EQ(str(*cond, "/subject/reference"), ref("Patient", c->out.event.patient_resource_id));
    EXPECT_EQ(str(*cond, "/encounter/reference"), ref("Encounter", enc_id));
    EXPECT_EQ(str(*cond, "/clinicalStatus/coding/0/code"), "active");
    condition_code[id_of(*cond)] = str(*cond, "/code/coding/0/code");
  }
  struct want {
    std::string use;
    std::optional<int> rank;
  };
  const std::map<std::string, want> expected = {
      {"R06.00", {"AD", std::nullopt}},  // DG1-15 0: not ranked
      {"I13.0", {"DD", 1}},
      {"I50.33", {"DD", 2}},
      {"N18.31", {"DD", 3}},
      {"N17.9", {"W", std::nullopt}}};
  const Value& diagnoses = c->one("Encounter")["diagnosis"];
  ASSERT_EQ(diagnoses.Size(), 5u);
  for (const Value& d : diagnoses.GetArray()) {
    const std::string r = str(d, "/condition/reference");
    ASSERT_EQ(r.rfind("Condition/", 0), 0u);
    const std::string code = condition_code.at(r.substr(10));
    SCOPED_TRACE(code);
    const want& w = expected.at(code);
    EXPECT_EQ(str(d, "/use/coding/0/code"), w.use);
    if (w.rank) {
      ASSERT_NE(at(d, "/rank"), nullptr);
      EXPECT_EQ(at(d, "/rank")->GetInt(), *w.rank);
    } else {
      EXPECT_EQ(at(d, "/rank"), nullptr);
    }
  }
  const Value& first = diagnoses[0];
  EXPECT_EQ(str(first, "/use/coding/0/system"), "http://terminology.hl7.org/CodeSystem/diagnosis-role");
  EXPECT_EQ(str(diagnoses[4], "/use/coding/0/system"), "http://terminology.hl7.org/CodeSystem/v2-0052");
}

TEST(V2ToFhirDiagnosis, OutOfRangeRanksAreDropped) {
  std::string text = sample("stbrigid_v24_A03_03");
  text = set_field(text, "DG1", 15, "1e10", 2);  // not an int
  text = set_field(text, "DG1", 15, "-3", 3);
  text = set_field(text, "DG1", 15, "1.5", 4);
  const auto c = run_text(text);
  const auto& d = c->out.event.diagnoses;
  ASSERT_EQ(d.size(), 5u);
  EXPECT_FALSE(d[1].rank.has_value());
  EXPECT_FALSE(d[2].rank.has_value());
  EXPECT_FALSE(d[3].rank.has_value());
}

TEST(V2ToFhirDiagnosis, DeletedDiagnosisIsEnteredInErrorAndNotAnEventDiagnosis) {
  const auto c = run_text(set_field(sample("stbrigid_v24_A03_03"), "DG1", 21, "D", 5));
  EXPECT_EQ(c->out.event.diagnoses.size(), 4u);
  bool found = false;
  for (const Value* cond : c->all("Condition")) {
    if (str(*cond, "/code/coding/0/code") != "N17.9") continue;
    found = true;
    EXPECT_EQ(str(*cond, "/verificationStatus/coding/0/code"), "entered-in-error");
    EXPECT_EQ(at(*cond, "/clinicalStatus"), nullptr);
  }
  EXPECT_TRUE(found);
}

TEST(V2ToFhirDiagnosis, ProceduresWithCodeSystemsAndTimes) {
  const auto c = run_sample("stbrigid_v24_A03_03");
  const auto procs = c->all("Procedure");
  ASSERT_EQ(procs.size(), 2u);
  EXPECT_EQ(str(*procs[0], "/code/coding/0/system"), "http://www.ama-assn.org/go/cpt");
  EXPECT_EQ(str(*procs[0], "/code/coding/0/code"), "93306");
  EXPECT_EQ(str(*procs[0], "/performedDateTime"), "2026-10-30T10:20:00-04:00");
  EXPECT_EQ(str(*procs[1], "/code/coding/0/code"), "4A023N6");
  EXPECT_EQ(str(*procs[0], "/encounter/reference"), ref("Encounter", c->out.event.encounter_resource_id));
  ASSERT_EQ(c->out.event.procedures.size(), 2u);
  EXPECT_EQ(c->out.event.procedures[0].code.code, "93306");
  EXPECT_EQ(c->out.event.procedures[0].performed, "2026-10-30T10:20:00-04:00");
}

// ================================================================================================
// IN1 → Coverage.

TEST(V2ToFhirCoverage, MemberIdInSubscriberIdAndMbIdentifierWithPayorAndPeriod) {
  const auto c = run_sample("stbrigid_v24_A03_03");
  const Value& cov = c->one("Coverage");
  EXPECT_EQ(str(cov, "/status"), "active");
  EXPECT_EQ(str(cov, "/subscriberId"), "HMA300481772");
  const Value* mb = identifier_of_type(cov, "MB");
  ASSERT_NE(mb, nullptr);
  EXPECT_EQ(str(*mb, "/value"), "HMA300481772");
  EXPECT_EQ(str(*mb, "/system"), "urn:oid:2.16.840.1.113883.19.213");  // HARBORMA
  EXPECT_EQ(str(*mb, "/type/coding/0/system"), "http://terminology.hl7.org/CodeSystem/v2-0203");
  EXPECT_EQ(str(cov, "/beneficiary/reference"), ref("Patient", c->out.event.patient_resource_id));
  EXPECT_EQ(str(cov, "/period/start"), "2026-01-01");
  EXPECT_EQ(str(cov, "/period/end"), "2026-12-31");
  EXPECT_EQ(str(cov, "/relationship/coding/0/code"), "self");
  const std::string payor = str(cov, "/payor/0/reference");
  ASSERT_EQ(payor.rfind("Organization/", 0), 0u);
  const Value* org = c->by_id("Organization", payor.substr(13));
  ASSERT_NE(org, nullptr);
  EXPECT_EQ(str(*org, "/name"), "Harbor Health Plan");
  EXPECT_EQ(str(*org, "/type/0/coding/0/code"), "pay");
  EXPECT_EQ(c->out.event.member_id, "HMA300481772");
}

TEST(V2ToFhirCoverage, PolicyNumberStandsInForAMissingIn149) {
  const auto c = run_text(set_field(sample("stbrigid_v24_A03_03"), "IN1", 49, ""));
  const Value& cov = c->one("Coverage");
  EXPECT_EQ(str(cov, "/subscriberId"), "HMA300481772");  // IN1-36
  EXPECT_EQ(c->out.event.member_id, "HMA300481772");
}

// ================================================================================================
// Code tables, overrides and unmapped codes.

TEST(V2ToFhirCodes, LocalPatientClassWithoutOverrideIsKeptAndReported) {
  const auto c = run_sample("northfield_v26_A04_02", use_profile::without_overrides);
  const Value& enc = c->one("Encounter");
  EXPECT_EQ(str(enc, "/class/system"), "http://terminology.hl7.org/CodeSystem/v2-0004");
  EXPECT_EQ(str(enc, "/class/code"), "OBS");
  EXPECT_TRUE(c->has_unmapped("patient-class", "OBS"));
  EXPECT_EQ(c->out.event.patient_class, "OBS");
}

TEST(V2ToFhirCodes, LocalPatientClassWithFacilityOverrideIsMapped) {
  const auto c = run_sample("northfield_v26_A04_02");
  const Value& enc = c->one("Encounter");
  EXPECT_EQ(str(enc, "/class/system"), "http://terminology.hl7.org/CodeSystem/v3-ActCode");
  EXPECT_EQ(str(enc, "/class/code"), "OBSENC");
  EXPECT_FALSE(c->has_unmapped("patient-class", "OBS"));
  EXPECT_EQ(c->out.event.patient_class, "OBSENC");
}

TEST(V2ToFhirCodes, LocalAdmissionTypeAndDisposition) {
  const auto bare = run_sample("riverbend_v23_A07_01", use_profile::without_overrides);
  EXPECT_EQ(str(bare->one("Encounter"), "/type/0/coding/0/code"), "EL");
  EXPECT_EQ(str(bare->one("Encounter"), "/type/0/coding/0/system"), "http://terminology.hl7.org/CodeSystem/v2-0007");
  EXPECT_TRUE(bare->has_unmapped("admission-type", "EL"));
  const auto mapped = run_sample("riverbend_v23_A07_01");
  EXPECT_EQ(str(mapped->one("Encounter"), "/type/0/coding/0/code"), "C");
  EXPECT_FALSE(mapped->has_unmapped("admission-type", "EL"));

  const auto hom = run_sample("lakeshore_v251_A03_04", use_profile::without_overrides);
  EXPECT_TRUE(hom->has_unmapped("discharge-disposition", "HOM"));
  EXPECT_EQ(hom->out.event.discharge_disposition.code, "HOM");
  EXPECT_EQ(hom->out.event.discharge_disposition.system, "http://terminology.hl7.org/CodeSystem/v2-0112");
  const auto nubc = run_sample("lakeshore_v251_A03_04");
  EXPECT_FALSE(nubc->has_unmapped("discharge-disposition", "HOM"));
  EXPECT_EQ(nubc->out.event.discharge_disposition.code, "01");
  EXPECT_EQ(nubc->out.event.discharge_disposition.system, "https://www.nubc.org/CodeSystem/PatDischargeStatus");
  EXPECT_EQ(str(nubc->one("Encounter"), "/hospitalization/dischargeDisposition/coding/0/code"), "01");
}

TEST(V2ToFhirCodes, UnmappedListHasNoDuplicatesAndOnlyCodes) {
  const auto c = run_sample("stbrigid_v24_A03_03", use_profile::no);
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& u : c->out.unmapped) {
    EXPECT_TRUE(seen.emplace(u.table, u.code).second) << u.table << " " << u.code;
    EXPECT_THAT(u.code, Not(HasSubstr("Doherty")));
  }
  // Without a profile the hospital's namespaces are unknown systems.
  EXPECT_TRUE(c->has_unmapped("identifier-system", "STBRIGID"));
}

// ================================================================================================
// Identifier systems from the facility profile.

TEST(V2ToFhirIdentifiers, PerFacilitySystemsAndTypeSpecificVisitNumbers) {
  const auto c = run_sample("stbrigid_v24_A03_03");
  const Value& pat = c->one("Patient");
  EXPECT_EQ(str(*identifier_of_type(pat, "MR"), "/system"), "urn:oid:2.16.840.1.113883.19.2");
  EXPECT_EQ(str(*identifier_of_type(pat, "MR"), "/value"), "SB21288734");
  EXPECT_EQ(str(*identifier_of_type(pat, "SS"), "/system"), "http://hl7.org/fhir/sid/us-ssn");
  EXPECT_EQ(str(*identifier_of_type(pat, "MC"), "/system"), "http://hl7.org/fhir/sid/us-mbi");
  // VN of the same authority: identifier_systems_by_type wins over the plain map.
  const Value* vn = identifier_of_type(c->one("Encounter"), "VN");
  ASSERT_NE(vn, nullptr);
  EXPECT_EQ(str(*vn, "/system"), "urn:oid:2.16.840.1.113883.19.2.2");
  EXPECT_EQ(c->out.event.patient_ids[0].system, "urn:oid:2.16.840.1.113883.19.2");
  EXPECT_EQ(c->out.event.patient_ids[0].type, "MR");
  EXPECT_FALSE(c->has_unmapped("identifier-system", "STBRIGID"));

  // Two facilities of one organisation: the campus MRN namespace and the enterprise one.
  const auto sc = run_sample("lakeshore_v251_A04_01");
  const Value& scp = sc->one("Patient");
  std::set<std::string> mr_systems;
  for (const Value& i : scp["identifier"].GetArray())
    if (str(i, "/type/coding/0/code") == "MR") mr_systems.insert(str(i, "/system"));
  EXPECT_EQ(mr_systems, (std::set<std::string>{"urn:oid:2.16.840.1.113883.19.3.9", "urn:oid:2.16.840.1.113883.19.3"}));
  EXPECT_EQ(str(*identifier_of_type(sc->one("Encounter"), "VN"), "/system"), "urn:oid:2.16.840.1.113883.19.3.9.2");
}

TEST(V2ToFhirIdentifiers, PractitionerWithoutAuthorityGetsTheFacilityDefault) {
  const auto c = run_sample("riverbend_v23_A03_01");
  bool any = false;
  for (const Value* p : c->all("Practitioner")) {
    if (at(*p, "/identifier") == nullptr) continue;
    any = true;
    EXPECT_EQ(str(*p, "/identifier/0/system"), "urn:oid:2.16.840.1.113883.19.1.4");
  }
  EXPECT_TRUE(any);
}

TEST(V2ToFhirIdentifiers, HdOidAndUuidWithoutProfile) {
  const auto c = run_sample("lakeshore_v251_A03_01", use_profile::no);
  // LUH&2.16.840.1.113883.19.3&ISO: the OID stands in when the namespace is unknown.
  EXPECT_EQ(str(*identifier_of_type(c->one("Patient"), "MR"), "/system"), "urn:oid:2.16.840.1.113883.19.3");
}

// ================================================================================================
// Errors.

const char* minimal_a03 =
    "MSH|^~\\&|APP|FAC|CB|CB|20261104115203||ADT^A03^ADT_A03|CTL1|P|2.5\r"
    "EVN|A03|20261104115203\r"
    "PID|1||MRN1^^^FAC^MR||Doe^Jane||19600101|F\r"
    "PV1|1|I\r";

TEST(V2ToFhirErrors, UnsupportedMessageTypes) {
  const std::string base = minimal_a03;
  EXPECT_EQ(convert_error_of(base), boost::system::error_code{});
  for (const char* type : {"MDM^T02", "ORU^R30", "SIU^S12", "ORM^O01", "QRY^A19", "ACK"}) {
    SCOPED_TRACE(type);
    const auto e = convert_error_of(set_field(base, "MSH", 9, type));
    EXPECT_EQ(e, fhir::convert_error::unsupported_message);
    EXPECT_EQ(e.category().name(), std::string("carebridge.v2_to_fhir"));
  }
  EXPECT_EQ(convert_error_of(set_field(base, "MSH", 9, "ORU^R01^ORU_R01")), boost::system::error_code{});
}

TEST(V2ToFhirErrors, MissingPidOrPatientId) {
  const std::string base = minimal_a03;
  EXPECT_EQ(convert_error_of(drop_segments(base, "PID")), fhir::convert_error::missing_segment);
  EXPECT_EQ(convert_error_of(set_field(base, "PID", 3, "")), fhir::convert_error::missing_patient_id);
  EXPECT_EQ(convert_error_of(set_field(base, "PID", 3, "^^^FAC^MR")), fhir::convert_error::missing_patient_id);
  EXPECT_EQ(convert_error_of(set_field(base, "PID", 3, "\"\"")), fhir::convert_error::missing_patient_id);
  EXPECT_EQ(convert_error_of(set_field(base, "PID", 3, "  ^^^FAC^MR~^^^X^MR")), fhir::convert_error::missing_patient_id);
  // A second repetition is enough.
  EXPECT_EQ(convert_error_of(set_field(base, "PID", 3, "^^^FAC^MR~MRN2^^^FAC^MR")), boost::system::error_code{});
  // The error messages say what is missing, not what was sent.
  for (auto e : {fhir::convert_error::unsupported_message, fhir::convert_error::missing_segment,
                 fhir::convert_error::missing_patient_id}) {
    const std::string m = fhir::make_error_code(e).message();
    EXPECT_FALSE(m.empty());
    EXPECT_THAT(m, Not(HasSubstr("unknown")));
  }
}

TEST(V2ToFhirErrors, MinimalMessagesConvert) {
  // Only MSH and PID, an ORU without PV1 or OBR, an ADT without PV1.
  const auto pid_only = run("MSH|^~\\&|A|F|B|B|20261104||ADT^A08|C|P|2.3\rPID|1||M1\r", nullptr);
  EXPECT_EQ(pid_only->all("Patient").size(), 1u);
  EXPECT_EQ(pid_only->all("Encounter").size(), 0u);
  EXPECT_EQ(pid_only->out.event.encounter_resource_id, "");
  expect_well_formed(*pid_only);
  const auto oru = run("MSH|^~\\&|A|F|B|B|20261104||ORU^R01|C|P|2.3\rPID|1||M1\rOBX|1|NM|718-7^Hgb^LN||9.1|g/dL\r",
                       nullptr);
  ASSERT_EQ(oru->all("Observation").size(), 1u);
  EXPECT_EQ(num(oru->one("Observation"), "/valueQuantity/value"), 9.1);
  expect_well_formed(*oru);
}

// ================================================================================================
// Text: escapes, terminators, character sets.

TEST(V2ToFhirText, EscapesAreDecodedInNames) {
  const auto c = run_sample("northfield_v26_A04_02");
  EXPECT_EQ(str(c->one("Patient"), "/name/0/family"), "Ferris & Quinlan");
  EXPECT_EQ(c->out.event.family, "Ferris & Quinlan");
  // Field, component and repetition separators too.
  const auto d = run_text(set_field(sample("northfield_v26_A04_02"), "PID", 5, "O\\F\\Brien\\S\\x\\R\\y^Ann^^^^^L"));
  EXPECT_EQ(str(d->one("Patient"), "/name/0/family"), "O|Brien^x~y");
}

TEST(V2ToFhirText, LineFeedAndCrLfTerminatorsGiveTheSameBundle) {
  const std::string cr = sample("stbrigid_v24_A03_03");
  std::string lf = cr, crlf;
  std::replace(lf.begin(), lf.end(), '\r', '\n');
  for (char ch : cr) {
    crlf.push_back(ch);
    if (ch == '\r') crlf.push_back('\n');
  }
  const auto a = run_text(cr);
  const auto b = run_text(lf);
  const auto c = run_text(crlf);
  EXPECT_EQ(a->out.bundle, b->out.bundle);
  EXPECT_EQ(a->out.bundle, c->out.bundle);
  EXPECT_EQ(c->all("Condition").size(), 5u);
}

TEST(V2ToFhirText, Latin1MessageBecomesUtf8) {
  std::string text =
      "MSH|^~\\&|APP|STBRIGID|CB|CB|20261104115203||ADT^A03^ADT_A03|LAT1|P|2.4|||||USA|8859/1\r"
      "EVN|A03|20261104115203\r"
      "PID|1||X1^^^STBRIGID^MR||M\xFCller^Jos\xE9^^^^^L||19470603|M\r"
      "PV1|1|I\r";
  text = set_field(text, "PV1", 19, "V1^^^STBRIGID^VN");
  text = set_field(text, "PV1", 44, "20261029162500");
  text = set_field(text, "PV1", 45, "20261104114000");
  const auto c = run_text(text);  // parsed with UTF-8 validation
  EXPECT_EQ(str(c->one("Patient"), "/name/0/family"), "M\xC3\xBCller");
  EXPECT_EQ(str(c->one("Patient"), "/name/0/given/0"), "Jos\xC3\xA9");
  EXPECT_EQ(c->out.event.given, "Jos\xC3\xA9");
  EXPECT_EQ(str(c->one("Encounter"), "/period/end"), "2026-11-04T11:40:00-05:00");
}

TEST(V2ToFhirText, Utf8NamesFromCascadia) {
  const auto c = run_sample("cascadia_v28_A03_01");
  EXPECT_EQ(str(c->one("Patient"), "/name/0/family"), "Nguy\xE1\xBB\x85n");
}

// ================================================================================================
// Times in resources: zone, notes, bad values.

TEST(V2ToFhirTimes, NoZoneGivesDatesAndANote) {
  const auto c = run_sample("stbrigid_v24_A03_03", use_profile::no);
  EXPECT_EQ(str(c->one("Encounter"), "/period/start"), "2026-10-29");
  EXPECT_EQ(str(c->one("Encounter"), "/period/end"), "2026-11-04");
  EXPECT_TRUE(c->has_note("PV1-44 has no UTC offset"));
  EXPECT_TRUE(c->has_note("PV1-45 has no UTC offset"));
  EXPECT_EQ(c->out.event.admit_time, "2026-10-29");
  // Times sent with offsets need no zone and give no note.
  const auto l = run_sample("lakeshore_v251_A03_01", use_profile::no);
  EXPECT_EQ(str(l->one("Encounter"), "/period/end"), "2026-11-17T15:30:00-06:00");
  EXPECT_FALSE(l->has_note("PV1-45"));
}

TEST(V2ToFhirTimes, PhoenixCampusAndMinutePrecision) {
  const auto sc = run_sample("lakeshore_v251_A03_04");
  EXPECT_EQ(str(sc->one("Encounter"), "/period/start"), "2026-10-25T19:42:10-07:00");
  EXPECT_EQ(str(sc->one("Encounter"), "/period/end"), "2026-10-25T23:05:00-07:00");
  const auto rr = run_sample("riverbend_v23_A03_01");
  EXPECT_EQ(str(rr->one("Encounter"), "/period/end"), "2026-11-19T11:15:00-06:00");
  const auto cv = run_sample("cascadia_v28_A03_01");
  EXPECT_EQ(str(cv->one("Encounter"), "/period/start"), "2026-11-10T23:05:40.112-08:00");
  EXPECT_EQ(str(cv->one("Encounter"), "/period/end"), "2026-11-20T16:30:00.000-08:00");
}

TEST(V2ToFhirTimes, BadDateTimeIsLeftOutWithANote) {
  const auto c = run_text(set_field(sample("stbrigid_v24_A03_03"), "PV1", 44, "2026-10-29 16:25"));
  EXPECT_EQ(at(c->one("Encounter"), "/period/start"), nullptr);
  EXPECT_EQ(str(c->one("Encounter"), "/period/end"), "2026-11-04T11:40:00-05:00");
  EXPECT_TRUE(c->has_note("PV1-44 is not a valid date/time"));
  EXPECT_EQ(c->out.event.admit_time, "");
  const auto b = run_text(set_field(sample("stbrigid_v24_A03_03"), "PID", 7, "19470631"));
  EXPECT_EQ(at(b->one("Patient"), "/birthDate"), nullptr);
  EXPECT_TRUE(b->has_note("PID-7"));
}

}  // namespace

// ================================================================================================
// The clinical event a conversion gives (its JSON form is tested in clinical_event_test.cpp).
namespace {

TEST(ClinicalEventFromV2, DischargeCarriesEveryField) {
  const auto c = run_sample("stbrigid_v24_A03_03");
  const ev::clinical_event& e = c->out.event;
  EXPECT_EQ(e.kind, ev::event_kind::discharge);
  EXPECT_EQ(e.trigger, "A03");
  EXPECT_EQ(e.source, "hl7v2");
  EXPECT_EQ(e.facility, "STBRIGID");
  EXPECT_EQ(e.control_id, "STB202611041152030008");
  EXPECT_EQ(e.recorded, "2026-11-04T11:40:00-05:00");  // EVN-6
  ASSERT_GE(e.patient_ids.size(), 4u);
  EXPECT_EQ(e.patient_ids[0].value, "SB21288734");
  EXPECT_EQ(e.patient_ids[0].assigner, "STBRIGID");
  EXPECT_EQ(e.family, "Doherty");
  EXPECT_EQ(e.given, "Francis");
  EXPECT_EQ(e.birth_date, "1947-06-03");
  EXPECT_EQ(e.sex, "male");
  EXPECT_EQ(e.postal_code, "02127");
  EXPECT_FALSE(e.phone.empty());
  EXPECT_EQ(e.member_id, "HMA300481772");
  EXPECT_EQ(e.patient_resource_id, id_of(c->one("Patient")));
  EXPECT_EQ(e.visit_id, "4471782215");
  EXPECT_EQ(e.encounter_resource_id, id_of(c->one("Encounter")));
  EXPECT_EQ(e.patient_class, "IMP");
  EXPECT_EQ(e.admit_time, "2026-10-29T16:25:00-04:00");
  EXPECT_EQ(e.discharge_time, "2026-11-04T11:40:00-05:00");
  EXPECT_EQ(e.admission_type, "U");
  EXPECT_EQ(e.admit_source.code, "1");
  EXPECT_EQ(e.service, "MED");
  EXPECT_EQ(e.discharge_disposition.system, "https://www.nubc.org/CodeSystem/PatDischargeStatus");
  EXPECT_EQ(e.discharge_disposition.code, "06");
  EXPECT_FALSE(e.discharge_disposition.display.empty());
  EXPECT_TRUE(e.readmission_flag);
  ASSERT_TRUE(e.length_of_stay_days.has_value());
  EXPECT_EQ(*e.length_of_stay_days, 6.0);
  ASSERT_EQ(e.diagnoses.size(), 5u);
  EXPECT_EQ(e.diagnoses[1].code.code, "I13.0");
  EXPECT_EQ(e.diagnoses[1].code.system, "http://hl7.org/fhir/sid/icd-10-cm");
  EXPECT_EQ(e.diagnoses[1].code.original_system, "I10");
  EXPECT_EQ(e.diagnoses[1].use, "DD");
  EXPECT_EQ(e.diagnoses[1].rank, 1);
  EXPECT_EQ(e.diagnoses[0].use, "AD");
  EXPECT_FALSE(e.diagnoses[0].rank.has_value());
  EXPECT_EQ(e.procedures.size(), 2u);
  EXPECT_TRUE(e.labs.empty());
  EXPECT_TRUE(e.prior_patient_ids.empty());
}

TEST(ClinicalEventFromV2, MemberIdsHoldEachMemberIdentifierOnce) {
  // PID-3 carries the plan member id (MB) and IN1-49 the same one.
  const auto c = run_sample("stbrigid_v24_A03_03");
  const auto& ids = c->out.event.member_ids;
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& i : ids) EXPECT_TRUE(seen.emplace(i.system, i.value).second) << i.system << "|" << i.value;
  EXPECT_TRUE(seen.count({"urn:oid:2.16.840.1.113883.19.213", "HMA300481772"}));
  EXPECT_TRUE(seen.count({"http://hl7.org/fhir/sid/us-mbi", "7TQ2GD5VH38"}));
}

TEST(ClinicalEventFromV2, KindsOfEveryTrigger) {
  const std::map<std::string, ev::event_kind> expected = {
      {"stbrigid_v24_A01_02", ev::event_kind::admission},
      {"stbrigid_v24_A02_01", ev::event_kind::transfer},
      {"stbrigid_v24_A03_03", ev::event_kind::discharge},
      {"northfield_v26_A04_01", ev::event_kind::registration},
      {"cascadia_v28_A05_01", ev::event_kind::preadmission},
      {"northfield_v26_A06_01", ev::event_kind::admission},
      {"riverbend_v23_A07_01", ev::event_kind::change_to_outpatient},
      {"stbrigid_v24_A08_01", ev::event_kind::update},
      {"lakeshore_v251_A11_01", ev::event_kind::cancel_admission},
      {"cascadia_v28_A12_01", ev::event_kind::cancel_transfer},
      {"riverbend_v23_A13_01", ev::event_kind::cancel_discharge},
      {"northfield_v26_A40_01", ev::event_kind::merge},
      {"cascadia_v28_ORU_R01_01", ev::event_kind::lab_result}};
  for (const auto& [name, kind] : expected) {
    SCOPED_TRACE(name);
    EXPECT_EQ(run_sample(name)->out.event.kind, kind);
  }
  // An ADT trigger the mapper does not know is kept as "other".
  const auto other = run(set_field(minimal_a03, "MSH", 9, "ADT^A60^ADT_A60"), nullptr);
  EXPECT_EQ(other->out.event.kind, ev::event_kind::other);
}

TEST(ClinicalEventFromV2, EventSurvivesItsJsonForm) {
  for (const std::string& name : all_samples()) {
    SCOPED_TRACE(name);
    const auto c = run_sample(name);
    auto back = ev::from_json(ev::to_json(c->out.event));
    ASSERT_TRUE(back.has_value());
    EXPECT_TRUE(*back == c->out.event);
  }
}

}  // namespace

// ================================================================================================
// Deterministic ids.
namespace {

TEST(DerivedId, DeterministicUuidShapedAndValidFhirId) {
  const std::string a = fhir::derived_id("Patient", {"urn:oid:1.2.3", "HOSP", "MRN1"});
  EXPECT_EQ(a, fhir::derived_id("Patient", {"urn:oid:1.2.3", "HOSP", "MRN1"}));
  EXPECT_EQ(a.size(), 36u);
  EXPECT_TRUE(is_uuid(a));
  EXPECT_TRUE(is_fhir_id(a));
  EXPECT_THAT(a, Not(HasSubstr("MRN1")));
  // A fixed value: ids must not change between releases, or replays stop being idempotent.
  EXPECT_EQ(fhir::derived_id("Encounter", {}), fhir::derived_id("Encounter", {}));
}

TEST(DerivedId, EveryPartOfTheKeyCounts) {
  std::set<std::string> ids = {
      fhir::derived_id("Patient", {"s", "a", "v"}),  fhir::derived_id("Encounter", {"s", "a", "v"}),
      fhir::derived_id("Patient", {"s2", "a", "v"}), fhir::derived_id("Patient", {"s", "a2", "v"}),
      fhir::derived_id("Patient", {"s", "a", "v2"}), fhir::derived_id("Patient", {"s", "a"}),
      fhir::derived_id("Patient", {"s", "a", "v", ""}),
      fhir::derived_id("Patient", {"ab", "c"}),      fhir::derived_id("Patient", {"a", "bc"}),
      fhir::derived_id("Patient", {"abc"}),          fhir::derived_id("Patient", {}),
      fhir::derived_id("Patient", {""}),             fhir::derived_id("", {"Patient"}),
      fhir::derived_id("Patie", {"nt"}),
  };
  EXPECT_EQ(ids.size(), 14u);
}

TEST(DerivedId, CaseAndBinaryContentMatter) {
  EXPECT_NE(fhir::derived_id("Patient", {"mrn1"}), fhir::derived_id("Patient", {"MRN1"}));
  const std::string nul("a\0b", 3);
  EXPECT_NE(fhir::derived_id("Patient", {nul}), fhir::derived_id("Patient", {"a"}));
  EXPECT_TRUE(is_uuid(fhir::derived_id("Patient", {std::string(100000, 'x')})));
}

TEST(DerivedId, ManyKeysNoCollisionsAndEvenBits) {
  std::set<std::string> ids;
  int version_ok = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string id = fhir::derived_id("Encounter", {"STBRIGID", std::to_string(i)});
    ids.insert(id);
    version_ok += id[14] == '8' && std::string_view("89ab").find(id[19]) != std::string_view::npos;
  }
  EXPECT_EQ(ids.size(), 20000u);
  EXPECT_EQ(version_ok, 20000);
}

}  // namespace
