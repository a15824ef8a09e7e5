// Alerts core, notifications (gateway/alerts/notification): each backport Bundle type field by
// field (handshake, heartbeat, event-notification at each content level, query-event, the $status
// searchset), maxCount, refusals of bad input, determinism, the attributed-admission topic's
// events, and the Da Vinci discharge and admit messages.
// With CAREBRIDGE_DUMP_DIR set, AlertsConformanceDump writes sample outputs there for
// conformance/fhir/subscriptions_check.mjs.
#include "gateway/alerts/notification.hpp"
#include "gateway/alerts/subscription.hpp"
#include "gateway/alerts/topics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace {

namespace alerts = carebridge::gateway::alerts;
using alerts::notification_errc;
using alerts::notification_type;
using alerts::payload_content;
using ::testing::HasSubstr;

const std::string base = "https://carebridge.example/fhir";
const std::string now = "2026-11-04T17:00:00Z";
const std::string profile_status =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
    "backport-subscription-status-r4";

// Stored resources as the store would hand them over (small but valid R4).
const std::string patient_json =
    R"({"resourceType":"Patient","id":"p-1","identifier":[{"system":"urn:oid:2.16.840.1.113883.19.2.1","value":"MRN1"}],"name":[{"family":"O'Brien \"Ó\"","given":["Ann\\Marie"]}]})";
const std::string encounter_json =
    R"({"resourceType":"Encounter","id":"e-1","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},"subject":{"reference":"Patient/p-1"},"period":{"start":"2026-11-01T08:00:00-05:00","end":"2026-11-04T11:52:03-05:00"}})";
const std::string risk_json =
    R"({"resourceType":"RiskAssessment","id":"ra-1","status":"final","subject":{"reference":"Patient/p-1"},"encounter":{"reference":"Encounter/e-1"},"prediction":[{"probabilityDecimal":0.32,"qualitativeRisk":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/risk-probability","code":"high"}]}}]})";
const std::string task_json =
    R"({"resourceType":"Task","id":"t-1","status":"requested","intent":"order","focus":{"reference":"RiskAssessment/ra-1"},"for":{"reference":"Patient/p-1"},"encounter":{"reference":"Encounter/e-1"}})";
const std::string organization_json = R"({"resourceType":"Organization","id":"o-1","name":"Plan"})";
const std::string coverage_json =
    R"({"resourceType":"Coverage","id":"c-1","status":"active","beneficiary":{"reference":"Patient/p-1"},"payor":[{"reference":"Organization/o-1"}]})";
const std::string condition_json =
    R"({"resourceType":"Condition","id":"cond-1","subject":{"reference":"Patient/p-1"},"encounter":{"reference":"Encounter/e-1"},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"I50.9"}]}})";

alerts::subscription_request subscription(payload_content content, std::uint32_t max_count = 5) {
  alerts::subscription_request s;
  s.owner_group = "grp-1";
  s.topic = alerts::topic_id::readmission_risk;
  s.endpoint = "https://care.example.org/hook";
  s.content = content;
  s.max_count = max_count;
  s.reason = "alerts";
  return s;
}

alerts::subscription_state state(
    std::uint64_t since = 7, alerts::subscription_status st = alerts::subscription_status::active) {
  alerts::subscription_state s;
  s.id = "sub-1";
  s.status = st;
  s.events_since_start = since;
  return s;
}

alerts::notification_context context() {
  return {base, now};
}

// Event n: the RiskAssessment of a discharge, with Encounter, Patient and Task as context.
alerts::notification_event event(std::uint64_t n, bool with_json = false) {
  alerts::notification_event e;
  e.number = n;
  e.timestamp = "2026-11-04T16:5" + std::to_string(n % 10) + ":03Z";
  e.focus = {"RiskAssessment/ra-" + std::to_string(n), "", "POST"};
  e.context = {{"Encounter/e-1", "", "PUT"},
               {"Patient/p-1", "", ""},
               {"Task/t-" + std::to_string(n), "", "POST"}};
  if (with_json) {
    auto fix = [&](std::string json, std::string_view from, std::string to) {
      json.replace(json.find(from), from.size(), to);
      return json;
    };
    e.focus.json = fix(risk_json, "\"id\":\"ra-1\"", "\"id\":\"ra-" + std::to_string(n) + "\"");
    e.context[0].json = encounter_json;
    e.context[1].json = patient_json;
    e.context[2].json = fix(task_json, "\"id\":\"t-1\"", "\"id\":\"t-" + std::to_string(n) + "\"");
  }
  return e;
}

// An admission (or ED visit) of the attributed-admission topic: focus the Encounter, context the
// Patient and the follow-up Task, as alerts::notification_events makes it.
const std::string admitted_json =
    R"({"resourceType":"Encounter","id":"e-2","status":"in-progress","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"EMER"},"subject":{"reference":"Patient/p-1"},"period":{"start":"2026-11-04T15:10:00-05:00"}})";
const std::string admission_task_json =
    R"({"resourceType":"Task","id":"t-2","status":"requested","intent":"order","focus":{"reference":"Encounter/e-2"},"for":{"reference":"Patient/p-1"},"encounter":{"reference":"Encounter/e-2"}})";

alerts::subscription_request admission_subscription(payload_content content) {
  auto sub = subscription(content);
  sub.topic = alerts::topic_id::attributed_admission;
  sub.filters = {{"event", "ed-visit"}};
  return sub;
}

alerts::notification_event admission_event(std::uint64_t n, bool with_json = false) {
  alerts::notification_event e;
  e.number = n;
  e.timestamp = "2026-11-04T20:1" + std::to_string(n % 10) + ":00Z";
  e.focus = {"Encounter/e-2", with_json ? admitted_json : "", "PUT"};
  e.context = {{"Patient/p-1", with_json ? patient_json : "", ""},
               {"Task/t-2", with_json ? admission_task_json : "", "POST"}};
  return e;
}

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  EXPECT_FALSE(d.HasParseError()) << json;
  return d;
}

std::string s(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

// The status Parameters' parameters by name (in order).
std::vector<std::string> parameter_names(const rapidjson::Value& params) {
  std::vector<std::string> out;
  for (const auto& p : params["parameter"].GetArray()) out.push_back(s(p["name"]));
  return out;
}
const rapidjson::Value* parameter(const rapidjson::Value& params, std::string_view name) {
  for (const auto& p : params["parameter"].GetArray())
    if (s(p["name"]) == name) return &p;
  return nullptr;
}

// What every backport notification Bundle shares.
void expect_notification_shape(const rapidjson::Document& d, std::string_view type) {
  EXPECT_EQ(s(d["resourceType"]), "Bundle");
  EXPECT_EQ(s(d["type"]), "history");
  EXPECT_EQ(s(d["timestamp"]), now);
  EXPECT_EQ(s(d["meta"]["profile"][0]),
            "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
            "backport-subscription-notification-r4");
  ASSERT_TRUE(d["entry"].IsArray());
  ASSERT_GE(d["entry"].Size(), 1u);
  const auto& e0 = d["entry"][0];
  const auto& p = e0["resource"];
  EXPECT_EQ(s(p["resourceType"]), "Parameters");
  EXPECT_EQ(s(e0["fullUrl"]), "urn:uuid:" + s(p["id"]));
  EXPECT_EQ(s(p["meta"]["profile"][0]), profile_status);
  EXPECT_EQ(s(e0["request"]["method"]), "GET");
  EXPECT_EQ(s(e0["request"]["url"]), base + "/Subscription/sub-1/$status");
  EXPECT_EQ(s(e0["response"]["status"]), "200");
  EXPECT_EQ(s((*parameter(p, "subscription"))["valueReference"]["reference"]),
            base + "/Subscription/sub-1");
  EXPECT_EQ(s((*parameter(p, "type"))["valueCode"]), type);
  EXPECT_TRUE((*parameter(p, "events-since-subscription-start"))["valueString"].IsString());
  // bdl-3 / bdl-4: every entry of a history Bundle has request and response.
  std::set<std::string> full_urls;
  for (const auto& e : d["entry"].GetArray()) {
    EXPECT_TRUE(e.HasMember("request"));
    EXPECT_TRUE(e.HasMember("response"));
    EXPECT_TRUE(full_urls.insert(s(e["fullUrl"])).second) << s(e["fullUrl"]);
  }
}

// ------------------------------------------------------------------------ handshake, heartbeat

TEST(AlertsNotification, Handshake) {
  const auto sub = subscription(payload_content::id_only);
  auto st = state(0, alerts::subscription_status::requested);
  const auto r = alerts::notification_bundle(notification_type::handshake, sub, st, {}, context());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const auto d = parse(*r);
  expect_notification_shape(d, "handshake");
  ASSERT_EQ(d["entry"].Size(), 1u);
  const auto& p = d["entry"][0]["resource"];
  EXPECT_EQ(parameter_names(p), (std::vector<std::string>{"subscription", "topic", "status", "type",
                                                          "events-since-subscription-start"}));
  EXPECT_EQ(s((*parameter(p, "topic"))["valueCanonical"]), alerts::readmission_risk_url);
  EXPECT_EQ(s((*parameter(p, "status"))["valueCode"]), "requested");
  EXPECT_EQ(s((*parameter(p, "events-since-subscription-start"))["valueString"]), "0");
}

TEST(AlertsNotification, HandshakeOrHeartbeatCarryNoEvents) {
  const auto sub = subscription(payload_content::id_only);
  const std::vector events{event(1)};
  for (auto t : {notification_type::handshake, notification_type::heartbeat}) {
    const auto r = alerts::notification_bundle(t, sub, state(), events, context());
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), notification_errc::events_not_allowed);
  }
}

TEST(AlertsNotification, HeartbeatWithErrorAndEmptyContent) {
  const auto sub = subscription(payload_content::empty);
  auto st = state(12, alerts::subscription_status::error);
  st.error_codes = {"no-response"};
  const auto r = alerts::notification_bundle(notification_type::heartbeat, sub, st, {}, context());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const auto d = parse(*r);
  expect_notification_shape(d, "heartbeat");
  ASSERT_EQ(d["entry"].Size(), 1u);
  const auto& p = d["entry"][0]["resource"];
  // No topic for content empty (the IG's SHOULD NOT).
  EXPECT_EQ(parameter_names(p),
            (std::vector<std::string>{"subscription", "status", "type",
                                      "events-since-subscription-start", "error"}));
  EXPECT_EQ(s((*parameter(p, "status"))["valueCode"]), "error");
  EXPECT_EQ(s((*parameter(p, "events-since-subscription-start"))["valueString"]), "12");
  const auto& err = (*parameter(p, "error"))["valueCodeableConcept"]["coding"][0];
  EXPECT_EQ(s(err["system"]), "http://terminology.hl7.org/CodeSystem/subscription-error");
  EXPECT_EQ(s(err["code"]), "no-response");
}

// --------------------------------------------------------------------------- event-notification

TEST(AlertsNotification, EventNotificationIdOnly) {
  const auto sub = subscription(payload_content::id_only);
  const std::vector events{event(6), event(7)};
  const auto r = alerts::notification_bundle(notification_type::event_notification, sub, state(),
                                             events, context());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const auto d = parse(*r);
  expect_notification_shape(d, "event-notification");
  const auto& p = d["entry"][0]["resource"];
  EXPECT_EQ(parameter_names(p),
            (std::vector<std::string>{"subscription", "topic", "status", "type",
                                      "events-since-subscription-start", "notification-event",
                                      "notification-event"}));
  EXPECT_EQ(s((*parameter(p, "events-since-subscription-start"))["valueString"]), "7");
  const auto& ne = p["parameter"][5]["part"];
  ASSERT_EQ(ne.Size(), 6u);  // event-number, timestamp, focus, 3 additional-context
  EXPECT_EQ(s(ne[0]["name"]), "event-number");
  EXPECT_TRUE(ne[0]["valueString"].IsString());
  EXPECT_EQ(s(ne[0]["valueString"]), "6");
  EXPECT_EQ(s(ne[1]["name"]), "timestamp");
  EXPECT_EQ(s(ne[1]["valueInstant"]), "2026-11-04T16:56:03Z");
  EXPECT_EQ(s(ne[2]["name"]), "focus");
  EXPECT_EQ(s(ne[2]["valueReference"]["reference"]), base + "/RiskAssessment/ra-6");
  EXPECT_EQ(s(ne[3]["name"]), "additional-context");
  EXPECT_EQ(s(ne[3]["valueReference"]["reference"]), base + "/Encounter/e-1");
  EXPECT_EQ(s(ne[4]["valueReference"]["reference"]), base + "/Patient/p-1");
  EXPECT_EQ(s(ne[5]["valueReference"]["reference"]), base + "/Task/t-6");
  EXPECT_EQ(s(p["parameter"][6]["part"][0]["valueString"]), "7");

  // Entries: the status, then each resource once (Encounter and Patient are shared), no resource.
  const auto& entries = d["entry"];
  ASSERT_EQ(entries.Size(), 1u + 4u + 2u);
  std::vector<std::string> urls;
  for (rapidjson::SizeType i = 1; i < entries.Size(); ++i) {
    EXPECT_FALSE(entries[i].HasMember("resource"));
    urls.push_back(s(entries[i]["fullUrl"]));
  }
  EXPECT_EQ(urls, (std::vector<std::string>{base + "/RiskAssessment/ra-6", base + "/Encounter/e-1",
                                            base + "/Patient/p-1", base + "/Task/t-6",
                                            base + "/RiskAssessment/ra-7", base + "/Task/t-7"}));
  // What happened to each: POST Type (201), PUT Type/id (200), GET Type/id (200).
  EXPECT_EQ(s(entries[1]["request"]["method"]), "POST");
  EXPECT_EQ(s(entries[1]["request"]["url"]), "RiskAssessment");
  EXPECT_EQ(s(entries[1]["response"]["status"]), "201");
  EXPECT_EQ(s(entries[2]["request"]["method"]), "PUT");
  EXPECT_EQ(s(entries[2]["request"]["url"]), "Encounter/e-1");
  EXPECT_EQ(s(entries[2]["response"]["status"]), "200");
  EXPECT_EQ(s(entries[3]["request"]["method"]), "GET");
  EXPECT_EQ(s(entries[3]["request"]["url"]), "Patient/p-1");
}

TEST(AlertsNotification, EventNotificationEmptyHasNoFocus) {
  const auto sub = subscription(payload_content::empty);
  const std::vector events{event(3)};
  const auto r = alerts::notification_bundle(notification_type::event_notification, sub, state(3),
                                             events, context());
  ASSERT_TRUE(r.has_value());
  const auto d = parse(*r);
  expect_notification_shape(d, "event-notification");
  ASSERT_EQ(d["entry"].Size(), 1u);
  const auto& p = d["entry"][0]["resource"];
  EXPECT_EQ(parameter(p, "topic"), nullptr);
  const auto& ne = (*parameter(p, "notification-event"))["part"];
  ASSERT_EQ(ne.Size(), 2u);
  EXPECT_EQ(s(ne[0]["name"]), "event-number");
  EXPECT_EQ(s(ne[1]["name"]), "timestamp");
  EXPECT_THAT(*r, ::testing::Not(HasSubstr("RiskAssessment/")));
  EXPECT_THAT(*r, ::testing::Not(HasSubstr("Patient/")));
}

TEST(AlertsNotification, EventNotificationFullResource) {
  const auto sub = subscription(payload_content::full_resource);
  std::vector events{event(8, true)};
  events[0].context[2].json.clear();  // not available: request/response only (the IG's fallback)
  const auto r = alerts::notification_bundle(notification_type::event_notification, sub, state(8),
                                             events, context());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const auto d = parse(*r);
  expect_notification_shape(d, "event-notification");
  const auto& entries = d["entry"];
  ASSERT_EQ(entries.Size(), 5u);
  EXPECT_EQ(s(entries[1]["resource"]["resourceType"]), "RiskAssessment");
  EXPECT_EQ(s(entries[1]["resource"]["id"]), "ra-8");
  EXPECT_EQ(s(entries[1]["fullUrl"]), base + "/RiskAssessment/ra-8");
  EXPECT_EQ(s(entries[2]["resource"]["resourceType"]), "Encounter");
  EXPECT_EQ(s(entries[3]["resource"]["name"][0]["family"]), "O'Brien \"\xC3\x93\"");
  EXPECT_EQ(s(entries[3]["resource"]["name"][0]["given"][0]), "Ann\\Marie");
  EXPECT_FALSE(entries[4].HasMember("resource"));
  EXPECT_EQ(s(entries[4]["fullUrl"]), base + "/Task/t-8");
  EXPECT_EQ(s((*parameter(entries[0]["resource"], "topic"))["valueCanonical"]),
            alerts::readmission_risk_url);
}

TEST(AlertsNotification, MaxCountBoundsTheEvents) {
  const auto sub = subscription(payload_content::id_only, 2);
  const std::vector two{event(1), event(2)};
  const std::vector three{event(1), event(2), event(3)};
  EXPECT_TRUE(alerts::notification_bundle(notification_type::event_notification, sub, state(), two,
                                          context())
                  .has_value());
  auto r = alerts::notification_bundle(notification_type::event_notification, sub, state(), three,
                                       context());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), notification_errc::too_many_events);
  r = alerts::notification_bundle(notification_type::event_notification, sub, state(), {},
                                  context());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), notification_errc::no_events);
  // $events answers whatever range was asked for: maxCount is about pushes only.
  EXPECT_TRUE(
      alerts::notification_bundle(notification_type::query_event, sub, state(), three, context())
          .has_value());
}

TEST(AlertsNotification, QueryEventContentHintNeverRaisesTheLevel) {
  const std::vector events{event(4, true)};
  // full-resource subscription, id-only asked: no resources.
  auto r = alerts::notification_bundle(notification_type::query_event,
                                       subscription(payload_content::full_resource), state(),
                                       events, context(), payload_content::id_only);
  ASSERT_TRUE(r.has_value());
  auto d = parse(*r);
  expect_notification_shape(d, "query-event");
  for (const auto& e : d["entry"].GetArray()) {
    if (&e == &d["entry"][0]) continue;
    EXPECT_FALSE(e.HasMember("resource"));
  }
  // id-only subscription, full-resource asked: still no resources.
  r = alerts::notification_bundle(notification_type::query_event,
                                  subscription(payload_content::id_only), state(), events,
                                  context(), payload_content::full_resource);
  ASSERT_TRUE(r.has_value());
  d = parse(*r);
  ASSERT_EQ(d["entry"].Size(), 5u);
  EXPECT_FALSE(d["entry"][1].HasMember("resource"));
  // The hint is for $events only.
  r = alerts::notification_bundle(notification_type::event_notification,
                                  subscription(payload_content::full_resource), state(), events,
                                  context(), payload_content::empty);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(parse(*r)["entry"][1].HasMember("resource"));
}

TEST(AlertsNotification, RefusesBadInput) {
  const auto sub = subscription(payload_content::full_resource);
  auto expect = [&](notification_errc want, std::vector<alerts::notification_event> events,
                    alerts::subscription_state st = state(),
                    alerts::notification_context cx = context(),
                    notification_type t = notification_type::event_notification) {
    const auto r = alerts::notification_bundle(t, sub, st, events, cx);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), want) << r.error().message();
  };
  auto e = event(1);
  e.timestamp = "2026-11-04T16:50:03";  // no zone
  expect(notification_errc::bad_timestamp, {e});
  e = event(1);
  e.focus.reference = "RiskAssessment";
  expect(notification_errc::bad_reference, {e});
  e = event(1);
  e.context[1].reference = "patient/p-1";
  expect(notification_errc::bad_reference, {e});
  e = event(1);
  e.context[1].reference = "Patient/p 1";
  expect(notification_errc::bad_reference, {e});
  e = event(1, true);
  e.context[1].json = encounter_json;  // not the Patient it claims to be
  expect(notification_errc::bad_resource, {e});
  e = event(1, true);
  e.context[1].json = "{\"resourceType\":\"Patient\",\"id\":\"p-1\"} trailing";
  expect(notification_errc::bad_resource, {e});
  auto bad_id = state();
  bad_id.id = "sub/1";
  expect(notification_errc::bad_subscription_id, {event(1)}, bad_id);
  expect(notification_errc::bad_base_url, {event(1)}, state(), {"carebridge.example/fhir", now});
  expect(notification_errc::bad_base_url, {event(1)}, state(), {base + "?x=1", now});
  expect(notification_errc::bad_timestamp, {event(1)}, state(), {base, "now"});
  expect(notification_errc::wrong_builder, {}, state(), context(), notification_type::query_status);
  EXPECT_STREQ(alerts::notification_category().name(), "carebridge.notification");
}

TEST(AlertsNotification, SameInputSameBytesAndIds) {
  const auto sub = subscription(payload_content::id_only);
  const std::vector events{event(5)};
  const auto a = alerts::notification_bundle(notification_type::event_notification, sub, state(),
                                             events, context());
  const auto b = alerts::notification_bundle(notification_type::event_notification, sub, state(),
                                             events, {base + "/", now});  // trailing slash cut
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(*a, *b);
  const auto c = alerts::notification_bundle(notification_type::event_notification, sub, state(),
                                             events, {base, "2026-11-04T17:00:01Z"});
  ASSERT_TRUE(c.has_value());
  EXPECT_NE(s(parse(*a)["id"]), s(parse(*c)["id"]));
  EXPECT_NE(s(parse(*a)["entry"][0]["resource"]["id"]), s(parse(*c)["entry"][0]["resource"]["id"]));
  EXPECT_NE(s(parse(*a)["id"]), s(parse(*a)["entry"][0]["resource"]["id"]));
}

// ------------------------------------------------------------------------------------- $status

TEST(AlertsNotification, StatusSearchset) {
  const auto one = subscription(payload_content::id_only);
  auto two = subscription(payload_content::empty);
  two.topic = alerts::topic_id::attributed_discharge;
  auto st2 = state(0, alerts::subscription_status::error);
  st2.id = "sub-2";
  st2.error_codes = {"error-response"};
  const std::vector<alerts::status_item> items{{&one, state(7)}, {&two, st2}};
  const auto r = alerts::status_bundle(items, context());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const auto d = parse(*r);
  EXPECT_EQ(s(d["type"]), "searchset");
  EXPECT_EQ(d["total"].GetInt(), 2);
  ASSERT_EQ(d["entry"].Size(), 2u);
  for (const auto& e : d["entry"].GetArray()) {
    EXPECT_FALSE(e.HasMember("request"));  // bdl-3: only batch/transaction/history
    EXPECT_EQ(s(e["search"]["mode"]), "match");
    EXPECT_EQ(s(e["fullUrl"]), "urn:uuid:" + s(e["resource"]["id"]));
    EXPECT_EQ(s(e["resource"]["meta"]["profile"][0]), profile_status);
    EXPECT_EQ(s((*parameter(e["resource"], "type"))["valueCode"]), "query-status");
    EXPECT_EQ(parameter(e["resource"], "notification-event"), nullptr);
  }
  const auto& p1 = d["entry"][0]["resource"];
  EXPECT_EQ(s((*parameter(p1, "subscription"))["valueReference"]["reference"]),
            base + "/Subscription/sub-1");
  EXPECT_EQ(s((*parameter(p1, "events-since-subscription-start"))["valueString"]), "7");
  const auto& p2 = d["entry"][1]["resource"];
  EXPECT_EQ(s((*parameter(p2, "status"))["valueCode"]), "error");
  EXPECT_EQ(s((*parameter(p2, "error"))["valueCodeableConcept"]["coding"][0]["code"]),
            "error-response");

  const auto none = alerts::status_bundle({}, context());
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(parse(*none)["total"].GetInt(), 0);
  const std::vector<alerts::status_item> broken{{nullptr, state()}};
  EXPECT_EQ(alerts::status_bundle(broken, context()).error(),
            notification_errc::bad_subscription_id);
}

// ------------------------------------------------------------------ attributed-admission topic

TEST(AlertsNotification, AdmissionTopicFocusIsTheEncounter) {
  const auto sub = admission_subscription(payload_content::id_only);
  const std::vector events{admission_event(3)};
  const auto r = alerts::notification_bundle(notification_type::event_notification, sub, state(3),
                                             events, context());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const auto d = parse(*r);
  expect_notification_shape(d, "event-notification");
  const auto& p = d["entry"][0]["resource"];
  EXPECT_EQ(s((*parameter(p, "topic"))["valueCanonical"]),
            "https://carebridge.example/fhir/SubscriptionTopic/attributed-admission");
  const auto* ne = parameter(p, "notification-event");
  ASSERT_NE(ne, nullptr);
  std::vector<std::string> parts, refs;
  for (const auto& part : (*ne)["part"].GetArray()) {
    parts.push_back(s(part["name"]));
    if (part.HasMember("valueReference")) refs.push_back(s(part["valueReference"]["reference"]));
  }
  EXPECT_THAT(parts, ::testing::ElementsAre("event-number", "timestamp", "focus",
                                            "additional-context", "additional-context"));
  EXPECT_THAT(refs, ::testing::ElementsAre(base + "/Encounter/e-2", base + "/Patient/p-1",
                                           base + "/Task/t-2"));
  // The Encounter, the Patient and the Task, each by reference (id-only).
  const auto& entries = d["entry"];
  ASSERT_EQ(entries.Size(), 4u);
  EXPECT_EQ(s(entries[1]["fullUrl"]), base + "/Encounter/e-2");
  EXPECT_EQ(s(entries[1]["request"]["method"]), "PUT");
  EXPECT_EQ(s(entries[3]["fullUrl"]), base + "/Task/t-2");
  EXPECT_EQ(s(entries[3]["request"]["method"]), "POST");
  for (unsigned i = 1; i < entries.Size(); ++i) EXPECT_FALSE(entries[i].HasMember("resource"));

  const std::vector full{admission_event(3, true)};
  const auto f = alerts::notification_bundle(notification_type::event_notification,
                                             admission_subscription(payload_content::full_resource),
                                             state(3), full, context());
  ASSERT_TRUE(f.has_value()) << f.error().message();
  const auto fd = parse(*f);
  EXPECT_EQ(s(fd["entry"][1]["resource"]["resourceType"]), "Encounter");
  EXPECT_EQ(s(fd["entry"][1]["resource"]["status"]), "in-progress");
  EXPECT_EQ(s(fd["entry"][3]["resource"]["resourceType"]), "Task");
}

// ---------------------------------------------------------------------------- Da Vinci message

alerts::davinci_message discharge() {
  alerts::davinci_message m;
  m.key = "sub-1/9";
  m.destination_endpoint = "https://ehr.group.example.org/fhir";
  m.encounter = {"Encounter/e-1", encounter_json, ""};
  m.resources = {{"Patient/p-1", patient_json, ""},
                 {"Coverage/c-1", coverage_json, ""},
                 {"Organization/o-1", organization_json, ""},
                 {"Condition/cond-1", condition_json, ""},
                 {"RiskAssessment/ra-1", risk_json, ""},
                 {"Task/t-1", task_json, ""},
                 {"Patient/p-1", patient_json, ""}};  // a duplicate is sent once
  return m;
}

TEST(AlertsDaVinci, DischargeMessageBundle) {
  const auto r = alerts::davinci_message_bundle(discharge(), context());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const auto d = parse(*r);
  EXPECT_EQ(s(d["resourceType"]), "Bundle");
  EXPECT_EQ(s(d["type"]), "message");
  EXPECT_EQ(s(d["timestamp"]), now);
  EXPECT_EQ(s(d["meta"]["profile"][0]),
            "http://hl7.org/fhir/us/davinci-alerts/StructureDefinition/notifications-bundle");
  EXPECT_EQ(s(d["identifier"]["system"]), "urn:ietf:rfc:3986");
  EXPECT_EQ(s(d["identifier"]["value"]), "urn:uuid:" + s(d["id"]));
  EXPECT_FALSE(d.HasMember("total"));
  const auto& entries = d["entry"];
  ASSERT_EQ(entries.Size(), 8u);  // MessageHeader, Encounter, 6 distinct others
  const auto& mh = entries[0]["resource"];
  EXPECT_EQ(s(mh["resourceType"]), "MessageHeader");
  EXPECT_EQ(s(entries[0]["fullUrl"]), "urn:uuid:" + s(mh["id"]));
  EXPECT_EQ(s(mh["meta"]["profile"][0]),
            "http://hl7.org/fhir/us/davinci-alerts/StructureDefinition/"
            "discharge-notification-messageheader");
  EXPECT_EQ(s(mh["eventCoding"]["system"]),
            "http://hl7.org/fhir/us/davinci-alerts/CodeSystem/notification-event");
  EXPECT_EQ(s(mh["eventCoding"]["code"]), "notification-discharge");
  EXPECT_EQ(s(mh["eventCoding"]["display"]), "Discharge Notification");
  EXPECT_EQ(s(mh["source"]["endpoint"]), base);
  EXPECT_EQ(s(mh["source"]["name"]), "CareBridge");
  EXPECT_EQ(s(mh["destination"][0]["endpoint"]), "https://ehr.group.example.org/fhir");
  ASSERT_EQ(mh["focus"].Size(), 1u);
  EXPECT_EQ(s(mh["focus"][0]["reference"]), s(entries[1]["fullUrl"]));
  EXPECT_EQ(s(entries[1]["resource"]["resourceType"]), "Encounter");
  std::set<std::string> urls;
  for (const auto& e : entries.GetArray()) {
    EXPECT_FALSE(e.HasMember("request"));
    EXPECT_FALSE(e.HasMember("response"));
    EXPECT_FALSE(e.HasMember("search"));
    EXPECT_TRUE(e.HasMember("resource"));
    EXPECT_TRUE(urls.insert(s(e["fullUrl"])).second);
  }
  EXPECT_TRUE(urls.contains(base + "/Patient/p-1"));
  EXPECT_TRUE(urls.contains(base + "/Organization/o-1"));
}

alerts::davinci_message admit() {
  alerts::davinci_message m;
  m.event = alerts::topic_of(alerts::topic_id::attributed_admission).message;
  m.key = "sub-2/4";
  m.destination_endpoint = "https://ehr.group.example.org/fhir/";
  m.encounter = {"Encounter/e-2", admitted_json, ""};
  m.resources = {{"Patient/p-1", patient_json, ""}, {"Task/t-2", admission_task_json, ""}};
  return m;
}

TEST(AlertsDaVinci, AdmitMessageBundle) {
  const auto r = alerts::davinci_message_bundle(admit(), context());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const auto d = parse(*r);
  EXPECT_EQ(s(d["type"]), "message");
  EXPECT_EQ(s(d["meta"]["profile"][0]),
            "http://hl7.org/fhir/us/davinci-alerts/StructureDefinition/notifications-bundle");
  const auto& entries = d["entry"];
  ASSERT_EQ(entries.Size(), 4u);  // MessageHeader, Encounter, Patient, Task
  const auto& mh = entries[0]["resource"];
  EXPECT_EQ(s(mh["resourceType"]), "MessageHeader");
  EXPECT_EQ(s(mh["meta"]["profile"][0]),
            "http://hl7.org/fhir/us/davinci-alerts/StructureDefinition/"
            "admit-notification-messageheader");
  EXPECT_EQ(s(mh["eventCoding"]["system"]),
            "http://hl7.org/fhir/us/davinci-alerts/CodeSystem/notification-event");
  EXPECT_EQ(s(mh["eventCoding"]["code"]), "notification-admit");
  EXPECT_EQ(s(mh["eventCoding"]["display"]), "Admit Notification");
  EXPECT_EQ(s(mh["destination"][0]["endpoint"]), "https://ehr.group.example.org/fhir");
  EXPECT_EQ(s(mh["focus"][0]["reference"]), base + "/Encounter/e-2");
  EXPECT_EQ(s(entries[1]["fullUrl"]), base + "/Encounter/e-2");
  EXPECT_EQ(s(entries[1]["resource"]["status"]), "in-progress");
  EXPECT_EQ(s(entries[3]["fullUrl"]), base + "/Task/t-2");

  // The same key and time as a discharge message still gives other ids: the event is part of them.
  auto as_discharge = admit();
  as_discharge.event = alerts::message_event::discharge;
  const auto other = parse(alerts::davinci_message_bundle(as_discharge, context()).value());
  EXPECT_EQ(s(other["entry"][0]["resource"]["eventCoding"]["code"]), "notification-discharge");
  EXPECT_NE(s(other["id"]), s(d["id"]));
  EXPECT_NE(s(other["entry"][0]["resource"]["id"]), s(mh["id"]));
}

TEST(AlertsDaVinci, RefusesWhatCannotBeBundled) {
  auto m = discharge();
  m.encounter.json.clear();
  EXPECT_EQ(alerts::davinci_message_bundle(m, context()).error(), notification_errc::no_encounter);
  m = discharge();
  m.encounter = {"Patient/p-1", patient_json, ""};
  EXPECT_EQ(alerts::davinci_message_bundle(m, context()).error(), notification_errc::bad_reference);
  m = discharge();
  m.resources[0].json.clear();
  EXPECT_EQ(alerts::davinci_message_bundle(m, context()).error(), notification_errc::bad_resource);
  m = discharge();
  m.destination_endpoint = "not a url";
  EXPECT_EQ(alerts::davinci_message_bundle(m, context()).error(), notification_errc::bad_base_url);
  m = discharge();
  EXPECT_EQ(alerts::davinci_message_bundle(m, {base, "2026-11-04"}).error(),
            notification_errc::bad_timestamp);
}

// ------------------------------------------------------------------- samples for conformance/

// Writes one sample of each output to $CAREBRIDGE_DUMP_DIR (nothing when it is not set), for
// conformance/fhir/subscriptions_check.mjs. The file name says what the checker expects.
TEST(AlertsConformanceDump, WritesSamples) {
  const char* dir = std::getenv("CAREBRIDGE_DUMP_DIR");
  if (dir == nullptr || *dir == 0) GTEST_SKIP() << "CAREBRIDGE_DUMP_DIR not set";
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& json) {
    std::ofstream(fs::path(dir) / name, std::ios::binary) << json;
  };
  for (const auto& t : alerts::topics())
    write("topic-basic-" + std::string(t.key) + ".json", alerts::topic_basic_json(t));

  const std::string sub_json = std::string(R"({"resourceType":"Subscription","status":"requested",
    "reason":"Readmission alerts","criteria":"https://carebridge.example/fhir/SubscriptionTopic/readmission-risk",
    "_criteria":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria","valueString":"risk=moderate"}]},
    "channel":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period","valueUnsignedInt":3600}],
    "type":"rest-hook","endpoint":"https://care.example.org/hook","payload":"application/fhir+json",
    "header":["Authorization: Bearer abc"]}})");
  auto parsed = alerts::parse_subscription(sub_json);
  ASSERT_TRUE(parsed.has_value());
  auto st = state(7);
  st.error_text = "";
  write("subscription-read.json", alerts::subscription_json(*parsed, st));
  const auto refused = alerts::parse_subscription(
      R"({"resourceType":"Subscription","status":"error","criteria":"x","channel":{"type":"websocket","endpoint":"http://x.example","payload":"text/plain"}})");
  ASSERT_FALSE(refused.has_value());
  write("subscription-refused-outcome.json", alerts::to_operation_outcome(refused.error()));

  auto bundle = [&](const std::string& name, notification_type t, payload_content c,
                    std::vector<alerts::notification_event> events,
                    alerts::subscription_state ss = state(7)) {
    const auto r = alerts::notification_bundle(t, subscription(c), ss, events, context());
    ASSERT_TRUE(r.has_value()) << name;
    write(name, *r);
  };
  bundle("notification-handshake.json", notification_type::handshake, payload_content::id_only, {},
         state(0, alerts::subscription_status::requested));
  auto err = state(9, alerts::subscription_status::error);
  err.error_codes = {"no-response"};
  bundle("notification-heartbeat.json", notification_type::heartbeat, payload_content::empty, {},
         err);
  bundle("notification-event-empty.json", notification_type::event_notification,
         payload_content::empty, {event(7)});
  bundle("notification-event-id-only.json", notification_type::event_notification,
         payload_content::id_only, {event(6), event(7)});
  bundle("notification-event-full-resource.json", notification_type::event_notification,
         payload_content::full_resource, {event(6, true), event(7, true)});
  bundle("notification-query-event.json", notification_type::query_event, payload_content::id_only,
         {event(5), event(6), event(7)});
  const auto one = subscription(payload_content::id_only);
  const std::vector<alerts::status_item> items{{&one, state(7)}, {&one, err}};
  auto st_items = items;
  st_items[1].state.id = "sub-2";
  write("status-searchset.json", alerts::status_bundle(st_items, context()).value());
  write("davinci-discharge-message.json",
        alerts::davinci_message_bundle(discharge(), context()).value());
  // The attributed-admission topic: an ED visit, id-only and full-resource, and its admit message.
  auto admission = [&](const std::string& name, payload_content c, bool with_json) {
    const std::vector events{admission_event(3, with_json)};
    const auto r =
        alerts::notification_bundle(notification_type::event_notification,
                                    admission_subscription(c), state(3), events, context());
    ASSERT_TRUE(r.has_value()) << name;
    write(name, *r);
  };
  admission("notification-admission-event-id-only.json", payload_content::id_only, false);
  admission("notification-admission-event-full-resource.json", payload_content::full_resource,
            true);
  write("davinci-admit-message.json", alerts::davinci_message_bundle(admit(), context()).value());
}

}  // namespace
