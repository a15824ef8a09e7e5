#include "gateway/alerts/topics.hpp"

#include "mappings/fhir/fhir_json.hpp"

#include <array>

namespace carebridge::gateway::alerts {

namespace {

using mappings::fhir::json_out;

// The R5 SubscriptionTopic cross-version extensions (backport IG 1.1.0 wire format: url and
// status as extensions, status a modifier because "retired" changes the meaning).
constexpr std::string_view xv =
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.";

constexpr std::string_view clinical_patient =
    "http://hl7.org/fhir/SearchParameter/clinical-patient";

constexpr std::array readmission_filters{
    filter_definition{"patient", "RiskAssessment", clinical_patient,
                      "Only this patient's alerts: a reference Patient/<id>, the Patient resource "
                      "id as CareBridge serves it.",
                      filter_kind::patient_reference},
    filter_definition{
        "risk", "RiskAssessment", "",
        "Only alerts whose overall readmission risk (the higher of LACE and HOSPITAL) "
        "is at or above this level: low, moderate or high. The group's own threshold "
        "applies first; this can only narrow it.",
        filter_kind::risk_at_least},
};
constexpr std::array discharge_filters{
    filter_definition{"patient", "Encounter", clinical_patient,
                      "Only this patient's discharges: a reference Patient/<id>, the Patient "
                      "resource id as CareBridge serves it.",
                      filter_kind::patient_reference},
};

constexpr std::array admission_filters{
    filter_definition{"patient", "Encounter", clinical_patient,
                      "Only this patient's admissions and ED visits: a reference Patient/<id>, the "
                      "Patient resource id as CareBridge serves it.",
                      filter_kind::patient_reference},
    filter_definition{"event", "Encounter", "",
                      "Only this kind of encounter start: admission (an inpatient admission, HL7 "
                      "v2 A01) or ed-visit (an emergency department visit, A04 of patient class "
                      "E). The group's own alert events apply first; this can only narrow them.",
                      filter_kind::encounter_event},
};

constexpr std::array<std::string_view, 5> readmission_context{"Encounter", "Patient", "Task",
                                                              "Coverage", "Condition"};
constexpr std::array<std::string_view, 5> discharge_context{"Patient", "RiskAssessment", "Task",
                                                            "Coverage", "Condition"};
constexpr std::array<std::string_view, 3> readmission_include{
    "RiskAssessment:subject", "RiskAssessment:encounter", "Encounter:diagnosis"};
constexpr std::array<std::string_view, 2> readmission_rev_include{"Task:focus", "Coverage:patient"};
constexpr std::array<std::string_view, 2> discharge_include{"Encounter:subject",
                                                            "Encounter:diagnosis"};
// The follow-up Task names its stay in Task.focus (care_engine's follow_up_task_json sets no
// Task.encounter), as for the other topics.
constexpr std::array<std::string_view, 3> discharge_rev_include{
    "RiskAssessment:encounter", "Task:focus", "Coverage:patient"};
constexpr std::array<std::string_view, 2> admission_context{"Patient", "Task"};
constexpr std::array<std::string_view, 1> admission_include{"Encounter:subject"};
constexpr std::array<std::string_view, 1> admission_rev_include{"Task:focus"};  // its Encounter

constexpr std::array<std::string_view, 1> created{"create"};
constexpr std::array<std::string_view, 2> created_or_updated{"create", "update"};
constexpr std::array discharge_triggers{
    v2_trigger{"A03", "ADT/ACK - Discharge/end visit", "An HL7 v2 ADT^A03 (discharge/end visit)."},
};
constexpr std::array admission_triggers{
    v2_trigger{"A01", "ADT/ACK - Admit/visit notification",
               "An HL7 v2 ADT^A01 (admit/visit notification) of an inpatient stay."},
    v2_trigger{"A04", "ADT/ACK - Register a patient",
               "An HL7 v2 ADT^A04 (register a patient) of an emergency visit (PV1-2 E)."},
};

constexpr std::array all_topics{
    topic{topic_id::readmission_risk,
          "readmission-risk",
          readmission_risk_url,
          "1.0.0",
          "CareBridgeReadmissionRisk",
          "CareBridge readmission-risk alert",
          "An inpatient discharge of a plan member attributed to the subscribing physician group, "
          "whose 30-day readmission risk reaches the group's alert threshold. The focus is the "
          "stay's RiskAssessment (LACE and HOSPITAL); a follow-up Task for the care coordinators "
          "accompanies it.",
          "A RiskAssessment is created for a discharge (HL7 v2 ADT^A03, a finished Encounter or a "
          "Da Vinci discharge notification) and its band reaches the group's threshold.",
          "RiskAssessment",
          readmission_context,
          readmission_filters,
          readmission_include,
          readmission_rev_include,
          created,
          "",
          "",
          {},
          message_event::discharge},
    topic{topic_id::attributed_discharge, "attributed-discharge", attributed_discharge_url, "1.0.0",
          "CareBridgeAttributedDischarge", "CareBridge discharge of an attributed member",
          "Every hospital discharge of a plan member attributed to the subscribing physician group "
          "on the discharge date, whatever its readmission risk. The focus is the Encounter.",
          "An Encounter of an attributed member is finished (HL7 v2 ADT^A03, a finished Encounter "
          "or a Da Vinci discharge notification).",
          "Encounter", discharge_context, discharge_filters, discharge_include,
          discharge_rev_include, created_or_updated,
          // The Encounter changes to finished (the backport IG's encounter-complete pattern).
          "status:not=finished", "status=finished", discharge_triggers, message_event::discharge},
    topic{topic_id::attributed_admission, "attributed-admission", attributed_admission_url, "1.0.0",
          "CareBridgeAttributedAdmission",
          "CareBridge admission or ED visit of an attributed member",
          "An inpatient admission or emergency department visit of a plan member attributed to the "
          "subscribing physician group on its date, when the group's alert events include that "
          "kind of event. The focus is the Encounter; the follow-up Task for the care "
          "coordinators accompanies it.",
          "An Encounter of an attributed member starts: an inpatient admission (HL7 v2 ADT^A01, "
          "an in-progress inpatient Encounter or a Da Vinci admit notification) or an emergency "
          "department visit (ADT^A04 of patient class E, an in-progress emergency Encounter).",
          "Encounter", admission_context, admission_filters, admission_include,
          admission_rev_include, created_or_updated,
          // The Encounter changes to in-progress (as the R5 core "admission" topic).
          "status:not=in-progress", "status=in-progress", admission_triggers, message_event::admit},
};

constexpr std::array<std::string_view, 3> canonicals{readmission_risk_url, attributed_discharge_url,
                                                     attributed_admission_url};

// {"url": "<xv><name>", ...} opened; the caller adds the value and closes it.
void open_xv(json_out& j, std::string_view name) {
  j.begin_object();
  j.field2("url", xv, name);
}
void sub_string(json_out& j, std::string_view url, mappings::fhir::jkey value_key,
                std::string_view value) {
  j.begin_object();
  j.field("url", url);
  j.field(value_key, value);
  j.end_object();
}

}  // namespace

std::span<const topic> topics() noexcept {
  return all_topics;
}

const topic& topic_of(topic_id id) noexcept {
  return all_topics[static_cast<std::size_t>(id)];
}

const topic* find_topic(std::string_view canonical) noexcept {
  std::string_view version;
  if (const auto bar = canonical.find('|'); bar != std::string_view::npos) {
    version = canonical.substr(bar + 1);
    canonical = canonical.substr(0, bar);
  }
  for (const topic& t : all_topics)
    if (t.url == canonical && (version.empty() || version == t.version)) return &t;
  return nullptr;
}

const topic* find_topic_by_key(std::string_view key) noexcept {
  for (const topic& t : all_topics)
    if (t.key == key) return &t;
  return nullptr;
}

const filter_definition* find_filter(const topic& t, std::string_view parameter) noexcept {
  for (const filter_definition& f : t.filters)
    if (f.parameter == parameter) return &f;
  return nullptr;
}

int risk_rank(std::string_view band) noexcept {
  if (band == "low") return 0;
  if (band == "moderate") return 1;
  if (band == "high") return 2;
  return -1;
}

std::string topic_basic_json(const topic& t) {
  json_out j(4096);
  j.begin_object();
  j.field("resourceType", "Basic");
  j.field("id", t.key);
  j.begin_array("extension");
  open_xv(j, "url");
  j.field("valueUri", t.url);
  j.end_object();
  open_xv(j, "version");
  j.field("valueString", t.version);
  j.end_object();
  open_xv(j, "name");
  j.field("valueString", t.name);
  j.end_object();
  open_xv(j, "title");
  j.field("valueString", t.title);
  j.end_object();
  open_xv(j, "description");
  j.field("valueMarkdown", t.description);
  j.end_object();

  open_xv(j, "resourceTrigger");
  j.begin_array("extension");
  sub_string(j, "description", "valueMarkdown", t.trigger_description);
  j.begin_object();
  j.field("url", "resource");
  j.field2("valueUri", "http://hl7.org/fhir/StructureDefinition/", t.focus_type);
  j.end_object();
  for (const std::string_view interaction : t.interactions)
    sub_string(j, "supportedInteraction", "valueCode", interaction);
  if (!t.query_current.empty()) {
    j.begin_object();
    j.field("url", "queryCriteria");
    j.begin_array("extension");
    sub_string(j, "previous", "valueString", t.query_previous);
    sub_string(j, "resultForCreate", "valueCode", "test-passes");
    sub_string(j, "current", "valueString", t.query_current);
    sub_string(j, "resultForDelete", "valueCode", "test-fails");
    j.begin_object();
    j.field("url", "requireBoth");
    j.boolean("valueBoolean", true);
    j.end_object();
    j.end_array();
    j.end_object();
  }
  j.end_array();
  j.end_object();

  // The HL7 v2 triggers that mean the same (as the R5 core "admission" topic does for A01).
  for (const v2_trigger& v2 : t.event_triggers) {
    open_xv(j, "eventTrigger");
    j.begin_array("extension");
    sub_string(j, "description", "valueMarkdown", v2.description);
    j.begin_object();
    j.field("url", "event");
    j.begin_object("valueCodeableConcept");
    j.begin_array("coding");
    j.begin_object();
    j.field("system", "http://terminology.hl7.org/CodeSystem/v2-0003");
    j.field("code", v2.code);
    j.field("display", v2.display);
    j.end_object();
    j.end_array();
    j.end_object();
    j.end_object();
    j.begin_object();
    j.field("url", "resource");
    j.field2("valueUri", "http://hl7.org/fhir/StructureDefinition/", t.focus_type);
    j.end_object();
    j.end_array();
    j.end_object();
  }

  for (const filter_definition& f : t.filters) {
    open_xv(j, "canFilterBy");
    j.begin_array("extension");
    sub_string(j, "description", "valueMarkdown", f.description);
    sub_string(j, "resource", "valueUri", f.resource);
    sub_string(j, "filterParameter", "valueString", f.parameter);
    if (!f.definition.empty()) sub_string(j, "filterDefinition", "valueUri", f.definition);
    j.end_array();
    j.end_object();
  }

  open_xv(j, "notificationShape");
  j.begin_array("extension");
  sub_string(j, "resource", "valueUri", t.focus_type);
  for (const std::string_view inc : t.shape_include) sub_string(j, "include", "valueString", inc);
  for (const std::string_view inc : t.shape_rev_include)
    sub_string(j, "revInclude", "valueString", inc);
  j.end_array();
  j.end_object();
  j.end_array();  // extension

  j.begin_array("modifierExtension");
  open_xv(j, "status");
  j.field("valueCode", "active");
  j.end_object();
  j.end_array();

  j.begin_object("code");
  j.begin_array("coding");
  j.begin_object();
  j.field("system", "http://hl7.org/fhir/fhir-types");
  j.field("code", "SubscriptionTopic");
  j.end_object();
  j.end_array();
  j.end_object();
  j.end_object();
  return j.take();
}

std::span<const std::string_view> capability_topic_canonicals() noexcept {
  return canonicals;
}

std::string capability_topic_extensions_json() {
  json_out j(512);
  j.begin_array("x");  // json_out writes arrays only under a key: cut the key off below
  for (const std::string_view c : canonicals) {
    j.begin_object();
    j.field("url", capability_topic_extension_url);
    j.field("valueCanonical", c);
    j.end_object();
  }
  j.end_array();
  std::string s = j.take();
  return s.substr(s.find('['));
}

}  // namespace carebridge::gateway::alerts
