// Test helper: a message as the pipeline leaves it — submitted to a real store, then settled with
// what its processing made (resources, alert outbox rows), both committed before it returns.
// For the tests of what comes after processing (fan-out, notifier, the groups' FHIR routes).
#pragma once

#include "gateway/store/message_store.hpp"

#include <future>
#include <string>
#include <utility>

namespace carebridge::test {

/// Submits an HL7 v2 stub message (EPIC/MERCY, `control_id`, `message_type`) and settles it as
/// processed with `result`. Returns the message id, or 0 when the store refused either step.
inline std::int64_t settle_message(gateway::store::message_store& s, const std::string& control_id,
                                   gateway::store::processing_result result,
                                   const std::string& message_type = "ADT^A03") {
  namespace store = gateway::store;
  store::inbound_record r;
  r.sending_application = "EPIC";
  r.sending_facility = "MERCY";
  r.control_id = control_id;
  r.message_type = message_type;
  r.ack_code = "AA";
  r.raw = "MSH|^~\\&|EPIC|MERCY|||||" + message_type + "|" + control_id + "|P|2.5\r";
  std::promise<store::commit_result> committed;
  s.submit(std::move(r), [&committed](store::commit_result c) { committed.set_value(std::move(c)); });
  const auto c = committed.get_future().get();
  if (c.what != store::commit_result::outcome::stored) return 0;
  std::promise<bool> settled;
  s.settle_processed(c.id, std::move(result), [&settled](bool ok) { settled.set_value(ok); });
  return settled.get_future().get() ? c.id : 0;
}

}  // namespace carebridge::test
