// A small JSON writer for building FHIR resources: RapidJSON's Writer with helpers that leave out
// empty values (FHIR forbids empty strings, objects and arrays). No I/O.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <string>
#include <string_view>

namespace carebridge::mappings::fhir {

class json_out {
 public:
  /// `capacity`: the bytes to reserve (a resource is about a kilobyte; a Bundle, ten or more).
  explicit json_out(std::size_t capacity = 1024) : buf_(nullptr, capacity), w_(buf_) {}

  void key(std::string_view k) { w_.Key(k.data(), size(k)); }
  void str(std::string_view v) { w_.String(v.data(), size(v)); }
  /// "key": "value", only when the value is not empty.
  void field(std::string_view k, std::string_view v) {
    if (v.empty()) return;
    key(k);
    str(v);
  }
  void boolean(std::string_view k, bool v) {
    key(k);
    w_.Bool(v);
  }
  /// A finite number (JSON has no NaN or infinity: anything else is left out).
  void number(std::string_view k, double v) {
    if (!std::isfinite(v)) return;
    key(k);
    w_.Double(v);
  }
  void integer(std::string_view k, long long v) {
    key(k);
    w_.Int64(v);
  }
  void begin_object() { w_.StartObject(); }
  void begin_object(std::string_view k) {
    key(k);
    w_.StartObject();
  }
  void end_object() { w_.EndObject(); }
  void begin_array(std::string_view k) {
    key(k);
    w_.StartArray();
  }
  void end_array() { w_.EndArray(); }
  /// Inserts already-serialized JSON as a value.
  void raw(std::string_view json) { w_.RawValue(json.data(), json.size(), rapidjson::kObjectType); }
  /// {"reference": "Type/id"} under `k` (nothing when id is empty).
  void reference(std::string_view k, std::string_view type, std::string_view id) {
    if (id.empty()) return;
    begin_object(k);
    key("reference");
    std::string r;
    r.reserve(type.size() + 1 + id.size());
    r.append(type).append("/").append(id);
    str(r);
    end_object();
  }
  /// A reference as an array element.
  void reference_item(std::string_view type, std::string_view id) {
    w_.StartObject();
    key("reference");
    std::string r;
    r.append(type).append("/").append(id);
    str(r);
    w_.EndObject();
  }

  std::string take() { return std::string(buf_.GetString(), buf_.GetSize()); }
  std::string_view view() const { return {buf_.GetString(), buf_.GetSize()}; }

 private:
  static rapidjson::SizeType size(std::string_view s) {
    return static_cast<rapidjson::SizeType>(s.size());
  }
  rapidjson::StringBuffer buf_;
  rapidjson::Writer<rapidjson::StringBuffer> w_;
};

}  // namespace carebridge::mappings::fhir
