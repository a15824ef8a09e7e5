// Fuzz target: parse_subscription() (gateway/alerts/subscription) on one body, and the promises of
// subscription.hpp and notification.hpp:
//   - a refusal has at least one issue, each with an element and a text, its HTTP status is 400 or
//     422, and its OperationOutcome is JSON;
//   - what is accepted has an https endpoint (the loopback option is off), limits within their
//     bounds, and reads back (subscription_json with header values) to the same request;
//   - a handshake Bundle can be built for it and is JSON.
#include "tests/fuzz/fuzz_check.hpp"

#include "gateway/alerts/notification.hpp"
#include "gateway/alerts/subscription.hpp"

#include <rapidjson/document.h>

#include <string>

namespace {

namespace alerts = carebridge::gateway::alerts;

bool is_json(const std::string& s) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(s.data(), s.size());
  return !d.HasParseError() && d.IsObject();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto body = carebridge::fuzz::as_text(data, size);
  const auto r = alerts::parse_subscription(body);
  if (!r) {
    const auto& e = r.error();
    CB_FUZZ_REQUIRE(!e.issues.empty());
    for (const auto& i : e.issues) CB_FUZZ_REQUIRE(!i.expression.empty() && !i.diagnostics.empty());
    CB_FUZZ_REQUIRE(e.http_status() == 400 || e.http_status() == 422);
    CB_FUZZ_REQUIRE(is_json(alerts::to_operation_outcome(e)));
    return 0;
  }
  const auto& s = *r;
  std::string scheme = s.endpoint.substr(0, 8);
  for (char& c : scheme) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  CB_FUZZ_REQUIRE(scheme == "https://");
  CB_FUZZ_REQUIRE(s.max_count >= 1 && s.max_count <= 100);
  CB_FUZZ_REQUIRE(s.timeout_seconds >= 1 && s.timeout_seconds <= 120);
  CB_FUZZ_REQUIRE(!s.heartbeat_seconds ||
                  (*s.heartbeat_seconds >= 60 && *s.heartbeat_seconds <= 86400));
  for (const auto& h : s.headers)
    CB_FUZZ_REQUIRE(h.find('\r') == std::string::npos && h.find('\n') == std::string::npos);

  alerts::subscription_state st;
  st.id = "fuzz-1";
  st.status = alerts::subscription_status::active;
  alerts::subscription_json_options reveal;
  reveal.reveal_header_values = true;
  const std::string json = alerts::subscription_json(s, st, reveal);
  CB_FUZZ_REQUIRE(is_json(json));
  const auto again = alerts::parse_subscription(json);
  CB_FUZZ_REQUIRE(again.has_value());
  auto expected = s;
  expected.status_asked = alerts::subscription_status::active;
  CB_FUZZ_REQUIRE(*again == expected);

  const auto hs =
      alerts::notification_bundle(alerts::notification_type::handshake, s, st, {},
                                  {"https://carebridge.example/fhir", "2026-11-04T17:00:00Z"});
  CB_FUZZ_REQUIRE(hs.has_value() && is_json(*hs));
  return 0;
}
