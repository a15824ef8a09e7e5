// The conversion stage of the pipeline: a stored message → FHIR resources and clinical events
// (mappings/fhir), handed back to the pipeline worker, which writes them in the same transaction as
// the message's settlement.
//
// HL7 v2: parsed again from the stored bytes (with the sender's fallback character set), converted
// with the sending facility's profile (config `facilities`). Message types the mapper does not
// convert (ORM, SIU…) are processed with no event and counted; a message it cannot convert (no PID,
// no patient id) is errored with the reason and stays reprocessable. FHIR inputs (message_type
// "FHIR:…", adapters/fhir_rest) go through mappings/fhir/fhir_ingest.
//
// Runs on the pipeline worker's thread only; holds no locks.
#pragma once

#include "gateway/config/config.hpp"
#include "gateway/ingest/pipeline_worker.hpp"
#include "gateway/ingest/stage_metrics.hpp"
#include "gateway/obs/metrics.hpp"
#include "mappings/event/clinical_event.hpp"

#include <vector>

namespace carebridge::gateway::ingest {

class conversion_stage {
 public:
  conversion_stage(const config::config& cfg, obs::registry& metrics);

  stage_outcome operator()(const store::stored_message& m, store::processing_result& out);

  /// The clinical events of the last message converted (for the care stage that follows), in the
  /// order of `out.events`.
  const std::vector<mappings::event::clinical_event>& events() const noexcept { return last_; }

 private:
  stage_outcome convert_v2(const store::stored_message& m, store::processing_result& out);
  stage_outcome convert_fhir(const store::stored_message& m, store::processing_result& out);
  const mappings::fhir::sender_profile* profile_for(std::string_view facility) const;

  std::map<std::string, mappings::fhir::sender_profile, std::less<>> facilities_;
  std::map<std::string, mappings::hl7v2::charset, std::less<>> sender_charsets_;
  mappings::hl7v2::charset default_charset_ = mappings::hl7v2::charset::none;
  obs::registry& metrics_;
  obs::registry::family<obs::counter>& events_;
  obs::registry::family<obs::counter>& unmapped_;
  obs::counter& not_converted_;
  stage_metrics stage_metrics_;
  std::vector<mappings::event::clinical_event> last_;
};

}  // namespace carebridge::gateway::ingest
