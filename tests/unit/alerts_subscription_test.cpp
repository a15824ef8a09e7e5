// Alerts core, subscriptions (gateway/alerts/topics, subscription, filters): the topics as data
// and their Basic form, every refusal rule of parse_subscription (element + rule, never a header
// value), the OperationOutcome, parse → serialize round trips, and filter matching.
#include "gateway/alerts/filters.hpp"
#include "gateway/alerts/subscription.hpp"
#include "gateway/alerts/topics.hpp"
#include "gateway/care/care_engine.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <functional>
#include <string>
#include <vector>

namespace {

namespace alerts = carebridge::gateway::alerts;
using alerts::subscription_errc;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view secret = "s3cr3t-t0ken";
const std::string sd = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/";

// A valid backport Subscription with every element CareBridge reads.
std::string full_example() {
  return R"({"resourceType":"Subscription","status":"requested",
    "reason":"Readmission alerts for our care coordinators","end":"2027-12-31T23:59:59Z",
    "criteria":"https://carebridge.example/fhir/SubscriptionTopic/readmission-risk",
    "_criteria":{"extension":[
      {"url":")" +
         sd + R"(backport-filter-criteria","valueString":"RiskAssessment?patient=Patient/p-123"},
      {"url":")" +
         sd + R"(backport-filter-criteria","valueString":"risk=high"}]},
    "channel":{"extension":[
        {"url":")" +
         sd + R"(backport-heartbeat-period","valueUnsignedInt":120},
        {"url":")" +
         sd + R"(backport-timeout","valueUnsignedInt":20},
        {"url":")" +
         sd + R"(backport-max-count","valuePositiveInt":5}],
      "type":"rest-hook","endpoint":"https://care.example.org/fhir/notify",
      "payload":"application/fhir+json",
      "_payload":{"extension":[{"url":")" +
         sd + R"(backport-payload-content","valueCode":"id-only"}]},
      "header":["Authorization: Bearer s3cr3t-t0ken"]}})";
}

std::string minimal_example() {
  return R"({"resourceType":"Subscription","status":"requested","reason":"alerts",
    "criteria":"https://carebridge.example/fhir/SubscriptionTopic/attributed-discharge",
    "channel":{"type":"rest-hook","endpoint":"https://care.example.org/hook",
      "payload":"application/fhir+json"}})";
}

std::string dump(const rapidjson::Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return b.GetString();
}

// The full example with one change made through JSON pointers.
std::string edited(const std::function<void(rapidjson::Document&)>& edit,
                   std::string base = full_example()) {
  rapidjson::Document d;
  d.Parse(base.c_str());
  EXPECT_FALSE(d.HasParseError());
  edit(d);
  return dump(d);
}

void set(rapidjson::Document& d, const char* pointer, std::string_view value) {
  rapidjson::Pointer(pointer).Set(
      d, rapidjson::Value(value.data(), static_cast<rapidjson::SizeType>(value.size()),
                          d.GetAllocator()));
}
void set_int(rapidjson::Document& d, const char* pointer, std::int64_t value) {
  rapidjson::Pointer(pointer).Set(d, value);
}
void erase(rapidjson::Document& d, const char* pointer) {
  rapidjson::Pointer(pointer).Erase(d);
}
void set_json(rapidjson::Document& d, const char* pointer, std::string_view json) {
  rapidjson::Document v(&d.GetAllocator());
  v.Parse(json.data(), json.size());
  EXPECT_FALSE(v.HasParseError()) << json;
  rapidjson::Value copy(v, d.GetAllocator());
  rapidjson::Pointer(pointer).Set(d, copy);
}

alerts::subscription_error refused(std::string_view json, const alerts::parse_options& o = {}) {
  auto r = alerts::parse_subscription(json, o);
  EXPECT_FALSE(r.has_value()) << json;
  if (r.has_value()) return {};
  return r.error();
}

bool has_issue(const alerts::subscription_error& e, subscription_errc code,
               std::string_view expression) {
  for (const auto& i : e.issues)
    if (i.code == code && i.expression == expression) return true;
  return false;
}

std::string all_text(const alerts::subscription_error& e) {
  std::string s = e.describe() + "\n" + alerts::to_operation_outcome(e);
  for (const auto& i : e.issues) s += "\n" + i.diagnostics;
  return s;
}

// ------------------------------------------------------------------------------------- topics

TEST(AlertsTopics, ThreeTopicsWithTheirFiltersAndShape) {
  ASSERT_EQ(alerts::topics().size(), 3u);
  const auto& risk = alerts::topic_of(alerts::topic_id::readmission_risk);
  EXPECT_EQ(risk.url, "https://carebridge.example/fhir/SubscriptionTopic/readmission-risk");
  EXPECT_EQ(risk.focus_type, "RiskAssessment");
  EXPECT_NE(alerts::find_filter(risk, "patient"), nullptr);
  EXPECT_NE(alerts::find_filter(risk, "risk"), nullptr);
  EXPECT_EQ(alerts::find_filter(risk, "status"), nullptr);
  const auto& discharge = alerts::topic_of(alerts::topic_id::attributed_discharge);
  EXPECT_EQ(discharge.url,
            "https://carebridge.example/fhir/SubscriptionTopic/attributed-discharge");
  EXPECT_EQ(discharge.focus_type, "Encounter");
  EXPECT_NE(alerts::find_filter(discharge, "patient"), nullptr);
  EXPECT_EQ(alerts::find_filter(discharge, "risk"), nullptr);
  // Between them the shapes name every type the brief lists.
  for (std::string_view t :
       {"Encounter", "Patient", "RiskAssessment", "Task", "Coverage", "Condition"}) {
    bool in_risk = risk.focus_type == t, in_discharge = discharge.focus_type == t;
    for (auto c : risk.context_types) in_risk |= c == t;
    for (auto c : discharge.context_types) in_discharge |= c == t;
    EXPECT_TRUE(in_risk) << t;
    EXPECT_TRUE(in_discharge) << t;
  }
  const auto& admission = alerts::topic_of(alerts::topic_id::attributed_admission);
  EXPECT_EQ(admission.id, alerts::topic_id::attributed_admission);
  EXPECT_EQ(admission.url,
            "https://carebridge.example/fhir/SubscriptionTopic/attributed-admission");
  EXPECT_EQ(admission.key, "attributed-admission");
  EXPECT_EQ(admission.focus_type, "Encounter");
  EXPECT_THAT(
      std::vector<std::string_view>(admission.context_types.begin(), admission.context_types.end()),
      ::testing::ElementsAre("Patient", "Task"));
  const auto* patient = alerts::find_filter(admission, "patient");
  ASSERT_NE(patient, nullptr);
  EXPECT_EQ(patient->kind, alerts::filter_kind::patient_reference);
  EXPECT_EQ(patient->resource, "Encounter");
  const auto* event = alerts::find_filter(admission, "event");
  ASSERT_NE(event, nullptr);
  EXPECT_EQ(event->kind, alerts::filter_kind::encounter_event);
  EXPECT_EQ(event->resource, "Encounter");
  EXPECT_EQ(alerts::find_filter(admission, "risk"), nullptr);
  EXPECT_EQ(alerts::find_filter(discharge, "event"), nullptr);
  EXPECT_EQ(alerts::find_filter(risk, "event"), nullptr);
  // On the message channel: Da Vinci admit for encounter starts, discharge for the others.
  EXPECT_EQ(admission.message, alerts::message_event::admit);
  EXPECT_EQ(discharge.message, alerts::message_event::discharge);
  EXPECT_EQ(risk.message, alerts::message_event::discharge);
  // The follow-up Task reaches its stay through Task.focus (care_engine follow_up_task_json):
  // every shape that pulls in Tasks says so.
  for (const auto& t : alerts::topics()) {
    bool task = false;
    for (std::string_view inc : t.shape_rev_include) {
      if (!inc.starts_with("Task:")) continue;
      task = true;
      EXPECT_EQ(inc, "Task:focus") << t.key;
    }
    EXPECT_TRUE(task) << t.key;
  }
}

TEST(AlertsTopics, FindByCanonicalWithOrWithoutVersion) {
  EXPECT_EQ(alerts::find_topic(alerts::readmission_risk_url)->id,
            alerts::topic_id::readmission_risk);
  EXPECT_EQ(alerts::find_topic(std::string(alerts::attributed_discharge_url) + "|1.0.0")->id,
            alerts::topic_id::attributed_discharge);
  EXPECT_EQ(alerts::find_topic(std::string(alerts::attributed_discharge_url) + "|2.0.0"), nullptr);
  EXPECT_EQ(alerts::find_topic(alerts::attributed_admission_url)->id,
            alerts::topic_id::attributed_admission);
  EXPECT_EQ(alerts::find_topic_by_key("attributed-admission")->id,
            alerts::topic_id::attributed_admission);
  EXPECT_EQ(alerts::find_topic("https://carebridge.example/fhir/SubscriptionTopic/other"), nullptr);
  EXPECT_EQ(alerts::find_topic(""), nullptr);
  EXPECT_EQ(alerts::find_topic_by_key("readmission-risk")->id, alerts::topic_id::readmission_risk);
  EXPECT_EQ(alerts::find_topic_by_key("nope"), nullptr);
}

TEST(AlertsTopics, BasicResourceCarriesTheCrossVersionExtensions) {
  for (const auto& t : alerts::topics()) {
    const std::string json = alerts::topic_basic_json(t);
    rapidjson::Document d;
    d.Parse(json.c_str());
    ASSERT_FALSE(d.HasParseError()) << json;
    EXPECT_STREQ(d["resourceType"].GetString(), "Basic");
    EXPECT_EQ(std::string_view(d["id"].GetString()), t.key);
    EXPECT_STREQ(d["code"]["coding"][0]["system"].GetString(), "http://hl7.org/fhir/fhir-types");
    EXPECT_STREQ(d["code"]["coding"][0]["code"].GetString(), "SubscriptionTopic");
    const std::string xv =
        "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.";
    EXPECT_EQ(d["modifierExtension"][0]["url"].GetString(), xv + "status");
    EXPECT_STREQ(d["modifierExtension"][0]["valueCode"].GetString(), "active");
    int filters = 0, shapes = 0, triggers = 0;
    bool url = false;
    for (const auto& e : d["extension"].GetArray()) {
      const std::string u = e["url"].GetString();
      if (u == xv + "url") url = std::string_view(e["valueUri"].GetString()) == t.url;
      if (u == xv + "canFilterBy") ++filters;
      if (u == xv + "resourceTrigger") ++triggers;
      if (u == xv + "notificationShape") {
        ++shapes;
        EXPECT_STREQ(e["extension"][0]["url"].GetString(), "resource");
        EXPECT_EQ(std::string_view(e["extension"][0]["valueUri"].GetString()), t.focus_type);
      }
    }
    EXPECT_TRUE(url);
    EXPECT_EQ(filters, static_cast<int>(t.filters.size()));
    EXPECT_EQ(shapes, 1);
    EXPECT_EQ(triggers, 1);
  }
}

// The trigger of each topic as its Basic says it: interactions, queryCriteria, HL7 v2 events.
struct basic_trigger {
  std::vector<std::string> interactions, v2_codes;
  std::string previous, current, resource;
};
basic_trigger trigger_of(const alerts::topic& t) {
  const std::string json = alerts::topic_basic_json(t);
  rapidjson::Document d;
  d.Parse(json.c_str());
  EXPECT_FALSE(d.HasParseError()) << json;
  const std::string xv = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.";
  basic_trigger out;
  for (const auto& e : d["extension"].GetArray()) {
    const std::string u = e["url"].GetString();
    if (u == xv + "resourceTrigger") {
      for (const auto& x : e["extension"].GetArray()) {
        const std::string name = x["url"].GetString();
        if (name == "supportedInteraction") out.interactions.push_back(x["valueCode"].GetString());
        if (name == "resource") out.resource = x["valueUri"].GetString();
        if (name == "queryCriteria")
          for (const auto& q : x["extension"].GetArray()) {
            const std::string qn = q["url"].GetString();
            if (qn == "previous") out.previous = q["valueString"].GetString();
            if (qn == "current") out.current = q["valueString"].GetString();
          }
      }
    }
    if (u == xv + "eventTrigger")
      for (const auto& x : e["extension"].GetArray())
        if (std::string_view(x["url"].GetString()) == "event")
          out.v2_codes.push_back(x["valueCodeableConcept"]["coding"][0]["code"].GetString());
  }
  return out;
}

TEST(AlertsTopics, BasicTriggersPerTopic) {
  using ::testing::ElementsAre;
  const auto risk = trigger_of(alerts::topic_of(alerts::topic_id::readmission_risk));
  EXPECT_EQ(risk.resource, "http://hl7.org/fhir/StructureDefinition/RiskAssessment");
  EXPECT_THAT(risk.interactions, ElementsAre("create"));
  EXPECT_TRUE(risk.current.empty());
  EXPECT_TRUE(risk.v2_codes.empty());
  const auto discharge = trigger_of(alerts::topic_of(alerts::topic_id::attributed_discharge));
  EXPECT_EQ(discharge.resource, "http://hl7.org/fhir/StructureDefinition/Encounter");
  EXPECT_THAT(discharge.interactions, ElementsAre("create", "update"));
  EXPECT_EQ(discharge.previous, "status:not=finished");
  EXPECT_EQ(discharge.current, "status=finished");
  EXPECT_THAT(discharge.v2_codes, ElementsAre("A03"));
  const auto admission = trigger_of(alerts::topic_of(alerts::topic_id::attributed_admission));
  EXPECT_EQ(admission.resource, "http://hl7.org/fhir/StructureDefinition/Encounter");
  EXPECT_THAT(admission.interactions, ElementsAre("create", "update"));
  EXPECT_EQ(admission.previous, "status:not=in-progress");
  EXPECT_EQ(admission.current, "status=in-progress");
  EXPECT_THAT(admission.v2_codes, ElementsAre("A01", "A04"));
}

TEST(AlertsTopics, CapabilityStatementCanonicals) {
  const auto c = alerts::capability_topic_canonicals();
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0], alerts::readmission_risk_url);
  EXPECT_EQ(c[1], alerts::attributed_discharge_url);
  EXPECT_EQ(c[2], alerts::attributed_admission_url);
  rapidjson::Document d;
  const std::string json = alerts::capability_topic_extensions_json();
  d.Parse(json.c_str());
  ASSERT_TRUE(d.IsArray()) << json;
  ASSERT_EQ(d.Size(), 3u);
  EXPECT_EQ(std::string_view(d[2]["valueCanonical"].GetString()), alerts::attributed_admission_url);
  EXPECT_EQ(std::string_view(d[0]["url"].GetString()),
            "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
            "capabilitystatement-subscriptiontopic-canonical");
  EXPECT_EQ(std::string_view(d[1]["valueCanonical"].GetString()), alerts::attributed_discharge_url);
}

TEST(AlertsTopics, RiskRank) {
  EXPECT_LT(alerts::risk_rank("low"), alerts::risk_rank("moderate"));
  EXPECT_LT(alerts::risk_rank("moderate"), alerts::risk_rank("high"));
  EXPECT_EQ(alerts::risk_rank(""), -1);
  EXPECT_EQ(alerts::risk_rank("HIGH"), -1);
  EXPECT_EQ(alerts::risk_rank("certain"), -1);
}

// ------------------------------------------------------------------------------ parse: accepted

TEST(AlertsSubscription, ParsesEveryElement) {
  auto r = alerts::parse_subscription(full_example());
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  const auto& s = *r;
  EXPECT_EQ(s.topic, alerts::topic_id::readmission_risk);
  ASSERT_EQ(s.filters.size(), 2u);
  EXPECT_EQ(s.filters[0], (alerts::subscription_filter{"patient", "Patient/p-123"}));
  EXPECT_EQ(s.filters[1], (alerts::subscription_filter{"risk", "high"}));
  EXPECT_EQ(s.channel, alerts::channel_kind::rest_hook);
  EXPECT_EQ(s.endpoint, "https://care.example.org/fhir/notify");
  ASSERT_EQ(s.headers.size(), 1u);
  EXPECT_EQ(s.headers[0], "Authorization: Bearer s3cr3t-t0ken");
  EXPECT_EQ(s.heartbeat_seconds, 120u);
  EXPECT_EQ(s.timeout_seconds, 20u);
  EXPECT_EQ(s.max_count, 5u);
  EXPECT_EQ(s.content, alerts::payload_content::id_only);
  EXPECT_EQ(s.mime_type, "application/fhir+json");
  EXPECT_EQ(s.end, "2027-12-31T23:59:59Z");
  EXPECT_EQ(s.reason, "Readmission alerts for our care coordinators");
  EXPECT_EQ(s.status_asked, alerts::subscription_status::requested);
  EXPECT_TRUE(s.owner_group.empty());  // never read from the JSON
}

TEST(AlertsSubscription, DefaultsWhenLeftOut) {
  auto r = alerts::parse_subscription(minimal_example());
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->topic, alerts::topic_id::attributed_discharge);
  EXPECT_TRUE(r->filters.empty());
  EXPECT_TRUE(r->headers.empty());
  EXPECT_FALSE(r->heartbeat_seconds.has_value());
  EXPECT_EQ(r->timeout_seconds, 30u);
  EXPECT_EQ(r->max_count, 1u);
  EXPECT_EQ(r->content, alerts::payload_content::id_only);
  EXPECT_TRUE(r->end.empty());
}

TEST(AlertsSubscription, AcceptedVariants) {
  struct accepted {
    const char* what;
    std::function<void(rapidjson::Document&)> edit;
    std::function<void(const alerts::subscription_request&)> check;
  };
  const accepted cases[] = {
      {"versioned canonical",
       [](auto& d) { set(d, "/criteria", std::string(alerts::readmission_risk_url) + "|1.0.0"); },
       [](const auto& s) { EXPECT_EQ(s.topic, alerts::topic_id::readmission_risk); }},
      {"dotted filter",
       [](auto& d) {
         set(d, "/_criteria/extension/0/valueString", "RiskAssessment.patient=Patient/x.1");
       },
       [](const auto& s) { EXPECT_EQ(s.filters[0].value, "Patient/x.1"); }},
      {"same filter twice is kept once",
       [](auto& d) { set(d, "/_criteria/extension/1/valueString", "patient=Patient/p-123"); },
       [](const auto& s) { ASSERT_EQ(s.filters.size(), 1u); }},
      {"fhirVersion parameter",
       [](auto& d) { set(d, "/channel/payload", "Application/FHIR+json ;  fhirVersion=4.0"); },
       [](const auto& s) { EXPECT_EQ(s.mime_type, "application/fhir+json; fhirVersion=4.0"); }},
      {"status active is a request", [](auto& d) { set(d, "/status", "active"); },
       [](const auto& s) { EXPECT_EQ(s.status_asked, alerts::subscription_status::active); }},
      {"status off", [](auto& d) { set(d, "/status", "off"); },
       [](const auto& s) { EXPECT_EQ(s.status_asked, alerts::subscription_status::off); }},
      {"content empty", [](auto& d) { set(d, "/channel/_payload/extension/0/valueCode", "empty"); },
       [](const auto& s) { EXPECT_EQ(s.content, alerts::payload_content::empty); }},
      {"content full-resource",
       [](auto& d) { set(d, "/channel/_payload/extension/0/valueCode", "full-resource"); },
       [](const auto& s) { EXPECT_EQ(s.content, alerts::payload_content::full_resource); }},
      {"header spaces trimmed",
       [](auto& d) { set(d, "/channel/header/0", "X-Api-Key:\t  abc def  "); },
       [](const auto& s) { EXPECT_EQ(s.headers[0], "X-Api-Key: abc def"); }},
      {"limits inclusive",
       [](auto& d) {
         set_int(d, "/channel/extension/0/valueUnsignedInt", 60);
         set_int(d, "/channel/extension/1/valueUnsignedInt", 120);
         set_int(d, "/channel/extension/2/valuePositiveInt", 100);
       },
       [](const auto& s) {
         EXPECT_EQ(s.heartbeat_seconds, 60u);
         EXPECT_EQ(s.timeout_seconds, 120u);
         EXPECT_EQ(s.max_count, 100u);
       }},
      {"port and query",
       [](auto& d) { set(d, "/channel/endpoint", "https://care.example.org:8443/hook?tenant=7"); },
       [](const auto& s) { EXPECT_EQ(s.endpoint, "https://care.example.org:8443/hook?tenant=7"); }},
      {"IPv6 host", [](auto& d) { set(d, "/channel/endpoint", "https://[2001:db8::1]:443/hook"); },
       [](const auto& s) { EXPECT_EQ(s.endpoint, "https://[2001:db8::1]:443/hook"); }},
      {"end with offset and fraction",
       [](auto& d) { set(d, "/end", "2027-06-30T12:00:00.125-05:00"); },
       [](const auto& s) { EXPECT_EQ(s.end, "2027-06-30T12:00:00.125-05:00"); }},
      {"unknown non-modifier extensions and other elements are ignored",
       [](auto& d) {
         set(d, "/id", "client-id");
         set_json(d, "/contact", R"([{"system":"email","value":"cc@care.example.org"}])");
         set_json(d, "/channel/extension/3",
                  R"({"url":"http://example.org/ext","valueString":"x"})");
         set_json(d, "/_criteria/extension/2",
                  R"({"url":"http://example.org/other","valueString":"x"})");
       },
       [](const auto& s) { EXPECT_EQ(s.filters.size(), 2u); }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto r = alerts::parse_subscription(edited(c.edit));
    ASSERT_TRUE(r.has_value()) << r.error().describe();
    c.check(*r);
  }
}

TEST(AlertsSubscription, LoopbackHttpOnlyWithTheOption) {
  alerts::parse_options loose;
  loose.allow_insecure_loopback = true;
  for (const char* url : {"http://127.0.0.1:8080/hook", "http://localhost/hook",
                          "http://LOCALHOST:9/x", "http://[::1]:9999/hook"}) {
    const std::string json = edited([&](auto& d) { set(d, "/channel/endpoint", url); });
    EXPECT_TRUE(has_issue(refused(json), subscription_errc::insecure_endpoint,
                          "Subscription.channel.endpoint"))
        << url;
    EXPECT_TRUE(alerts::parse_subscription(json, loose).has_value()) << url;
  }
  for (const char* url : {"http://10.0.0.1/hook", "http://care.example.org/hook",
                          "http://127.0.0.2/hook", "http://localhost.example.org/x"}) {
    const std::string json = edited([&](auto& d) { set(d, "/channel/endpoint", url); });
    EXPECT_TRUE(has_issue(refused(json, loose), subscription_errc::insecure_endpoint,
                          "Subscription.channel.endpoint"))
        << url;
  }
}

TEST(AlertsSubscription, MessageChannelIsDaVinciProcessMessage) {
  const std::string json = edited([](auto& d) {
    set(d, "/channel/type", "message");
    set(d, "/channel/endpoint", "https://ehr.group.example.org/fhir");
    erase(d, "/channel/_payload");
    erase(d, "/channel/extension/2");  // maxCount
  });
  auto r = alerts::parse_subscription(json);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->channel, alerts::channel_kind::message);
  EXPECT_EQ(r->content, alerts::payload_content::full_resource);  // the default on this channel
  EXPECT_EQ(r->max_count, 1u);

  alerts::parse_options no_message;
  no_message.allow_message_channel = false;
  EXPECT_TRUE(has_issue(refused(json, no_message), subscription_errc::unsupported_channel,
                        "Subscription.channel.type"));
  alerts::parse_options no_full;
  no_full.allow_full_resource = false;
  EXPECT_TRUE(has_issue(refused(json, no_full), subscription_errc::unsupported_content,
                        "Subscription.channel.payload"));
}

// ------------------------------------------------------------------------------ parse: refused

struct refusal {
  const char* what;
  std::function<void(rapidjson::Document&)> edit;
  subscription_errc code;
  const char* expression;
};

const std::string xfilter = sd + "backport-filter-criteria";

std::vector<refusal> refusals() {
  auto filter = [](std::string text) {
    return [text](rapidjson::Document& d) { set(d, "/_criteria/extension/0/valueString", text); };
  };
  auto endpoint = [](std::string url) {
    return [url](rapidjson::Document& d) { set(d, "/channel/endpoint", url); };
  };
  auto payload = [](std::string mime) {
    return [mime](rapidjson::Document& d) { set(d, "/channel/payload", mime); };
  };
  auto header = [](std::string h) {
    return [h](rapidjson::Document& d) { set(d, "/channel/header/0", h); };
  };
  auto channel_ext = [](int i, const char* key, std::int64_t v) {
    return [=](rapidjson::Document& d) {
      set_int(d, ("/channel/extension/" + std::to_string(i) + "/" + key).c_str(), v);
    };
  };
  using E = subscription_errc;
  const char* f0 = "Subscription.criteria.extension[0].valueString";
  const char* ep = "Subscription.channel.endpoint";
  const char* pl = "Subscription.channel.payload";
  const char* h0 = "Subscription.channel.header[0]";
  return {
      // Structure.
      {"endpoint not a string", [](auto& d) { set_int(d, "/channel/endpoint", 5); }, E::wrong_type,
       ep},
      {"channel not an object", [](auto& d) { set_json(d, "/channel", "[]"); }, E::wrong_type,
       "Subscription.channel"},
      {"headers not an array", [](auto& d) { set(d, "/channel/header", "X: y"); }, E::wrong_type,
       "Subscription.channel.header"},
      {"header not a string", [](auto& d) { set_int(d, "/channel/header/0", 1); }, E::wrong_type,
       h0},
      {"filter extension without url",
       [](auto& d) { set_json(d, "/_criteria/extension/0", R"({"valueString":"risk=high"})"); },
       E::wrong_type, "Subscription.criteria.extension[0]"},
      // Required elements.
      {"no status", [](auto& d) { erase(d, "/status"); }, E::missing, "Subscription.status"},
      {"no reason", [](auto& d) { erase(d, "/reason"); }, E::missing, "Subscription.reason"},
      {"empty reason", [](auto& d) { set(d, "/reason", ""); }, E::missing, "Subscription.reason"},
      {"no criteria", [](auto& d) { erase(d, "/criteria"); }, E::missing, "Subscription.criteria"},
      {"no channel", [](auto& d) { erase(d, "/channel"); }, E::missing, "Subscription.channel"},
      {"no channel type", [](auto& d) { erase(d, "/channel/type"); }, E::missing,
       "Subscription.channel.type"},
      {"no endpoint", [](auto& d) { erase(d, "/channel/endpoint"); }, E::missing, ep},
      {"no payload", [](auto& d) { erase(d, "/channel/payload"); }, E::missing, pl},
      {"filter without value",
       [](auto& d) { set_json(d, "/_criteria/extension/0", "{\"url\":\"" + xfilter + "\"}"); },
       E::missing, f0},
      // Topic.
      {"unknown topic",
       [](auto& d) { set(d, "/criteria", "https://other.example/SubscriptionTopic/x"); },
       E::unknown_topic, "Subscription.criteria"},
      {"unknown topic version",
       [](auto& d) { set(d, "/criteria", std::string(alerts::readmission_risk_url) + "|9"); },
       E::unknown_topic, "Subscription.criteria"},
      {"legacy R4 criteria", [](auto& d) { set(d, "/criteria", "Encounter?status=finished"); },
       E::unknown_topic, "Subscription.criteria"},
      // Filters.
      {"filter without =", filter("patient"), E::bad_filter_syntax, f0},
      {"two filters in one", filter("patient=Patient/1&risk=high"), E::bad_filter_syntax, f0},
      {"filter without name", filter("=Patient/1"), E::bad_filter_syntax, f0},
      {"filter with empty type", filter("?patient=Patient/1"), E::bad_filter_syntax, f0},
      {"filter without value text", filter("risk="), E::bad_filter_syntax, f0},
      {"ATR-style bare reference", filter("Group/MyGroup1234"), E::bad_filter_syntax, f0},
      {"unknown parameter", filter("status=final"), E::unknown_filter, f0},
      {"parameter of another type", filter("Encounter.patient=Patient/1"), E::unknown_filter, f0},
      {"parameter of another type (?)", filter("Encounter?patient=Patient/1"), E::unknown_filter,
       f0},
      {"risk on attributed-discharge",
       [](auto& d) {
         set(d, "/criteria", std::string(alerts::attributed_discharge_url));
         set(d, "/_criteria/extension/0/valueString", "Encounter?patient=Patient/p-1");
       },
       E::unknown_filter, "Subscription.criteria.extension[1].valueString"},
      {"modifier", filter("patient:missing=true"), E::unsupported_filter_modifier, f0},
      {"modifier with type", filter("RiskAssessment.risk:not=low"), E::unsupported_filter_modifier,
       f0},
      {"patient not a reference", filter("patient=p-123"), E::bad_filter_value, f0},
      {"patient of another type", filter("patient=Group/1"), E::bad_filter_value, f0},
      {"patient without id", filter("patient=Patient/"), E::bad_filter_value, f0},
      {"patient id with a space", filter("patient=Patient/a b"), E::bad_filter_value, f0},
      {"patient absolute", filter("patient=https://x.example/Patient/1"), E::bad_filter_value, f0},
      {"risk not a band", filter("risk=certain"), E::bad_filter_value, f0},
      {"risk in capitals", filter("risk=HIGH"), E::bad_filter_value, f0},
      {"conflicting risk",
       [](auto& d) { set(d, "/_criteria/extension/0/valueString", "risk=low"); },
       E::conflicting_filters, "Subscription.criteria.extension[1].valueString"},
      {"too many filters",
       [](auto& d) {
         for (int i = 2; i < 9; ++i)
           set_json(d, ("/_criteria/extension/" + std::to_string(i)).c_str(),
                    "{\"url\":\"" + xfilter + "\",\"valueString\":\"risk=high\"}");
       },
       E::too_many_filters, "Subscription.criteria.extension[8]"},
      // Channel type.
      {"websocket", [](auto& d) { set(d, "/channel/type", "websocket"); }, E::unsupported_channel,
       "Subscription.channel.type"},
      {"email", [](auto& d) { set(d, "/channel/type", "email"); }, E::unsupported_channel,
       "Subscription.channel.type"},
      {"sms", [](auto& d) { set(d, "/channel/type", "sms"); }, E::unsupported_channel,
       "Subscription.channel.type"},
      {"custom channel",
       [](auto& d) {
         set_json(d, "/channel/_type",
                  "{\"extension\":[{\"url\":\"" + sd +
                      "backport-channel-type\",\"valueCoding\":{\"code\":\"kafka\"}}]}");
       },
       E::unsupported_channel, "Subscription.channel.type"},
      // Endpoint.
      {"plain http", endpoint("http://care.example.org/hook"), E::insecure_endpoint, ep},
      {"ftp", endpoint("ftp://care.example.org/hook"), E::bad_endpoint, ep},
      {"relative", endpoint("care.example.org/hook"), E::bad_endpoint, ep},
      {"user info", endpoint("https://user:pw@care.example.org/hook"), E::bad_endpoint, ep},
      {"fragment", endpoint("https://care.example.org/hook#x"), E::bad_endpoint, ep},
      {"no host", endpoint("https:///hook"), E::bad_endpoint, ep},
      {"bad host", endpoint("https://care!example.org/hook"), E::bad_endpoint, ep},
      {"port out of range", endpoint("https://care.example.org:99999/"), E::bad_endpoint, ep},
      {"port zero", endpoint("https://care.example.org:0/"), E::bad_endpoint, ep},
      {"empty port", endpoint("https://care.example.org:/"), E::bad_endpoint, ep},
      {"port not a number", endpoint("https://care.example.org:44a/"), E::bad_endpoint, ep},
      {"space", endpoint("https://care.example.org/a hook"), E::bad_endpoint, ep},
      {"non-ASCII", endpoint("https://care.example.org/h\xC3\xA9"), E::bad_endpoint, ep},
      {"unclosed IPv6", endpoint("https://[::1/hook"), E::bad_endpoint, ep},
      {"too long", endpoint("https://care.example.org/" + std::string(2100, 'a')), E::bad_endpoint,
       ep},
      {"message endpoint with query",
       [](auto& d) {
         set(d, "/channel/type", "message");
         set(d, "/channel/endpoint", "https://ehr.example.org/fhir?x=1");
         set(d, "/channel/_payload/extension/0/valueCode", "full-resource");
         set_int(d, "/channel/extension/2/valuePositiveInt", 1);
       },
       E::bad_endpoint, ep},
      // Payload.
      {"plain json", payload("application/json"), E::unsupported_payload, pl},
      {"xml", payload("application/fhir+xml"), E::unsupported_payload, pl},
      {"other fhirVersion", payload("application/fhir+json; fhirVersion=3.0"),
       E::unsupported_payload, pl},
      {"charset parameter", payload("application/fhir+json; charset=utf-8"), E::unsupported_payload,
       pl},
      {"fhirVersion twice", payload("application/fhir+json;fhirVersion=4.0;fhirVersion=4.0"),
       E::unsupported_payload, pl},
      {"unknown content",
       [](auto& d) { set(d, "/channel/_payload/extension/0/valueCode", "everything"); },
       E::unsupported_content, "Subscription.channel.payload.extension[0]"},
      {"content twice",
       [](auto& d) {
         set_json(d, "/channel/_payload/extension/1",
                  "{\"url\":\"" + sd + "backport-payload-content\",\"valueCode\":\"empty\"}");
       },
       E::unsupported_content, "Subscription.channel.payload.extension[1]"},
      {"message channel id-only",
       [](auto& d) {
         set(d, "/channel/type", "message");
         set_int(d, "/channel/extension/2/valuePositiveInt", 1);
       },
       E::unsupported_content, "Subscription.channel.payload.extension[0]"},
      {"message channel batching",
       [](auto& d) {
         set(d, "/channel/type", "message");
         set(d, "/channel/_payload/extension/0/valueCode", "full-resource");
       },
       E::bad_max_count, "Subscription.channel.extension[2].valuePositiveInt"},
      // Headers (each bad one carries the secret: it must never be quoted).
      {"header without colon", header("Authorization Bearer s3cr3t-t0ken"), E::bad_header, h0},
      {"header with CRLF", header("X-Key: s3cr3t-t0ken\r\nX-Other: 1"), E::bad_header, h0},
      {"header with LF", header("X-Key: s3cr3t-t0ken\nX: 1"), E::bad_header, h0},
      {"header with control character", header("X-Key: s3cr3t-t0ken\x01"), E::bad_header, h0},
      {"header with DEL", header("X-Key: s3cr3t-t0ken\x7F"), E::bad_header, h0},
      {"header name with a space", header("X Key: s3cr3t-t0ken"), E::bad_header, h0},
      {"header without name", header(": s3cr3t-t0ken"), E::bad_header, h0},
      {"header without value", header("X-Key:   "), E::bad_header, h0},
      {"Host header", header("Host: s3cr3t-t0ken.example.org"), E::bad_header, h0},
      {"Content-Length header", header("content-length: 5 s3cr3t-t0ken"), E::bad_header, h0},
      {"Transfer-Encoding header", header("Transfer-Encoding: chunked s3cr3t-t0ken"), E::bad_header,
       h0},
      {"header too long", header("X-Key: s3cr3t-t0ken" + std::string(4100, 'x')), E::bad_header,
       h0},
      {"too many headers",
       [](auto& d) {
         for (int i = 1; i < 11; ++i)
           set(d, ("/channel/header/" + std::to_string(i)).c_str(), "X-N: s3cr3t-t0ken");
       },
       E::too_many_headers, "Subscription.channel.header"},
      // Heartbeat, timeout, maxCount.
      {"heartbeat 0", channel_ext(0, "valueUnsignedInt", 0), E::bad_heartbeat,
       "Subscription.channel.extension[0].valueUnsignedInt"},
      {"heartbeat 59", channel_ext(0, "valueUnsignedInt", 59), E::bad_heartbeat,
       "Subscription.channel.extension[0].valueUnsignedInt"},
      {"heartbeat a day and a second", channel_ext(0, "valueUnsignedInt", 86401), E::bad_heartbeat,
       "Subscription.channel.extension[0].valueUnsignedInt"},
      {"heartbeat negative", channel_ext(0, "valueUnsignedInt", -5), E::wrong_type,
       "Subscription.channel.extension[0].valueUnsignedInt"},
      {"heartbeat as a string",
       [](auto& d) { set(d, "/channel/extension/0/valueUnsignedInt", "120"); }, E::wrong_type,
       "Subscription.channel.extension[0].valueUnsignedInt"},
      {"heartbeat fraction",
       [](auto& d) { rapidjson::Pointer("/channel/extension/0/valueUnsignedInt").Set(d, 1.5); },
       E::wrong_type, "Subscription.channel.extension[0].valueUnsignedInt"},
      {"heartbeat wrong value type",
       [](auto& d) {
         set_json(d, "/channel/extension/0",
                  "{\"url\":\"" + sd + "backport-heartbeat-period\",\"valueInteger\":120}");
       },
       E::missing, "Subscription.channel.extension[0].valueUnsignedInt"},
      {"heartbeat twice",
       [](auto& d) {
         set_json(d, "/channel/extension/3",
                  "{\"url\":\"" + sd + "backport-heartbeat-period\",\"valueUnsignedInt\":120}");
       },
       E::bad_heartbeat, "Subscription.channel.extension[3]"},
      {"timeout 0", channel_ext(1, "valueUnsignedInt", 0), E::bad_timeout,
       "Subscription.channel.extension[1].valueUnsignedInt"},
      {"timeout 121", channel_ext(1, "valueUnsignedInt", 121), E::bad_timeout,
       "Subscription.channel.extension[1].valueUnsignedInt"},
      {"maxCount 0", channel_ext(2, "valuePositiveInt", 0), E::bad_max_count,
       "Subscription.channel.extension[2].valuePositiveInt"},
      {"maxCount 101", channel_ext(2, "valuePositiveInt", 101), E::bad_max_count,
       "Subscription.channel.extension[2].valuePositiveInt"},
      // End, reason, status, modifiers.
      {"end a date", [](auto& d) { set(d, "/end", "2027-12-31"); }, E::bad_end, "Subscription.end"},
      {"end without zone", [](auto& d) { set(d, "/end", "2027-12-31T10:00:00"); }, E::bad_end,
       "Subscription.end"},
      {"end not a day", [](auto& d) { set(d, "/end", "2027-02-30T10:00:00Z"); }, E::bad_end,
       "Subscription.end"},
      {"end text", [](auto& d) { set(d, "/end", "tomorrow"); }, E::bad_end, "Subscription.end"},
      {"reason too long", [](auto& d) { set(d, "/reason", std::string(1025, 'r')); }, E::bad_reason,
       "Subscription.reason"},
      {"status error", [](auto& d) { set(d, "/status", "error"); }, E::bad_status,
       "Subscription.status"},
      {"status entered-in-error", [](auto& d) { set(d, "/status", "entered-in-error"); },
       E::bad_status, "Subscription.status"},
      {"status unknown", [](auto& d) { set(d, "/status", "paused"); }, E::bad_status,
       "Subscription.status"},
      {"modifierExtension",
       [](auto& d) {
         set_json(d, "/modifierExtension",
                  R"([{"url":"http://example.org/m","valueBoolean":true}])");
       },
       E::unsupported_modifier_extension, "Subscription.modifierExtension"},
      {"channel modifierExtension",
       [](auto& d) {
         set_json(d, "/channel/modifierExtension",
                  R"([{"url":"http://example.org/m","valueBoolean":true}])");
       },
       E::unsupported_modifier_extension, "Subscription.channel.modifierExtension"},
  };
}

TEST(AlertsSubscription, EveryRefusalNamesItsElementAndRule) {
  for (const refusal& r : refusals()) {
    SCOPED_TRACE(r.what);
    const auto e = refused(edited(r.edit));
    EXPECT_TRUE(has_issue(e, r.code, r.expression)) << e.describe();
    const bool structural = r.code == subscription_errc::wrong_type;
    EXPECT_EQ(e.http_status(), structural ? 400u : 422u);
    // Never the header's value (nor any other content of the request).
    const std::string text = all_text(e);
    EXPECT_THAT(text, Not(HasSubstr(secret)));
    EXPECT_THAT(text, Not(HasSubstr("Readmission alerts for our")));
    EXPECT_THAT(text, Not(HasSubstr("p-123")));
    EXPECT_THAT(text, Not(HasSubstr("user:pw")));
  }
}

TEST(AlertsSubscription, NotJsonOrNotASubscription) {
  for (std::string_view body :
       {std::string_view("{"), std::string_view(""),
        std::string_view("{\"resourceType\":\"Subscription\"} x"),
        std::string_view("{\"resourceType\":\"Subscription\",\"reason\":\"\xC3\"}")}) {
    const auto e = refused(body);
    ASSERT_EQ(e.issues.size(), 1u);
    EXPECT_EQ(e.issues[0].code, subscription_errc::not_json);
    EXPECT_EQ(e.http_status(), 400u);
  }
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < 40; ++i) deep += "}";
  EXPECT_EQ(refused(deep).issues[0].code, subscription_errc::not_json);
  for (std::string_view body :
       {std::string_view("[]"), std::string_view("{\"resourceType\":\"Patient\"}"),
        std::string_view("{\"status\":\"requested\"}")}) {
    const auto e = refused(body);
    ASSERT_EQ(e.issues.size(), 1u);
    EXPECT_EQ(e.issues[0].code, subscription_errc::not_subscription);
  }
}

TEST(AlertsSubscription, EndMustBeInTheFutureWhenNowIsGiven) {
  alerts::parse_options o;
  o.now = *alerts::instant_seconds("2028-01-01T00:00:00Z");
  EXPECT_TRUE(
      has_issue(refused(full_example(), o), subscription_errc::bad_end, "Subscription.end"));
  o.now = *alerts::instant_seconds("2027-12-31T23:59:58Z");
  EXPECT_TRUE(alerts::parse_subscription(full_example(), o).has_value());
  o.now = *alerts::instant_seconds("2027-12-31T23:59:59Z");  // equal is not later
  EXPECT_FALSE(alerts::parse_subscription(full_example(), o).has_value());
}

TEST(AlertsSubscription, EveryProblemIsReportedInDocumentOrder) {
  const std::string json = edited([](auto& d) {
    set(d, "/status", "error");
    set(d, "/_criteria/extension/1/valueString", "risk=extreme");
    set(d, "/channel/endpoint", "http://care.example.org/hook");
    set(d, "/channel/header/0", "X-Key: s3cr3t-t0ken\r\nHost: x");
    set_int(d, "/channel/extension/1/valueUnsignedInt", 500);
  });
  const auto e = refused(json);
  ASSERT_EQ(e.issues.size(), 5u) << e.describe();
  EXPECT_EQ(e.issues[0].code, subscription_errc::bad_status);
  EXPECT_EQ(e.issues[1].code, subscription_errc::bad_filter_value);
  EXPECT_EQ(e.issues[2].code, subscription_errc::insecure_endpoint);
  EXPECT_EQ(e.issues[3].code, subscription_errc::bad_header);
  EXPECT_EQ(e.issues[4].code, subscription_errc::bad_timeout);
  EXPECT_EQ(e.describe(),
            "Subscription refused: bad_status at Subscription.status; bad_filter_value at "
            "Subscription.criteria.extension[1].valueString; insecure_endpoint at "
            "Subscription.channel.endpoint; bad_header at Subscription.channel.header[0]; "
            "bad_timeout at Subscription.channel.extension[1].valueUnsignedInt");
  EXPECT_THAT(all_text(e), Not(HasSubstr(secret)));
  EXPECT_THAT(all_text(e), Not(HasSubstr("extreme")));
}

TEST(AlertsSubscription, OperationOutcomeHasOneIssuePerProblem) {
  const auto e = refused(edited([](auto& d) {
    set(d, "/channel/type", "websocket");
    set(d, "/channel/header/0", "X-Key: s3cr3t-t0ken\n");
  }));
  const std::string oo = alerts::to_operation_outcome(e);
  rapidjson::Document d;
  d.Parse(oo.c_str());
  ASSERT_FALSE(d.HasParseError()) << oo;
  EXPECT_STREQ(d["resourceType"].GetString(), "OperationOutcome");
  ASSERT_EQ(d["issue"].Size(), 2u);
  const auto& i0 = d["issue"][0];
  EXPECT_STREQ(i0["severity"].GetString(), "error");
  EXPECT_STREQ(i0["code"].GetString(), "not-supported");
  EXPECT_STREQ(i0["expression"][0].GetString(), "Subscription.channel.type");
  EXPECT_STREQ(i0["details"]["coding"][0]["system"].GetString(),
               "https://carebridge.example/fhir/CodeSystem/subscription-rule");
  EXPECT_STREQ(i0["details"]["coding"][0]["code"].GetString(), "unsupported_channel");
  EXPECT_THAT(i0["diagnostics"].GetString(), HasSubstr("rest-hook"));
  const auto& i1 = d["issue"][1];
  EXPECT_STREQ(i1["code"].GetString(), "value");
  EXPECT_STREQ(i1["expression"][0].GetString(), "Subscription.channel.header[0]");
  EXPECT_THAT(oo, Not(HasSubstr(secret)));
  EXPECT_EQ(e.issues[0].issue_type(), "not-supported");
  EXPECT_EQ(alerts::make_error_code(subscription_errc::bad_header).message(), "bad_header");
}

TEST(AlertsSubscription, ErrorCodesHaveACategory) {
  const boost::system::error_code ec = subscription_errc::insecure_endpoint;
  EXPECT_STREQ(ec.category().name(), "carebridge.subscription");
  EXPECT_EQ(ec.message(), "insecure_endpoint");
}

// ---------------------------------------------------------------------------- serialize (reads)

alerts::subscription_state state_of(std::string_view id, alerts::subscription_status s) {
  alerts::subscription_state st;
  st.id = id;
  st.status = s;
  return st;
}

TEST(AlertsSubscription, SerializedWithTheServersStatusAndTheExtensions) {
  const auto s = alerts::parse_subscription(full_example()).value();
  auto st = state_of("sub-1", alerts::subscription_status::error);
  st.error_text = "no-response: the endpoint did not answer within the timeout";
  const std::string json = alerts::subscription_json(s, st);
  rapidjson::Document d;
  d.Parse(json.c_str());
  ASSERT_FALSE(d.HasParseError()) << json;
  EXPECT_STREQ(d["resourceType"].GetString(), "Subscription");
  EXPECT_STREQ(d["id"].GetString(), "sub-1");
  EXPECT_STREQ(d["meta"]["profile"][0].GetString(),
               "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
               "backport-subscription");
  EXPECT_STREQ(d["status"].GetString(), "error");  // the server's, not the one asked for
  EXPECT_STREQ(d["error"].GetString(), st.error_text.data());
  EXPECT_STREQ(d["criteria"].GetString(), alerts::readmission_risk_url.data());
  ASSERT_EQ(d["_criteria"]["extension"].Size(), 2u);
  EXPECT_STREQ(d["_criteria"]["extension"][0]["url"].GetString(), xfilter.c_str());
  EXPECT_STREQ(d["_criteria"]["extension"][0]["valueString"].GetString(),
               "RiskAssessment?patient=Patient/p-123");
  EXPECT_STREQ(d["_criteria"]["extension"][1]["valueString"].GetString(),
               "RiskAssessment?risk=high");
  const auto& ch = d["channel"];
  EXPECT_STREQ(ch["type"].GetString(), "rest-hook");
  EXPECT_STREQ(ch["endpoint"].GetString(), "https://care.example.org/fhir/notify");
  EXPECT_STREQ(ch["payload"].GetString(), "application/fhir+json");
  EXPECT_STREQ(ch["_payload"]["extension"][0]["valueCode"].GetString(), "id-only");
  ASSERT_EQ(ch["extension"].Size(), 3u);
  EXPECT_EQ(ch["extension"][0]["url"].GetString(), sd + "backport-heartbeat-period");
  EXPECT_EQ(ch["extension"][0]["valueUnsignedInt"].GetInt(), 120);
  EXPECT_EQ(ch["extension"][1]["url"].GetString(), sd + "backport-timeout");
  EXPECT_EQ(ch["extension"][1]["valueUnsignedInt"].GetInt(), 20);
  EXPECT_EQ(ch["extension"][2]["url"].GetString(), sd + "backport-max-count");
  EXPECT_EQ(ch["extension"][2]["valuePositiveInt"].GetInt(), 5);
  // Header values are credentials: masked unless the route asks for them.
  EXPECT_STREQ(ch["header"][0].GetString(), "Authorization: ***");
  EXPECT_THAT(json, Not(HasSubstr(secret)));
  alerts::subscription_json_options reveal;
  reveal.reveal_header_values = true;
  EXPECT_THAT(alerts::subscription_json(s, st, reveal), HasSubstr(secret));
}

TEST(AlertsSubscription, RoundTripParseSerializeParse) {
  for (const std::string& json :
       {full_example(), minimal_example(), edited([](auto& d) {
          set(d, "/channel/type", "message");
          set(d, "/channel/_payload/extension/0/valueCode", "full-resource");
          set_int(d, "/channel/extension/2/valuePositiveInt", 1);
          set(d, "/channel/payload", "application/fhir+json;fhirVersion=4.0");
        }),
        // Odd strings: quotes, backslashes, control characters, non-ASCII, a JSON-looking text.
        edited([](auto& d) {
          set(d, "/reason",
              "Care \"coordination\" \\ team\n\ttab \x01 caf\xC3\xA9 {\"a\":1} </script>");
          set(d, "/channel/header/0", "X-Odd: a\"b\\c {} \xC3\xA9");
        })}) {
    SCOPED_TRACE(json);
    const auto first = alerts::parse_subscription(json).value();
    alerts::subscription_json_options reveal;
    reveal.reveal_header_values = true;
    const std::string out = alerts::subscription_json(
        first, state_of("abc-1", alerts::subscription_status::active), reveal);
    const auto again = alerts::parse_subscription(out);
    ASSERT_TRUE(again.has_value()) << again.error().describe() << "\n" << out;
    auto expected = first;
    expected.status_asked = alerts::subscription_status::active;  // the server's status came back
    EXPECT_EQ(*again, expected);
  }
}

TEST(AlertsSubscription, InstantSeconds) {
  const auto z = alerts::instant_seconds("2026-11-04T16:52:03Z");
  ASSERT_TRUE(z.has_value());
  EXPECT_EQ(alerts::instant_seconds("2026-11-04T11:52:03-05:00"), z);
  EXPECT_EQ(alerts::instant_seconds("2026-11-05T02:22:03.999+09:30"), z);
  EXPECT_EQ(z->time_since_epoch().count(), 1793811123);
  EXPECT_FALSE(alerts::instant_seconds("2026-11-04").has_value());
  EXPECT_FALSE(alerts::instant_seconds("2026-11-04T11:52:03").has_value());
  EXPECT_FALSE(alerts::instant_seconds("2026-11-31T11:52:03Z").has_value());
  EXPECT_FALSE(alerts::instant_seconds("").has_value());
}

// A Subscription on attributed-admission with these filter texts.
std::string admission_subscription(std::initializer_list<std::string_view> filters) {
  std::string ext;
  for (const std::string_view f : filters)
    ext += std::string(ext.empty() ? "" : ",") + R"({"url":")" + sd +
           R"(backport-filter-criteria","valueString":")" + std::string(f) + R"("})";
  return R"({"resourceType":"Subscription","status":"requested","reason":"admissions",
    "criteria":"https://carebridge.example/fhir/SubscriptionTopic/attributed-admission",
    "_criteria":{"extension":[)" +
         ext + R"(]},
    "channel":{"type":"rest-hook","endpoint":"https://care.example.org/hook",
      "payload":"application/fhir+json"}})";
}

TEST(AlertsSubscription, AdmissionTopicWithItsFilters) {
  auto r = alerts::parse_subscription(
      admission_subscription({"patient=Patient/p-1", "Encounter?event=ed-visit"}));
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->topic, alerts::topic_id::attributed_admission);
  ASSERT_EQ(r->filters.size(), 2u);
  EXPECT_EQ(r->filters[0], (alerts::subscription_filter{"patient", "Patient/p-1"}));
  EXPECT_EQ(r->filters[1], (alerts::subscription_filter{"event", "ed-visit"}));
  r = alerts::parse_subscription(admission_subscription({"Encounter.event=admission"}));
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->filters[0], (alerts::subscription_filter{"event", "admission"}));
  // Read back as stored, the filters say the resource type they apply to.
  const std::string stored = alerts::subscription_json(*r, {});
  EXPECT_THAT(stored, HasSubstr("Encounter?event=admission"));
  EXPECT_THAT(stored, HasSubstr(alerts::attributed_admission_url));
  EXPECT_EQ(alerts::parse_subscription(stored).value().filters, r->filters);

  const std::string f0 = "Subscription.criteria.extension[0].valueString";
  struct bad {
    const char* what;
    std::string json;
    subscription_errc code;
  };
  const bad cases[] = {
      {"event not admission or ed-visit", admission_subscription({"event=discharge"}),
       subscription_errc::bad_filter_value},
      {"event spelt as the store does", admission_subscription({"event=ed_visit"}),
       subscription_errc::bad_filter_value},
      {"event on another resource type", admission_subscription({"Patient.event=admission"}),
       subscription_errc::unknown_filter},
      {"risk is not a filter of this topic", admission_subscription({"risk=high"}),
       subscription_errc::unknown_filter},
      {"unknown filter", admission_subscription({"class=EMER"}), subscription_errc::unknown_filter},
      {"event twice, two values", admission_subscription({"event=admission", "event=ed-visit"}),
       subscription_errc::conflicting_filters},
      {"event is not a filter of attributed-discharge",
       edited([](auto& d) { set(d, "/_criteria/extension/0/valueString", "event=admission"); },
              R"({"resourceType":"Subscription","status":"requested","reason":"alerts",
    "criteria":"https://carebridge.example/fhir/SubscriptionTopic/attributed-discharge",
    "_criteria":{"extension":[{"url":")" +
                  sd + R"(backport-filter-criteria","valueString":"x=y"}]},
    "channel":{"type":"rest-hook","endpoint":"https://care.example.org/hook",
      "payload":"application/fhir+json"}})"),
       subscription_errc::unknown_filter},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const auto e = refused(c.json);
    ASSERT_FALSE(e.issues.empty());
    const std::string at = c.code == subscription_errc::conflicting_filters
                               ? "Subscription.criteria.extension[1].valueString"
                               : f0;
    EXPECT_TRUE(has_issue(e, c.code, at)) << e.describe();
  }
  // The refusal names the topic's filters.
  EXPECT_THAT(all_text(refused(admission_subscription({"risk=high"}))),
              HasSubstr("can be filtered by: patient, event"));
}

TEST(AlertsSubscription, FilterCriteriaText) {
  EXPECT_EQ(
      alerts::filter_criteria_text(alerts::topic_id::attributed_admission, {"event", "ed-visit"}),
      "Encounter?event=ed-visit");
  EXPECT_EQ(alerts::filter_criteria_text(alerts::topic_id::attributed_discharge,
                                         {"patient", "Patient/p-1"}),
            "Encounter?patient=Patient/p-1");
  EXPECT_EQ(alerts::filter_criteria_text(alerts::topic_id::readmission_risk, {"risk", "low"}),
            "RiskAssessment?risk=low");
  EXPECT_EQ(alerts::redacted_header("Authorization: Bearer x"), "Authorization: ***");
}

// ------------------------------------------------------------------------------------- filters

alerts::subscription_request owned(std::string group, alerts::topic_id t,
                                   std::vector<alerts::subscription_filter> f = {}) {
  alerts::subscription_request s;
  s.owner_group = std::move(group);
  s.topic = t;
  s.filters = std::move(f);
  return s;
}

TEST(AlertsFilters, GroupMustBeTheSubscriptionsOwn) {
  const auto s = owned("grp-1", alerts::topic_id::attributed_discharge);
  EXPECT_TRUE(
      alerts::matches(s, {alerts::topic_id::attributed_discharge, "grp-1", "Patient/p", ""}));
  EXPECT_FALSE(
      alerts::matches(s, {alerts::topic_id::attributed_discharge, "grp-2", "Patient/p", ""}));
  EXPECT_FALSE(alerts::matches(s, {alerts::topic_id::attributed_discharge, "", "Patient/p", ""}));
  const auto ownerless = owned("", alerts::topic_id::attributed_discharge);
  EXPECT_FALSE(
      alerts::matches(ownerless, {alerts::topic_id::attributed_discharge, "", "Patient/p", ""}));
}

TEST(AlertsFilters, TopicMustAgree) {
  const auto s = owned("grp-1", alerts::topic_id::readmission_risk);
  EXPECT_FALSE(
      alerts::matches(s, {alerts::topic_id::attributed_discharge, "grp-1", "Patient/p", "high"}));
  EXPECT_TRUE(
      alerts::matches(s, {alerts::topic_id::readmission_risk, "grp-1", "Patient/p", "high"}));
}

TEST(AlertsFilters, PatientIsEqual) {
  const auto s = owned("g", alerts::topic_id::readmission_risk, {{"patient", "Patient/p-1"}});
  EXPECT_TRUE(alerts::matches(s, {alerts::topic_id::readmission_risk, "g", "Patient/p-1", "low"}));
  EXPECT_FALSE(
      alerts::matches(s, {alerts::topic_id::readmission_risk, "g", "Patient/p-10", "low"}));
  EXPECT_FALSE(alerts::matches(s, {alerts::topic_id::readmission_risk, "g", "", "low"}));
}

TEST(AlertsFilters, RiskIsAtOrAbove) {
  const auto s = owned("g", alerts::topic_id::readmission_risk, {{"risk", "moderate"}});
  auto at = [&](std::string band) {
    return alerts::matches(s, {alerts::topic_id::readmission_risk, "g", "Patient/p", band});
  };
  EXPECT_FALSE(at("low"));
  EXPECT_TRUE(at("moderate"));
  EXPECT_TRUE(at("high"));
  EXPECT_FALSE(at(""));
  EXPECT_FALSE(at("certain"));
}

TEST(AlertsFilters, FiltersAreAnded) {
  const auto s = owned("g", alerts::topic_id::readmission_risk,
                       {{"patient", "Patient/p-1"}, {"risk", "high"}});
  EXPECT_TRUE(alerts::matches(s, {alerts::topic_id::readmission_risk, "g", "Patient/p-1", "high"}));
  EXPECT_FALSE(
      alerts::matches(s, {alerts::topic_id::readmission_risk, "g", "Patient/p-1", "moderate"}));
  EXPECT_FALSE(
      alerts::matches(s, {alerts::topic_id::readmission_risk, "g", "Patient/p-2", "high"}));
  // A filter the topic does not define never matches (it cannot come from parse_subscription).
  const auto odd = owned("g", alerts::topic_id::attributed_discharge, {{"risk", "low"}});
  EXPECT_FALSE(
      alerts::matches(odd, {alerts::topic_id::attributed_discharge, "g", "Patient/p", "high"}));
}

TEST(AlertsFilters, EncounterEventIsEqual) {
  const auto s = owned("g", alerts::topic_id::attributed_admission, {{"event", "ed-visit"}});
  auto of = [&](std::string event) {
    return alerts::matches(s,
                           {alerts::topic_id::attributed_admission, "g", "Patient/p", "", event});
  };
  EXPECT_TRUE(of("ed-visit"));
  EXPECT_FALSE(of("admission"));
  EXPECT_FALSE(of(""));
  // Without the filter, both kinds; never another topic's event.
  const auto all = owned("g", alerts::topic_id::attributed_admission, {{"patient", "Patient/p"}});
  EXPECT_TRUE(alerts::matches(
      all, {alerts::topic_id::attributed_admission, "g", "Patient/p", "", "admission"}));
  EXPECT_TRUE(alerts::matches(
      all, {alerts::topic_id::attributed_admission, "g", "Patient/p", "", "ed-visit"}));
  EXPECT_FALSE(alerts::matches(
      all, {alerts::topic_id::attributed_admission, "g", "Patient/q", "", "ed-visit"}));
  EXPECT_FALSE(
      alerts::matches(all, {alerts::topic_id::attributed_discharge, "g", "Patient/p", "", ""}));
}

TEST(AlertsFilters, EncounterEventOfAnAlertKind) {
  EXPECT_EQ(alerts::encounter_event_of("admission"), "admission");
  EXPECT_EQ(alerts::encounter_event_of("ed_visit"), "ed-visit");
  EXPECT_EQ(alerts::encounter_event_of("discharge"), "");
  EXPECT_EQ(alerts::encounter_event_of("registration"), "");
  EXPECT_EQ(alerts::encounter_event_of(""), "");
}

TEST(AlertsFilters, ParsedSubscriptionMatches) {
  auto s = alerts::parse_subscription(full_example()).value();
  s.owner_group = "grp-7";
  EXPECT_TRUE(
      alerts::matches(s, {alerts::topic_id::readmission_risk, "grp-7", "Patient/p-123", "high"}));
  EXPECT_FALSE(alerts::matches(
      s, {alerts::topic_id::readmission_risk, "grp-7", "Patient/p-123", "moderate"}));
}

TEST(AlertsFilters, FactsOfACareOutcome) {
  carebridge::gateway::care::care_outcome o;
  o.event_kind = "discharge";
  o.patient_id = "p-9";
  o.attribution = "attributed";
  o.group_id = "grp-1";
  o.risk_assessment_id = "ra-1";
  o.risk_band = "high";
  o.alert_kind = "discharge";
  o.alert_wanted = true;
  auto f = alerts::facts_of(o);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].topic, alerts::topic_id::attributed_discharge);
  EXPECT_EQ(f[0].group_id, "grp-1");
  EXPECT_EQ(f[0].patient_reference, "Patient/p-9");
  EXPECT_EQ(f[1].topic, alerts::topic_id::readmission_risk);
  EXPECT_EQ(f[1].risk_band, "high");

  o.alert_wanted = false;  // below the group's threshold: the discharge still counts
  o.alert_reason = "below_threshold";
  f = alerts::facts_of(o);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].topic, alerts::topic_id::attributed_discharge);

  o.attribution = "unattributed";
  o.group_id.clear();
  EXPECT_TRUE(alerts::facts_of(o).empty());
  o.attribution = "attributed";
  o.group_id = "grp-1";
  o.event_kind = "admission";
  o.risk_assessment_id.clear();
  o.risk_band.clear();
  o.alert_kind = "admission";
  o.alert_wanted = false;  // the group does not ask for admissions
  o.alert_reason = "event_not_wanted";
  EXPECT_TRUE(alerts::facts_of(o).empty());

  o.alert_wanted = true;
  o.alert_reason.clear();
  f = alerts::facts_of(o);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].topic, alerts::topic_id::attributed_admission);
  EXPECT_EQ(f[0].group_id, "grp-1");
  EXPECT_EQ(f[0].patient_reference, "Patient/p-9");
  EXPECT_EQ(f[0].encounter_event, "admission");

  o.event_kind = "registration";  // an A04 of an emergency visit
  o.alert_kind = "ed_visit";
  f = alerts::facts_of(o);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].topic, alerts::topic_id::attributed_admission);
  EXPECT_EQ(f[0].encounter_event, "ed-visit");

  o.alert_kind.clear();  // another registration: no alert kind
  o.alert_wanted = false;
  EXPECT_TRUE(alerts::facts_of(o).empty());
}

}  // namespace
