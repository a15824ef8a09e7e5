// conversion_stage for FHIR inputs (message_type "FHIR:…", stored by adapters/fhir_rest/fhir_api):
// the stored body is converted again with mappings/fhir/fhir_ingest, with the facility it was
// stored for and that facility's profile, exactly as the API checked it before answering, so the
// resources written here are byte for byte the ones the API waited for.
#include "gateway/ingest/conversion_stage.hpp"

#include "mappings/event/clinical_event.hpp"
#include "mappings/fhir/fhir_ingest.hpp"

namespace carebridge::gateway::ingest {

stage_outcome conversion_stage::convert_fhir(const store::stored_message& m,
                                             store::processing_result& out) {
  namespace fhir = mappings::fhir;
  const auto route = fhir::route_from_store_type(m.message_type);
  if (!route) return {stage_outcome::kind::error, "unknown FHIR message type"};
  fhir::fhir_input_options options;
  options.facility = m.sending_facility;
  options.encounter_id = route->encounter_id;
  options.control_id = m.control_id;
  options.sender = profile_for(m.sending_facility);
  options.max_entries = static_cast<std::size_t>(-1);  // the API applied its limit before storing
  auto converted = fhir::from_fhir(m.raw, route->route, options);
  if (!converted) {
    return {stage_outcome::kind::error,
            "FHIR input refused (" + std::to_string(converted.error().status) + " " +
                converted.error().code + "): " + converted.error().diagnostics};
  }
  for (auto& r : converted->resources)
    out.resources.push_back({std::move(r.type), std::move(r.id), std::move(r.json)});
  for (auto& ev : converted->events) {
    const std::string_view kind = mappings::event::to_string(ev.kind);
    events_.series(obs::labels({{"kind", kind}, {"source", "fhir"}})).inc();
    out.events.push_back({std::string(kind), mappings::event::to_json(ev), ev.patient_resource_id,
                          ev.encounter_resource_id});
    last_.push_back(std::move(ev));
  }
  return {};
}

}  // namespace carebridge::gateway::ingest
