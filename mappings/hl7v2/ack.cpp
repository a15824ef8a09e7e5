#include "mappings/hl7v2/ack.hpp"

#include "mappings/hl7v2/escape.hpp"

#include <algorithm>

namespace carebridge::mappings::hl7v2 {
namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

ack_condition condition_of(std::string_view v) noexcept {
  v = trim(v);
  if (v == "NE") return ack_condition::never;
  if (v == "ER") return ack_condition::error_only;
  if (v == "SU") return ack_condition::success_only;
  return ack_condition::always;  // AL, empty, or unknown: never leave the sender waiting
}

// True for MSH-12 versions before 2.5, whose ERR segment is the single ELD field ERR-1.
bool before_v25(std::string_view version) noexcept {
  version = trim(version);
  if (version.size() < 3 || version[0] != '2' || version[1] != '.') return false;
  std::size_t i = 2;
  int minor = 0;
  while (i < version.size() && version[i] >= '0' && version[i] <= '9') {
    if (minor < 1000) minor = minor * 10 + (version[i] - '0');  // saturates: no overflow
    ++i;
  }
  return i > 2 && minor < 5;
}

// True for versions from 2.3.1 on, whose MSH-9 has the message structure as its third component.
bool has_structure_component(std::string_view version) noexcept {
  version = trim(version);
  int parts[3] = {0, 0, 0};
  std::size_t i = 0;
  for (int k = 0; k < 3 && i < version.size(); ++k) {
    const std::size_t start = i;
    while (i < version.size() && version[i] >= '0' && version[i] <= '9') {
      if (parts[k] < 1000) parts[k] = parts[k] * 10 + (version[i] - '0');  // saturates
      ++i;
    }
    if (i == start) return true;  // not a version number we know: use the current form
    if (i < version.size() && version[i] == '.') ++i;
  }
  if (parts[0] != 2) return true;
  return parts[1] > 3 || (parts[1] == 3 && parts[2] >= 1);
}

struct writer {
  const delimiters& d;
  std::string out;

  void field(std::string_view raw) {
    out.push_back(d.field);
    out.append(raw);
  }
  void end_segment() { out.push_back('\r'); }
};

void write_err(writer& w, const ack_error& e, bool old_style) {
  const char cs = w.d.component != '\0' ? w.d.component : '^';
  const char ss = w.d.subcomponent != '\0' ? w.d.subcomponent : '&';
  const std::string code = std::to_string(static_cast<unsigned>(e.condition));
  const std::string_view code_text = error_condition_text(e.condition);
  std::string location;
  if (!e.segment.empty()) {
    location.append(escape(e.segment, w.d));
    location.push_back(cs);
    location.append(std::to_string(e.sequence));
    if (e.field != 0) {
      location.push_back(cs);
      location.append(std::to_string(e.field));
    }
  }
  w.out.append("ERR");
  if (old_style) {
    // ERR-1 (ELD): segment ^ sequence ^ field ^ code & text & HL70357
    std::string eld = location;
    while (std::count(eld.begin(), eld.end(), cs) < 3) eld.push_back(cs);
    eld.append(code);
    eld.push_back(ss);
    eld.append(code_text);
    eld.push_back(ss);
    eld.append("HL70357");
    w.field(eld);
  } else {
    w.field("");                      // ERR-1 (deprecated)
    w.field(location);                // ERR-2 error location
    std::string cwe = code;           // ERR-3 HL7 error code
    cwe.push_back(cs);
    cwe.append(code_text);
    cwe.push_back(cs);
    cwe.append("HL70357");
    w.field(cwe);
    w.field("E");                     // ERR-4 severity
    w.field("");                      // ERR-5
    w.field("");                      // ERR-6
    w.field("");                      // ERR-7
    w.field(escape(e.text, w.d));     // ERR-8 user message
  }
  w.end_segment();
}

}  // namespace

std::string_view error_condition_text(error_condition c) noexcept {
  switch (c) {
    case error_condition::accepted: return "Message accepted";
    case error_condition::segment_sequence_error: return "Segment sequence error";
    case error_condition::required_field_missing: return "Required field missing";
    case error_condition::data_type_error: return "Data type error";
    case error_condition::table_value_not_found: return "Table value not found";
    case error_condition::value_too_long: return "Value too long";
    case error_condition::unsupported_message_type: return "Unsupported message type";
    case error_condition::unsupported_event_code: return "Unsupported event code";
    case error_condition::unsupported_processing_id: return "Unsupported processing id";
    case error_condition::unsupported_version_id: return "Unsupported version id";
    case error_condition::unknown_key_identifier: return "Unknown key identifier";
    case error_condition::duplicate_key_identifier: return "Duplicate key identifier";
    case error_condition::application_record_locked: return "Application record locked";
    case error_condition::application_internal_error: return "Application internal error";
  }
  return "Application internal error";
}

std::string_view ack_code(disposition d, ack_mode mode) noexcept {
  const bool enhanced = mode == ack_mode::enhanced;
  switch (d) {
    case disposition::accepted: return enhanced ? "CA" : "AA";
    case disposition::errored: return enhanced ? "CE" : "AE";
    case disposition::rejected: return enhanced ? "CR" : "AR";
  }
  return enhanced ? "CE" : "AE";
}

ack_policy ack_policy_of(const message& inbound) {
  ack_policy p;
  if (inbound.segment_count() == 0) return p;
  const segment_view msh = inbound.segment(0);
  const std::string_view accept = trim(msh.field(15).raw());
  const std::string_view application = trim(msh.field(16).raw());
  if (accept.empty() && application.empty()) return p;
  p.mode = ack_mode::enhanced;
  p.accept = condition_of(accept);
  p.application = condition_of(application);
  return p;
}

// MSH-7 of the ACK. A message that defines no escape character cannot carry its delimiters in a
// value, and a date/time holding one (the '.' of the fraction when '.' is the component
// separator) is cut there: a date/time of lower precision, still valid, rather than a broken one.
static std::string timestamp_field(std::string_view ts, const delimiters& dl) {
  if (dl.escape != '\0') return escape(ts, dl);
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const char c = ts[i];
    if (c == dl.field || (c != '\0' && (c == dl.component || c == dl.subcomponent ||
                                         c == dl.repetition || c == dl.truncation)))
      return std::string(ts.substr(0, i));
  }
  return std::string(ts);
}

std::optional<built_ack> build_ack(const message& inbound, disposition d, const ack_context& ctx,
                                   const ack_error* error) {
  const ack_policy policy = ack_policy_of(inbound);
  ack_mode code_mode = policy.mode;
  if (policy.mode == ack_mode::enhanced) {
    const bool ok = d == disposition::accepted;
    auto wanted = [ok](ack_condition c) {
      switch (c) {
        case ack_condition::always: return true;
        case ack_condition::never: return false;
        case ack_condition::error_only: return !ok;
        case ack_condition::success_only: return ok;
      }
      return true;
    };
    if (!wanted(policy.accept)) {
      // No accept ACK wanted. If an application ACK is, send it now: for a gateway, durable
      // acceptance is the application's answer, and no deferred ACK will follow.
      if (!wanted(policy.application)) return std::nullopt;
      code_mode = ack_mode::original;
    }
  }
  const delimiters& dl = inbound.delims();
  const segment_view msh = inbound.segment(0);
  const std::string_view version = inbound.version();
  writer w{dl, {}};
  w.out.reserve(256);
  w.out.append("MSH");
  w.out.push_back(dl.field);
  w.out.append(dl.encoding_characters());
  w.field(msh.field(5).raw());  // MSH-3: the inbound receiving application
  w.field(msh.field(6).raw());  // MSH-4: the inbound receiving facility
  w.field(msh.field(3).raw());  // MSH-5: the inbound sending application
  w.field(msh.field(4).raw());  // MSH-6: the inbound sending facility
  w.field(timestamp_field(ctx.timestamp, dl));  // MSH-7
  w.field("");                                  // MSH-8
  std::string type = "ACK";            // MSH-9
  const std::string_view trigger = inbound.trigger_event();
  const char cs = dl.component != '\0' ? dl.component : '^';
  if (!trigger.empty()) {
    type.push_back(cs);
    type.append(trigger);
    if (has_structure_component(version)) {
      type.push_back(cs);
      type.append("ACK");
    }
  }
  w.field(type);
  w.field(escape(ctx.control_id, dl));  // MSH-10
  w.field(msh.field(11).raw());         // MSH-11
  w.field(msh.field(12).raw());         // MSH-12
  const std::string_view charset_field = msh.field(18).raw();
  if (!charset_field.empty()) {
    for (int i = 13; i <= 17; ++i) w.field("");
    w.field(charset_field);  // MSH-18
  }
  w.end_segment();

  const std::string_view code = ack_code(d, code_mode);
  const ack_error fallback{error_condition::application_internal_error,
                           "the message could not be processed", {}, 1, 0};
  const ack_error& err = error != nullptr ? *error : fallback;
  const bool old_style = before_v25(version);
  w.out.append("MSA");
  w.field(code);
  w.field(msh.field(10).raw());
  if (d != disposition::accepted && old_style) w.field(escape(err.text, dl));  // MSA-3
  w.end_segment();
  if (d != disposition::accepted) write_err(w, err, old_style);
  return built_ack{std::move(w.out), code};
}

built_ack build_reject_for_unparseable(const ack_context& ctx, const ack_error& error) {
  const delimiters dl;
  writer w{dl, {}};
  w.out.append("MSH|^~\\&||||");
  w.field(escape(ctx.timestamp, dl));
  w.field("");
  w.field("ACK");
  w.field(escape(ctx.control_id, dl));
  w.field("P");
  w.field("2.5.1");
  w.end_segment();
  w.out.append("MSA");
  w.field("AR");
  w.field("");
  w.end_segment();
  write_err(w, error, false);
  return built_ack{std::move(w.out), "AR"};
}

}  // namespace carebridge::mappings::hl7v2
