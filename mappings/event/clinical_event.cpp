#include "mappings/event/clinical_event.hpp"

#include "mappings/fhir/fhir_json.hpp"

#include <rapidjson/document.h>

#include <array>
#include <utility>

namespace carebridge::mappings::event {

namespace {

constexpr std::array<std::pair<event_kind, std::string_view>, 13> kind_names = {{
    {event_kind::admission, "admission"},
    {event_kind::transfer, "transfer"},
    {event_kind::discharge, "discharge"},
    {event_kind::registration, "registration"},
    {event_kind::preadmission, "preadmission"},
    {event_kind::change_to_outpatient, "change-to-outpatient"},
    {event_kind::update, "update"},
    {event_kind::cancel_admission, "cancel-admission"},
    {event_kind::cancel_transfer, "cancel-transfer"},
    {event_kind::cancel_discharge, "cancel-discharge"},
    {event_kind::merge, "merge"},
    {event_kind::lab_result, "lab-result"},
    {event_kind::other, "other"},
}};

using fhir::json_out;
using fhir::jkey;

void write_ids(json_out& j, const jkey& k, const std::vector<identifier>& ids) {
  if (ids.empty()) return;
  j.begin_array(k);
  for (const identifier& i : ids) {
    j.begin_object();
    j.field("system", i.system);
    j.field("value", i.value);
    j.field("type", i.type);
    j.field("assigner", i.assigner);
    j.end_object();
  }
  j.end_array();
}

void write_coded(json_out& j, const jkey& k, const coded& c) {
  if (c.code.empty() && c.display.empty()) return;
  j.begin_object(k);
  j.field("system", c.system);
  j.field("code", c.code);
  j.field("display", c.display);
  j.field("original_system", c.original_system);
  j.end_object();
}

using value = rapidjson::Value;

std::string str(const value& o, const char* k) {
  if (!o.IsObject()) return {};
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}
std::optional<double> num(const value& o, const char* k) {
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || !it->value.IsNumber()) return std::nullopt;
  return it->value.GetDouble();
}
coded read_coded(const value& o, const char* k) {
  coded c;
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || !it->value.IsObject()) return c;
  c.system = str(it->value, "system");
  c.code = str(it->value, "code");
  c.display = str(it->value, "display");
  c.original_system = str(it->value, "original_system");
  return c;
}
std::vector<identifier> read_ids(const value& o, const char* k) {
  std::vector<identifier> out;
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || !it->value.IsArray()) return out;
  for (const value& v : it->value.GetArray())
    out.push_back({str(v, "system"), str(v, "value"), str(v, "type"), str(v, "assigner")});
  return out;
}
template <typename F>
void each(const value& o, const char* k, F&& f) {
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || !it->value.IsArray()) return;
  for (const value& v : it->value.GetArray())
    if (v.IsObject()) f(v);
}

}  // namespace

std::string_view to_string(event_kind k) noexcept {
  for (const auto& [kind, name] : kind_names)
    if (kind == k) return name;
  return "other";
}

std::optional<event_kind> event_kind_from_string(std::string_view s) noexcept {
  for (const auto& [kind, name] : kind_names)
    if (name == s) return kind;
  return std::nullopt;
}

std::string to_json(const clinical_event& e) {
  json_out j;
  j.begin_object();
  j.field("kind", to_string(e.kind));
  j.field("trigger", e.trigger);
  j.field("source", e.source);
  j.field("facility", e.facility);
  j.field("control_id", e.control_id);
  j.field("recorded", e.recorded);
  write_ids(j, "patient_ids", e.patient_ids);
  j.field("family", e.family);
  j.field("given", e.given);
  j.field("birth_date", e.birth_date);
  j.field("sex", e.sex);
  j.field("postal_code", e.postal_code);
  j.field("phone", e.phone);
  j.field("member_id", e.member_id);
  write_ids(j, "member_ids", e.member_ids);
  j.field("patient_resource_id", e.patient_resource_id);
  j.field("visit_id", e.visit_id);
  j.field("encounter_resource_id", e.encounter_resource_id);
  j.field("patient_class", e.patient_class);
  j.field("admit_time", e.admit_time);
  j.field("discharge_time", e.discharge_time);
  j.field("admission_type", e.admission_type);
  write_coded(j, "admit_source", e.admit_source);
  j.field("service", e.service);
  write_coded(j, "discharge_disposition", e.discharge_disposition);
  if (e.readmission_flag) j.boolean("readmission_flag", true);
  if (e.length_of_stay_days) j.number("length_of_stay_days", *e.length_of_stay_days);
  if (!e.diagnoses.empty()) {
    j.begin_array("diagnoses");
    for (const diagnosis& d : e.diagnoses) {
      j.begin_object();
      write_coded(j, "code", d.code);
      j.field("use", d.use);
      if (d.rank) j.integer("rank", *d.rank);
      j.end_object();
    }
    j.end_array();
  }
  if (!e.procedures.empty()) {
    j.begin_array("procedures");
    for (const procedure& p : e.procedures) {
      j.begin_object();
      write_coded(j, "code", p.code);
      j.field("performed", p.performed);
      j.end_object();
    }
    j.end_array();
  }
  if (!e.labs.empty()) {
    j.begin_array("labs");
    for (const lab& l : e.labs) {
      j.begin_object();
      write_coded(j, "code", l.code);
      if (l.value) j.number("value", *l.value);
      j.field("value_text", l.value_text);
      j.field("unit", l.unit);
      j.field("abnormal_flag", l.abnormal_flag);
      j.field("effective", l.effective);
      j.end_object();
    }
    j.end_array();
  }
  write_ids(j, "prior_patient_ids", e.prior_patient_ids);
  j.end_object();
  return j.take();
}

boost::system::result<clinical_event> from_json(std::string_view json) {
  rapidjson::Document d;
  // Full precision: to_json writes each number as the shortest text that reads back to the same
  // double, which RapidJSON's default (fast) parse does not always give back for large values.
  d.Parse<rapidjson::kParseFullPrecisionFlag>(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject())
    return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
  const auto kind = event_kind_from_string(str(d, "kind"));
  if (!kind) return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
  clinical_event e;
  e.kind = *kind;
  e.trigger = str(d, "trigger");
  e.source = str(d, "source");
  e.facility = str(d, "facility");
  e.control_id = str(d, "control_id");
  e.recorded = str(d, "recorded");
  e.patient_ids = read_ids(d, "patient_ids");
  e.family = str(d, "family");
  e.given = str(d, "given");
  e.birth_date = str(d, "birth_date");
  e.sex = str(d, "sex");
  e.postal_code = str(d, "postal_code");
  e.phone = str(d, "phone");
  e.member_id = str(d, "member_id");
  e.member_ids = read_ids(d, "member_ids");
  e.patient_resource_id = str(d, "patient_resource_id");
  e.visit_id = str(d, "visit_id");
  e.encounter_resource_id = str(d, "encounter_resource_id");
  e.patient_class = str(d, "patient_class");
  e.admit_time = str(d, "admit_time");
  e.discharge_time = str(d, "discharge_time");
  e.admission_type = str(d, "admission_type");
  e.admit_source = read_coded(d, "admit_source");
  e.service = str(d, "service");
  e.discharge_disposition = read_coded(d, "discharge_disposition");
  if (auto it = d.FindMember("readmission_flag"); it != d.MemberEnd() && it->value.IsBool())
    e.readmission_flag = it->value.GetBool();
  e.length_of_stay_days = num(d, "length_of_stay_days");
  each(d, "diagnoses", [&](const value& v) {
    diagnosis x;
    x.code = read_coded(v, "code");
    x.use = str(v, "use");
    if (auto it = v.FindMember("rank"); it != v.MemberEnd() && it->value.IsInt() && it->value.GetInt() >= 1)
      x.rank = it->value.GetInt();
    e.diagnoses.push_back(std::move(x));
  });
  each(d, "procedures", [&](const value& v) {
    e.procedures.push_back({read_coded(v, "code"), str(v, "performed")});
  });
  each(d, "labs", [&](const value& v) {
    lab l;
    l.code = read_coded(v, "code");
    l.value = num(v, "value");
    l.value_text = str(v, "value_text");
    l.unit = str(v, "unit");
    l.abnormal_flag = str(v, "abnormal_flag");
    l.effective = str(v, "effective");
    e.labs.push_back(std::move(l));
  });
  e.prior_patient_ids = read_ids(d, "prior_patient_ids");
  return e;
}

}  // namespace carebridge::mappings::event
