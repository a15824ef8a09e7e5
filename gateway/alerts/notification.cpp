#include "gateway/alerts/notification.hpp"

#include "mappings/fhir/fhir_ingest.hpp"
#include "mappings/fhir/fhir_json.hpp"
#include "mappings/fhir/ids.hpp"

#include <rapidjson/document.h>

#include <charconv>
#include <unordered_set>

namespace carebridge::gateway::alerts {

namespace {

using mappings::fhir::json_out;
using result = boost::system::result<std::string>;

constexpr std::string_view profile_status_r4 =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
    "backport-subscription-status-r4";
constexpr std::string_view profile_notification_r4 =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
    "backport-subscription-notification-r4";
constexpr std::string_view subscription_error_system =
    "http://terminology.hl7.org/CodeSystem/subscription-error";
constexpr std::string_view davinci_bundle_profile =
    "http://hl7.org/fhir/us/davinci-alerts/StructureDefinition/notifications-bundle";
constexpr std::string_view davinci_event_system =
    "http://hl7.org/fhir/us/davinci-alerts/CodeSystem/notification-event";

// What a Da Vinci message of each event says: the use-case MessageHeader profile, the event code
// with its display (CodeSystem notification-event), and the name its derived ids are keyed on.
struct davinci_event_text {
  std::string_view header_profile, code, display, id_key;
};
davinci_event_text davinci_text(message_event e) noexcept {
  switch (e) {
    case message_event::admit:
      return {
          "http://hl7.org/fhir/us/davinci-alerts/StructureDefinition/"
          "admit-notification-messageheader",
          "notification-admit", "Admit Notification", "davinci-admit"};
    case message_event::discharge:
      return {
          "http://hl7.org/fhir/us/davinci-alerts/StructureDefinition/"
          "discharge-notification-messageheader",
          "notification-discharge", "Discharge Notification", "davinci-discharge"};
  }
  return davinci_text(message_event::discharge);
}

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "carebridge.notification"; }
  std::string message(int ev) const override {
    switch (static_cast<notification_errc>(ev)) {
      case notification_errc::no_events:
        return "an event-notification needs at least one event";
      case notification_errc::too_many_events:
        return "more events than the subscription's maxCount";
      case notification_errc::events_not_allowed:
        return "a handshake or heartbeat has no events";
      case notification_errc::wrong_builder:
        return "query-status Bundles come from status_bundle";
      case notification_errc::bad_reference:
        return "a reference is not Type/id";
      case notification_errc::bad_timestamp:
        return "a timestamp is not an instant with a zone";
      case notification_errc::bad_resource:
        return "a resource's JSON is not an object of the referenced type and id";
      case notification_errc::bad_base_url:
        return "the base URL is not an absolute http(s) URL";
      case notification_errc::bad_subscription_id:
        return "the subscription id is not a FHIR id";
      case notification_errc::no_encounter:
        return "a Da Vinci message needs the Encounter's JSON";
    }
    return "notification error";
  }
};

boost::system::error_code err(notification_errc e) {
  return make_error_code(e);
}

std::string number_text(std::uint64_t n) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  return {buf, static_cast<std::size_t>(r.ptr - buf)};
}

int content_rank(payload_content c) {
  return static_cast<int>(c);
}

// "Type/id" → its two parts, or nullopt.
std::optional<std::pair<std::string_view, std::string_view>> split_reference(std::string_view r) {
  const auto slash = r.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  const std::string_view type = r.substr(0, slash), id = r.substr(slash + 1);
  if (type.front() < 'A' || type.front() > 'Z') return std::nullopt;
  for (const char c : type)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return std::nullopt;
  if (!mappings::fhir::valid_id(id)) return std::nullopt;
  return std::pair{type, id};
}

// The JSON text is an object whose resourceType and id are the reference's.
bool resource_agrees(std::string_view json, std::string_view reference) {
  const auto parts = split_reference(reference);
  if (!parts) return false;
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(json.data(),
                                                                                  json.size());
  if (d.HasParseError() || !d.IsObject()) return false;
  const auto rt = d.FindMember("resourceType");
  const auto id = d.FindMember("id");
  return rt != d.MemberEnd() && rt->value.IsString() && id != d.MemberEnd() &&
         id->value.IsString() &&
         std::string_view(rt->value.GetString(), rt->value.GetStringLength()) == parts->first &&
         std::string_view(id->value.GetString(), id->value.GetStringLength()) == parts->second;
}

bool valid_base(std::string_view b) {
  if (!(b.starts_with("https://") || b.starts_with("http://"))) return false;
  if (b.find_first_of("?# \t\r\n") != std::string_view::npos) return false;
  return b.find("://") + 3 < b.size();
}

std::string_view trimmed_base(std::string_view b) {
  while (b.ends_with('/')) b.remove_suffix(1);
  return b;
}

boost::system::error_code check_resource(const event_resource& r) {
  if (!split_reference(r.reference)) return err(notification_errc::bad_reference);
  if (!r.json.empty() && !resource_agrees(r.json, r.reference))
    return err(notification_errc::bad_resource);
  return {};
}

// The status Parameters of one subscription.
void write_status(json_out& j, std::string_view id, notification_type type,
                  const subscription_request& s, const subscription_state& st,
                  std::span<const notification_event> events, payload_content content,
                  std::string_view base) {
  j.begin_object();
  j.field("resourceType", "Parameters");
  j.field("id", id);
  j.begin_object("meta");
  j.begin_array("profile");
  j.str(profile_status_r4);
  j.end_array();
  j.end_object();
  j.begin_array("parameter");
  j.begin_object();
  j.field("name", "subscription");
  j.begin_object("valueReference");
  j.key("reference");
  j.str(std::string(base) + "/Subscription/" + std::string(st.id));
  j.end_object();
  j.end_object();
  // The IG: SHOULD NOT for empty (it tells what the events are about), MAY/SHOULD otherwise.
  if (content != payload_content::empty) {
    j.begin_object();
    j.field("name", "topic");
    j.field("valueCanonical", topic_of(s.topic).url);
    j.end_object();
  }
  j.begin_object();
  j.field("name", "status");
  j.field("valueCode", to_string(st.status));
  j.end_object();
  j.begin_object();
  j.field("name", "type");
  j.field("valueCode", to_string(type));
  j.end_object();
  j.begin_object();
  j.field("name", "events-since-subscription-start");
  j.field("valueString", number_text(st.events_since_start));
  j.end_object();
  for (const notification_event& e : events) {
    j.begin_object();
    j.field("name", "notification-event");
    j.begin_array("part");
    j.begin_object();
    j.field("name", "event-number");
    j.field("valueString", number_text(e.number));
    j.end_object();
    j.begin_object();
    j.field("name", "timestamp");
    j.field("valueInstant", e.timestamp);
    j.end_object();
    if (content != payload_content::empty) {
      auto ref = [&](std::string_view name, const event_resource& r) {
        j.begin_object();
        j.field("name", name);
        j.begin_object("valueReference");
        j.field2("reference", std::string(base) + "/", r.reference);
        j.end_object();
        j.end_object();
      };
      ref("focus", e.focus);
      for (const event_resource& c : e.context) ref("additional-context", c);
    }
    j.end_array();
    j.end_object();
  }
  for (const std::string_view code : st.error_codes) {
    j.begin_object();
    j.field("name", "error");
    j.begin_object("valueCodeableConcept");
    j.begin_array("coding");
    j.begin_object();
    j.field("system", subscription_error_system);
    j.field("code", code);
    j.end_object();
    j.end_array();
    j.end_object();
    j.end_object();
  }
  j.end_array();
  j.end_object();
}

void write_request(json_out& j, std::string_view method, std::string_view url,
                   std::string_view status) {
  j.begin_object("request");
  j.field("method", method);
  j.field("url", url);
  j.end_object();
  j.begin_object("response");
  j.field("status", status);
  j.end_object();
}

// An entry for a resource of an event: what happened to it and, when given, the resource.
void write_resource_entry(json_out& j, const event_resource& r, std::string_view base,
                          bool with_resource) {
  const std::string_view ref = r.reference;
  const std::string_view type = ref.substr(0, ref.find('/'));
  j.begin_object();
  j.field2("fullUrl", std::string(base) + "/", r.reference);
  if (with_resource && !r.json.empty()) {
    j.key("resource");
    j.raw(r.json);
  }
  if (r.method == "POST")
    write_request(j, "POST", type, "201");
  else if (r.method == "PUT")
    write_request(j, "PUT", r.reference, "200");
  else
    write_request(j, "GET", r.reference, "200");
  j.end_object();
}

}  // namespace

std::string_view to_string(notification_type t) noexcept {
  switch (t) {
    case notification_type::handshake:
      return "handshake";
    case notification_type::heartbeat:
      return "heartbeat";
    case notification_type::event_notification:
      return "event-notification";
    case notification_type::query_status:
      return "query-status";
    case notification_type::query_event:
      return "query-event";
  }
  return "event-notification";
}

const boost::system::error_category& notification_category() noexcept {
  static const category instance;
  return instance;
}

result notification_bundle(notification_type type, const subscription_request& s,
                           const subscription_state& state,
                           std::span<const notification_event> events,
                           const notification_context& cx,
                           std::optional<payload_content> content_hint) {
  switch (type) {
    case notification_type::query_status:
      return err(notification_errc::wrong_builder);
    case notification_type::handshake:
    case notification_type::heartbeat:
      if (!events.empty()) return err(notification_errc::events_not_allowed);
      break;
    case notification_type::event_notification:
      if (events.empty()) return err(notification_errc::no_events);
      if (events.size() > s.max_count) return err(notification_errc::too_many_events);
      break;
    case notification_type::query_event:
      break;
  }
  if (!mappings::fhir::valid_id(state.id)) return err(notification_errc::bad_subscription_id);
  if (!valid_base(cx.base_url)) return err(notification_errc::bad_base_url);
  if (!instant_seconds(cx.timestamp)) return err(notification_errc::bad_timestamp);
  payload_content content = s.content;
  if (type == notification_type::query_event && content_hint &&
      content_rank(*content_hint) < content_rank(content))
    content = *content_hint;
  for (const notification_event& e : events) {
    if (!instant_seconds(e.timestamp)) return err(notification_errc::bad_timestamp);
    if (auto ec = check_resource(e.focus)) return ec;
    for (const event_resource& c : e.context)
      if (auto ec = check_resource(c)) return ec;
  }

  const std::string_view base = trimmed_base(cx.base_url);
  const std::string first = events.empty() ? "" : number_text(events.front().number);
  const std::string last = events.empty() ? "" : number_text(events.back().number);
  const std::string since = number_text(state.events_since_start);
  // What tells one notification of a subscription from another (a resend of the same events at
  // the same time is the same notification, and gets the same ids).
  const std::initializer_list<std::string_view> key{
      state.id, to_string(type), to_string(content), to_string(state.status), since, first,
      last,     cx.timestamp};
  const std::string status_id = mappings::fhir::derived_id("Parameters", key);
  const std::string bundle_id = mappings::fhir::derived_id("Bundle", key);

  json_out j(4096 + events.size() * 1024);
  j.begin_object();
  j.field("resourceType", "Bundle");
  j.field("id", bundle_id);
  j.begin_object("meta");
  j.begin_array("profile");
  j.str(profile_notification_r4);
  j.end_array();
  j.end_object();
  j.field("type", "history");
  j.field("timestamp", cx.timestamp);
  j.begin_array("entry");
  j.begin_object();
  j.field2("fullUrl", "urn:uuid:", status_id);
  j.key("resource");
  write_status(j, status_id, type, s, state, events, content, base);
  // The IG: entry[0].request mimics the $status call that would return this status.
  write_request(j, "GET", std::string(base) + "/Subscription/" + std::string(state.id) + "/$status",
                "200");
  j.end_object();
  if (content != payload_content::empty) {
    // One entry per resource, however many events name it (fullUrl must be unique, bdl-7).
    std::unordered_set<std::string_view> seen;
    const bool full = content == payload_content::full_resource;
    for (const notification_event& e : events) {
      if (seen.insert(e.focus.reference).second) write_resource_entry(j, e.focus, base, full);
      for (const event_resource& c : e.context)
        if (seen.insert(c.reference).second) write_resource_entry(j, c, base, full);
    }
  }
  j.end_array();
  j.end_object();
  return j.take();
}

result status_bundle(std::span<const status_item> items, const notification_context& cx) {
  if (!valid_base(cx.base_url)) return err(notification_errc::bad_base_url);
  if (!instant_seconds(cx.timestamp)) return err(notification_errc::bad_timestamp);
  for (const status_item& i : items)
    if (i.request == nullptr || !mappings::fhir::valid_id(i.state.id))
      return err(notification_errc::bad_subscription_id);
  const std::string_view base = trimmed_base(cx.base_url);
  std::string key;
  for (const status_item& i : items) {
    key += i.state.id;
    key += ' ';
    key += number_text(i.state.events_since_start);
    key += ' ';
  }
  json_out j(1024 + items.size() * 1024);
  j.begin_object();
  j.field("resourceType", "Bundle");
  j.field("id", mappings::fhir::derived_id("Bundle", {"query-status", key, cx.timestamp}));
  j.field("type", "searchset");
  j.field("timestamp", cx.timestamp);
  j.integer("total", static_cast<long long>(items.size()));
  if (!items.empty()) {
    j.begin_array("entry");
    for (const status_item& i : items) {
      const std::string id = mappings::fhir::derived_id(
          "Parameters",
          {i.state.id, "query-status", number_text(i.state.events_since_start), cx.timestamp});
      j.begin_object();
      j.field2("fullUrl", "urn:uuid:", id);
      j.key("resource");
      write_status(j, id, notification_type::query_status, *i.request, i.state, {},
                   i.request->content, base);
      j.begin_object("search");
      j.field("mode", "match");
      j.end_object();
      j.end_object();
    }
    j.end_array();
  }
  j.end_object();
  return j.take();
}

result davinci_message_bundle(const davinci_message& m, const notification_context& cx) {
  if (!valid_base(cx.base_url)) return err(notification_errc::bad_base_url);
  if (!valid_base(m.destination_endpoint)) return err(notification_errc::bad_base_url);
  if (!instant_seconds(cx.timestamp)) return err(notification_errc::bad_timestamp);
  if (m.encounter.json.empty()) return err(notification_errc::no_encounter);
  const auto enc = split_reference(m.encounter.reference);
  if (!enc || enc->first != "Encounter") return err(notification_errc::bad_reference);
  if (auto ec = check_resource(m.encounter)) return ec;
  for (const event_resource& r : m.resources) {
    // Da Vinci references are "bundled": a resource without its JSON cannot be sent.
    if (r.json.empty()) return err(notification_errc::bad_resource);
    if (auto ec = check_resource(r)) return ec;
  }
  const davinci_event_text event = davinci_text(m.event);
  const std::string_view base = trimmed_base(cx.base_url);
  const std::string bundle_id =
      mappings::fhir::derived_id("Bundle", {event.id_key, m.key, cx.timestamp});
  const std::string header_id =
      mappings::fhir::derived_id("MessageHeader", {event.id_key, m.key, cx.timestamp});
  const std::string focus = std::string(base) + "/" + m.encounter.reference;

  json_out j(4096 + m.encounter.json.size() + m.resources.size() * 2048);
  j.begin_object();
  j.field("resourceType", "Bundle");
  j.field("id", bundle_id);
  j.begin_object("meta");
  j.begin_array("profile");
  j.str(davinci_bundle_profile);
  j.end_array();
  j.end_object();
  j.begin_object("identifier");
  j.field("system", "urn:ietf:rfc:3986");
  j.field2("value", "urn:uuid:", bundle_id);
  j.end_object();
  j.field("type", "message");
  j.field("timestamp", cx.timestamp);
  j.begin_array("entry");

  j.begin_object();
  j.field2("fullUrl", "urn:uuid:", header_id);
  j.begin_object("resource");
  j.field("resourceType", "MessageHeader");
  j.field("id", header_id);
  j.begin_object("meta");
  j.begin_array("profile");
  j.str(event.header_profile);
  j.end_array();
  j.end_object();
  j.begin_object("eventCoding");
  j.field("system", davinci_event_system);
  j.field("code", event.code);
  j.field("display", event.display);
  j.end_object();
  j.begin_array("destination");
  j.begin_object();
  j.field("endpoint", trimmed_base(m.destination_endpoint));
  j.end_object();
  j.end_array();
  j.begin_object("source");
  j.field("name", m.source_name);
  j.field("endpoint", base);
  j.end_object();
  j.begin_array("focus");
  j.begin_object();
  j.field("reference", focus);
  j.end_object();
  j.end_array();
  j.end_object();  // resource
  j.end_object();  // entry

  std::unordered_set<std::string_view> seen{m.encounter.reference};
  auto entry = [&](const event_resource& r) {
    j.begin_object();
    j.field2("fullUrl", std::string(base) + "/", r.reference);
    j.key("resource");
    j.raw(r.json);
    j.end_object();
  };
  entry(m.encounter);
  for (const event_resource& r : m.resources)
    if (seen.insert(r.reference).second) entry(r);
  j.end_array();
  j.end_object();
  return j.take();
}

}  // namespace carebridge::gateway::alerts
