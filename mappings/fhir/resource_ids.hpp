// The keys of the deterministic resource ids (ids.hpp), in one place, so that the HL7 v2 path
// (v2_to_fhir) and the FHIR path (fhir_ingest) give one real-world thing one id: a FHIR Encounter
// whose identifier is a visit number lands on the Encounter the same hospital's ADT feed updates.
//
// Each function names what identifies the resource; the key parts and their order are part of the
// stored data (changing one re-keys every resource of that type). v2_to_fhir.cpp and fhir_ingest.cpp
// both use these; tests/unit/fhir_ingest_test.cpp (ResourceIds.*) checks that they agree.
#pragma once

#include "mappings/fhir/code_tables.hpp"
#include "mappings/fhir/ids.hpp"
#include "mappings/fhir/v2_to_fhir.hpp"

#include <string>
#include <string_view>

namespace carebridge::mappings::fhir::ids {

/// A Patient, from its key identifier (the MRN): system-scoped when the system is known, else
/// scoped by the sending facility. `assigner` is the assigning authority as sent (CX.4.1).
inline uuid_text patient(std::string_view facility, std::string_view system,
                           std::string_view assigner, std::string_view value) {
  return derived_uuid("Patient", {system.empty() ? facility : system, assigner, value});
}

/// An Encounter, from the facility and its visit number (PV1-19 / an identifier of type VN).
inline uuid_text encounter(std::string_view facility, std::string_view system,
                             std::string_view assigner, std::string_view value) {
  return derived_uuid("Encounter", {facility, system, assigner, value});
}

/// A Practitioner with an identifier (NPI, or the hospital's own number).
inline uuid_text practitioner(std::string_view system, std::string_view assigner,
                                std::string_view value) {
  return derived_uuid("Practitioner", {"id", system, assigner, value});
}

/// A Practitioner known only by name, within one facility.
inline uuid_text practitioner_by_name(std::string_view facility, std::string_view family,
                                        std::string_view given) {
  return derived_uuid("Practitioner", {"name", facility, family, given});
}

/// The sending facility as an Organization (MSH-4: namespace and universal id).
inline uuid_text facility_organization(std::string_view ns, std::string_view uid) {
  return derived_uuid("Organization", {"facility", ns, uid});
}

/// A payer Organization (IN1-3 identifier, IN1-4 name).
inline uuid_text payer_organization(std::string_view system, std::string_view value,
                                      std::string_view name) {
  return derived_uuid("Organization", {"payer", system, value, name});
}

/// An encounter diagnosis: the Encounter and the code (first coding), or the text when uncoded.
inline uuid_text condition(std::string_view encounter_id, std::string_view system,
                             std::string_view code_or_text) {
  return derived_uuid("Condition", {encounter_id, system, code_or_text});
}

/// A procedure of an Encounter: its code (first coding, or text) and when it was performed.
inline uuid_text procedure(std::string_view encounter_id, std::string_view system,
                             std::string_view code_or_text, std::string_view performed) {
  return derived_uuid("Procedure", {encounter_id, system, code_or_text, performed});
}

/// A Coverage of a Patient: payer (identifier value and name), plan code and member id.
inline uuid_text coverage(std::string_view patient_id, std::string_view payer_value,
                            std::string_view payer_name, std::string_view plan_code,
                            std::string_view member_id) {
  return derived_uuid("Coverage", {patient_id, payer_value, payer_name, plan_code, member_id});
}

/// The assigning authority (CX.4.1 namespace) that a facility's profile maps to `system`: the
/// reverse of the v2 mapper's authority → system lookup (identifier_systems_by_type[type], then
/// identifier_systems, then the coding-system table), for FHIR identifiers, which carry the system
/// but not the v2 authority. Several namespaces for one system: the one equal to `facility`, else
/// the first in name order. Empty when nothing maps to the system.
inline std::string assigner_for(const sender_profile* profile, std::string_view facility,
                                std::string_view system, std::string_view type) {
  if (system.empty()) return {};
  auto pick = [&](const std::map<std::string, std::string, std::less<>>& m) -> std::string {
    std::string first;
    for (const auto& [ns, uri] : m) {
      if (uri != system) continue;
      if (ns == facility) return ns;
      if (first.empty()) first = ns;
    }
    return first;
  };
  if (profile != nullptr) {
    if (!type.empty()) {
      if (auto t = profile->identifier_systems_by_type.find(type);
          t != profile->identifier_systems_by_type.end()) {
        if (std::string ns = pick(t->second); !ns.empty()) return ns;
      }
    }
    if (std::string ns = pick(profile->identifier_systems); !ns.empty()) return ns;
  }
  const code_tables& tables =
      profile != nullptr && profile->has_tables ? profile->tables : code_tables::builtin();
  std::string found;
  tables.for_each_row(table::coding_system, [&](std::string_view name, const coding& c) {
    if (found.empty() && c.code == system) found = std::string(name);
  });
  return found;
}

}  // namespace carebridge::mappings::fhir::ids
