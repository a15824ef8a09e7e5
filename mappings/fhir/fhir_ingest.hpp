// FHIR R4 input from hospitals → the resources to store and the clinical events, the FHIR twin of
// v2_to_fhir.hpp. Pure: no I/O, no clock.
//
// Routes (adapters/fhir_rest): POST /fhir with a transaction or batch Bundle; POST /fhir/Encounter
// and PUT /fhir/Encounter/{id} (a finished Encounter is a discharge); POST /fhir/$process-message
// with a Da Vinci notification message Bundle (admit, discharge, transfer). Each gives the same
// clinical event as the equivalent HL7 v2 message (same kind, times, class, diagnoses,
// disposition…).
//
// Resource ids are derived from identifiers the way v2_to_fhir does (resource_ids.hpp), scoped by
// the sending facility, so a hospital's ids never collide with another's and a v2 feed and a FHIR
// feed of the same facility and visit number land on the same Encounter. The ids the sender used
// are only keys for resolving references inside the request; every reference to a kept resource is
// rewritten to its derived id.
//
// What is kept: Patient, Encounter, Condition, Coverage, Procedure, Observation, Organization,
// Location, Practitioner (also when sent as contained resources: they are promoted to resources of
// their own). Any other resource type (MessageHeader, Provenance, PractitionerRole, Account…) is
// left out with a note — Da Vinci lets senders add anything that has a reference path to the focus,
// so refusing them would refuse valid notifications; a reference to a left-out resource keeps its
// `type`, `identifier` and `display` and loses its literal `reference`.
//
// Refused (fhir_input_error): 400 for bytes that are not JSON / not a FHIR resource of the route's
// type / wrongly typed elements; 422 for well-formed input that breaks the rules below. The texts
// name elements and rules, never content. The rules: Bundle.type transaction|batch (POST /fhir) or
// message (process-message, first entry a MessageHeader whose eventCoding is a Da Vinci ADT event
// and whose focus is an Encounter in the Bundle); transaction/batch entries with request.method
// POST or PUT and a request.url of the resource's type; at most `max_entries` entries; a Patient
// has an identifier; an Encounter has status (a valid code), class and subject; a Condition,
// Procedure or Observation has a subject, a Coverage a beneficiary; every literal reference in a
// Bundle resolves to an entry (fullUrl or Type/id) or a contained resource, unless it also carries
// an identifier; a stand-alone Encounter names its patient by identifier (logical reference) or by
// a contained Patient. A batch is all-or-nothing like a transaction.
#pragma once

#include "mappings/event/clinical_event.hpp"
#include "mappings/fhir/v2_to_fhir.hpp"

#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::mappings::fhir {

enum class fhir_route : std::uint8_t {
  bundle,            // POST /fhir (transaction or batch)
  encounter_create,  // POST /fhir/Encounter
  encounter_update,  // PUT /fhir/Encounter/{id}
  process_message,   // POST /fhir/$process-message
};

/// The message_type the store keeps for a FHIR input ("FHIR:bundle", "FHIR:encounter",
/// "FHIR:encounter/<id>", "FHIR:process-message"), and back. The pipeline uses it to route.
std::string store_type(fhir_route route, std::string_view encounter_id = {});
struct stored_route {
  fhir_route route;
  std::string encounter_id;  // encounter_update only
};
std::optional<stored_route> route_from_store_type(std::string_view message_type);

/// True for a FHIR resource id ([A-Za-z0-9\-.]{1,64}).
bool valid_id(std::string_view id) noexcept;

struct fhir_input_options {
  std::string facility;      // the registered sender's facility the request came from
  std::string encounter_id;  // PUT /fhir/Encounter/{id}: the id in the URL
  std::string control_id;    // the stored message's control id (events name it when the
                             // input has no Bundle.identifier / Bundle.id of its own)
  const sender_profile* sender = nullptr;  // the facility's profile (identifier systems)
  std::size_t max_entries = 1000;          // Bundle entries at the most (422 too-costly above)
};

/// What became of one input entry (Bundle routes: one per Bundle.entry, in order; Encounter routes:
/// the Encounter). `id` is empty when the resource was left out (not a kept type).
struct fhir_entry_result {
  std::string type;
  std::string id;
  bool operator==(const fhir_entry_result&) const = default;
};

struct fhir_conversion {
  std::vector<resource_json> resources;  // to upsert (ids derived, references rewritten)
  std::vector<event::clinical_event> events;
  std::vector<fhir_entry_result> entries;
  std::string bundle_type;         // "transaction", "batch", "message"; empty for Encounters
  std::vector<std::string> notes;  // PHI-free remarks
};

/// Why a request is refused: the HTTP status, an OperationOutcome issue code (invalid, structure,
/// required, value, not-supported, too-costly…), a PHI-free text and the FHIRPath of the problem.
struct fhir_input_error {
  unsigned status = 400;
  std::string code = "invalid";
  std::string diagnostics;
  std::string expression;
};

/// Lets boost::system::result<T, fhir_input_error>::value() throw (std::runtime_error).
[[noreturn]] void throw_exception_from_error(const fhir_input_error& e,
                                             const boost::source_location& loc);

/// Checks and converts one request body (JSON). Errors never quote content.
boost::system::result<fhir_conversion, fhir_input_error> from_fhir(
    std::string_view json, fhir_route route, const fhir_input_options& options);

/// An OperationOutcome (JSON) for an error, or for information (severity "information").
std::string operation_outcome(const fhir_input_error& e, std::string_view severity = "error");

}  // namespace carebridge::mappings::fhir
