#include "mappings/fhir/fhir_ingest.hpp"

#include "mappings/fhir/datetime_text.hpp"
#include "mappings/fhir/fhir_json.hpp"
#include "mappings/fhir/ids.hpp"
#include "mappings/fhir/json_read.hpp"
#include "mappings/fhir/resource_ids.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <set>
#include <stdexcept>

namespace carebridge::mappings::fhir {

namespace {

using value = rapidjson::Value;
using document = rapidjson::Document;
using event::event_kind;

constexpr std::string_view davinci_events =
    "http://hl7.org/fhir/us/davinci-alerts/CodeSystem/notification-event";
constexpr std::string_view v2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203";
constexpr std::string_view v2_0004 = "http://terminology.hl7.org/CodeSystem/v2-0004";
constexpr std::string_view v2_0007 = "http://terminology.hl7.org/CodeSystem/v2-0007";
constexpr std::string_view icd10cm = "http://hl7.org/fhir/sid/icd-10-cm";
constexpr std::string_view nubc = "https://www.nubc.org/CodeSystem/PatDischargeStatus";
constexpr std::string_view loinc = "http://loinc.org";
constexpr std::string_view us_mbi = "http://hl7.org/fhir/sid/us-mbi";
constexpr std::string_view us_npi = "http://hl7.org/fhir/sid/us-npi";
constexpr std::size_t max_depth = 64;

constexpr std::array<std::string_view, 9> kept_types = {
    "Patient",     "Encounter",    "Condition", "Coverage",    "Procedure",
    "Observation", "Organization", "Location",  "Practitioner"};

bool kept_type(std::string_view t) {
  return std::find(kept_types.begin(), kept_types.end(), t) != kept_types.end();
}

std::string_view sv(const value& v) {
  return {v.GetString(), v.GetStringLength()};
}

value* member(value& o, std::string_view k) {
  if (!o.IsObject()) return nullptr;
  auto it = o.FindMember(
      value(rapidjson::StringRef(k.data(), static_cast<rapidjson::SizeType>(k.size()))));
  return it == o.MemberEnd() ? nullptr : &it->value;
}
const value* member(const value& o, std::string_view k) {
  return member(const_cast<value&>(o), k);
}
std::string text(const value& o, std::string_view k) {
  const value* m = member(o, k);
  return m != nullptr && m->IsString() ? std::string(sv(*m)) : std::string();
}
const value* object(const value& o, std::string_view k) {
  const value* m = member(o, k);
  return m != nullptr && m->IsObject() ? m : nullptr;
}
/// The elements of an array member (empty when absent or not an array).
template <typename F>
void each(const value& o, std::string_view k, F&& f) {
  const value* m = member(o, k);
  if (m == nullptr || !m->IsArray()) return;
  std::size_t i = 0;
  for (const value& v : m->GetArray()) f(v, i++);
}
const value* first(const value& o, std::string_view k) {
  const value* m = member(o, k);
  if (m == nullptr || !m->IsArray() || m->Empty()) return nullptr;
  return &(*m)[0];
}

/// A Coding {system, code, display} of a Coding object.
coding coding_of(const value& c) {
  return {text(c, "system"), text(c, "code"), text(c, "display")};
}

/// The codings of a CodeableConcept, in order.
std::vector<coding> codings_of(const value* cc) {
  std::vector<coding> out;
  if (cc == nullptr) return out;
  each(*cc, "coding", [&](const value& c, std::size_t) {
    if (c.IsObject()) out.push_back(coding_of(c));
  });
  return out;
}

/// The clinical event's code of a CodeableConcept: the coding of `prefer_system` if any, else the
/// first; display from the coding, else the text (as v2_to_fhir's to_event_code).
event::coded event_code(const value* cc, std::string_view prefer_system = {}) {
  event::coded out;
  if (cc == nullptr) return out;
  const std::vector<coding> cs = codings_of(cc);
  const std::string t = text(*cc, "text");
  if (cs.empty()) {
    out.display = t;
    return out;
  }
  std::size_t pick = 0;
  for (std::size_t i = 0; i < cs.size() && !prefer_system.empty(); ++i)
    if (cs[i].system == prefer_system) {
      pick = i;
      break;
    }
  out.system = cs[pick].system;
  out.code = cs[pick].code;
  out.display = cs[pick].display.empty() ? t : cs[pick].display;
  return out;
}

/// The first code of a CodeableConcept (its key part), or its text.
std::pair<std::string, std::string> key_code(const value* cc) {
  if (cc == nullptr) return {};
  const std::vector<coding> cs = codings_of(cc);
  if (!cs.empty() && !cs[0].code.empty()) return {cs[0].system, cs[0].code};
  return {{}, text(*cc, "text")};
}

/// The v2-0203 (else any) type code of an Identifier.
std::string identifier_type(const value& id) {
  const std::vector<coding> cs = codings_of(object(id, "type"));
  for (const coding& c : cs)
    if (c.system == v2_0203) return c.code;
  return cs.empty() ? std::string() : cs[0].code;
}

/// The identifier an id is keyed on: the first of type `prefer_type`, else the first with a value.
const value* key_identifier(const value& r, std::string_view prefer_type,
                            std::string_view prefer_system = {}) {
  const value* found = nullptr;
  const value* preferred = nullptr;
  each(r, "identifier", [&](const value& id, std::size_t) {
    if (!id.IsObject() || text(id, "value").empty()) return;
    if (found == nullptr) found = &id;
    if (preferred == nullptr && ((!prefer_type.empty() && identifier_type(id) == prefer_type) ||
                                 (!prefer_system.empty() && text(id, "system") == prefer_system)))
      preferred = &id;
  });
  return preferred != nullptr ? preferred : found;
}

std::string assigner_display(const value& identifier) {
  const value* a = object(identifier, "assigner");
  return a != nullptr ? text(*a, "display") : std::string();
}

/// FHIR R4 dateTime (or instant with `instant`): a time needs a zone; an instant needs a time.
bool valid_datetime(std::string_view s, bool instant = false) {
  const auto t = read_datetime_text(s);
  if (!t) return false;
  if (instant && !t->has_time) return false;
  return !t->has_time || t->has_zone;
}

fhir_input_error refuse(unsigned status, std::string code, std::string diagnostics,
                        std::string expression = {}) {
  return {status, std::move(code), std::move(diagnostics), std::move(expression)};
}

std::string serialize(const value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// ---- the conversion ----------------------------------------------------------------------------

/// One resource of the request: a Bundle entry's resource, the Encounter of the Encounter routes,
/// or a contained resource promoted to a resource of its own.
struct item {
  value* res = nullptr;
  std::string type;
  std::string source_id;  // the id the sender gave it
  std::string full_url;
  std::string path;       // FHIRPath of the resource, for error texts
  int bundle_index = -1;  // its Bundle.entry, -1 when promoted or stand-alone
  int container = -1;     // promoted: the item whose `contained` it came from
  bool kept = false;
  bool duplicate = false;     // same derived id as an earlier item: the earlier one is stored
  std::string id;             // derived
  std::string patient_ref;    // Condition, Procedure, Observation, Coverage: the Patient's id
  std::string encounter_ref;  // Condition, Procedure, Observation: the Encounter's id
};

/// What a Reference.reference points at.
struct target {
  enum class kind : std::uint8_t { entry, local, none } what = kind::none;
  std::size_t index = 0;  // entry: the item
};

/// A path from a resource down to an element, rendered only for error texts.
class path_stack {
 public:
  void push(std::string_view name) { parts_.push_back({std::string(name), -1}); }
  void push_index(std::size_t i) { parts_.push_back({{}, static_cast<long>(i)}); }
  void pop() { parts_.pop_back(); }
  std::string render(const std::string& base) const {
    std::string out = base;
    for (const auto& [name, index] : parts_) {
      if (index >= 0) {
        out.append("[").append(std::to_string(index)).append("]");
      } else {
        out.append(".").append(name);
      }
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, long>> parts_;
};

class converter {
 public:
  converter(document& doc, std::string_view json, fhir_route route, const fhir_input_options& o)
      : doc_(doc), json_(json), route_(route), o_(o) {}

  boost::system::result<fhir_conversion, fhir_input_error> run();

 private:
  using error = std::optional<fhir_input_error>;

  error collect();
  error collect_bundle(bool message);
  error add_item(value& res, std::string path, int bundle_index, std::string full_url,
                 std::string url_id);
  void promote_contained(std::size_t container);
  error check_resources();
  error check_references();
  error check_reference_tree(std::size_t from, value& v, path_stack& path);
  target resolve(std::string_view ref, std::size_t from) const;
  std::size_t top_of(std::size_t i) const {
    return items_[i].container >= 0 ? static_cast<std::size_t>(items_[i].container) : i;
  }
  error derive_ids();
  std::string id_of(const value* ref, std::size_t from, std::string_view type) const;
  std::string logical_id(const value& identifier, std::string_view type) const;
  std::string source_key(const item& it) const;
  void rewrite(std::size_t i);
  void rewrite_tree(std::size_t from, value& v, std::size_t depth);
  std::string output_json(std::size_t i);
  error make_events(fhir_conversion& out);
  event::clinical_event encounter_event(std::size_t enc, event_kind kind, std::string trigger);
  void fill_patient(event::clinical_event& ev, const value* subject, std::size_t from);
  void fill_from_patient(event::clinical_event& ev, std::size_t patient);
  void note(std::string n) {
    if (notes_seen_.insert(n).second) notes_.push_back(std::move(n));
  }
  std::string assigner(std::string_view system, std::string_view type) const {
    return ids::assigner_for(o_.sender, o_.facility, system, type);
  }
  const code_tables& tables() const {
    return o_.sender != nullptr && o_.sender->has_tables ? o_.sender->tables
                                                         : code_tables::builtin();
  }

  document& doc_;
  std::string_view json_;
  fhir_route route_;
  const fhir_input_options& o_;
  std::string bundle_type_;
  std::vector<item> items_;
  std::deque<value> promoted_;  // stable addresses for promoted contained resources
  std::map<std::string, std::size_t, std::less<>> by_full_url_;
  std::map<std::string, std::size_t, std::less<>> by_type_id_;
  // Per container item: contained id → promoted item (npos: left contained).
  std::map<std::size_t, std::map<std::string, std::size_t, std::less<>>> contained_;
  std::size_t header_ = static_cast<std::size_t>(-1);  // the MessageHeader item
  std::size_t focus_ = static_cast<std::size_t>(-1);   // the message's focus Encounter
  std::string focus_event_;                            // notification-admit…
  std::vector<std::string> notes_;
  std::set<std::string> notes_seen_;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
};

boost::system::result<fhir_conversion, fhir_input_error> converter::run() {
  if (error e = collect()) return *e;
  for (std::size_t i = 0; i < items_.size(); ++i)
    if (items_[i].kept && items_[i].container < 0) promote_contained(i);
  if (error e = check_resources()) return *e;
  if (error e = check_references()) return *e;
  if (error e = derive_ids()) return *e;

  fhir_conversion out;
  out.bundle_type = bundle_type_;
  if (error e = make_events(out)) return *e;
  for (std::size_t i = 0; i < items_.size(); ++i) {
    if (!items_[i].kept || items_[i].duplicate) continue;
    rewrite(i);
  }
  for (std::size_t i = 0; i < items_.size(); ++i) {
    const item& it = items_[i];
    if (it.bundle_index >= 0 ||
        (route_ != fhir_route::bundle && route_ != fhir_route::process_message && it.container < 0))
      out.entries.push_back({it.type, it.kept ? it.id : std::string()});
    if (!it.kept || it.duplicate) continue;
    out.resources.push_back({it.type, it.id, output_json(i)});
  }
  out.notes = std::move(notes_);
  return out;
}

// ---- collecting the resources ------------------------------------------------------------------

converter::error converter::collect() {
  if (!doc_.IsObject()) return refuse(400, "structure", "the body is not a JSON object");
  const value* rt = member(doc_, "resourceType");
  if (rt == nullptr || !rt->IsString())
    return refuse(400, "structure", "the body is not a FHIR resource (no resourceType)",
                  "resourceType");
  const std::string_view type = sv(*rt);
  switch (route_) {
    case fhir_route::bundle:
    case fhir_route::process_message: {
      if (type != "Bundle")
        return refuse(400, "invalid", "the body must be a Bundle", "resourceType");
      const value* bt = member(doc_, "type");
      if (bt == nullptr) return refuse(422, "required", "Bundle.type is missing", "Bundle.type");
      if (!bt->IsString())
        return refuse(400, "structure", "Bundle.type must be a string", "Bundle.type");
      bundle_type_ = std::string(sv(*bt));
      const bool message = route_ == fhir_route::process_message;
      if (message && bundle_type_ != "message")
        return refuse(422, "invalid", "$process-message takes a Bundle of type message",
                      "Bundle.type");
      if (!message && bundle_type_ != "transaction" && bundle_type_ != "batch")
        return refuse(422, "not-supported",
                      "POST /fhir takes a Bundle of type transaction or batch", "Bundle.type");
      return collect_bundle(message);
    }
    case fhir_route::encounter_create:
    case fhir_route::encounter_update: {
      if (type != "Encounter")
        return refuse(400, "invalid", "the body must be an Encounter", "resourceType");
      const value* id = member(doc_, "id");
      if (id != nullptr && !id->IsString())
        return refuse(400, "structure", "Encounter.id must be a string", "Encounter.id");
      if (route_ == fhir_route::encounter_update) {
        if (id == nullptr)
          return refuse(400, "required", "Encounter.id is missing (update needs it)",
                        "Encounter.id");
        if (sv(*id) != o_.encounter_id)
          return refuse(400, "invalid", "Encounter.id does not match the id in the URL",
                        "Encounter.id");
      }
      return add_item(doc_, "Encounter", -1, {}, o_.encounter_id);
    }
  }
  return refuse(400, "invalid", "unknown route");
}

converter::error converter::collect_bundle(bool message) {
  value* entries = member(doc_, "entry");
  if (entries == nullptr) {
    if (message)
      return refuse(422, "required", "a message Bundle needs a MessageHeader entry",
                    "Bundle.entry");
    return std::nullopt;
  }
  if (!entries->IsArray())
    return refuse(400, "structure", "Bundle.entry must be an array", "Bundle.entry");
  if (entries->Size() > o_.max_entries)
    return refuse(422, "too-costly",
                  "the Bundle has more than " + std::to_string(o_.max_entries) + " entries",
                  "Bundle.entry");
  if (message && entries->Empty())
    return refuse(422, "required", "a message Bundle needs a MessageHeader entry", "Bundle.entry");
  for (rapidjson::SizeType i = 0; i < entries->Size(); ++i) {
    value& e = (*entries)[i];
    const std::string base = "Bundle.entry[" + std::to_string(i) + "]";
    if (!e.IsObject()) return refuse(400, "structure", "a Bundle entry must be an object", base);
    value* res = member(e, "resource");
    if (res == nullptr)
      return refuse(422, "required", "the entry has no resource", base + ".resource");
    if (!res->IsObject())
      return refuse(400, "structure", "entry.resource must be an object", base + ".resource");
    const value* rt = member(*res, "resourceType");
    if (rt == nullptr || !rt->IsString())
      return refuse(400, "structure", "the entry's resource has no resourceType",
                    base + ".resource.resourceType");
    const std::string_view type = sv(*rt);
    const value* fu = member(e, "fullUrl");
    if (fu != nullptr && !fu->IsString())
      return refuse(400, "structure", "entry.fullUrl must be a string", base + ".fullUrl");
    std::string url_id;
    if (!message) {
      const value* req = member(e, "request");
      if (req == nullptr)
        return refuse(422, "required", "a transaction or batch entry needs a request",
                      base + ".request");
      if (!req->IsObject())
        return refuse(400, "structure", "entry.request must be an object", base + ".request");
      const value* method = member(*req, "method");
      const value* url = member(*req, "url");
      if (method == nullptr || url == nullptr)
        return refuse(422, "required", "entry.request needs a method and a url", base + ".request");
      if (!method->IsString() || !url->IsString())
        return refuse(400, "structure", "entry.request.method and url must be strings",
                      base + ".request");
      const std::string_view m = sv(*method), u = sv(*url);
      if (m != "POST" && m != "PUT")
        return refuse(422, "not-supported", "only POST and PUT entries are accepted",
                      base + ".request.method");
      // The url names the resource's type: "Type", "Type/id" or "Type?search" (conditional).
      const std::string_view url_type = u.substr(0, u.find_first_of("/?"));
      if (url_type != type)
        return refuse(422, "invalid", "entry.request.url does not name the resource's type",
                      base + ".request.url");
      if (m == "PUT" && u.size() > type.size() && u[type.size()] == '/') {
        url_id = std::string(u.substr(type.size() + 1));
        if (!valid_id(url_id))
          return refuse(422, "invalid", "entry.request.url has an invalid id",
                        base + ".request.url");
      }
      if (u.find('?') != std::string_view::npos || member(*req, "ifNoneExist") != nullptr)
        note("conditional entries are upserted by derived id; the condition is not evaluated");
    }
    if (error err = add_item(*res, base + ".resource", static_cast<int>(i),
                             fu != nullptr ? std::string(sv(*fu)) : std::string(), url_id))
      return err;
  }
  if (!message) return std::nullopt;

  // Da Vinci: the first entry is the MessageHeader; its eventCoding says what happened and its
  // focus is the Encounter.
  const item& h = items_.front();
  if (h.type != "MessageHeader")
    return refuse(422, "invalid", "the first entry of a message Bundle must be a MessageHeader",
                  "Bundle.entry[0].resource");
  header_ = 0;
  const value& mh = *h.res;
  const value* ev = member(mh, "eventCoding");
  if (ev == nullptr) {
    if (member(mh, "eventUri") != nullptr)
      return refuse(422, "not-supported",
                    "MessageHeader.eventUri is not supported; use a Da Vinci eventCoding",
                    "Bundle.entry[0].resource.eventUri");
    return refuse(422, "required", "MessageHeader.eventCoding is missing",
                  "Bundle.entry[0].resource.eventCoding");
  }
  if (!ev->IsObject())
    return refuse(400, "structure", "MessageHeader.eventCoding must be a Coding",
                  "Bundle.entry[0].resource.eventCoding");
  const std::string system = text(*ev, "system"), code = text(*ev, "code");
  if (system != davinci_events ||
      (code != "notification-admit" && code != "notification-discharge" &&
       code != "notification-transfer"))
    return refuse(422, "not-supported",
                  "only the Da Vinci notification-admit, notification-discharge and "
                  "notification-transfer events are accepted",
                  "Bundle.entry[0].resource.eventCoding");
  focus_event_ = code;
  return std::nullopt;
}

converter::error converter::add_item(value& res, std::string path, int bundle_index,
                                     std::string full_url, std::string url_id) {
  item it;
  it.res = &res;
  it.type = std::string(sv(*member(res, "resourceType")));
  const value* id = member(res, "id");
  if (id != nullptr && !id->IsString())
    return refuse(400, "structure", "id must be a string", path + ".id");
  it.source_id = id != nullptr ? std::string(sv(*id)) : url_id;
  it.full_url = std::move(full_url);
  it.path = std::move(path);
  it.bundle_index = bundle_index;
  it.kept = kept_type(it.type);
  if (!it.kept && it.type != "MessageHeader")
    note("resources of a type the gateway does not keep were left out");
  const std::size_t index = items_.size();
  if (!it.full_url.empty() && !by_full_url_.emplace(it.full_url, index).second)
    return refuse(422, "invalid", "two entries have the same fullUrl", it.path);
  if (!it.source_id.empty()) by_type_id_.emplace(it.type + "/" + it.source_id, index);
  if (!url_id.empty() && url_id != it.source_id) by_type_id_.emplace(it.type + "/" + url_id, index);
  items_.push_back(std::move(it));
  return std::nullopt;
}

/// Contained resources of kept types become resources of their own (with derived ids); the others
/// stay contained. References to them ("#id") are rewritten with the rest.
void converter::promote_contained(std::size_t container) {
  value* contained = member(*items_[container].res, "contained");
  if (contained == nullptr || !contained->IsArray()) return;
  auto& local = contained_[container];
  const std::string base = items_[container].path + ".contained";
  bool any = false;
  for (rapidjson::SizeType i = 0; i < contained->Size(); ++i) {
    value& c = (*contained)[i];
    const value* rt = member(c, "resourceType");
    const value* id = member(c, "id");
    if (!c.IsObject() || rt == nullptr || !rt->IsString() || id == nullptr || !id->IsString())
      continue;
    const std::string cid(sv(*id));
    if (!kept_type(sv(*rt))) {
      local.emplace(cid, npos);
      continue;
    }
    promoted_.emplace_back(std::move(c));  // leaves null behind, removed below
    item it;
    it.res = &promoted_.back();
    it.type = std::string(sv(*rt));
    it.source_id = cid;
    it.path = base + "[" + std::to_string(i) + "]";
    it.container = static_cast<int>(container);
    it.kept = true;
    local.emplace(cid, items_.size());
    items_.push_back(std::move(it));
    any = true;
  }
  if (!any) return;
  for (value* v = contained->Begin(); v != contained->End();) {
    if (v->IsNull()) {
      v = contained->Erase(v);
    } else {
      ++v;
    }
  }
  if (contained->Empty()) items_[container].res->EraseMember("contained");
}

// ---- checks ------------------------------------------------------------------------------------

converter::error converter::check_resources() {
  static constexpr std::array<std::string_view, 9> statuses = {
      "planned",  "arrived",   "triaged",          "in-progress", "onleave",
      "finished", "cancelled", "entered-in-error", "unknown"};
  for (std::size_t i = 0; i < items_.size(); ++i) {
    const item& it = items_[i];
    if (!it.kept) continue;
    const value& r = *it.res;
    auto require = [&](std::string_view k, std::string_view what) -> error {
      const value* m = member(r, k);
      if (m == nullptr)
        return refuse(422, "required", std::string(what), it.path + "." + std::string(k));
      return std::nullopt;
    };
    auto object_or_absent = [&](std::string_view k) -> error {
      const value* m = member(r, k);
      if (m != nullptr && !m->IsObject())
        return refuse(400, "structure", it.type + "." + std::string(k) + " must be an object",
                      it.path + "." + std::string(k));
      return std::nullopt;
    };
    auto string_or_absent = [&](std::string_view k) -> error {
      const value* m = member(r, k);
      if (m != nullptr && !m->IsString())
        return refuse(400, "structure", it.type + "." + std::string(k) + " must be a string",
                      it.path + "." + std::string(k));
      return std::nullopt;
    };
    auto datetime_or_absent = [&](const value* owner, std::string_view k,
                                  std::string_view where) -> error {
      if (owner == nullptr) return std::nullopt;
      const value* m = member(*owner, k);
      if (m == nullptr) return std::nullopt;
      if (!m->IsString())
        return refuse(400, "structure", "a dateTime must be a string", std::string(where));
      if (!valid_datetime(sv(*m)))
        return refuse(422, "value", "not a valid FHIR dateTime (a time needs seconds and a zone)",
                      std::string(where));
      return std::nullopt;
    };
    for (std::string_view k :
         {"identifier", "contained", "diagnosis", "participant", "payor", "class"}) {
      const value* m = member(r, k);
      const bool array_expected = k != "class";
      if (m != nullptr && array_expected && !m->IsArray())
        return refuse(400, "structure", it.type + "." + std::string(k) + " must be an array",
                      it.path + "." + std::string(k));
    }
    if (error e = string_or_absent("status")) return e;
    if (it.type == "Patient") {
      bool any = false;
      each(r, "identifier", [&](const value& id, std::size_t) {
        any |= id.IsObject() && !text(id, "value").empty();
      });
      if (!any)
        return refuse(422, "required", "a Patient needs an identifier with a value",
                      it.path + ".identifier");
    } else if (it.type == "Encounter") {
      if (error e = require("status", "an Encounter needs a status")) return e;
      const std::string status = text(r, "status");
      if (std::find(statuses.begin(), statuses.end(), status) == statuses.end())
        return refuse(422, "code-invalid", "Encounter.status is not an encounter-status code",
                      it.path + ".status");
      if (error e = require("class", "an Encounter needs a class")) return e;
      if (!member(r, "class")->IsObject())
        return refuse(400, "structure", "Encounter.class must be a Coding", it.path + ".class");
      if (error e = require("subject", "an Encounter needs a subject")) return e;
      if (error e = object_or_absent("subject")) return e;
      if (error e = object_or_absent("period")) return e;
      if (error e = object_or_absent("hospitalization")) return e;
      if (error e = object_or_absent("length")) return e;
      const value* period = object(r, "period");
      if (error e = datetime_or_absent(period, "start", it.path + ".period.start")) return e;
      if (error e = datetime_or_absent(period, "end", it.path + ".period.end")) return e;
    } else if (it.type == "Condition" || it.type == "Procedure" || it.type == "Observation") {
      if (error e = require("subject", "a " + it.type + " needs a subject")) return e;
      if (error e = object_or_absent("subject")) return e;
      if (error e = object_or_absent("encounter")) return e;
      if (error e = object_or_absent("code")) return e;
      if (it.type != "Condition") {
        if (error e = require("status", "a " + it.type + " needs a status")) return e;
      }
      if (it.type == "Observation") {
        if (error e = require("code", "an Observation needs a code")) return e;
      }
      if (error e = datetime_or_absent(&r, "performedDateTime", it.path + ".performedDateTime"))
        return e;
      if (error e = datetime_or_absent(&r, "effectiveDateTime", it.path + ".effectiveDateTime"))
        return e;
    } else if (it.type == "Coverage") {
      if (error e = require("status", "a Coverage needs a status")) return e;
      if (error e = require("beneficiary", "a Coverage needs a beneficiary")) return e;
      if (error e = object_or_absent("beneficiary")) return e;
      if (error e = string_or_absent("subscriberId")) return e;
    }
  }
  if (route_ == fhir_route::bundle || route_ == fhir_route::process_message) {
    const value* ts = member(doc_, "timestamp");
    if (ts != nullptr && (!ts->IsString() || !valid_datetime(sv(*ts), true)))
      return refuse(422, "value", "Bundle.timestamp is not a valid instant", "Bundle.timestamp");
  }
  return std::nullopt;
}

target converter::resolve(std::string_view ref, std::size_t from) const {
  if (ref == "#") return {target::kind::entry, top_of(from)};  // a contained resource's container
  if (ref.starts_with('#')) {
    const std::size_t top = top_of(from);
    auto c = contained_.find(top);
    if (c == contained_.end()) return {};
    auto it = c->second.find(ref.substr(1));
    if (it == c->second.end()) return {};
    if (it->second == npos) {
      // Left contained in `top`: resolvable only from `top` itself, not from a promoted sibling.
      return items_[from].container < 0 ? target{target::kind::local, 0} : target{};
    }
    return {target::kind::entry, it->second};
  }
  if (auto it = by_full_url_.find(ref); it != by_full_url_.end())
    return {target::kind::entry, it->second};
  // Relative or absolute Type/id, maybe with /_history/n.
  std::string_view r = ref;
  if (const auto h = r.find("/_history/"); h != std::string_view::npos) r = r.substr(0, h);
  const auto slash = r.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return {};
  const auto type_start = r.rfind('/', slash - 1);
  const std::string_view type_id =
      type_start == std::string_view::npos ? r : r.substr(type_start + 1);
  if (auto it = by_type_id_.find(type_id); it != by_type_id_.end())
    return {target::kind::entry, it->second};
  return {};
}

converter::error converter::check_references() {
  for (std::size_t i = 0; i < items_.size(); ++i) {
    if (!items_[i].kept) continue;
    path_stack path;
    if (error e = check_reference_tree(i, *items_[i].res, path)) return e;
  }
  // A stand-alone Encounter must say who the patient is: by identifier or a contained Patient.
  if (route_ == fhir_route::encounter_create || route_ == fhir_route::encounter_update) {
    const value* subject = object(*items_[0].res, "subject");
    const value* ident = subject != nullptr ? object(*subject, "identifier") : nullptr;
    const std::string ref = subject != nullptr ? text(*subject, "reference") : std::string();
    const target t = ref.empty() ? target{} : resolve(ref, 0);
    const bool by_contained = t.what == target::kind::entry && items_[t.index].type == "Patient";
    const bool by_identifier = ident != nullptr && !text(*ident, "value").empty();
    if (!by_contained && !by_identifier)
      return refuse(422, "invalid",
                    "Encounter.subject must identify the patient by identifier (logical reference) "
                    "or reference a contained Patient",
                    "Encounter.subject");
  }
  if (route_ == fhir_route::process_message) {
    const value& mh = *items_[header_].res;
    each(mh, "focus", [&](const value& f, std::size_t) {
      if (focus_ != npos || !f.IsObject()) return;
      const std::string ref = text(f, "reference");
      const target t = resolve(ref, header_);
      if (t.what == target::kind::entry && items_[t.index].type == "Encounter") focus_ = t.index;
    });
    if (focus_ == npos)
      return refuse(422, "invalid", "MessageHeader.focus must reference an Encounter in the Bundle",
                    "Bundle.entry[0].resource.focus");
  }
  return std::nullopt;
}

converter::error converter::check_reference_tree(std::size_t from, value& v, path_stack& path) {
  if (v.IsArray()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      path.push_index(i);
      if (error e = check_reference_tree(from, v[i], path)) return e;
      path.pop();
    }
    return std::nullopt;
  }
  if (!v.IsObject()) return std::nullopt;
  if (const value* ref = member(v, "reference"); ref != nullptr) {
    if (!ref->IsString())
      return refuse(400, "structure", "Reference.reference must be a string",
                    path.render(items_[from].path) + ".reference");
    const value* ident = object(v, "identifier");
    const bool logical = ident != nullptr && !text(*ident, "value").empty();
    const target t = resolve(sv(*ref), from);
    const bool standalone =
        route_ == fhir_route::encounter_create || route_ == fhir_route::encounter_update;
    if (t.what == target::kind::none && !logical) {
      if (!standalone || sv(*ref).starts_with('#'))
        return refuse(422, "invalid", "a reference does not resolve within the request",
                      path.render(items_[from].path) + ".reference");
      note("references to resources outside the request were kept as type/display only");
    }
  }
  for (auto& m : v.GetObject()) {
    path.push(sv(m.name));
    if (error e = check_reference_tree(from, m.value, path)) return e;
    path.pop();
  }
  return std::nullopt;
}

// ---- ids ---------------------------------------------------------------------------------------

std::string converter::logical_id(const value& identifier, std::string_view type) const {
  const std::string system = text(identifier, "system"), val = text(identifier, "value");
  if (val.empty()) return {};
  std::string id_type = identifier_type(identifier);
  std::string by = assigner_display(identifier);
  if (type == "Patient") {
    if (by.empty()) by = assigner(system, id_type);
    return ids::patient(o_.facility, system, by, val);
  }
  if (type == "Encounter") {
    if (id_type.empty()) id_type = "VN";
    if (by.empty()) by = assigner(system, id_type);
    return ids::encounter(o_.facility, system, by, val);
  }
  return {};
}

std::string converter::id_of(const value* ref, std::size_t from, std::string_view type) const {
  if (ref == nullptr || !ref->IsObject()) return {};
  const std::string r = text(*ref, "reference");
  if (!r.empty()) {
    const target t = resolve(r, from);
    if (t.what == target::kind::entry && items_[t.index].type == type) return items_[t.index].id;
  }
  if (const value* ident = object(*ref, "identifier")) return logical_id(*ident, type);
  return {};
}

std::string converter::source_key(const item& it) const {
  if (it.container >= 0)
    return source_key(items_[static_cast<std::size_t>(it.container)]) + "#" + it.source_id;
  if (!it.source_id.empty()) return "id:" + it.source_id;
  if (!it.full_url.empty()) return "url:" + it.full_url;
  return "body:" + derived_id("body", {json_, it.path});
}

converter::error converter::derive_ids() {
  const std::string& facility = o_.facility;
  auto pass = [&](std::string_view type, auto&& f) {
    for (std::size_t i = 0; i < items_.size(); ++i)
      if (items_[i].kept && items_[i].type == type) items_[i].id = f(i, *items_[i].res);
  };
  // Resources keyed on their own content first, then those keyed on what they point at.
  pass("Patient", [&](std::size_t, const value& r) -> std::string {
    const value* id = key_identifier(r, "MR");
    const std::string system = text(*id, "system"), type = identifier_type(*id);
    std::string by = assigner_display(*id);
    if (by.empty()) by = assigner(system, type);
    return ids::patient(facility, system, by, text(*id, "value"));
  });
  pass("Organization", [&](std::size_t i, const value& r) -> std::string {
    const std::string name = text(r, "name");
    const value* id = key_identifier(r, {});
    bool payer = false;
    each(r, "type", [&](const value& t, std::size_t) {
      for (const coding& c : codings_of(&t)) payer |= c.code == "pay";
    });
    const std::string system = id != nullptr ? text(*id, "system") : std::string();
    const std::string val = id != nullptr ? text(*id, "value") : std::string();
    if (payer) return ids::payer_organization(system, val, name);
    if (!name.empty() && name == facility) {
      // v2_to_fhir's MSH-4 Organization: namespace as name, universal id as identifier.
      std::string uid = val;
      if (system == "urn:ietf:rfc:3986" && uid.starts_with("urn:oid:")) uid = uid.substr(8);
      return ids::facility_organization(name, uid);
    }
    if (!val.empty()) return derived_id("Organization", {"id", facility, system, val});
    return derived_id("Organization", {facility, "fhir", source_key(items_[i])});
  });
  pass("Practitioner", [&](std::size_t i, const value& r) -> std::string {
    if (const value* id = key_identifier(r, "NPI", us_npi)) {
      const std::string system = text(*id, "system");
      std::string by = assigner_display(*id);
      if (by.empty()) by = assigner(system, identifier_type(*id));
      return ids::practitioner(system, by, text(*id, "value"));
    }
    if (const value* n = first(r, "name")) {
      const value* g = first(*n, "given");
      const std::string family = text(*n, "family");
      const std::string given = g != nullptr && g->IsString() ? std::string(sv(*g)) : std::string();
      if (!family.empty() || !given.empty())
        return ids::practitioner_by_name(facility, family, given);
    }
    return derived_id("Practitioner", {facility, "fhir", source_key(items_[i])});
  });
  pass("Location", [&](std::size_t i, const value& r) -> std::string {
    if (const value* id = key_identifier(r, {}))
      return derived_id("Location", {facility, "id", text(*id, "system"), text(*id, "value")});
    if (const std::string name = text(r, "name"); !name.empty())
      return derived_id("Location", {facility, "name", name});
    return derived_id("Location", {facility, "fhir", source_key(items_[i])});
  });
  pass("Encounter", [&](std::size_t i, const value& r) -> std::string {
    if (const value* id = key_identifier(r, "VN")) return logical_id(*id, "Encounter");
    note("an Encounter without an identifier is keyed on the sender's id for it");
    return derived_id("Encounter", {facility, "fhir", source_key(items_[i])});
  });
  pass("Coverage", [&](std::size_t i, const value& r) -> std::string {
    item& it = items_[i];
    it.patient_ref = id_of(object(r, "beneficiary"), i, "Patient");
    std::string payer_value, payer_name;
    if (const value* p = first(r, "payor"); p != nullptr && p->IsObject()) {
      const target t = resolve(text(*p, "reference"), i);
      if (t.what == target::kind::entry && items_[t.index].type == "Organization") {
        const value& org = *items_[t.index].res;
        if (const value* id = key_identifier(org, {})) payer_value = text(*id, "value");
        payer_name = text(org, "name");
      } else {
        payer_name = text(*p, "display");
      }
    }
    std::string plan;
    each(r, "class", [&](const value& c, std::size_t) {
      if (!plan.empty() || !c.IsObject()) return;
      for (const coding& t : codings_of(object(c, "type")))
        if (t.code == "plan") plan = text(c, "value");
    });
    const value* member_id = key_identifier(r, "MB");
    std::string member_value = member_id != nullptr && identifier_type(*member_id) == "MB"
                                   ? text(*member_id, "value")
                                   : std::string();
    if (member_value.empty()) member_value = text(r, "subscriberId");
    return ids::coverage(it.patient_ref, payer_value, payer_name, plan, member_value);
  });
  // The Encounter a Condition belongs to: Condition.encounter, else the Encounter that lists it.
  auto encounter_of = [&](std::size_t i) {
    std::string enc = id_of(object(*items_[i].res, "encounter"), i, "Encounter");
    for (std::size_t e = 0; e < items_.size() && enc.empty(); ++e) {
      if (!items_[e].kept || items_[e].type != "Encounter") continue;
      each(*items_[e].res, "diagnosis", [&](const value& d, std::size_t) {
        const value* c = object(d, "condition");
        if (!enc.empty() || c == nullptr) return;
        const target t = resolve(text(*c, "reference"), e);
        if (t.what == target::kind::entry && t.index == i) enc = items_[e].id;
      });
    }
    return enc;
  };
  pass("Condition", [&](std::size_t i, const value& r) -> std::string {
    item& it = items_[i];
    it.patient_ref = id_of(object(r, "subject"), i, "Patient");
    it.encounter_ref = encounter_of(i);
    const auto [system, code] = key_code(object(r, "code"));
    if (code.empty()) return derived_id("Condition", {facility, "fhir", source_key(it)});
    if (it.encounter_ref.empty())
      return derived_id("Condition", {facility, "patient", it.patient_ref, system, code});
    return ids::condition(it.encounter_ref, system, code);
  });
  pass("Procedure", [&](std::size_t i, const value& r) -> std::string {
    item& it = items_[i];
    it.patient_ref = id_of(object(r, "subject"), i, "Patient");
    it.encounter_ref = id_of(object(r, "encounter"), i, "Encounter");
    std::string performed = text(r, "performedDateTime");
    if (const value* p = object(r, "performedPeriod"); performed.empty() && p != nullptr)
      performed = text(*p, "start");
    const auto [system, code] = key_code(object(r, "code"));
    if (code.empty()) return derived_id("Procedure", {facility, "fhir", source_key(it)});
    if (it.encounter_ref.empty())
      return derived_id("Procedure",
                        {facility, "patient", it.patient_ref, system, code, performed});
    return ids::procedure(it.encounter_ref, system, code, performed);
  });
  pass("Observation", [&](std::size_t i, const value& r) -> std::string {
    item& it = items_[i];
    it.patient_ref = id_of(object(r, "subject"), i, "Patient");
    it.encounter_ref = id_of(object(r, "encounter"), i, "Encounter");
    if (const value* id = key_identifier(r, {}))
      return derived_id("Observation", {facility, "id", text(*id, "system"), text(*id, "value")});
    const auto [system, code] = key_code(object(r, "code"));
    return derived_id("Observation", {facility, "fhir", it.patient_ref, system, code,
                                      text(r, "effectiveDateTime"), source_key(it)});
  });
  std::set<std::pair<std::string, std::string>> seen;
  for (item& it : items_) {
    if (!it.kept) continue;
    if (!seen.emplace(it.type, it.id).second) {
      it.duplicate = true;
      note("several entries describe one resource (same derived id): the first is stored");
    }
  }
  return std::nullopt;
}

// ---- the stored form ---------------------------------------------------------------------------

void converter::rewrite(std::size_t i) {
  rewrite_tree(i, *items_[i].res, 0);
}

void converter::rewrite_tree(std::size_t from, value& v, std::size_t depth) {
  if (depth > max_depth) return;  // read_json() refused deeper input already
  if (v.IsArray()) {
    for (value& e : v.GetArray()) rewrite_tree(from, e, depth + 1);
    return;
  }
  if (!v.IsObject()) return;
  auto& alloc = doc_.GetAllocator();
  if (value* ref = member(v, "reference"); ref != nullptr && ref->IsString()) {
    const target t = resolve(sv(*ref), from);
    if (t.what == target::kind::entry && items_[t.index].kept) {
      const std::string r = items_[t.index].type + "/" + items_[t.index].id;
      ref->SetString(r.data(), static_cast<rapidjson::SizeType>(r.size()), alloc);
    } else if (t.what == target::kind::entry) {
      v.EraseMember("reference");
      if (member(v, "type") == nullptr) {
        const std::string& type = items_[t.index].type;
        v.AddMember("type",
                    value(type.data(), static_cast<rapidjson::SizeType>(type.size()), alloc),
                    alloc);
      }
    } else if (t.what == target::kind::none) {
      v.EraseMember("reference");
      if (v.ObjectEmpty()) v.AddMember("display", "unresolved reference", alloc);
    }
  }
  for (auto& m : v.GetObject()) rewrite_tree(from, m.value, depth + 1);
}

std::string converter::output_json(std::size_t i) {
  item& it = items_[i];
  auto& alloc = doc_.GetAllocator();
  value out(rapidjson::kObjectType);
  out.AddMember("resourceType",
                value(it.type.data(), static_cast<rapidjson::SizeType>(it.type.size()), alloc),
                alloc);
  out.AddMember("id", value(it.id.data(), static_cast<rapidjson::SizeType>(it.id.size()), alloc),
                alloc);
  for (auto& m : it.res->GetObject()) {
    const std::string_view k = sv(m.name);
    if (k == "resourceType" || k == "id") continue;
    if (k == "meta" && m.value.IsObject()) {
      // The store sets versionId and lastUpdated.
      m.value.EraseMember("versionId");
      m.value.EraseMember("lastUpdated");
      if (m.value.ObjectEmpty()) continue;
    }
    out.AddMember(m.name, m.value, alloc);  // moves: the item is written once
  }
  return serialize(out);
}

// ---- events ------------------------------------------------------------------------------------

event_kind kind_of_encounter(std::string_view status, std::string_view cls) {
  if (status == "finished") return event_kind::discharge;
  if (status == "planned") return event_kind::preadmission;
  if (status == "cancelled" || status == "entered-in-error") return event_kind::cancel_admission;
  if (status == "unknown") return event_kind::update;
  // arrived, triaged, in-progress, onleave: an inpatient stay is an admission (A01), anything
  // else (EMER, AMB, OBSENC, SS…) a registration (A04).
  return cls == "IMP" || cls == "ACUTE" || cls == "NONAC" ? event_kind::admission
                                                          : event_kind::registration;
}

event::identifier converter_identifier(const value& id, std::string by) {
  return {text(id, "system"), text(id, "value"), identifier_type(id), std::move(by)};
}

void converter::fill_patient(event::clinical_event& ev, const value* subject, std::size_t from) {
  if (subject == nullptr) return;
  const target t = resolve(text(*subject, "reference"), from);
  if (t.what != target::kind::entry || items_[t.index].type != "Patient") {
    if (const value* ident = object(*subject, "identifier")) {
      std::string by = assigner_display(*ident);
      if (by.empty()) by = assigner(text(*ident, "system"), identifier_type(*ident));
      ev.patient_ids.push_back(converter_identifier(*ident, by));
      ev.patient_resource_id = logical_id(*ident, "Patient");
    }
    return;
  }
  fill_from_patient(ev, t.index);
}

void converter::fill_from_patient(event::clinical_event& ev, std::size_t patient) {
  const value& p = *items_[patient].res;
  ev.patient_resource_id = items_[patient].id;
  each(p, "identifier", [&](const value& id, std::size_t) {
    if (!id.IsObject() || text(id, "value").empty()) return;
    std::string by = assigner_display(id);
    if (by.empty()) by = assigner(text(id, "system"), identifier_type(id));
    event::identifier e = converter_identifier(id, by);
    if (e.type == "MB" || e.type == "MA" || e.type == "MC" || e.system == us_mbi)
      ev.member_ids.push_back(e);
    ev.patient_ids.push_back(std::move(e));
  });
  if (const value* n = first(p, "name"); n != nullptr && n->IsObject()) {
    ev.family = text(*n, "family");
    if (const value* g = first(*n, "given"); g != nullptr && g->IsString())
      ev.given = std::string(sv(*g));
  }
  ev.birth_date = text(p, "birthDate");
  ev.sex = text(p, "gender");
  if (const value* a = first(p, "address"); a != nullptr && a->IsObject())
    ev.postal_code = text(*a, "postalCode");
  each(p, "telecom", [&](const value& c, std::size_t) {
    if (ev.phone.empty() && c.IsObject() && text(c, "system") == "phone")
      ev.phone = text(c, "value");
  });
}

event::lab lab_of(const value& o) {
  event::lab l;
  l.code = event_code(object(o, "code"), loinc);
  l.effective = text(o, "effectiveDateTime");
  if (const value* p = object(o, "effectivePeriod"); l.effective.empty() && p != nullptr)
    l.effective = text(*p, "start");
  if (const value* q = object(o, "valueQuantity")) {
    if (const value* v = member(*q, "value"); v != nullptr && v->IsNumber())
      l.value = v->GetDouble();
    l.unit = text(*q, "code");
    if (l.unit.empty()) l.unit = text(*q, "unit");
  }
  if (const value* s = member(o, "valueString"); s != nullptr && s->IsString())
    l.value_text = std::string(sv(*s));
  if (const value* cc = object(o, "valueCodeableConcept")) {
    l.value_text = text(*cc, "text");
    if (l.value_text.empty()) l.value_text = key_code(cc).second;
  }
  if (const value* i = first(o, "interpretation"); i != nullptr && i->IsObject()) {
    const std::vector<coding> cs = codings_of(i);
    if (!cs.empty()) l.abnormal_flag = cs[0].code;
  }
  return l;
}

event::clinical_event converter::encounter_event(std::size_t enc, event_kind kind,
                                                 std::string trigger) {
  const value& e = *items_[enc].res;
  const std::string& enc_id = items_[enc].id;
  event::clinical_event ev;
  ev.kind = kind;
  ev.trigger = std::move(trigger);
  ev.source = "fhir";
  ev.facility = o_.facility;
  ev.encounter_resource_id = enc_id;
  if (const value* id = key_identifier(e, "VN")) ev.visit_id = text(*id, "value");
  if (const value* cls = object(e, "class")) {
    ev.patient_class = text(*cls, "code");
    if (text(*cls, "system") == v2_0004) {
      if (const coding* c = tables().find(table::patient_class, ev.patient_class))
        ev.patient_class = c->code;
    }
  }
  if (const value* period = object(e, "period")) {
    ev.admit_time = text(*period, "start");
    ev.discharge_time = text(*period, "end");
  }
  each(e, "type", [&](const value& t, std::size_t) {
    for (const coding& c : codings_of(&t))
      if (ev.admission_type.empty() && c.system == v2_0007) ev.admission_type = c.code;
  });
  if (const value* st = object(e, "serviceType")) {
    const std::vector<coding> cs = codings_of(st);
    if (!cs.empty()) ev.service = cs[0].code;
  }
  if (const value* h = object(e, "hospitalization")) {
    ev.admit_source = event_code(object(*h, "admitSource"));
    ev.discharge_disposition = event_code(object(*h, "dischargeDisposition"), nubc);
    ev.readmission_flag = object(*h, "reAdmission") != nullptr;
  }
  if (const value* len = object(e, "length")) {
    if (const value* v = member(*len, "value"); v != nullptr && v->IsNumber()) {
      const std::string unit = text(*len, "code").empty() ? text(*len, "unit") : text(*len, "code");
      double days = v->GetDouble();
      if (unit == "h")
        days /= 24;
      else if (unit == "min")
        days /= 1440;
      else if (unit == "wk")
        days *= 7;
      ev.length_of_stay_days = days;
    }
  }
  // Diagnoses: Encounter.diagnosis in order, then Conditions that point at the Encounter without
  // being listed; never those entered in error.
  std::set<std::size_t> listed;
  auto add_diagnosis = [&](std::size_t c, std::string use, std::optional<int> rank) {
    const value& cond = *items_[c].res;
    if (const value* vs = object(cond, "verificationStatus")) {
      for (const coding& x : codings_of(vs))
        if (x.code == "entered-in-error") return;
    }
    ev.diagnoses.push_back({event_code(object(cond, "code"), icd10cm), std::move(use), rank});
  };
  each(e, "diagnosis", [&](const value& d, std::size_t) {
    const value* c = object(d, "condition");
    if (c == nullptr) return;
    const target t = resolve(text(*c, "reference"), enc);
    if (t.what != target::kind::entry || items_[t.index].type != "Condition" ||
        !listed.insert(t.index).second)
      return;
    std::string use;
    if (const value* u = object(d, "use")) {
      const std::vector<coding> cs = codings_of(u);
      if (!cs.empty()) use = cs[0].code;
    }
    std::optional<int> rank;
    if (const value* r = member(d, "rank"); r != nullptr && r->IsInt() && r->GetInt() >= 1)
      rank = r->GetInt();
    add_diagnosis(t.index, std::move(use), rank);
  });
  for (std::size_t i = 0; i < items_.size(); ++i) {
    const item& it = items_[i];
    if (!it.kept || it.duplicate || it.encounter_ref != enc_id) continue;
    if (it.type == "Condition" && !listed.count(i)) add_diagnosis(i, {}, std::nullopt);
    if (it.type == "Procedure") {
      std::string performed = text(*it.res, "performedDateTime");
      if (const value* p = object(*it.res, "performedPeriod"); performed.empty() && p != nullptr)
        performed = text(*p, "start");
      ev.procedures.push_back({event_code(object(*it.res, "code")), performed});
    }
    if (it.type == "Observation") ev.labs.push_back(lab_of(*it.res));
  }
  fill_patient(ev, object(e, "subject"), enc);
  for (const item& it : items_) {
    if (!it.kept || it.duplicate || it.type != "Coverage" || it.patient_ref.empty() ||
        it.patient_ref != ev.patient_resource_id)
      continue;
    const value* id = key_identifier(*it.res, "MB");
    std::string system, val;
    if (id != nullptr && identifier_type(*id) == "MB") {
      system = text(*id, "system");
      val = text(*id, "value");
    }
    if (val.empty()) val = text(*it.res, "subscriberId");
    if (val.empty()) continue;
    if (ev.member_id.empty()) ev.member_id = val;
    // Each member identifier once (a Patient's MB identifier is usually the Coverage's too).
    const bool known = std::any_of(ev.member_ids.begin(), ev.member_ids.end(), [&](const auto& i) {
      return i.value == val && i.system == system;
    });
    if (!known) ev.member_ids.push_back({system, val, "MB", assigner(system, "MB")});
  }
  return ev;
}

converter::error converter::make_events(fhir_conversion& out) {
  std::string control_id;
  std::string timestamp;
  if (route_ == fhir_route::bundle || route_ == fhir_route::process_message) {
    if (const value* ident = object(doc_, "identifier")) control_id = text(*ident, "value");
    if (control_id.empty()) control_id = text(doc_, "id");
    timestamp = text(doc_, "timestamp");
  }
  if (control_id.empty()) control_id = o_.control_id;
  auto finish = [&](event::clinical_event ev) {
    ev.control_id = control_id;
    if (ev.kind == event_kind::discharge && ev.discharge_time.empty() && !timestamp.empty()) {
      ev.discharge_time = timestamp;
      note("a discharge without Encounter.period.end: the discharge time is Bundle.timestamp");
    }
    switch (ev.kind) {
      case event_kind::discharge:
        ev.recorded = ev.discharge_time;
        break;
      case event_kind::admission:
      case event_kind::registration:
        ev.recorded = ev.admit_time;
        break;
      default:
        break;
    }
    if (ev.recorded.empty()) ev.recorded = timestamp;
    out.events.push_back(std::move(ev));
  };

  if (route_ == fhir_route::process_message) {
    event_kind kind = event_kind::transfer;
    if (focus_event_ == "notification-discharge") {
      kind = event_kind::discharge;
    } else if (focus_event_ == "notification-admit") {
      const value* cls = object(*items_[focus_].res, "class");
      kind = cls != nullptr && text(*cls, "code") == "EMER" ? event_kind::registration
                                                            : event_kind::admission;
    }
    finish(encounter_event(focus_, kind, focus_event_));
    return std::nullopt;
  }
  bool any = false;
  for (std::size_t i = 0; i < items_.size(); ++i) {
    const item& it = items_[i];
    if (!it.kept || it.duplicate || it.type != "Encounter") continue;
    const value* cls = object(*it.res, "class");
    std::string cls_code = cls != nullptr ? text(*cls, "code") : std::string();
    if (cls != nullptr && text(*cls, "system") == v2_0004) {
      if (const coding* c = tables().find(table::patient_class, cls_code)) cls_code = c->code;
    }
    finish(encounter_event(i, kind_of_encounter(text(*it.res, "status"), cls_code), "Encounter"));
    any = true;
  }
  if (any) return std::nullopt;
  // No Encounter: one event per Patient, a lab result when Observations name it, else an update.
  for (std::size_t i = 0; i < items_.size(); ++i) {
    const item& it = items_[i];
    if (!it.kept || it.duplicate || it.type != "Patient") continue;
    event::clinical_event ev;
    ev.trigger = "Bundle";
    ev.source = "fhir";
    ev.facility = o_.facility;
    fill_from_patient(ev, i);
    ev.patient_resource_id = it.id;
    for (const item& o : items_)
      if (o.kept && !o.duplicate && o.type == "Observation" && o.patient_ref == it.id)
        ev.labs.push_back(lab_of(*o.res));
    ev.kind = ev.labs.empty() ? event_kind::update : event_kind::lab_result;
    finish(std::move(ev));
  }
  return std::nullopt;
}

}  // namespace

// ---- public ------------------------------------------------------------------------------------

std::string store_type(fhir_route route, std::string_view encounter_id) {
  switch (route) {
    case fhir_route::bundle:
      return "FHIR:bundle";
    case fhir_route::encounter_create:
      return "FHIR:encounter";
    case fhir_route::encounter_update:
      return "FHIR:encounter/" + std::string(encounter_id);
    case fhir_route::process_message:
      return "FHIR:process-message";
  }
  return "FHIR:bundle";
}

std::optional<stored_route> route_from_store_type(std::string_view t) {
  if (t == "FHIR:bundle") return stored_route{fhir_route::bundle, {}};
  if (t == "FHIR:encounter") return stored_route{fhir_route::encounter_create, {}};
  if (t == "FHIR:process-message") return stored_route{fhir_route::process_message, {}};
  constexpr std::string_view update = "FHIR:encounter/";
  if (t.starts_with(update) && valid_id(t.substr(update.size())))
    return stored_route{fhir_route::encounter_update, std::string(t.substr(update.size()))};
  return std::nullopt;
}

bool valid_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

boost::system::result<fhir_conversion, fhir_input_error> from_fhir(
    std::string_view json, fhir_route route, const fhir_input_options& options) {
  document doc;
  switch (read_json(doc, json, max_depth)) {
    case json_read::ok:
      break;
    case json_read::not_json:
      return refuse(400, "structure", "the body is not valid JSON (UTF-8)");
    case json_read::too_deep:
      return refuse(400, "structure",
                    "the JSON nests deeper than " + std::to_string(max_depth) + " levels");
  }
  converter c(doc, json, route, options);
  return c.run();
}

std::string operation_outcome(const fhir_input_error& e, std::string_view severity) {
  json_out j;
  j.begin_object();
  j.field("resourceType", "OperationOutcome");
  j.begin_array("issue");
  j.begin_object();
  j.field("severity", severity);
  j.field("code", e.code.empty() ? std::string_view("processing") : std::string_view(e.code));
  j.field("diagnostics", e.diagnostics);
  if (!e.expression.empty()) {
    j.begin_array("expression");
    j.str(e.expression);
    j.end_array();
  }
  j.end_object();
  j.end_array();
  j.end_object();
  return j.take();
}

void throw_exception_from_error(const fhir_input_error& e, const boost::source_location&) {
  throw std::runtime_error("FHIR input refused (" + std::to_string(e.status) +
                           "): " + e.diagnostics);
}

}  // namespace carebridge::mappings::fhir
