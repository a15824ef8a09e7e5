#include "gateway/audit/audit_event.hpp"

#include "mappings/fhir/fhir_ingest.hpp"
#include "mappings/fhir/fhir_json.hpp"

#include <cstdio>
#include <ctime>

namespace carebridge::gateway::audit {

namespace {

using mappings::fhir::json_out;

constexpr std::string_view dicom = "http://dicom.nema.org/resources/ontology/DCM";
constexpr std::string_view restful = "http://hl7.org/fhir/restful-interaction";
constexpr std::string_view client_system = "https://carebridge.example/fhir/sid/client";
constexpr std::string_view group_system = "https://carebridge.example/fhir/sid/physician-group";
constexpr std::string_view role_system = "https://carebridge.example/fhir/CodeSystem/client-role";
constexpr std::string_view operation_system =
    "https://carebridge.example/fhir/CodeSystem/operation";
constexpr std::string_view notification_system =
    "https://carebridge.example/fhir/CodeSystem/notification-type";
constexpr std::string_view interaction_system =
    "https://carebridge.example/fhir/CodeSystem/interaction";

bool is_rest(std::string_view s) {
  for (std::string_view k : {"read", "vread", "update", "patch", "delete", "history-instance",
                             "history-type", "history-system", "create", "search-type",
                             "search-system", "capabilities", "transaction", "batch"})
    if (s == k) return true;
  return false;
}

bool is_notification(std::string_view s) {
  return s == "handshake" || s == "heartbeat" || s == "event-notification" ||
         s == "process-message";
}

void coding(json_out& j, std::string_view system, std::string_view code,
            std::string_view display = {}) {
  j.begin_object();
  j.field("system", system);
  j.field("code", code);
  j.field("display", display);
  j.end_object();
}

void coding_member(json_out& j, const mappings::fhir::jkey& k, std::string_view system,
                   std::string_view code, std::string_view display = {}) {
  j.key(k);
  coding(j, system, code, display);
}

// A CodeableConcept of one coding under `k`.
void codeable(json_out& j, const mappings::fhir::jkey& k, std::string_view system,
              std::string_view code, std::string_view display = {}) {
  j.begin_object(k);
  j.begin_array("coding");
  coding(j, system, code, display);
  j.end_array();
  j.end_object();
}

// A CodeableConcept array of one coding under `k`.
void concept_array(json_out& j, const mappings::fhir::jkey& k, std::string_view system,
                   std::string_view code, std::string_view display = {}) {
  j.begin_array(k);
  j.begin_object();
  j.begin_array("coding");
  coding(j, system, code, display);
  j.end_array();
  j.end_object();
  j.end_array();
}

// IPv4/IPv6 literal (network.type 2) or a machine name (1).
std::string_view address_type(std::string_view a) {
  for (char c : a)
    if (!((c >= '0' && c <= '9') || c == '.' || c == ':' || (c >= 'a' && c <= 'f') ||
          (c >= 'A' && c <= 'F')))
      return "1";
  return a.find_first_of(".:") == std::string_view::npos ? "1" : "2";
}

// An agent's "who" as an identifier (a client id, a physician group).
void who_identifier(json_out& j, std::string_view system, std::string_view value) {
  j.begin_object("who");
  j.begin_object("identifier");
  j.field("system", system);
  j.field("value", value);
  j.end_object();
  j.end_object();
}

// An agent's "network": the peer address and its type.
void network(json_out& j, std::string_view address) {
  j.begin_object("network");
  j.field("address", address);
  j.field("type", address_type(address));
  j.end_object();
}

std::string base64(std::string_view in) {
  static constexpr char table[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  const auto byte = [&](std::size_t k) {
    return static_cast<unsigned>(static_cast<unsigned char>(in[k]));
  };
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += table[v & 63];
  }
  if (i < in.size()) {
    unsigned v = byte(i) << 16;
    if (i + 1 < in.size()) v |= byte(i + 1) << 8;
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += i + 1 < in.size() ? table[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool valid_type(std::string_view t) {
  if (t.empty() || t.size() > 64 || !(t.front() >= 'A' && t.front() <= 'Z')) return false;
  for (char c : t)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

void write_type(json_out& j, const audit_record& r) {
  const std::string_view s = r.subtype;
  if (is_rest(s) || s.starts_with('$')) {
    coding_member(j, "type", "http://terminology.hl7.org/CodeSystem/audit-event-type", "rest",
                  "RESTful Operation");
    j.begin_array("subtype");
    if (s.starts_with('$')) {
      coding(j, restful, "operation");
      coding(j, operation_system, s);
    } else {
      coding(j, restful, s);
    }
    j.end_array();
  } else if (s == "token") {
    coding_member(j, "type", dicom, "110114", "User Authentication");
    j.begin_array("subtype");
    coding(j, dicom, "110122", "Login");
    j.end_array();
  } else if (is_notification(s)) {
    coding_member(j, "type", dicom, "110106", "Export");
    j.begin_array("subtype");
    coding(j, notification_system, s);
    j.end_array();
  } else {
    coding_member(j, "type", dicom, "110100", "Application Activity");
    if (!s.empty()) {
      j.begin_array("subtype");
      coding(j, interaction_system, s);
      j.end_array();
    }
  }
}

void write_agents(json_out& j, const audit_record& r, std::string_view observer) {
  j.begin_array("agent");
  if (r.role == "gateway") {
    // The gateway sends; the group's endpoint receives.
    j.begin_object();
    codeable(j, "type", dicom, "110153", "Source Role ID");
    j.begin_object("who");
    j.field("display", observer);
    j.end_object();
    j.boolean("requestor", true);
    j.end_object();
    j.begin_object();
    codeable(j, "type", dicom, "110152", "Destination Role ID");
    if (!r.group.empty()) {
      who_identifier(j, group_system, r.group);
    }
    j.boolean("requestor", false);
    if (!r.address.empty()) network(j, r.address);
    j.end_object();
    j.end_array();
    return;
  }
  j.begin_object();
  concept_array(j, "role", role_system, r.role.empty() ? "anonymous" : r.role);
  if (!r.client_id.empty()) {
    who_identifier(j, client_system, r.client_id);
  }
  j.boolean("requestor", true);
  if (!r.address.empty()) network(j, r.address);
  j.end_object();
  if (!r.group.empty()) {
    // The physician group the client acts for.
    j.begin_object();
    concept_array(j, "role", role_system, "physician-group");
    who_identifier(j, group_system, r.group);
    j.boolean("requestor", false);
    j.end_object();
  }
  j.end_array();
}

void write_entity(json_out& j, const audit_record& r) {
  const bool has_type = valid_type(r.entity_type);
  const bool has_id = has_type && mappings::fhir::valid_id(r.entity_id);
  const bool notification = !r.subscription_id.empty();
  if (!has_type && r.query.empty() && !notification) return;
  j.begin_array("entity");
  j.begin_object();
  if (has_id) j.reference("what", r.entity_type, r.entity_id);
  if (has_type) coding_member(j, "type", "http://hl7.org/fhir/resource-types", r.entity_type);
  if (!r.query.empty()) j.field("query", base64(r.query));
  if (notification) {
    j.begin_array("detail");
    if (r.last_event > 0) {
      j.begin_object();
      j.field("type", "events");
      j.field("valueString", std::to_string(r.first_event) + ".." + std::to_string(r.last_event));
      j.end_object();
    }
    if (!r.endpoint.empty()) {
      j.begin_object();
      j.field("type", "endpoint-origin");
      j.field("valueString", r.endpoint);
      j.end_object();
    }
    j.end_array();
  }
  j.end_object();
  j.end_array();
}

}  // namespace

std::string instant_text(std::int64_t time_us) {
  std::int64_t secs = time_us / 1'000'000;
  std::int64_t frac = time_us % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    --secs;
  }
  const auto t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[48];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06lldZ", static_cast<long long>(frac));
  return buf;
}

std::string audit_event_json(const audit_record& r, std::string_view observer) {
  json_out j(2048);
  j.begin_object();
  j.field("resourceType", "AuditEvent");
  j.field("id", std::to_string(r.id));
  write_type(j, r);
  const char action[1] = {r.action};
  j.field("action", std::string_view(action, 1));
  j.field("recorded", instant_text(r.time_us));
  j.field("outcome", std::to_string(r.outcome));
  std::string desc =
      r.status == 0 ? std::string("no HTTP response") : "HTTP " + std::to_string(r.status);
  if (!r.detail.empty()) desc += "; " + r.detail;
  j.field("outcomeDesc", desc);
  write_agents(j, r, observer);
  j.begin_object("source");
  j.field("site", "carebridge");
  j.begin_object("observer");
  j.field("display", observer);
  j.end_object();
  j.begin_array("type");
  coding(j, "http://terminology.hl7.org/CodeSystem/security-source-type", "4",
         "Application Server");
  j.end_array();
  j.end_object();
  write_entity(j, r);
  j.end_object();
  return j.take();
}

}  // namespace carebridge::gateway::audit
