// Fuzz target: HL7 v2 → FHIR R4 (mappings/fhir/v2_to_fhir). Any bytes → parse() → convert(), once
// with no sender profile and once with a profile that has a time zone (America/Chicago, so times
// without an offset take the DST path), identifier systems and a local-code override. Checks:
//   - convert() never crashes, and fails only with one of its three errors, the same with and
//     without the profile (the profile changes systems and times, not what is convertible);
//   - on success the Bundle is valid JSON (UTF-8 validated), a transaction whose every entry has
//     fullUrl urn:uuid:<id>, request PUT <Type>/<id> matching the resource, an id of UUID shape,
//     unique in the Bundle; conversion.resources lists the same resources in the same order, each
//     its own valid JSON;
//   - every `reference` in the Bundle names one of its entries;
//   - the event's Patient is an entry, and so is its Encounter (a lab result names its stay only
//     by visit number: its Encounter is the ADT messages' to write);
//   - the event's stored form is valid JSON and reads back to the same event;
//   - converting the same message again gives byte-identical output, event, notes and unmapped.
#include "tests/fuzz/fuzz_check.hpp"

#include "mappings/event/clinical_event.hpp"
#include "mappings/fhir/code_tables.hpp"
#include "mappings/fhir/time_zone.hpp"
#include "mappings/fhir/v2_to_fhir.hpp"
#include "mappings/hl7v2/message.hpp"

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace hl7 = carebridge::mappings::hl7v2;
namespace fhir = carebridge::mappings::fhir;
namespace ev = carebridge::mappings::event;
using rapidjson::Value;

const fhir::sender_profile& profile() {
  static const fhir::sender_profile p = [] {
    fhir::sender_profile s;
    auto z = fhir::zone::locate("America/Chicago");
    CB_FUZZ_REQUIRE(z.has_value());
    s.time_zone = *z;
    s.identifier_systems = {{"FAC", "urn:oid:2.16.840.1.113883.19.9"},
                            {"STBRIGID", "urn:oid:2.16.840.1.113883.19.2"},
                            {"NCH", "urn:oid:2.16.840.1.113883.19.4"},
                            {"SSA", "http://hl7.org/fhir/sid/us-ssn"}};
    s.identifier_systems_by_type["VN"] = {{"FAC", "urn:oid:2.16.840.1.113883.19.9.2"},
                                          {"NCH", "urn:oid:2.16.840.1.113883.19.4.2"}};
    s.practitioner_system = "urn:oid:2.16.840.1.113883.19.9.4";
    s.code_systems = {{"99NCH", "urn:oid:2.16.840.1.113883.19.4.5"}, {"L", "urn:oid:2.16.840.1.113883.19.9.5"}};
    s.tables = fhir::code_tables::builtin();
    s.tables.set(fhir::table::patient_class, "OBS",
                 {"http://terminology.hl7.org/CodeSystem/v3-ActCode", "OBSENC", "observation encounter"});
    s.tables.set(fhir::table::discharge_disposition, "HOM",
                 {"https://www.nubc.org/CodeSystem/PatDischargeStatus", "01", "home"});
    s.has_tables = true;
    return s;
  }();
  return p;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// 8-4-4-4-12 lower-case hex, version nibble 8, variant 10xx (ids.hpp).
bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!is_hex(s[i])) {
      return false;
    }
  }
  return s[14] == '8' && (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}

std::string_view sv(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

const Value* member(const Value& o, const char* k) {
  if (!o.IsObject()) return nullptr;
  auto it = o.FindMember(k);
  return it == o.MemberEnd() ? nullptr : &it->value;
}

std::string_view string_member(const Value& o, const char* k) {
  const Value* v = member(o, k);
  return v != nullptr && v->IsString() ? sv(*v) : std::string_view();
}

void collect_references(const Value& v, std::vector<std::string>& out, int depth = 0) {
  CB_FUZZ_REQUIRE(depth < 64);  // resources are shallow; deep nesting means a broken writer
  if (v.IsArray()) {
    for (const Value& x : v.GetArray()) collect_references(x, out, depth + 1);
  } else if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      if (sv(m.name) == "reference" && m.value.IsString()) out.emplace_back(sv(m.value));
      collect_references(m.value, out, depth + 1);
    }
  }
}

void check_conversion(const hl7::message& msg, const fhir::conversion& c) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(c.bundle.data(), c.bundle.size());
  CB_FUZZ_REQUIRE(!d.HasParseError());
  CB_FUZZ_REQUIRE(d.IsObject());
  CB_FUZZ_REQUIRE(string_member(d, "resourceType") == "Bundle");
  CB_FUZZ_REQUIRE(string_member(d, "type") == "transaction");
  if (!msg.control_id().empty()) {
    const Value* ident = member(d, "identifier");
    CB_FUZZ_REQUIRE(ident != nullptr);
  }
  const Value* entries = member(d, "entry");
  CB_FUZZ_REQUIRE(entries != nullptr && entries->IsArray());
  CB_FUZZ_REQUIRE(entries->Size() == c.resources.size());
  CB_FUZZ_REQUIRE(entries->Size() > 0);  // at least the Patient

  std::set<std::string> ids;
  std::set<std::string> targets;  // "Type/id"
  for (rapidjson::SizeType i = 0; i < entries->Size(); ++i) {
    const Value& e = (*entries)[i];
    CB_FUZZ_REQUIRE(e.IsObject());
    const Value* r = member(e, "resource");
    CB_FUZZ_REQUIRE(r != nullptr && r->IsObject());
    const std::string_view type = string_member(*r, "resourceType");
    const std::string_view id = string_member(*r, "id");
    CB_FUZZ_REQUIRE(!type.empty());
    CB_FUZZ_REQUIRE(is_uuid(id));
    CB_FUZZ_REQUIRE(string_member(e, "fullUrl") == "urn:uuid:" + std::string(id));
    const Value* req = member(e, "request");
    CB_FUZZ_REQUIRE(req != nullptr);
    CB_FUZZ_REQUIRE(string_member(*req, "method") == "PUT");
    const std::string url = std::string(type) + "/" + std::string(id);
    CB_FUZZ_REQUIRE(string_member(*req, "url") == url);
    CB_FUZZ_REQUIRE(ids.insert(std::string(id)).second);
    targets.insert(url);
    // conversion.resources: the same resource, in order, as its own JSON.
    CB_FUZZ_REQUIRE(c.resources[i].type == type);
    CB_FUZZ_REQUIRE(c.resources[i].id == id);
    rapidjson::Document own;
    own.Parse<rapidjson::kParseValidateEncodingFlag>(c.resources[i].json.data(), c.resources[i].json.size());
    CB_FUZZ_REQUIRE(!own.HasParseError());
    CB_FUZZ_REQUIRE(own == *r);
  }
  std::vector<std::string> refs;
  collect_references(d, refs);
  for (const std::string& ref : refs) CB_FUZZ_REQUIRE(targets.count(ref) == 1);

  const ev::clinical_event& event = c.event;
  CB_FUZZ_REQUIRE(!event.patient_resource_id.empty());
  CB_FUZZ_REQUIRE(targets.count("Patient/" + event.patient_resource_id) == 1);
  if (event.kind == ev::event_kind::lab_result) {
    CB_FUZZ_REQUIRE(targets.count("Encounter/" + event.encounter_resource_id) == 0);
  } else if (!event.encounter_resource_id.empty()) {
    CB_FUZZ_REQUIRE(targets.count("Encounter/" + event.encounter_resource_id) == 1);
  }

  const std::string stored = ev::to_json(event);
  rapidjson::Document sd;
  sd.Parse<rapidjson::kParseValidateEncodingFlag>(stored.data(), stored.size());
  CB_FUZZ_REQUIRE(!sd.HasParseError());
  const auto back = ev::from_json(stored);
  CB_FUZZ_REQUIRE(back.has_value());
  CB_FUZZ_REQUIRE(*back == event);
}

void convert_and_check(const hl7::message& msg, const fhir::sender_profile* sender,
                       boost::system::error_code& error) {
  fhir::convert_options options;
  options.sender = sender;
  const auto first = fhir::convert(msg, options);
  const auto again = fhir::convert(msg, options);
  CB_FUZZ_REQUIRE(first.has_value() == again.has_value());
  if (!first) {
    error = first.error();
    CB_FUZZ_REQUIRE(error.category() == fhir::convert_category());
    CB_FUZZ_REQUIRE(error == fhir::convert_error::unsupported_message ||
                    error == fhir::convert_error::missing_segment ||
                    error == fhir::convert_error::missing_patient_id);
    CB_FUZZ_REQUIRE(again.error() == error);
    return;
  }
  error = {};
  check_conversion(msg, *first);
  CB_FUZZ_REQUIRE(first->bundle == again->bundle);
  CB_FUZZ_REQUIRE(first->event == again->event);
  CB_FUZZ_REQUIRE(first->notes == again->notes);
  CB_FUZZ_REQUIRE(first->unmapped == again->unmapped);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parsed = hl7::parse(carebridge::fuzz::as_text(data, size));
  if (!parsed) return 0;
  boost::system::error_code without, with;
  convert_and_check(*parsed, nullptr, without);
  convert_and_check(*parsed, &profile(), with);
  CB_FUZZ_REQUIRE(without == with);
  return 0;
}
