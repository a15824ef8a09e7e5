#include "gateway/ingest/conversion_stage.hpp"

#include "gateway/obs/log.hpp"
#include "mappings/event/clinical_event.hpp"
#include "mappings/fhir/v2_to_fhir.hpp"
#include "mappings/hl7v2/message.hpp"

namespace carebridge::gateway::ingest {

namespace hl7 = mappings::hl7v2;
namespace fhir = mappings::fhir;

conversion_stage::conversion_stage(const config::config& cfg, obs::registry& metrics)
    : facilities_(cfg.facilities),
      metrics_(metrics),
      events_(metrics.counters("carebridge_pipeline_events_total",
                               "Clinical events made of messages, by kind and source")),
      unmapped_(metrics.counters("carebridge_mapping_unmapped_codes_total",
                                 "Codes kept as sent because no table maps them, by facility and table")),
      not_converted_(metrics
                         .counters("carebridge_pipeline_not_converted_total",
                                   "Processed messages of a type the mapper does not convert")
                         .series()),
      stage_metrics_(metrics, "conversion") {
  if (!cfg.mllp.fallback_charset.empty())
    default_charset_ = hl7::charset_from_name(cfg.mllp.fallback_charset).value_or(hl7::charset::none);
  for (const auto& s : cfg.senders)
    if (s.fallback_charset != hl7::charset::none) sender_charsets_.emplace(s.name, s.fallback_charset);
}

const fhir::sender_profile* conversion_stage::profile_for(std::string_view facility) const {
  auto it = facilities_.find(facility);
  return it == facilities_.end() ? nullptr : &it->second;
}

stage_outcome conversion_stage::operator()(const store::stored_message& m,
                                           store::processing_result& out) {
  last_.clear();
  stage_metrics::timer t(stage_metrics_, m.sender);
  if (m.message_type.starts_with("FHIR:")) return t.done(convert_fhir(m, out));
  return t.done(convert_v2(m, out));
}

stage_outcome conversion_stage::convert_v2(const store::stored_message& m,
                                           store::processing_result& out) {
  hl7::parse_options options;
  options.fallback_charset = default_charset_;
  if (auto it = sender_charsets_.find(m.sender); it != sender_charsets_.end())
    options.fallback_charset = it->second;
  auto parsed = hl7::parse(m.raw, options);
  if (!parsed)
    return {stage_outcome::kind::error, "not an HL7 v2 message: " + parsed.error().describe()};
  const std::string type(parsed->message_type());
  if (type != "ADT" && !(type == "ORU" && parsed->trigger_event() == "R01")) {
    not_converted_.inc();
    return {stage_outcome::kind::stop, {}};
  }
  fhir::convert_options co;
  co.sender = profile_for(m.sending_facility);
  auto converted = fhir::convert(*parsed, co);
  if (!converted) return {stage_outcome::kind::error, "cannot map to FHIR: " + converted.error().message()};
  for (const auto& u : converted->unmapped)
    unmapped_.series(obs::labels({{"facility", m.sending_facility}, {"table", u.table}})).inc();
  for (auto& r : converted->resources)
    out.resources.push_back({std::move(r.type), std::move(r.id), std::move(r.json)});
  const auto& ev = converted->event;
  const std::string_view kind = mappings::event::to_string(ev.kind);
  events_.series(obs::labels({{"kind", kind}, {"source", "hl7v2"}})).inc();
  out.events.push_back({std::string(kind), mappings::event::to_json(ev), ev.patient_resource_id,
                        ev.encounter_resource_id});
  last_.push_back(std::move(converted->event));
  return {};
}

}  // namespace carebridge::gateway::ingest

// FHIR inputs (convert_fhir): conversion_stage_fhir.cpp.
