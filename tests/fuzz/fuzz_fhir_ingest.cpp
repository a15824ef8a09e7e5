// Fuzz target: from_fhir() (mappings/fhir/fhir_ingest) on one body, through all four routes, and
// the promises of fhir_ingest.hpp:
//   - a refusal is 400 or 422 with an issue code and a text, and its OperationOutcome is JSON;
//   - what is accepted is stored as JSON objects whose resourceType and id are the entry's type and
//     a valid FHIR id, without server meta (versionId, lastUpdated);
//   - every literal reference in them points at one of them (or "#id" of a resource left
//     contained): nothing dangles;
//   - an event's Encounter is one of the stored Encounters; a stand-alone Encounter gives one
//   entry;
//   - the same input gives the same output (ids are derived, nothing is random).
// The body is the whole input; PUT takes the first "id" of the input as the URL's id, so that the
// fuzzer gets past the id check.
#include "tests/fuzz/fuzz_check.hpp"

#include "mappings/fhir/fhir_ingest.hpp"

#include <rapidjson/document.h>

#include <set>
#include <string>
#include <string_view>

namespace {

namespace fhir = carebridge::mappings::fhir;

const fhir::sender_profile& profile() {
  static const fhir::sender_profile p = [] {
    fhir::sender_profile s;
    s.identifier_systems = {{"HOSP", "urn:oid:2.16.840.1.113883.19.2"},
                            {"NPI", "http://hl7.org/fhir/sid/us-npi"}};
    s.identifier_systems_by_type["VN"] = {{"HOSP", "urn:oid:2.16.840.1.113883.19.2.2"}};
    return s;
  }();
  return p;
}

std::string first_id(std::string_view text) {
  const auto p = text.find("\"id\":\"");
  if (p == std::string_view::npos) return {};
  const auto start = p + 6;
  const auto end = text.find('"', start);
  if (end == std::string_view::npos) return {};
  return std::string(text.substr(start, end - start));
}

void references_resolve(const rapidjson::Value& v, const std::set<std::string>& known, int depth) {
  CB_FUZZ_REQUIRE(depth < 200);
  if (v.IsArray()) {
    for (const auto& x : v.GetArray()) references_resolve(x, known, depth + 1);
    return;
  }
  if (!v.IsObject()) return;
  if (v.HasMember("reference") && v["reference"].IsString()) {
    const std::string ref(v["reference"].GetString(), v["reference"].GetStringLength());
    CB_FUZZ_REQUIRE(known.count(ref) == 1 || (ref.size() > 1 && ref[0] == '#'));
  }
  for (const auto& m : v.GetObject()) references_resolve(m.value, known, depth + 1);
}

void check(std::string_view body, fhir::fhir_route route) {
  fhir::fhir_input_options o;
  o.facility = "HOSP";
  o.sender = &profile();
  o.control_id = "c0ffee";
  o.max_entries = 64;
  if (route == fhir::fhir_route::encounter_update) o.encounter_id = first_id(body);
  const auto r = fhir::from_fhir(body, route, o);
  if (!r) {
    const auto& e = r.error();
    CB_FUZZ_REQUIRE(e.status == 400 || e.status == 422);
    CB_FUZZ_REQUIRE(!e.code.empty() && !e.diagnostics.empty());
    const std::string oo = fhir::operation_outcome(e);
    rapidjson::Document d;
    d.Parse(oo.data(), oo.size());
    CB_FUZZ_REQUIRE(!d.HasParseError() && d.IsObject());
    return;
  }
  std::set<std::string> known;
  for (const auto& res : r->resources) {
    CB_FUZZ_REQUIRE(fhir::valid_id(res.id));
    CB_FUZZ_REQUIRE(known.insert(res.type + "/" + res.id).second);
  }
  for (const auto& res : r->resources) {
    rapidjson::Document d;
    d.Parse(res.json.data(), res.json.size());
    CB_FUZZ_REQUIRE(!d.HasParseError() && d.IsObject());
    CB_FUZZ_REQUIRE(d.HasMember("resourceType") && d["resourceType"].IsString() &&
                    res.type == d["resourceType"].GetString());
    CB_FUZZ_REQUIRE(d.HasMember("id") && d["id"].IsString() && res.id == d["id"].GetString());
    if (d.HasMember("meta") && d["meta"].IsObject()) {
      CB_FUZZ_REQUIRE(!d["meta"].HasMember("versionId") && !d["meta"].HasMember("lastUpdated"));
    }
    references_resolve(d, known, 0);
  }
  for (const auto& ev : r->events) {
    if (!ev.encounter_resource_id.empty())
      CB_FUZZ_REQUIRE(known.count("Encounter/" + ev.encounter_resource_id) == 1);
  }
  if (route == fhir::fhir_route::encounter_create || route == fhir::fhir_route::encounter_update)
    CB_FUZZ_REQUIRE(r->entries.size() == 1 && r->events.size() == 1);
  const auto again = fhir::from_fhir(body, route, o);
  CB_FUZZ_REQUIRE(again && again->resources.size() == r->resources.size());
  for (std::size_t i = 0; i < r->resources.size(); ++i)
    CB_FUZZ_REQUIRE(again->resources[i].json == r->resources[i].json);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body = carebridge::fuzz::as_text(data, size);
  for (auto route : {fhir::fhir_route::bundle, fhir::fhir_route::encounter_create,
                     fhir::fhir_route::encounter_update, fhir::fhir_route::process_message})
    check(body, route);
  return 0;
}
