// FHIR R4 input from hospitals → the resources to store and the clinical events, the FHIR twin of
// v2_to_fhir.hpp. Pure: no I/O, no clock.
//
// Routes (adapters/fhir_rest): POST /fhir with a transaction or batch Bundle; POST /fhir/Encounter and
// PUT /fhir/Encounter/{id} (a finished Encounter is a discharge); POST /fhir/$process-message with a
// Da Vinci notification message Bundle (admit, discharge, transfer). Each gives the same clinical
// event as the equivalent HL7 v2 message (same kind, times, class, diagnoses, disposition…).
//
// Resource ids are derived from identifiers the way v2_to_fhir does (ids.hpp), scoped by the
// sending facility, so a hospital's ids never collide with another's and a v2 feed and a FHIR feed
// of the same facility and visit number land on the same Encounter.
#pragma once

#include "mappings/event/clinical_event.hpp"
#include "mappings/fhir/v2_to_fhir.hpp"

#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace carebridge::mappings::fhir {

enum class fhir_route : std::uint8_t {
  bundle,           // POST /fhir (transaction or batch)
  encounter_create,  // POST /fhir/Encounter
  encounter_update,  // PUT /fhir/Encounter/{id}
  process_message,  // POST /fhir/$process-message
};

/// The message_type the store keeps for a FHIR input ("FHIR:bundle", "FHIR:encounter",
/// "FHIR:encounter/<id>", "FHIR:process-message"), and back. The pipeline uses it to route.
std::string store_type(fhir_route route, std::string_view encounter_id = {});
struct stored_route {
  fhir_route route;
  std::string encounter_id;  // encounter_update only
};
std::optional<stored_route> route_from_store_type(std::string_view message_type);

struct fhir_input_options {
  std::string facility;               // the registered sender the request came from
  std::string encounter_id;           // PUT /fhir/Encounter/{id}: the id in the URL
  const sender_profile* sender = nullptr;
};

struct fhir_conversion {
  std::vector<resource_json> resources;   // to upsert (ids derived, references rewritten)
  std::vector<event::clinical_event> events;
  std::vector<std::string> notes;         // PHI-free remarks
};

/// Why a request is refused: the HTTP status, an OperationOutcome issue code (invalid, structure,
/// required, value, not-supported, too-costly…), a PHI-free text and the FHIRPath of the problem.
struct fhir_input_error {
  unsigned status = 400;
  std::string code = "invalid";
  std::string diagnostics;
  std::string expression;
};

/// Checks and converts one request body (JSON). Errors never quote content.
boost::system::result<fhir_conversion, fhir_input_error> from_fhir(std::string_view json,
                                                                   fhir_route route,
                                                                   const fhir_input_options& options);

/// An OperationOutcome (JSON) for an error, or for information (severity "information").
std::string operation_outcome(const fhir_input_error& e, std::string_view severity = "error");

}  // namespace carebridge::mappings::fhir
