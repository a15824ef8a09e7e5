// Audit records as FHIR R4 AuditEvent resources, pure (no I/O): for GET /fhir/AuditEvent
// (adapters/fhir_rest/audit_api) and `carebridge audit export` (NDJSON for a SIEM).
//
//   type      REST interactions: audit-event-type `rest`, subtype restful-interaction (read, vread,
//             search-type, create, update, patch, delete, transaction, batch; `operation` plus the
//             operation's name in CareBridge's operation code system); /auth/token: DICOM 110114
//             User Authentication, subtype 110122 Login; notifications: DICOM 110106 Export,
//             subtype the notification type (handshake, heartbeat, event-notification,
//             process-message)
//   action    C R U D E; recorded the record's time (µs); outcome 0/4/8/12, outcomeDesc the HTTP
//             status and the PHI-free detail
//   agent     the client: who.identifier = client id, role = group/sender/ops/anonymous,
//             requestor, network.address = the peer; a group client's physician group as a second
//             agent (not requestor). Notifications: the gateway (DICOM source role) and the
//             group's endpoint (destination role, network.address = its host, the origin in
//             entity.detail)
//   source    observer = the gateway (display), type 4 Application Server
//   entity    what.reference = Type/id when there is an id; type = the resource type; a search's
//             PHI-free parameters as entity.query (base64); notifications: Subscription/{id} and
//             the event numbers / endpoint origin as entity.detail
#pragma once

#include "gateway/audit/audit_log.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace carebridge::gateway::audit {

/// The AuditEvent resource of one record, compact JSON. `observer`: AuditEvent.source.observer's
/// display (the gateway's name).
std::string audit_event_json(const audit_record& r, std::string_view observer = "CareBridge");

/// "2026-12-02T04:25:57.123456Z" (a FHIR instant, UTC, µs).
std::string instant_text(std::int64_t time_us);

}  // namespace carebridge::gateway::audit
