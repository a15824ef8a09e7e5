// HL7 v2 → FHIR R4, after the HL7 v2-to-FHIR IG (segment and datatype maps), and the clinical
// event.
//
// convert() takes one parsed message (ADT A01–A13, A40 and the ADT_A01-shaped others; ORU^R01) and
// gives a transaction Bundle (PUT upserts by deterministic id, see ids.hpp), each resource on its
// own (for the store), the clinical event, and the codes it could not map. Pure: no I/O, no clock
// (every time comes from the message), so the same message always gives the same bytes.
//
// What is made: Patient (PID, PD1), Encounter (PV1, PV2; DG1 as Encounter.diagnosis), Condition
// (DG1), Procedure (PR1), Coverage (IN1; member id in subscriberId and an MB identifier),
// Practitioner (PV1-7/8/9/17, PD1-4), Organization (sending facility, payer), Location (PV1-3),
// RelatedPerson (NK1), Observation (OBX of ORU^R01). A40 marks the merged-away Patient inactive and
// links both ways. Unmapped codes are kept as sent (their v2 table's code system, or the sender's
// local code system) and reported in `unmapped`.
#pragma once

#include "mappings/event/clinical_event.hpp"
#include "mappings/fhir/code_tables.hpp"
#include "mappings/fhir/time_zone.hpp"
#include "mappings/hl7v2/message.hpp"

#include <boost/system/result.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::mappings::fhir {

/// What the mapper knows about one sending facility (MSH-4.1), from the config.
struct sender_profile {
  zone time_zone;  // for times sent without an offset; unknown → they degrade to dates
  /// Assigning authority (CX.4.1 / HD namespace) → identifier system URI, e.g. the hospital's MRN
  /// namespace "LMC" → "urn:oid:2.16.840.1.113883.19.4.1".
  std::map<std::string, std::string, std::less<>> identifier_systems;
  /// The same for one identifier type (CX.5, e.g. "VN" visit numbers, "AN" account numbers), when
  /// the hospital uses one authority for several number series; consulted first.
  std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>>
      identifier_systems_by_type;
  /// The system of practitioner ids (XCN.1) sent without an authority.
  std::string practitioner_system;
  /// Local code system names (CWE.3 values the sender uses, e.g. "L", "99LAB") → URI. A name not
  /// here and not an HL7 table 0396 name becomes urn:carebridge:local:<facility>:<name>.
  std::map<std::string, std::string, std::less<>> code_systems;
  /// The sender's overrides of the built-in code tables (its local codes), merged over them.
  code_tables tables;
  bool has_tables = false;
};

struct convert_options {
  const sender_profile* sender = nullptr;  // nullptr: no zone, no overrides
};

/// A code the mapper could not map to the target code system; kept as sent and counted.
struct unmapped_code {
  std::string table;  // "patient-class", "discharge-disposition", "coding-system"…
  std::string code;   // the code as sent (a code, never free text)
  bool operator==(const unmapped_code&) const = default;
};

struct resource_json {
  std::string type;
  std::string id;
  std::string json;
};

struct conversion {
  std::string bundle;                    // the transaction Bundle, JSON
  std::vector<resource_json> resources;  // the Bundle's entries, in order
  event::clinical_event event;
  std::vector<unmapped_code> unmapped;
  std::vector<std::string> notes;  // PHI-free remarks: "PV1-45 has no offset; date only"
};

enum class convert_error {
  unsupported_message = 1,  // not ADT or ORU^R01
  missing_segment,          // no PID (every supported message has one)
  missing_patient_id,       // PID-3 has no identifier to key the Patient on
};
const boost::system::error_category& convert_category() noexcept;
inline boost::system::error_code make_error_code(convert_error e) noexcept {
  return {static_cast<int>(e), convert_category()};
}

/// Converts one message. Errors say what is missing, never content.
boost::system::result<conversion> convert(const hl7v2::message& msg,
                                          const convert_options& options);

}  // namespace carebridge::mappings::fhir

template <>
struct boost::system::is_error_code_enum<carebridge::mappings::fhir::convert_error>
    : std::true_type {};
