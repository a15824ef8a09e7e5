// A physician group's Subscription (Subscriptions R5 Backport IG for FHIR R4, profile
// backport-subscription; ../shared/spec/fhir.md §1.3, §1.6): parsing and checking what a client
// asks for, and writing a stored one back for reads. Pure: no I/O, no clock (the caller passes
// `now` when `end` must be checked against it).
//
// parse_subscription() accepts only what CareBridge will honour and refuses the rest with every
// problem found, each with the element (FHIRPath), the rule and a text that names elements,
// limits and allowed codes but never quotes the request (header values are credentials; reason
// and filters may hold PHI). The errors become an OperationOutcome with to_operation_outcome().
//
// What is honoured:
//  * topic (Subscription.criteria): one of topics.hpp, `url` or `url|version`;
//  * filters (_criteria.extension backport-filter-criteria, AND-ed): `param=value`,
//    `Type.param=value` or `Type?param=value` with a parameter the topic defines and no modifier;
//    a parameter given twice must have the same value both times (two different values could never
//    match together, so that is refused rather than accepted to stay silent); at most 8;
//  * channel.type `rest-hook` (POST the notification Bundle to the endpoint) or, when
//    parse_options::allow_message_channel, `message`: the Da Vinci Alerts channel, endpoint = the
//    recipient's FHIR base, each notification a message Bundle POSTed to `[base]/$process-message`
//    (one patient per message, so maxCount must be 1, and Da Vinci messages carry their
//    resources, so content is full-resource — the default for this channel, anything else is
//    refused); custom channels (backport-channel-type) and websocket/email/sms are refused;
//  * endpoint: an absolute `https://` URL with a host, no user info, no fragment, at most 2048
//    bytes, no spaces or control characters; `http://` only to 127.0.0.1, [::1] or localhost and
//    only when parse_options::allow_insecure_loopback (tests and the demo); the message channel's
//    endpoint is a FHIR base, so it has no query either;
//  * channel.payload `application/fhir+json`, optionally `; fhirVersion=4.0` (required element);
//    content (_payload.extension backport-payload-content) empty | id-only | full-resource,
//    default id-only (full-resource only when parse_options::allow_full_resource);
//  * channel.header: at most 10, each `Name: value` with an RFC 9110 token as name, a value of
//    visible characters, spaces and tabs (no CR, LF or other control characters), at most 4096
//    bytes; names the sender sets itself (Host, Content-Type, Content-Length, Transfer-Encoding,
//    Connection, Upgrade, TE, Trailer, Keep-Alive, Proxy-Connection, Expect) are refused;
//  * heartbeat period (backport-heartbeat-period) 60–86400 s, absent = no heartbeats;
//    timeout (backport-timeout) 1–120 s, default 30; maxCount (backport-max-count) 1–100,
//    default 1;
//  * end: an instant (with zone); after parse_options::now when that is given;
//  * reason: required (R4 1..1), at most 1024 bytes; status: requested, active or off (error and
//    entered-in-error are the server's to set; active is read as a request: rest-hook
//    subscriptions start requested until the handshake succeeds);
//  * any modifierExtension is refused (it could change the meaning); other extensions and
//    elements (id, meta, contact, error…) are ignored.
#pragma once

#include "gateway/alerts/topics.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::gateway::alerts {

enum class channel_kind : std::uint8_t { rest_hook, message };
enum class payload_content : std::uint8_t { empty, id_only, full_resource };
/// R4 Subscription.status (entered-in-error is R5 only).
enum class subscription_status : std::uint8_t { requested, active, error, off };

std::string_view to_string(channel_kind c) noexcept;
std::string_view to_string(payload_content c) noexcept;
std::string_view to_string(subscription_status s) noexcept;

/// One AND-ed filter, normalised: parameter as the topic names it, value as compared
/// (`Patient/<id>`, or `low|moderate|high`).
struct subscription_filter {
  std::string parameter;
  std::string value;
  bool operator==(const subscription_filter&) const = default;
};

/// What a client asked for, checked. `owner_group` is not read from the JSON: the caller sets it
/// from the authenticated client (the physician group that owns the subscription).
struct subscription_request {
  std::string owner_group;
  topic_id topic = topic_id::readmission_risk;
  std::vector<subscription_filter> filters;
  channel_kind channel = channel_kind::rest_hook;
  std::string endpoint;
  std::vector<std::string> headers;  // "Name: value", as sent (trimmed)
  std::optional<std::uint32_t> heartbeat_seconds;
  std::uint32_t timeout_seconds = 30;
  payload_content content = payload_content::id_only;
  std::string mime_type = "application/fhir+json";  // normalised
  std::uint32_t max_count = 1;
  std::string end;  // instant, empty = none
  std::string reason;
  subscription_status status_asked = subscription_status::requested;
  bool operator==(const subscription_request&) const = default;
};

/// Limits and policy (defaults are the documented ones above).
struct parse_options {
  bool allow_insecure_loopback = false;
  bool allow_message_channel = true;
  bool allow_full_resource = true;
  /// When set, `end` must be later than this.
  std::optional<std::chrono::sys_seconds> now;
  std::uint32_t min_heartbeat_seconds = 60;
  std::uint32_t max_heartbeat_seconds = 86400;
  std::uint32_t min_timeout_seconds = 1;
  std::uint32_t max_timeout_seconds = 120;
  std::uint32_t default_timeout_seconds = 30;
  std::uint32_t max_max_count = 100;
  std::size_t max_filters = 8;
  std::size_t max_headers = 10;
  std::size_t max_header_bytes = 4096;
  std::size_t max_endpoint_bytes = 2048;
  std::size_t max_reason_bytes = 1024;
};

/// What rule a problem broke (one doc line each; no value carries request content).
enum class subscription_errc {
  /// The body is not JSON (UTF-8), or nests too deep.
  not_json = 1,
  /// The JSON is not a Subscription resource.
  not_subscription,
  /// An element has the wrong JSON type (a string where an object is due…).
  wrong_type,
  /// A required element is missing or empty.
  missing,
  /// Subscription.criteria is not a topic CareBridge offers.
  unknown_topic,
  /// A filter is not `param=value`, `Type.param=value` or `Type?param=value`.
  bad_filter_syntax,
  /// A filter names a parameter the topic does not define, or another resource type.
  unknown_filter,
  /// A filter uses a modifier (`:not`, `:missing`…); none is supported.
  unsupported_filter_modifier,
  /// A filter value is not what the parameter takes.
  bad_filter_value,
  /// The same parameter with two different values (AND-ed, they could never both match).
  conflicting_filters,
  /// More filters than parse_options::max_filters.
  too_many_filters,
  /// channel.type is not rest-hook (or message, when allowed), or is a custom channel.
  unsupported_channel,
  /// channel.endpoint is not an absolute URL of the allowed form.
  bad_endpoint,
  /// channel.endpoint is not https (and not an allowed loopback http).
  insecure_endpoint,
  /// channel.payload is not application/fhir+json (fhirVersion 4.0).
  unsupported_payload,
  /// The payload content code is unknown or not allowed here.
  unsupported_content,
  /// A channel.header is not `Name: value`, has CR/LF or control characters, is too long, or sets
  /// a header the sender owns.
  bad_header,
  /// More headers than parse_options::max_headers.
  too_many_headers,
  /// heartbeat period outside its limits.
  bad_heartbeat,
  /// timeout outside its limits.
  bad_timeout,
  /// maxCount outside its limits (or above 1 on the message channel).
  bad_max_count,
  /// end is not an instant with a zone, or is not in the future.
  bad_end,
  /// reason missing or too long.
  bad_reason,
  /// status is not requested, active or off.
  bad_status,
  /// A modifierExtension CareBridge cannot understand.
  unsupported_modifier_extension,
};

const boost::system::error_category& subscription_category() noexcept;
inline boost::system::error_code make_error_code(subscription_errc e) noexcept {
  return {static_cast<int>(e), subscription_category()};
}

/// One problem: the rule, the element (FHIRPath from Subscription) and a PHI-free text.
struct subscription_issue {
  subscription_errc code;
  std::string expression;
  std::string diagnostics;
  /// The OperationOutcome issue type (structure, required, value, not-supported, invalid,
  /// security, too-costly, code-invalid, extension).
  std::string_view issue_type() const noexcept;
};

/// Why a Subscription is refused: every problem found, in document order.
struct subscription_error {
  std::vector<subscription_issue> issues;
  /// 400 when the body is not a Subscription at all (JSON, resourceType, wrong types), else 422.
  unsigned http_status() const noexcept;
  /// One line for the log: codes and elements, never content.
  std::string describe() const;
};

/// Lets boost::system::result<T, subscription_error>::value() throw (std::runtime_error).
[[noreturn]] void throw_exception_from_error(const subscription_error& e,
                                             const boost::source_location& loc);

/// The R4 Backport Subscription profile (meta.profile of the Subscriptions we write, and the
/// CapabilityStatement's).
inline constexpr std::string_view subscription_profile =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription";

/// Checks and reads a Subscription (JSON text).
boost::system::result<subscription_request, subscription_error> parse_subscription(
    std::string_view json, const parse_options& options = {});

/// The OperationOutcome for a refusal: one issue (severity error) per problem.
std::string to_operation_outcome(const subscription_error& e);

/// What the server keeps about a subscription besides the request.
struct subscription_state {
  std::string_view id;
  subscription_status status = subscription_status::requested;
  std::uint64_t events_since_start = 0;
  /// http://terminology.hl7.org/CodeSystem/subscription-error codes (no-response, …).
  std::vector<std::string_view> error_codes;
  /// Subscription.error (R4): the last error, PHI-free; empty = none.
  std::string_view error_text;
};

struct subscription_json_options {
  /// Header values are the group's credentials for its endpoint: reads show `Name: ***` unless
  /// this is set (the route decides; a PUT that sends `***` back must keep the stored value).
  bool reveal_header_values = false;
};

/// The stored subscription as an R4 Backport Subscription (id, meta.profile, the server's status,
/// criteria + filter extensions, channel with its extensions).
std::string subscription_json(const subscription_request& r, const subscription_state& state,
                              const subscription_json_options& options = {});

/// The backport-filter-criteria text for a filter: `Type?param=value`.
std::string filter_criteria_text(topic_id topic, const subscription_filter& f);

/// Seconds since the epoch of a FHIR instant (YYYY-MM-DDThh:mm:ss[.f](Z|±hh:mm)); nullopt when
/// it is not one.
std::optional<std::chrono::sys_seconds> instant_seconds(std::string_view text) noexcept;

/// Header values masked ("Name: ***"), for anything shown to people.
std::string redacted_header(std::string_view header);

}  // namespace carebridge::gateway::alerts

template <>
struct boost::system::is_error_code_enum<carebridge::gateway::alerts::subscription_errc>
    : std::true_type {};
