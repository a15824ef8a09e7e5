#include "mappings/fhir/v2_to_fhir.hpp"

#include "mappings/fhir/fhir_json.hpp"
#include "mappings/fhir/ids.hpp"
#include "mappings/fhir/resource_ids.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <charconv>
#include <cstring>
#include <map>
#include <memory_resource>
#include <optional>
#include <set>

namespace carebridge::mappings::fhir {

namespace {

namespace hl7 = mappings::hl7v2;
using hl7::element;
using hl7::indexed_segment;

/// The n-th segment with this id, indexed (the mapper reads many fields of each).
std::optional<indexed_segment> find_segment(const hl7::message& m, std::string_view id,
                                            std::uint32_t occurrence = 1) {
  const auto s = m.find(id, occurrence);
  if (!s) return std::nullopt;
  return indexed_segment(*s);
}

/// The segments with one id, in message order and indexed, for a range-for (one pass over the
/// message, where find(id, n) for n = 1, 2… would rescan it from the start each time).
class segments_named {
 public:
  segments_named(const hl7::message& m, std::string_view id) : m_(m), id_(id) {}
  class iterator {
   public:
    iterator(const segments_named* owner, std::size_t i) : owner_(owner), i_(i) { settle(); }
    indexed_segment operator*() const { return indexed_segment(owner_->m_.segment(i_)); }
    iterator& operator++() {
      ++i_;
      settle();
      return *this;
    }
    bool operator!=(const iterator& o) const { return i_ != o.i_; }

   private:
    void settle() {
      const std::size_t n = owner_->m_.segment_count();
      while (i_ < n && !owner_->named(owner_->m_.segment(i_).raw())) ++i_;
    }
    const segments_named* owner_;
    std::size_t i_;
  };
  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, m_.segment_count()}; }

 private:
  // The segment's text starts with the id, then a field separator or nothing.
  bool named(std::string_view raw) const {
    if (raw.size() < id_.size()) return false;
    for (std::size_t k = 0; k < id_.size(); ++k)
      if (raw[k] != id_[k]) return false;
    return raw.size() == id_.size() || raw[id_.size()] == m_.delims().field;
  }
  const hl7::message& m_;
  std::string_view id_;
};

constexpr std::string_view v2_system_prefix = "http://terminology.hl7.org/CodeSystem/v2-";
constexpr std::string_view local_prefix = "urn:carebridge:local:";

class convert_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "carebridge.v2_to_fhir"; }
  std::string message(int ev) const override {
    switch (static_cast<convert_error>(ev)) {
      case convert_error::unsupported_message:
        return "unsupported message type (ADT and ORU^R01 are converted)";
      case convert_error::missing_segment:
        return "the message has no PID segment";
      case convert_error::missing_patient_id:
        return "PID-3 holds no patient identifier";
    }
    return "unknown conversion error";
  }
};

// ---- small helpers -----------------------------------------------------------------------------

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Characters allowed in the name part of our local URNs.
std::string urn_part(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(std::isalnum(u) || c == '.' || c == '-' || c == '_'
                      ? static_cast<char>(std::tolower(u))
                      : '-');
  }
  return out;
}

// ---- text of the message, without a heap allocation per value -----------------------------------
//
// The mapper reads a few hundred values per message. A value without escape sequences (nearly all)
// is a view of the message's own text; one with escapes is decoded into the conversion's arena.
// Text the mapper makes up (URIs, phone numbers, ids) goes to the arena too. The arena lives as
// long as one convert() call, like the message; everything that leaves convert() is copied out of
// it into std::strings (the Bundle, the resources, the event).

class arena {
 public:
  arena() : pool_(initial_, sizeof initial_) {}
  arena(const arena&) = delete;
  arena& operator=(const arena&) = delete;

  std::string_view keep(std::string_view s) {
    if (s.empty()) return {};
    char* p = static_cast<char*>(pool_.allocate(s.size(), 1));
    std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }
  /// The parts, one after another, as one string in the arena.
  std::string_view concat(std::initializer_list<std::string_view> parts) {
    std::size_t n = 0;
    for (std::string_view part : parts) n += part.size();
    if (n == 0) return {};
    char* p = static_cast<char*>(pool_.allocate(n, 1));
    char* at = p;
    for (std::string_view part : parts) {
      if (part.empty()) continue;  // an empty view may hold a null pointer: no memcpy from it
      std::memcpy(at, part.data(), part.size());
      at += part.size();
    }
    return {p, n};
  }
  std::string& scratch() { return scratch_; }
  /// For containers that live as long as the conversion (std::pmr::vector): no heap allocation.
  std::pmr::memory_resource* memory() { return &pool_; }

  /// An element split into its components. The mapper reads several components of one element in
  /// a row (CX.1, CX.4, CX.5; XCN.1 to XCN.13), so the last two elements asked about are kept
  /// split: one pass over each instead of a scan from its start per component. The same pass looks
  /// for the escape character and the sub-component separator, so that the components of an
  /// element without them (nearly all) are used as they are, with no scan of their own.
  struct split {
    std::string_view raw;
    element::level depth = element::level::field;
    element::split_info info;
    std::uint32_t count = 0;
    std::array<element, 24> parts;
  };
  /// e split into its components: the split kept from an earlier call, else a new one in place of
  /// the older of the two kept.
  const split& split_of(const element& e) {
    for (const split& s : splits_) {
      if (s.raw.data() == e.raw().data() && s.raw.size() == e.raw().size() && s.depth == e.depth())
        return s;
    }
    split& s = splits_[next_];
    next_ ^= 1u;
    s.raw = e.raw();
    s.depth = e.depth();
    s.count = e.components(s.parts.data(), static_cast<std::uint32_t>(s.parts.size()), &s.info);
    return s;
  }

 private:
  alignas(std::max_align_t) char initial_[8192];
  std::pmr::monotonic_buffer_resource pool_;
  std::string scratch_;
  std::array<split, 2> splits_;
  unsigned next_ = 0;
};

// The arena of the convert() call running on this thread (set by arena_scope).
thread_local arena* current_arena = nullptr;

struct arena_scope {
  arena a;
  arena* previous;
  arena_scope() : previous(current_arena) { current_arena = &a; }
  ~arena_scope() { current_arena = previous; }
  arena_scope(const arena_scope&) = delete;
  arena_scope& operator=(const arena_scope&) = delete;
};

std::string_view keep(std::string_view s) { return current_arena->keep(s); }
std::string_view concat(std::initializer_list<std::string_view> parts) {
  return current_arena->concat(parts);
}
/// An empty vector in the arena.
template <class T>
std::pmr::vector<T> arena_vector() {
  return std::pmr::vector<T>(current_arena->memory());
}

std::string_view text(const element& e) {
  if (e.empty() || e.is_null()) return {};
  std::string& scratch = current_arena->scratch();
  const std::string_view v = e.decoded(scratch);
  return v.data() == scratch.data() ? keep(v) : v;
}
/// text() of a part of a split element: its raw text when the element holds no escape character.
std::string_view text(const element& e, bool escapes) {
  if (escapes) return text(e);
  const std::string_view raw = e.raw();
  return raw == "\"\"" ? std::string_view() : raw;  // the HL7 null
}
/// The text of component c of e (comp), of its sub-component s (sub).
std::string_view comp(const element& e, std::uint32_t c) {
  if (e.empty() || c == 0) return {};
  const arena::split& s = current_arena->split_of(e);
  if (c > s.count) return {};
  if (c > s.parts.size()) return text(e.component(c), s.info.escapes);
  return text(s.parts[c - 1], s.info.escapes);
}
std::string_view sub(const element& e, std::uint32_t c, std::uint32_t sc) {
  if (e.empty() || c == 0) return {};
  const arena::split& s = current_arena->split_of(e);
  if (c > s.count) return {};
  const element part = c <= s.parts.size() ? s.parts[c - 1] : e.component(c);
  if (!s.info.subcomponents)  // the component is its only sub-component
    return sc == 1 ? text(part, s.info.escapes) : std::string_view();
  return text(part.subcomponent(sc), s.info.escapes);
}
std::string_view trim(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

/// The repetitions of a field that hold something (empty ones and the HL7 null are skipped), for
/// a range-for; nothing is allocated.
class repetitions {
 public:
  explicit repetitions(const element& field) : field_(field) {}
  /// Walks the field once, piece by piece (not repetition(r) for r = 1, 2…, each a scan from the
  /// field's start).
  class iterator {
   public:
    iterator(const element& field, bool at_end) : msg_(field.owner()) {
      if (at_end || field.empty() || msg_ == nullptr) return;
      rest_ = field.raw();
      if (field.depth() == element::level::field) {
        sep_ = msg_->delims().repetition;
      } else {  // not a field: one repetition, the element itself
        whole_ = true;
        level_ = field.depth();
      }
      more_ = true;
      done_ = false;
      next();
    }
    element operator*() const { return {current_, msg_, level_}; }
    iterator& operator++() {
      next();
      return *this;
    }
    bool operator!=(const iterator& o) const { return done_ != o.done_; }

   private:
    // The next repetition that holds something (empty ones and the HL7 null are skipped); past the
    // last one, done_.
    void next() {
      while (more_) {
        current_ = whole_ ? rest_ : hl7::nth_piece(rest_, sep_, 1);
        if (current_.size() < rest_.size()) {
          rest_.remove_prefix(current_.size() + 1);
        } else {
          more_ = false;
        }
        if (!current_.empty() && current_ != "\"\"") return;
      }
      done_ = true;
    }
    const hl7::message* msg_;
    std::string_view rest_, current_;
    char sep_ = '\0';
    bool whole_ = false;
    element::level level_ = element::level::repetition;
    bool more_ = false;  // pieces left after current_
    bool done_ = true;   // past the last repetition (the end iterator's state)
  };
  iterator begin() const { return {field_, false}; }
  iterator end() const { return {field_, true}; }

 private:
  element field_;
};

std::optional<double> number(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty()) return std::nullopt;
  if (s.front() == '+') s.remove_prefix(1);
  // Decimal numbers only: from_chars also reads "nan", "inf" and hex floats, which no HL7 NM is.
  if (s.find_first_not_of("0123456789.-eE+") != std::string_view::npos) return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// ---- the conversion context --------------------------------------------------------------------

/// A coding whose text lives elsewhere (the code tables, the config, the message or the arena).
struct coding_view {
  std::string_view system, code, display;
  coding_view() = default;
  coding_view(std::string_view s, std::string_view c, std::string_view d)
      : system(s), code(c), display(d) {}
  explicit coding_view(const coding& c) : system(c.system), code(c.code), display(c.display) {}
};

struct identifier_value {
  std::string_view system, value, type;
  std::string_view assigner;  // HD namespace as sent
};

struct context {
  const hl7::message& m;
  const sender_profile* sender;
  const code_tables& tables;
  zone tz;
  std::string_view facility;  // MSH-4.1
  std::vector<unmapped_code> unmapped;
  std::vector<std::string> notes;
  std::vector<resource_json> resources;
  std::pmr::vector<identifier_value> pid3;  // PID-3, read once (pid3_ids()), in the arena
  bool pid3_read = false;

  // A message misses a handful of codes at most, and makes a score of resources: linear scans.
  void miss(std::string_view table, std::string_view code) {
    if (code.empty()) return;
    for (const unmapped_code& u : unmapped)
      if (u.table == table && u.code == code) return;
    unmapped.push_back({std::string(table), std::string(code)});
  }
  void note(std::string n) {
    if (std::find(notes.begin(), notes.end(), n) == notes.end()) notes.push_back(std::move(n));
  }
  // Adds a resource once (the first writer of a type/id wins: one message describes it once).
  void add(std::string_view type, std::string_view id, std::string json) {
    if (has(type, id)) return;
    resources.push_back({std::string(type), std::string(id), std::move(json)});
  }
  /// The same from a writer made by writer(): the JSON is copied out at its size and the writer's
  /// buffer goes back for the next resource (one allocation per resource, none to grow).
  void add(std::string_view type, std::string_view id, json_out& j) {
    if (!has(type, id)) resources.push_back({std::string(type), std::string(id), std::string(j.view())});
    json_buffer = j.release();
  }
  /// A writer for one resource, on the buffer the last one gave back.
  json_out writer() { return json_out::reusing(std::move(json_buffer)); }
  std::string json_buffer = spare_json_buffer();
  /// True when a resource of this type and id is written already (the same practitioner is often
  /// the attending and the admitting doctor; the caller can skip writing it again).
  bool has(std::string_view type, std::string_view id) const {
    for (const resource_json& r : resources)
      if (same_id(r.id, id) && r.type == type) return true;
    return false;
  }
  // Ids are UUIDs: their first eight bytes nearly always tell two apart, without a call to memcmp.
  static bool same_id(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    if (a.size() >= 8) {
      std::uint64_t x, y;
      std::memcpy(&x, a.data(), 8);
      std::memcpy(&y, b.data(), 8);
      if (x != y) return false;
    }
    return a == b;
  }

  // The resource writers' buffer is kept per thread from one convert() to the next (a few
  // kilobytes, allocated and cleared once instead of once per message); an unusually large one
  // is let go.
  static std::string& kept_json_buffer() {
    thread_local std::string kept;
    return kept;
  }
  static std::string spare_json_buffer() {
    std::string b = std::move(kept_json_buffer());
    if (b.size() < 4096) b.assign(4096, '\0');
    return b;
  }
  ~context() {
    if (json_buffer.size() <= (64u << 10)) kept_json_buffer() = std::move(json_buffer);
  }

  /// A v2 date/time as FHIR dateTime in the sender's zone. `where` names the field for the note.
  std::string_view datetime(std::string_view dtm, std::string_view where) {
    if (dtm.empty()) return {};
    // A message repeats its times (the admission time in PV1-44, PV2-8 and every DG1-5): the last
    // one converted is kept, and the same text is not parsed and zoned again.
    if (dtm != last_dtm.text) {
      bool degraded = false;
      bool invalid = false;
      const auto dt = fhir_datetime_of(dtm, tz, &degraded, &invalid);
      last_dtm = {dtm, dt ? written(*dt) : std::string_view(), degraded, invalid};
    }
    if (last_dtm.degraded)
      note(std::string(where) + " has no UTC offset and the facility has no time zone: date only");
    if (last_dtm.invalid) note(std::string(where) + " is not a valid date/time: left out");
    return last_dtm.fhir;
  }
  struct converted_dtm {
    std::string_view text, fhir;  // the v2 text (a view of the message) and its FHIR dateTime
    bool degraded = false, invalid = false;
  };
  converted_dtm last_dtm = {};
  struct named_practitioner {
    std::string_view raw;  // the XCN as sent
    element::level depth = element::level::field;
    std::string_view id;  // what practitioner() gave for it
  };
  named_practitioner last_xcn = {};
  std::string_view date(std::string_view dtm, std::string_view where) {
    if (dtm.empty()) return {};
    bool invalid = false;
    const auto dt = fhir_date_of(dtm, &invalid);
    if (invalid) note(std::string(where) + " is not a valid date: left out");
    return dt ? written(*dt) : std::string_view();
  }
  static std::string_view written(const hl7v2::hl7_datetime& dt) {
    char buf[hl7v2::hl7_datetime::iso8601_max];
    return keep({buf, dt.write_iso8601(buf, true)});
  }

  /// Coding from a code table; unmapped codes stay in their v2 table's code system.
  coding_view table_coding(std::string_view table, std::string_view v2_table,
                           std::string_view code) {
    if (const coding* c = tables.find(table, code)) return coding_view(*c);
    miss(table, code);
    return {concat({v2_system_prefix, v2_table}), code, {}};
  }
  /// A code system name from CWE.3 (table 0396, or the sender's local name) as a URI.
  std::string_view system_uri(std::string_view name) {
    if (name.empty()) return {};
    if (sender != nullptr) {
      if (auto it = sender->code_systems.find(name); it != sender->code_systems.end())
        return it->second;
    }
    if (const coding* c = tables.find(table::coding_system, name)) return c->code;
    if (name.starts_with("http://") || name.starts_with("https://") || name.starts_with("urn:"))
      return name;
    miss(table::coding_system, name);
    return concat({local_prefix, urn_part(facility), ":", urn_part(name)});
  }
  /// An assigning authority (HD) as an identifier system URI.
  std::string_view identifier_system(const element& hd_owner, std::uint32_t c_ns,
                                     std::uint32_t c_id, std::uint32_t c_type,
                                     bool hd_is_subcomponents, std::string_view id_type = {}) {
    const std::string_view ns =
        hd_is_subcomponents ? sub(hd_owner, c_ns, 1) : comp(hd_owner, c_ns);
    if (!ns.empty() && !id_type.empty() && sender != nullptr) {
      if (auto t = sender->identifier_systems_by_type.find(id_type);
          t != sender->identifier_systems_by_type.end()) {
        if (auto it = t->second.find(ns); it != t->second.end()) return it->second;
      }
    }
    if (!ns.empty() && sender != nullptr) {
      if (auto it = sender->identifier_systems.find(ns); it != sender->identifier_systems.end())
        return it->second;
    }
    if (!ns.empty()) {
      if (const coding* c = tables.find(table::coding_system, ns)) return c->code;
    }
    const std::string_view uid =
        hd_is_subcomponents ? sub(hd_owner, c_ns, 2) : comp(hd_owner, c_id);
    if (!uid.empty()) {
      const std::string_view uid_type =
          hd_is_subcomponents ? sub(hd_owner, c_ns, 3) : comp(hd_owner, c_type);
      if (uid_type == "ISO") return concat({"urn:oid:", uid});
      if (uid_type == "UUID") return concat({"urn:uuid:", lower(uid)});
      if (uid.starts_with("http://") || uid.starts_with("https://") || uid.starts_with("urn:"))
        return uid;
    }
    if (ns.empty()) return {};
    miss("identifier-system", ns);
    return concat({local_prefix, urn_part(facility), ":id:", urn_part(ns)});
  }
};

// ---- datatypes ---------------------------------------------------------------------------------

void write_coding(json_out& j, const coding_view& c) {
  j.begin_object();
  j.field("system", c.system);
  j.field("code", c.code);
  j.field("display", c.display);
  j.end_object();
}

/// {"coding": [c]} under `k`.
void write_concept(json_out& j, const jkey& k, const coding_view& c) {
  j.begin_object(k);
  j.begin_array("coding");
  write_coding(j, c);
  j.end_array();
  j.end_object();
}

/// [{"coding": [c]}] under `k`.
void write_concept_list(json_out& j, const jkey& k, const coding_view& c) {
  j.begin_array(k);
  j.begin_object();
  j.begin_array("coding");
  write_coding(j, c);
  j.end_array();
  j.end_object();
  j.end_array();
}

/// CodeableConcept from a table-mapped code: {coding:[…]} (nothing when code is empty).
void write_table_concept(json_out& j, context& cx, const jkey& k, std::string_view table,
                         std::string_view v2_table, std::string_view code,
                         std::string_view text_value = {}) {
  if (code.empty() && text_value.empty()) return;
  j.begin_object(k);
  if (!code.empty()) {
    j.begin_array("coding");
    write_coding(j, cx.table_coding(table, v2_table, code));
    j.end_array();
  }
  j.field("text", text_value);
  j.end_object();
}

/// Up to N values kept in place (CWE has three codings at most).
template <class T, std::size_t N>
class few {
 public:
  void push_back(const T& v) {
    if (n_ < N) items_[n_++] = v;
  }
  bool empty() const { return n_ == 0; }
  std::size_t size() const { return n_; }
  const T& operator[](std::size_t i) const { return items_[i]; }
  const T* begin() const { return items_.data(); }
  const T* end() const { return items_.data() + n_; }

 private:
  std::array<T, N> items_{};
  std::size_t n_ = 0;
};

struct cwe_value {
  few<coding_view, 3> codings;
  std::string_view text;
  few<std::string_view, 3> original_systems;  // CWE.3/6/12 as sent, per coding
  bool empty() const { return codings.empty() && text.empty(); }
};

/// CWE/CE: triplets 1 (1–3), 2 (4–6) and 3 (10–12) as codings, CWE.9 (else CWE.2) as text.
cwe_value read_cwe(context& cx, const element& e) {
  cwe_value v;
  const element rep = e.repetition(1);
  const std::uint32_t triplets[3][3] = {{1, 2, 3}, {4, 5, 6}, {10, 11, 12}};
  for (const auto& t : triplets) {
    const std::string_view code = trim(comp(rep, t[0]));
    if (code.empty()) continue;
    const std::string_view display = comp(rep, t[1]);
    const std::string_view sys = comp(rep, t[2]);
    v.codings.push_back({cx.system_uri(sys), code, display});
    v.original_systems.push_back(sys);
  }
  v.text = comp(rep, 9);
  if (v.text.empty()) v.text = comp(rep, 2);
  if (v.codings.empty() && v.text.empty()) v.text = trim(comp(rep, 1));
  return v;
}

void write_cwe(json_out& j, const jkey& k, const cwe_value& v) {
  if (v.empty()) return;
  j.begin_object(k);
  if (!v.codings.empty()) {
    j.begin_array("coding");
    for (const coding_view& c : v.codings) {
      j.begin_object();
      j.field("system", c.system);
      j.field("code", c.code);
      j.field("display", c.display);
      j.end_object();
    }
    j.end_array();
  }
  j.field("text", v.text);
  j.end_object();
}

event::coded to_event_code(const cwe_value& v, std::string_view prefer_system = {}) {
  event::coded out;
  if (v.codings.empty()) {
    out.display = v.text;
    return out;
  }
  std::size_t pick = 0;
  if (!prefer_system.empty()) {
    for (std::size_t i = 0; i < v.codings.size(); ++i)
      if (v.codings[i].system == prefer_system) {
        pick = i;
        break;
      }
  }
  out.system = v.codings[pick].system;
  out.code = v.codings[pick].code;
  out.display = v.codings[pick].display.empty() ? v.text : v.codings[pick].display;
  out.original_system = v.original_systems[pick];
  return out;
}

event::coded event_code(const coding_view& c) {
  return {std::string(c.system), std::string(c.code), std::string(c.display), {}};
}

event::identifier event_id(const identifier_value& id) {
  return {std::string(id.system), std::string(id.value), std::string(id.type),
          std::string(id.assigner)};
}

/// CX → Identifier parts.
identifier_value read_cx(context& cx, const element& e, std::string_view default_type = {}) {
  identifier_value id;
  id.value = trim(comp(e, 1));
  id.assigner = sub(e, 4, 1);
  id.type = trim(comp(e, 5));
  if (id.type.empty()) id.type = default_type;
  if (id.value.empty()) return id;
  id.system = cx.identifier_system(e, 4, 0, 0, true, id.type);
  if (id.system.empty() && id.type == "SS") id.system = "http://hl7.org/fhir/sid/us-ssn";
  if (id.system.empty() && id.type == "NPI") id.system = "http://hl7.org/fhir/sid/us-npi";
  return id;
}

void write_identifier(json_out& j, context& cx, const identifier_value& id) {
  if (id.value.empty()) return;
  j.begin_object();
  if (!id.type.empty()) {
    write_concept(j, "type", cx.table_coding(table::identifier_type, "0203", id.type));
  }
  j.field("system", id.system);
  j.field("value", id.value);
  if (id.system.empty() && !id.assigner.empty()) {
    j.begin_object("assigner");
    j.field("display", id.assigner);
    j.end_object();
  }
  j.end_object();
}

/// Opens a resource: {"resourceType": type, "id": id, …
void begin_resource(json_out& j, std::string_view type, std::string_view id) {
  j.begin_object();
  j.field("resourceType", type);
  j.field("id", id);
}

/// "identifier": [id] when the identifier has a value.
void write_identifier_list(json_out& j, context& cx, const identifier_value& id) {
  if (id.value.empty()) return;
  j.begin_array("identifier");
  write_identifier(j, cx, id);
  j.end_array();
}

/// XPN → HumanName (inside an array). The same components follow the id in XCN, so `first` names
/// the family-name component (XPN 1, XCN 2) and `use_at` the name-type one (XPN.7, XCN.10).
bool write_name(json_out& j, context& cx, const element& e, std::uint32_t first = 1,
                std::uint32_t use_at = 7) {
  const std::string_view family = comp(e, first).empty() ? std::string_view() : sub(e, first, 1);
  const std::string_view given = comp(e, first + 1);
  const std::string_view middle = comp(e, first + 2);
  if (family.empty() && given.empty()) return false;
  j.begin_object();
  const std::string_view use = comp(e, use_at);
  if (!use.empty()) {
    if (const coding* c = cx.tables.find(table::name_use, use)) {
      j.field("use", c->code);
    } else {
      cx.miss(table::name_use, use);
    }
  }
  j.field("family", family);
  auto strings = [&](const jkey& k, std::initializer_list<std::string_view> values) {
    bool any = false;
    for (std::string_view v : values) any = any || !v.empty();
    if (!any) return;
    j.begin_array(k);
    for (std::string_view v : values)
      if (!v.empty()) j.str(v);
    j.end_array();
  };
  strings("given", {given, middle});
  strings("prefix", {comp(e, first + 4)});
  strings("suffix", {comp(e, first + 3), comp(e, first + 5)});  // suffix, then degree
  j.end_object();
  return true;
}

/// XAD → Address (inside an array).
void write_address(json_out& j, context& cx, const element& e) {
  const std::string_view line1 = sub(e, 1, 1);
  const std::string_view line2 = comp(e, 2);
  const std::string_view city = comp(e, 3), state = comp(e, 4), postal = comp(e, 5),
                    country = comp(e, 6);
  const std::string_view district = comp(e, 9);
  if (line1.empty() && line2.empty() && city.empty() && state.empty() && postal.empty() &&
      country.empty())
    return;
  j.begin_object();
  const std::string_view type = comp(e, 7);
  if (!type.empty()) {
    const coding* use = cx.tables.find(table::address_use, type);
    const coding* kind = cx.tables.find(table::address_type, type);
    if (use) j.field("use", use->code);
    if (kind) j.field("type", kind->code);
    if (!use && !kind) cx.miss(table::address_use, type);
  }
  if (!line1.empty() || !line2.empty()) {
    j.begin_array("line");
    if (!line1.empty()) j.str(line1);
    if (!line2.empty()) j.str(line2);
    j.end_array();
  }
  j.field("city", city);
  j.field("district", district);
  j.field("state", state);
  j.field("postalCode", postal);
  j.field("country", country);
  j.end_object();
}

// What write_name and write_address write something for (so that no array is left empty).
bool has_name(const element& e) { return !sub(e, 1, 1).empty() || !comp(e, 2).empty(); }
bool has_address(const element& e) {
  for (std::uint32_t c : {2u, 3u, 4u, 5u, 6u})
    if (!comp(e, c).empty()) return true;
  return !sub(e, 1, 1).empty();
}
/// The first repetition of `field` that holds a name (a name may come in a later repetition).
std::optional<element> first_name(const element& field) {
  for (const element& rep : repetitions(field))
    if (has_name(rep)) return rep;
  return std::nullopt;
}
void write_names(json_out& j, context& cx, const element& field) {
  if (!first_name(field)) return;
  j.begin_array("name");
  for (const element& rep : repetitions(field))
    if (has_name(rep)) write_name(j, cx, rep);
  j.end_array();
}
void write_addresses(json_out& j, context& cx, const element& field) {
  bool any = false;
  for (const element& rep : repetitions(field)) any = any || has_address(rep);
  if (!any) return;
  j.begin_array("address");
  for (const element& rep : repetitions(field))
    if (has_address(rep)) write_address(j, cx, rep);
  j.end_array();
}

struct telecom_value {
  std::string_view system, use, value;
};

/// XTN → ContactPoint parts. `default_use` applies when XTN.2 is empty (PID-13 home, PID-14 work).
telecom_value read_xtn(context& cx, const element& e, std::string_view default_use) {
  telecom_value t;
  const std::string_view use_code = comp(e, 2);
  const std::string_view equipment = comp(e, 3);
  if (!equipment.empty()) {
    if (const coding* c = cx.tables.find(table::telecom_system, equipment)) {
      t.system = c->code;
    } else {
      cx.miss(table::telecom_system, equipment);
    }
  }
  if (!use_code.empty()) {
    if (const coding* c = cx.tables.find(table::telecom_use, use_code)) {
      // NET/BPN name the equipment more than the use (legacy XTN.2 values).
      if (c->system.ends_with("contact-point-system")) {
        if (t.system.empty()) t.system = c->code;
      } else {
        t.use = c->code;
      }
    } else {
      cx.miss(table::telecom_use, use_code);
    }
  }
  if (t.use.empty()) t.use = default_use;
  if (equipment == "CP" && use_code.empty()) t.use = "mobile";
  if (t.system == "email" || (!comp(e, 4).empty() && comp(e, 1).empty() && comp(e, 7).empty())) {
    t.value = comp(e, 4);
    if (t.system.empty()) t.system = "email";
  }
  if (t.value.empty()) t.value = comp(e, 12);
  if (t.value.empty()) {
    const std::string_view country = comp(e, 5), area = comp(e, 6), local = comp(e, 7), ext = comp(e, 8);
    if (!local.empty()) {
      std::string v;
      if (!country.empty()) v.append("+").append(country).append(" ");
      if (!area.empty()) v.append("(").append(area).append(") ");
      if (local.size() == 7 && local.find_first_not_of("0123456789") == std::string::npos)
        v.append(local.substr(0, 3)).append("-").append(local.substr(3));
      else
        v.append(local);
      if (!ext.empty()) v.append(" x").append(ext);
      t.value = keep(v);
    }
  }
  if (t.value.empty()) t.value = comp(e, 1);  // before v2.5 the number is XTN.1
  if (t.system.empty() && !t.value.empty())
    t.system = t.value.find('@') != std::string::npos ? "email" : "phone";
  return t;
}

void write_telecom(json_out& j, const telecom_value& t) {
  if (t.value.empty()) return;
  j.begin_object();
  j.field("system", t.system);
  j.field("value", t.value);
  j.field("use", t.use);
  j.end_object();
}

// ---- resources ---------------------------------------------------------------------------------

std::string_view organization_for_facility(context& cx) {
  const element hd = cx.m.segment(0).field(4);
  const std::string_view ns = comp(hd, 1), uid = comp(hd, 2), uid_type = comp(hd, 3);
  if (ns.empty() && uid.empty()) return {};
  const std::string_view id = keep(ids::facility_organization(ns, uid));
  json_out j = cx.writer();
  begin_resource(j, "Organization", id);
  if (!uid.empty()) {
    j.begin_array("identifier");
    j.begin_object();
    j.field("system", uid_type == "ISO" ? "urn:ietf:rfc:3986" : "");
    j.field("value", uid_type == "ISO" ? concat({"urn:oid:", uid}) : uid);
    j.end_object();
    j.end_array();
  }
  j.boolean("active", true);
  j.field("name", ns.empty() ? uid : ns);
  j.end_object();
  cx.add("Organization", id, j);
  return id;
}

std::string_view write_practitioner(context& cx, const element& e);

/// XCN → Practitioner resource; returns its id (empty when there is nothing to identify it).
std::string_view practitioner(context& cx, const element& e) {
  // One doctor is often named twice in a row (the attending and the admitting one, PV1-7 and
  // PV1-17): the same XCN text gives the same id, and the resource is written already.
  if (cx.last_xcn.depth == e.depth() && !e.empty() && e.raw() == cx.last_xcn.raw)
    return cx.last_xcn.id;
  const std::string_view id = write_practitioner(cx, e);
  cx.last_xcn = {e.raw(), e.depth(), id};
  return id;
}

std::string_view write_practitioner(context& cx, const element& e) {
  const std::string_view value = trim(comp(e, 1));
  const std::string_view family = comp(e, 2).empty() ? std::string_view() : sub(e, 2, 1);
  const std::string_view given = comp(e, 3);
  if (value.empty() && family.empty()) return {};
  const std::string_view type = trim(comp(e, 13));
  std::string_view system =
      value.empty() ? std::string_view() : cx.identifier_system(e, 9, 0, 0, true, type);
  if (system.empty() && type == "NPI") system = "http://hl7.org/fhir/sid/us-npi";
  if (system.empty() && !value.empty() && cx.sender != nullptr)
    system = cx.sender->practitioner_system;
  const std::string_view id = keep(value.empty()
                                        ? ids::practitioner_by_name(cx.facility, family, given)
                                        : ids::practitioner(system, sub(e, 9, 1), value));
  if (cx.has("Practitioner", id)) return id;
  json_out j = cx.writer();
  begin_resource(j, "Practitioner", id);
  if (!value.empty()) {
    j.begin_array("identifier");
    identifier_value iv{system, value, type, sub(e, 9, 1)};
    write_identifier(j, cx, iv);
    j.end_array();
  }
  if (!family.empty() || !given.empty()) {
    j.begin_array("name");
    write_name(j, cx, e, 2, 10);
    j.end_array();
  }
  j.end_object();
  cx.add("Practitioner", id, j);
  return id;
}

/// PID-3's repetitions as identifiers, read once per message (the key, the event and the Patient
/// all want them).
const std::pmr::vector<identifier_value>& pid3_ids(context& cx, const indexed_segment& pid) {
  if (!cx.pid3_read) {
    for (const element& rep : repetitions(pid.field(3))) cx.pid3.push_back(read_cx(cx, rep));
    cx.pid3_read = true;
  }
  return cx.pid3;
}

/// The identifier the Patient is keyed on: the first PID-3 of type MR, else the first PID-3.
std::optional<identifier_value> patient_key(context& cx, const indexed_segment& pid) {
  std::optional<identifier_value> first;
  for (const identifier_value& id : pid3_ids(cx, pid)) {
    if (id.value.empty()) continue;
    if (id.type == "MR") return id;
    if (!first) first = id;
  }
  return first;
}

std::string_view patient_id_for(const context& cx, const identifier_value& key) {
  return keep(ids::patient(cx.facility, key.system, key.assigner, key.value));
}

void fill_event_patient(context& cx, const indexed_segment& pid, event::clinical_event& ev) {
  ev.patient_ids.reserve(pid3_ids(cx, pid).size());
  for (const identifier_value& id : pid3_ids(cx, pid)) {
    if (id.value.empty()) continue;
    ev.patient_ids.push_back(event_id(id));
    if (id.type == "MB" || id.type == "MA" || id.type == "MC" ||
        id.system == "http://hl7.org/fhir/sid/us-mbi")
      ev.member_ids.push_back(event_id(id));
  }
  if (const auto name = first_name(pid.field(5))) {
    ev.family = sub(*name, 1, 1);
    ev.given = comp(*name, 2);
  }
  ev.birth_date = cx.date(comp(pid.field(7), 1), "PID-7");
  const std::string_view sex = trim(comp(pid.field(8), 1));
  if (const coding* c = cx.tables.find(table::sex, sex)) ev.sex = c->code;
  ev.postal_code = comp(pid.field(11).repetition(1), 5);
  for (const element& rep : repetitions(pid.field(13))) {
    telecom_value t = read_xtn(cx, rep, "home");
    if (t.system == "phone" && !t.value.empty()) {
      ev.phone = t.value;
      break;
    }
  }
}

std::string_view write_patient(context& cx, const indexed_segment& pid,
                          const std::optional<indexed_segment>& pd1, const identifier_value& key,
                          std::string_view org_id, std::string_view merged_away_id) {
  const std::string_view id = patient_id_for(cx, key);
  std::string_view gp_id;
  if (pd1) gp_id = practitioner(cx, pd1->field(4).repetition(1));

  json_out j = cx.writer();
  begin_resource(j, "Patient", id);
  j.begin_array("identifier");
  for (const identifier_value& pid3 : pid3_ids(cx, pid)) write_identifier(j, cx, pid3);
  for (const element& rep : repetitions(pid.field(2))) write_identifier(j, cx, read_cx(cx, rep));
  for (const element& rep : repetitions(pid.field(4))) write_identifier(j, cx, read_cx(cx, rep));
  // PID-19 (SSN, deprecated since v2.7): written unless PID-3 already carries the SSN.
  std::string ssn;
  for (char c : trim(comp(pid.field(19), 1)))
    if (c != '-' && c != ' ') ssn.push_back(c);
  if (!ssn.empty()) {
    bool in_pid3 = false;
    for (const identifier_value& pid3 : pid3_ids(cx, pid))
      in_pid3 = in_pid3 || pid3.type == "SS" || pid3.system == "http://hl7.org/fhir/sid/us-ssn";
    if (!in_pid3) write_identifier(j, cx, {"http://hl7.org/fhir/sid/us-ssn", ssn, "SS", {}});
  }
  const std::string_view dl = trim(comp(pid.field(20), 1));
  if (!dl.empty())
    write_identifier(
        j, cx,
        {cx.identifier_system(pid.field(20), 2, 0, 0, false), dl, "DL", comp(pid.field(20), 2)});
  j.end_array();
  j.boolean("active", true);

  write_names(j, cx, pid.field(5));

  auto telecoms = arena_vector<telecom_value>();
  for (const element& rep : repetitions(pid.field(13)))
    telecoms.push_back(read_xtn(cx, rep, "home"));
  for (const element& rep : repetitions(pid.field(14)))
    telecoms.push_back(read_xtn(cx, rep, "work"));
  std::erase_if(telecoms, [](const telecom_value& t) { return t.value.empty(); });
  if (!telecoms.empty()) {
    j.begin_array("telecom");
    for (const telecom_value& t : telecoms) write_telecom(j, t);
    j.end_array();
  }
  const std::string_view sex = trim(comp(pid.field(8), 1));
  if (!sex.empty()) {
    if (const coding* c = cx.tables.find(table::sex, sex)) {
      j.field("gender", c->code);
    } else {
      cx.miss(table::sex, sex);
    }
  }
  j.field("birthDate", cx.date(comp(pid.field(7), 1), "PID-7"));
  const std::string_view death_time = cx.datetime(comp(pid.field(29), 1), "PID-29");
  const std::string_view death_flag = trim(comp(pid.field(30), 1));
  if (!death_time.empty()) {
    j.field("deceasedDateTime", death_time);
  } else if (death_flag == "Y" || death_flag == "N") {
    j.boolean("deceasedBoolean", death_flag == "Y");
  }
  write_addresses(j, cx, pid.field(11));
  const std::string_view marital = trim(comp(pid.field(16), 1));
  if (!marital.empty())
    write_table_concept(j, cx, "maritalStatus", table::marital_status, "0002", marital);
  if (!gp_id.empty()) {
    j.begin_array("generalPractitioner");
    j.reference_item("Practitioner", gp_id);
    j.end_array();
  }
  if (!org_id.empty()) j.reference("managingOrganization", "Organization", org_id);
  if (!merged_away_id.empty()) {
    j.begin_array("link");
    j.begin_object();
    j.reference("other", "Patient", merged_away_id);
    j.field("type", "replaces");
    j.end_object();
    j.end_array();
  }
  j.end_object();
  cx.add("Patient", id, j);
  return id;
}

/// PL (PV1-3) → Location; returns its id.
std::string_view location(context& cx, const element& pl, std::string_view org_id) {
  const std::string_view poc = comp(pl, 1), room = comp(pl, 2), bed = comp(pl, 3);
  const std::string_view fac = sub(pl, 4, 1);
  if (poc.empty() && room.empty() && bed.empty()) return {};
  const std::string_view id = keep(derived_uuid("Location", {cx.facility, fac, poc, room, bed}));
  std::string name(poc);
  for (std::string_view part : {room, bed})
    if (!part.empty()) name.append(name.empty() ? "" : " ").append(part);
  if (cx.has("Location", id)) return id;
  json_out j = cx.writer();
  begin_resource(j, "Location", id);
  j.field("status", "active");
  j.field("name", name);
  j.field("mode", "instance");
  j.begin_object("physicalType");
  j.begin_array("coding");
  j.begin_object();
  j.field("system", "http://terminology.hl7.org/CodeSystem/location-physical-type");
  j.field("code", !bed.empty() ? "bd" : !room.empty() ? "ro" : "wa");
  j.end_object();
  j.end_array();
  j.end_object();
  if (!org_id.empty()) j.reference("managingOrganization", "Organization", org_id);
  j.end_object();
  cx.add("Location", id, j);
  return id;
}

/// The stay's identifier: PV1-19 (visit number), else PV1-50 (alternate visit id).
identifier_value visit_of(context& cx, const indexed_segment& pv1) {
  identifier_value visit = read_cx(cx, pv1.field(19).repetition(1), "VN");
  if (visit.value.empty()) visit = read_cx(cx, pv1.field(50).repetition(1), "VN");
  return visit;
}

struct diagnosis_entry {
  std::string_view condition_id;
  std::string_view use;  // diagnosis-role code
  std::string_view use_system;
  std::optional<int> rank;
};

/// The ADT event code → event kind.
event::event_kind kind_of(std::string_view type, std::string_view trigger) {
  using k = event::event_kind;
  if (type == "ORU") return k::lab_result;
  if (type != "ADT") return k::other;
  static const std::map<std::string_view, k> kinds = {
      {"A01", k::admission},
      {"A02", k::transfer},
      {"A03", k::discharge},
      {"A04", k::registration},
      {"A05", k::preadmission},
      {"A06", k::admission},
      {"A07", k::change_to_outpatient},
      {"A08", k::update},
      {"A11", k::cancel_admission},
      {"A12", k::cancel_transfer},
      {"A13", k::cancel_discharge},
      {"A40", k::merge},
      {"A34", k::merge},
      {"A35", k::merge},
      {"A36", k::merge},
      {"A39", k::merge},
      {"A41", k::merge},
      {"A42", k::merge},
      {"A31", k::update},
      {"A28", k::update},
  };
  auto it = kinds.find(trigger);
  return it == kinds.end() ? k::other : it->second;
}

struct encounter_inputs {
  std::string_view patient_id;
  std::string_view org_id;
  std::string trigger;
  event::clinical_event* ev;
};

/// PV1 (+PV2, DG1, PR1) → Encounter, Condition, Procedure, Location, Practitioner. Returns the
/// Encounter id (empty when there is no PV1).
std::string_view write_encounter(context& cx, const encounter_inputs& in) {
  const auto pv1 = find_segment(cx.m, "PV1");
  if (!pv1) return {};
  const auto pv2 = find_segment(cx.m, "PV2");
  event::clinical_event& ev = *in.ev;

  // Identity: the visit number (PV1-19), else the alternate visit id (PV1-50), else this message.
  const identifier_value visit = visit_of(cx, *pv1);
  // A lab result only points at its stay: its PV1 is usually sparse, and a PUT of an Encounter made
  // of it would wipe what the ADT messages said about the stay. Without a visit number it names none.
  if (ev.kind == event::event_kind::lab_result) {
    if (visit.value.empty()) return {};
    ev.visit_id = visit.value;
    ev.encounter_resource_id =
        ids::encounter(cx.facility, visit.system, visit.assigner, visit.value).view();
    return ev.encounter_resource_id;
  }
  const std::string_view encounter_id = keep(
      !visit.value.empty()
          ? ids::encounter(cx.facility, visit.system, visit.assigner, visit.value)
          : derived_uuid("Encounter", {cx.facility, "message", cx.m.control_id()}));
  if (visit.value.empty())
    cx.note("PV1-19 has no visit number: the Encounter is keyed on the message");
  ev.visit_id = visit.value;
  ev.encounter_resource_id = encounter_id;

  // Class and status.
  const std::string_view class_code = trim(comp(pv1->field(2), 1));
  coding_view cls;
  if (class_code.empty()) {
    cls = {"http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "UNK", "unknown"};
  } else {
    cls = cx.table_coding(table::patient_class, "0004", class_code);
  }
  ev.patient_class = cls.code;

  const std::string_view admit = cx.datetime(comp(pv1->field(44), 1), "PV1-44");
  std::string_view discharge = cx.datetime(comp(pv1->field(45), 1), "PV1-45");
  std::string status;
  if (in.trigger == "A03") {
    status = "finished";
    if (discharge.empty()) {
      // The real-world event time (EVN-6), else when it was recorded (EVN-2), else MSH-7.
      const auto evn = find_segment(cx.m, "EVN");
      if (evn) discharge = cx.datetime(comp(evn->field(6), 1), "EVN-6");
      if (discharge.empty() && evn) discharge = cx.datetime(comp(evn->field(2), 1), "EVN-2");
      if (discharge.empty()) discharge = cx.datetime(comp(cx.m.segment(0).field(7), 1), "MSH-7");
      cx.note("A03 without PV1-45: the discharge time is taken from EVN/MSH");
    }
  } else if (in.trigger == "A11") {
    status = "cancelled";
  } else if (in.trigger == "A05" || in.trigger == "A14") {
    status = "planned";
  } else if (in.trigger == "A13") {
    status = "in-progress";
    discharge = {};  // the discharge is cancelled: the stay goes on
  } else if (!discharge.empty()) {
    status = "finished";
  } else if (const coding* c = cx.tables.find(table::encounter_status, class_code)) {
    status = c->code;
  } else {
    status = "in-progress";
  }
  ev.admit_time = admit;
  ev.discharge_time = discharge;

  // Participants.
  struct participant {
    std::string_view id;
    const char* type;
    const char* display;
  };
  auto participants = arena_vector<participant>();
  const std::pair<std::uint32_t, std::pair<const char*, const char*>> roles[] = {
      {7, {"ATND", "attender"}},
      {8, {"REF", "referrer"}},
      {9, {"CON", "consultant"}},
      {17, {"ADM", "admitter"}}};
  for (const auto& [field, role] : roles) {
    for (const element& rep : repetitions(pv1->field(field))) {
      const std::string_view pid = practitioner(cx, rep);
      if (!pid.empty()) participants.push_back({pid, role.first, role.second});
    }
  }

  const std::string_view location_id = location(cx, pv1->field(3), in.org_id);
  const std::string_view prior_location_id = location(cx, pv1->field(6), in.org_id);

  // Diagnoses.
  auto diagnoses = arena_vector<diagnosis_entry>();
  ev.diagnoses.reserve(cx.m.count("DG1"));
  ev.procedures.reserve(cx.m.count("PR1"));
  for (const indexed_segment& dg1_segment : segments_named(cx.m, "DG1")) {
    const indexed_segment* const dg1 = &dg1_segment;
    const cwe_value code = read_cwe(cx, dg1->field(3));
    cwe_value shown = code;
    if (shown.text.empty()) shown.text = comp(dg1->field(4), 1);
    if (shown.empty()) continue;
    const std::string_view key_code = code.codings.empty() ? shown.text : code.codings[0].code;
    const std::string_view key_system =
        code.codings.empty() ? std::string_view() : code.codings[0].system;
    const std::string_view condition_id = keep(ids::condition(encounter_id, key_system, key_code));
    const std::string_view type = trim(comp(dg1->field(6), 1));
    const bool erroneous = trim(comp(dg1->field(21), 1)) == "D";
    json_out j = cx.writer();
    begin_resource(j, "Condition", condition_id);
    if (!erroneous) {
      j.begin_object("clinicalStatus");
      j.begin_array("coding");
      write_coding(
          j, {"http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"});
      j.end_array();
      j.end_object();
    }
    j.begin_object("verificationStatus");
    j.begin_array("coding");
    if (erroneous) {
      write_coding(j, {"http://terminology.hl7.org/CodeSystem/condition-ver-status",
                       "entered-in-error", "Entered in Error"});
    } else if (type == "W" || type == "A") {
      write_coding(j, {"http://terminology.hl7.org/CodeSystem/condition-ver-status", "provisional",
                       "Provisional"});
    } else {
      write_coding(j, {"http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed",
                       "Confirmed"});
    }
    j.end_array();
    j.end_object();
    write_concept_list(j, "category", {"http://terminology.hl7.org/CodeSystem/condition-category",
                     "encounter-diagnosis", "Encounter Diagnosis"});
    write_cwe(j, "code", shown);
    j.reference("subject", "Patient", in.patient_id);
    j.reference("encounter", "Encounter", encounter_id);
    j.field("onsetDateTime", cx.datetime(comp(dg1->field(5), 1), "DG1-5"));
    j.field("recordedDate", cx.datetime(comp(dg1->field(19), 1), "DG1-19"));
    j.end_object();
    cx.add("Condition", condition_id, j);

    diagnosis_entry d;
    d.condition_id = condition_id;
    if (!type.empty()) {
      const coding_view c = cx.table_coding(table::diagnosis_type, "0052", type);
      d.use = c.code;
      d.use_system = c.system;
    }
    // FHIR ranks are positive integers; 0 means "not ranked" in DG1-15.
    if (auto r = number(comp(dg1->field(15), 1)); r && *r >= 1 && *r <= 1000 && *r == std::floor(*r))
      d.rank = static_cast<int>(*r);
    diagnoses.push_back(d);
    if (!erroneous) {
      event::diagnosis ed;
      ed.code = to_event_code(shown, "http://hl7.org/fhir/sid/icd-10-cm");
      ed.use = d.use;
      ed.rank = d.rank;
      ev.diagnoses.push_back(std::move(ed));
    }
  }

  // Procedures.
  for (const indexed_segment& pr1_segment : segments_named(cx.m, "PR1")) {
    const indexed_segment* const pr1 = &pr1_segment;
    cwe_value code = read_cwe(cx, pr1->field(3));
    if (code.text.empty()) code.text = comp(pr1->field(4), 1);
    if (code.empty()) continue;
    const std::string_view performed = cx.datetime(comp(pr1->field(5), 1), "PR1-5");
    const std::string_view procedure_id = keep(
        ids::procedure(encounter_id, code.codings.empty() ? std::string_view() : code.codings[0].system,
                       code.codings.empty() ? code.text : code.codings[0].code, performed));
    json_out j = cx.writer();
    begin_resource(j, "Procedure", procedure_id);
    j.field("status", "completed");
    write_cwe(j, "code", code);
    j.reference("subject", "Patient", in.patient_id);
    j.reference("encounter", "Encounter", encounter_id);
    j.field("performedDateTime", performed);
    j.end_object();
    cx.add("Procedure", procedure_id, j);
    ev.procedures.push_back({to_event_code(code), std::string(performed)});
  }

  // The Encounter itself.
  json_out j = cx.writer();
  begin_resource(j, "Encounter", encounter_id);
  write_identifier_list(j, cx, visit);
  j.field("status", status);
  j.begin_object("class");
  j.field("system", cls.system);
  j.field("code", cls.code);
  j.field("display", cls.display);
  j.end_object();
  const std::string_view admission_type = trim(comp(pv1->field(4), 1));
  ev.admission_type = admission_type;
  if (!admission_type.empty()) {
    write_concept_list(j, "type", cx.table_coding(table::admission_type, "0007", admission_type));
  }
  const std::string_view service = trim(comp(pv1->field(10), 1));
  ev.service = service;
  if (!service.empty())
    write_table_concept(j, cx, "serviceType", table::hospital_service, "0069", service);
  j.reference("subject", "Patient", in.patient_id);
  if (!participants.empty()) {
    j.begin_array("participant");
    for (const participant& p : participants) {
      j.begin_object();
      j.begin_array("type");
      j.begin_object();
      j.begin_array("coding");
      write_coding(
          j, {"http://terminology.hl7.org/CodeSystem/v3-ParticipationType", p.type, p.display});
      j.end_array();
      j.end_object();
      j.end_array();
      j.reference("individual", "Practitioner", p.id);
      j.end_object();
    }
    j.end_array();
  }
  if (!admit.empty() || !discharge.empty()) {
    j.begin_object("period");
    j.field("start", admit);
    j.field("end", discharge);
    j.end_object();
  }
  if (pv2) {
    if (auto los = number(comp(pv2->field(11), 1))) {
      ev.length_of_stay_days = *los;
      j.begin_object("length");
      j.number("value", *los);
      j.field("unit", "days");
      j.field("system", "http://unitsofmeasure.org");
      j.field("code", "d");
      j.end_object();
    }
    const cwe_value reason = read_cwe(cx, pv2->field(3));
    if (!reason.empty()) {
      j.begin_array("reasonCode");
      j.begin_object();
      if (!reason.codings.empty()) {
        j.begin_array("coding");
        for (const coding_view& c : reason.codings) write_coding(j, c);
        j.end_array();
      }
      j.field("text", reason.text);
      j.end_object();
      j.end_array();
    }
  }
  if (!diagnoses.empty()) {
    j.begin_array("diagnosis");
    for (const diagnosis_entry& d : diagnoses) {
      j.begin_object();
      j.reference("condition", "Condition", d.condition_id);
      if (!d.use.empty()) {
        write_concept(j, "use", {d.use_system, d.use, {}});
      }
      if (d.rank) j.integer("rank", *d.rank);
      j.end_object();
    }
    j.end_array();
  }
  // Hospitalization.
  const identifier_value preadmit = read_cx(cx, pv1->field(5).repetition(1), "VN");
  const std::string_view admit_source = trim(comp(pv1->field(14), 1));
  const std::string_view readmission = trim(comp(pv1->field(13), 1));
  const std::string_view disposition = trim(comp(pv1->field(36), 1));
  ev.readmission_flag = readmission == "R";
  if (!preadmit.value.empty() || !admit_source.empty() || !readmission.empty() ||
      !disposition.empty()) {
    j.begin_object("hospitalization");
    if (!preadmit.value.empty()) {
      j.key("preAdmissionIdentifier");
      write_identifier(j, cx, preadmit);
    }
    if (!admit_source.empty()) {
      const coding_view c = cx.table_coding(table::admit_source, "0023", admit_source);
      ev.admit_source = event_code(c);
      write_table_concept(j, cx, "admitSource", table::admit_source, "0023", admit_source);
    }
    if (!readmission.empty())
      write_table_concept(j, cx, "reAdmission", table::readmission, "0092", readmission);
    if (!disposition.empty()) {
      const coding_view c = cx.table_coding(table::discharge_disposition, "0112", disposition);
      ev.discharge_disposition = event_code(c);
      write_table_concept(j, cx, "dischargeDisposition", table::discharge_disposition, "0112",
                          disposition);
    }
    j.end_object();
  }
  if (!location_id.empty() || !prior_location_id.empty()) {
    j.begin_array("location");
    if (!location_id.empty()) {
      j.begin_object();
      j.reference("location", "Location", location_id);
      j.field("status", status == "planned"    ? "planned"
                        : status == "finished" ? "completed"
                                               : "active");
      j.end_object();
    }
    if (!prior_location_id.empty() && prior_location_id != location_id) {
      j.begin_object();
      j.reference("location", "Location", prior_location_id);
      j.field("status", "completed");
      j.end_object();
    }
    j.end_array();
  }
  if (!in.org_id.empty()) j.reference("serviceProvider", "Organization", in.org_id);
  j.end_object();
  cx.add("Encounter", encounter_id, j);
  return encounter_id;
}

/// IN1 → Coverage (and the payer Organization).
void write_coverages(context& cx, std::string_view patient_id, event::clinical_event& ev) {
  for (const indexed_segment& in1_segment : segments_named(cx.m, "IN1")) {
    const indexed_segment* const in1 = &in1_segment;
    identifier_value member = read_cx(cx, in1->field(49).repetition(1), "MB");
    if (member.value.empty()) member.value = trim(comp(in1->field(36), 1));  // policy number
    member.type = "MB";
    const cwe_value plan = read_cwe(cx, in1->field(2));
    const identifier_value company = read_cx(cx, in1->field(3).repetition(1));
    const std::string_view company_name = comp(in1->field(4).repetition(1), 1);
    const std::string_view plan_code = plan.codings.empty() ? plan.text : plan.codings[0].code;

    std::string_view payer_id;
    if (!company.value.empty() || !company_name.empty()) {
      payer_id = keep(ids::payer_organization(company.system, company.value, company_name));
      json_out o = cx.writer();
      begin_resource(o, "Organization", payer_id);
      write_identifier_list(o, cx, company);
      o.boolean("active", true);
      write_concept_list(o, "type", {"http://terminology.hl7.org/CodeSystem/organization-type", "pay", "Payer"});
      o.field("name", company_name.empty() ? company.value : company_name);
      o.end_object();
      cx.add("Organization", payer_id, o);
    }

    const std::string_view coverage_id =
        keep(ids::coverage(patient_id, company.value, company_name, plan_code, member.value));
    json_out j = cx.writer();
    begin_resource(j, "Coverage", coverage_id);
    write_identifier_list(j, cx, member);
    j.field("status", "active");
    const std::string_view plan_type = comp(in1->field(15), 1);
    if (!plan_type.empty()) {
      j.begin_object("type");
      j.field("text", plan_type);
      j.end_object();
    }
    j.field("subscriberId", member.value);
    j.reference("beneficiary", "Patient", patient_id);
    const std::string_view relation = trim(comp(in1->field(17), 1));
    if (!relation.empty()) {
      static const std::map<std::string_view, std::string_view> rel = {
          {"SEL", "self"},   {"01", "spouse"},  {"SPO", "spouse"},
          {"18", "self"},    {"CHD", "child"},  {"19", "child"},
          {"PAR", "parent"}, {"DOM", "common"}, {"EME", "injured"}};
      auto it = rel.find(relation);
      const std::string_view code = it == rel.end() ? std::string_view("other") : it->second;
      if (it == rel.end()) cx.miss("subscriber-relationship", relation);
      j.begin_object("relationship");
      j.begin_array("coding");
      write_coding(
          j,
          {"http://terminology.hl7.org/CodeSystem/subscriber-relationship", std::string(code), {}});
      j.end_array();
      j.end_object();
    }
    const std::string_view start = cx.date(comp(in1->field(12), 1), "IN1-12");
    const std::string_view end = cx.date(comp(in1->field(13), 1), "IN1-13");
    if (!start.empty() || !end.empty()) {
      j.begin_object("period");
      j.field("start", start);
      j.field("end", end);
      j.end_object();
    }
    j.begin_array("payor");
    if (!payer_id.empty()) {
      j.reference_item("Organization", payer_id);
    } else {
      j.begin_object();
      j.field("display", plan_code.empty() ? std::string_view("unknown payer") : plan_code);
      j.end_object();
    }
    j.end_array();
    const std::string_view group = trim(comp(in1->field(8), 1));
    if (!group.empty() || !plan_code.empty()) {
      j.begin_array("class");
      auto cls = [&](std::string_view type, std::string_view value, std::string_view name) {
        j.begin_object();
        j.begin_object("type");
        j.begin_array("coding");
        write_coding(
            j, {"http://terminology.hl7.org/CodeSystem/coverage-class", std::string(type), {}});
        j.end_array();
        j.end_object();
        j.field("value", value);
        j.field("name", name);
        j.end_object();
      };
      if (!group.empty()) cls("group", group, comp(in1->field(9).repetition(1), 1));
      if (!plan_code.empty())
        cls("plan", plan_code, plan.codings.empty() ? std::string_view() : plan.codings[0].display);
      j.end_array();
    }
    j.end_object();
    cx.add("Coverage", coverage_id, j);

    if (!member.value.empty()) {
      if (ev.member_id.empty()) ev.member_id = member.value;
      const bool known = std::any_of(ev.member_ids.begin(), ev.member_ids.end(), [&](const auto& i) {
        return i.value == member.value && i.system == member.system;
      });
      if (!known) {
        identifier_value mb = member;
        mb.type = "MB";
        ev.member_ids.push_back(event_id(mb));
      }
    }
  }
}

/// NK1 → RelatedPerson.
void write_related_people(context& cx, std::string_view patient_id) {
  for (const indexed_segment& nk1_segment : segments_named(cx.m, "NK1")) {
    const indexed_segment* const nk1 = &nk1_segment;
    const auto found = first_name(nk1->field(2));
    if (!found) continue;
    const element name = *found;
    const std::string_view relation = trim(comp(nk1->field(3), 1));
    const std::string_view id = keep(derived_uuid("RelatedPerson", {patient_id, comp(nk1->field(1), 1),
                                                        sub(name, 1, 1), comp(name, 2), relation}));
    json_out j = cx.writer();
    begin_resource(j, "RelatedPerson", id);
    j.boolean("active", true);
    j.reference("patient", "Patient", patient_id);
    if (!relation.empty()) {
      write_concept_list(j, "relationship", cx.table_coding(table::relationship, "0063", relation));
    }
    write_names(j, cx, nk1->field(2));
    auto telecoms = arena_vector<telecom_value>();
    for (const element& rep : repetitions(nk1->field(5)))
      telecoms.push_back(read_xtn(cx, rep, "home"));
    for (const element& rep : repetitions(nk1->field(6)))
      telecoms.push_back(read_xtn(cx, rep, "work"));
    std::erase_if(telecoms, [](const telecom_value& t) { return t.value.empty(); });
    if (!telecoms.empty()) {
      j.begin_array("telecom");
      for (const telecom_value& t : telecoms) write_telecom(j, t);
      j.end_array();
    }
    write_addresses(j, cx, nk1->field(4));
    j.end_object();
    cx.add("RelatedPerson", id, j);
  }
}

/// ORU^R01: OBX → Observation.
void write_observations(context& cx, std::string_view patient_id, event::clinical_event& ev) {
  // The stay the results belong to, by its visit number (a logical reference: the Encounter itself
  // is the ADT messages' to write).
  identifier_value visit;
  if (const auto pv1 = find_segment(cx.m, "PV1")) visit = visit_of(cx, *pv1);
  std::string order_key;
  std::string obr_time;
  std::uint32_t obx_in_order = 0;
  for (std::size_t i = 0; i < cx.m.segment_count(); ++i) {
    const std::string_view seg_id = cx.m.segment(i).id();
    if (seg_id != "OBR" && seg_id != "OBX") continue;
    const indexed_segment seg(cx.m.segment(i));
    if (seg.id() == "OBR") {
      order_key = trim(comp(seg.field(3), 1));
      if (order_key.empty()) order_key = trim(comp(seg.field(2), 1));
      if (order_key.empty()) order_key = "obr-" + std::to_string(i);
      obr_time = cx.datetime(comp(seg.field(7), 1), "OBR-7");
      obx_in_order = 0;
      continue;
    }
    if (seg.id() != "OBX") continue;
    ++obx_in_order;
    const cwe_value code = read_cwe(cx, seg.field(3));
    if (code.empty()) continue;
    const std::string_view value_type = trim(comp(seg.field(2), 1));
    const std::string_view sub_id = comp(seg.field(4), 1);
    const std::string_view code_key = code.codings.empty() ? code.text : code.codings[0].code;
    const std::string_view id =
        keep(derived_uuid("Observation", {patient_id, order_key, code_key, sub_id,
                                   sub_id.empty() ? std::to_string(obx_in_order) : ""}));
    std::string_view effective = cx.datetime(comp(seg.field(14), 1), "OBX-14");
    if (effective.empty()) effective = obr_time;
    const std::string_view status_code = trim(comp(seg.field(11), 1));
    std::string status = "final";
    if (!status_code.empty()) {
      if (const coding* c = cx.tables.find(table::observation_status, status_code)) {
        status = c->code;
      } else {
        cx.miss(table::observation_status, status_code);
        status = "unknown";
      }
    }

    json_out j = cx.writer();
    begin_resource(j, "Observation", id);
    j.field("status", status);
    write_concept_list(j, "category", {"http://terminology.hl7.org/CodeSystem/observation-category", "laboratory",
                     "Laboratory"});
    write_cwe(j, "code", code);
    j.reference("subject", "Patient", patient_id);
    if (!visit.value.empty()) {
      j.begin_object("encounter");
      j.field("type", "Encounter");
      j.key("identifier");
      write_identifier(j, cx, visit);
      j.end_object();
    }
    j.field("effectiveDateTime", effective);

    event::lab lab;
    lab.code = to_event_code(code, "http://loinc.org");
    lab.effective = effective;
    const element value = seg.field(5).repetition(1);
    const std::string_view unit_code = comp(seg.field(6), 1);
    const std::string_view unit_text = comp(seg.field(6), 2);
    const std::string_view unit_system = comp(seg.field(6), 3);
    if (value_type == "NM" || value_type == "SN") {
      std::optional<double> v =
          value_type == "NM" ? number(comp(value, 1)) : number(comp(value, 2));
      if (value_type == "SN" && !comp(value, 1).empty() && comp(value, 1) != "=") v.reset();
      if (v) {
        lab.value = *v;
        lab.unit = unit_code;
        j.begin_object("valueQuantity");
        j.number("value", *v);
        j.field("unit", unit_text.empty() ? unit_code : unit_text);
        if (!unit_code.empty()) {
          const bool ucum = unit_system == "UCUM" || unit_system.empty();
          j.field("system",
                  ucum ? std::string_view("http://unitsofmeasure.org") : cx.system_uri(unit_system));
          j.field("code", unit_code);
        }
        j.end_object();
      } else if (!comp(value, 1).empty() || !comp(value, 2).empty()) {
        lab.value_text = value.raw().empty() ? std::string_view() : text(value);
        j.field("valueString", lab.value_text);
      }
    } else if (value_type == "CWE" || value_type == "CE" || value_type == "CNE") {
      const cwe_value cv = read_cwe(cx, value);
      write_cwe(j, "valueCodeableConcept", cv);
      lab.value_text = cv.text.empty() && !cv.codings.empty() ? cv.codings[0].code : cv.text;
    } else {
      std::string joined;
      for (const element& rep : repetitions(seg.field(5))) {
        if (!joined.empty()) joined.push_back('\n');
        joined.append(text(rep));
      }
      lab.value_text = joined;
      lab.value = number(joined);  // "133" sent as ST still counts as a number for scoring
      if (lab.value) lab.unit = unit_code;
      j.field("valueString", joined);
    }
    const std::string_view flag = trim(comp(seg.field(8), 1));
    lab.abnormal_flag = flag;
    if (!flag.empty()) {
      write_concept_list(j, "interpretation", cx.table_coding(table::abnormal_flag, "0078", flag));
    }
    const std::string_view range = trim(comp(seg.field(7), 1));
    if (!range.empty()) {
      j.begin_array("referenceRange");
      j.begin_object();
      const auto dash = range.find('-', 1);
      std::optional<double> low, high;
      if (dash != std::string::npos) {
        low = number(range.substr(0, dash));
        high = number(range.substr(dash + 1));
      }
      auto quantity = [&](const jkey& k, double v) {
        j.begin_object(k);
        j.number("value", v);
        if (!unit_code.empty()) {
          j.field("unit", unit_text.empty() ? unit_code : unit_text);
          j.field("system", "http://unitsofmeasure.org");
          j.field("code", unit_code);
        }
        j.end_object();
      };
      if (low && high) {
        quantity("low", *low);
        quantity("high", *high);
      }
      j.field("text", range);
      j.end_object();
      j.end_array();
    }
    j.end_object();
    cx.add("Observation", id, j);
    ev.labs.push_back(std::move(lab));
  }
}

}  // namespace

const boost::system::error_category& convert_category() noexcept {
  static const convert_category_impl c;
  return c;
}

boost::system::result<conversion> convert(const hl7v2::message& msg,
                                          const convert_options& options) {
  arena_scope scope;  // text made while converting lives until the end of this call
  const std::string type(msg.message_type());
  const std::string trigger(msg.trigger_event());
  if (type != "ADT" && !(type == "ORU" && trigger == "R01"))
    return convert_error::unsupported_message;
  const auto pid = find_segment(msg, "PID");
  if (!pid) return convert_error::missing_segment;

  const sender_profile* sender = options.sender;
  context cx{msg,
             sender,
             sender != nullptr && sender->has_tables ? sender->tables : code_tables::builtin(),
             sender != nullptr ? sender->time_zone : zone{},
             comp(msg.segment(0).field(4), 1),
             {},
             {},
             {},
             arena_vector<identifier_value>(),
             false};
  cx.resources.reserve(32);

  const auto key = patient_key(cx, *pid);
  if (!key) return convert_error::missing_patient_id;

  conversion out;
  event::clinical_event& ev = out.event;
  ev.kind = kind_of(type, trigger);
  ev.trigger = trigger;
  ev.source = "hl7v2";
  ev.facility = cx.facility;
  ev.control_id = std::string(msg.control_id());
  {
    const auto evn = find_segment(msg, "EVN");
    if (evn) ev.recorded = cx.datetime(comp(evn->field(6), 1), "EVN-6");
    if (ev.recorded.empty() && evn) ev.recorded = cx.datetime(comp(evn->field(2), 1), "EVN-2");
    if (ev.recorded.empty()) ev.recorded = cx.datetime(comp(msg.segment(0).field(7), 1), "MSH-7");
  }
  fill_event_patient(cx, *pid, ev);

  const std::string_view org_id = organization_for_facility(cx);

  // A40 and the other merges: the identifiers merged away (MRG-1) name the old Patient.
  std::string_view merged_away_id;
  if (ev.kind == event::event_kind::merge) {
    if (const auto mrg = find_segment(msg, "MRG")) {
      for (const element& rep : repetitions(mrg->field(1))) {
        identifier_value old = read_cx(cx, rep);
        if (old.value.empty()) continue;
        ev.prior_patient_ids.push_back(event_id(old));
        if (merged_away_id.empty() &&
            (old.type.empty() || old.type == "MR" || old.type == key->type)) {
          if (old.system.empty() && old.assigner.empty()) {
            old.system = key->system;
            old.assigner = key->assigner;
          }
          merged_away_id = patient_id_for(cx, old);
        }
      }
    }
  }

  const auto pd1 = find_segment(msg, "PD1");
  const std::string_view patient_id = write_patient(cx, *pid, pd1, *key, org_id, merged_away_id);
  ev.patient_resource_id = patient_id;

  if (!merged_away_id.empty() && merged_away_id != patient_id) {
    json_out j = cx.writer();
    begin_resource(j, "Patient", merged_away_id);
    j.begin_array("identifier");
    if (const auto mrg = find_segment(msg, "MRG")) {
      for (const element& rep : repetitions(mrg->field(1)))
        write_identifier(j, cx, read_cx(cx, rep));
    }
    j.end_array();
    j.boolean("active", false);
    j.begin_array("link");
    j.begin_object();
    j.reference("other", "Patient", patient_id);
    j.field("type", "replaced-by");
    j.end_object();
    j.end_array();
    j.end_object();
    cx.add("Patient", merged_away_id, j);
  }

  write_related_people(cx, patient_id);
  write_coverages(cx, patient_id, ev);
  std::string_view encounter_id;
  if (ev.kind != event::event_kind::merge)
    encounter_id = write_encounter(cx, {patient_id, org_id, trigger, &ev});
  if (ev.kind == event::event_kind::lab_result) write_observations(cx, patient_id, ev);

  // The transaction Bundle: every entry a PUT of its deterministic id.
  std::size_t size = 512;
  for (const resource_json& r : cx.resources) size += r.json.size() + 2 * r.id.size() + 128;
  json_out b(size);
  b.begin_object();
  b.field("resourceType", "Bundle");
  if (!msg.control_id().empty()) {
    b.begin_object("identifier");
    b.field("system", concat({local_prefix, urn_part(cx.facility), ":message"}));
    b.field("value", msg.control_id());
    b.end_object();
  }
  b.field("type", "transaction");
  {
    const std::string_view ts = cx.datetime(comp(msg.segment(0).field(7), 1), "MSH-7");
    if (ts.size() > 10) b.field("timestamp", ts);  // an instant needs a time and a zone
  }
  b.begin_array("entry");
  for (const resource_json& r : cx.resources) {
    b.begin_object();
    b.field2("fullUrl", "urn:uuid:", r.id);
    b.key("resource");
    b.raw(r.json);
    b.begin_object("request");
    b.field("method", "PUT");
    b.key("url");
    b.str_path(r.type, r.id);
    b.end_object();
    b.end_object();
  }
  b.end_array();
  b.end_object();

  out.bundle = b.take();
  out.resources = std::move(cx.resources);
  out.unmapped = std::move(cx.unmapped);
  out.notes = std::move(cx.notes);
  return out;
}

}  // namespace carebridge::mappings::fhir
