#include "mappings/hl7v2/json.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace carebridge::mappings::hl7v2 {
namespace {

template <typename Writer>
void write_string(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// Text that was not transcoded (batch envelope segments are written as sent): invalid UTF-8 is
// replaced by U+FFFD so the document stays valid JSON.
template <typename Writer>
void write_text(Writer& w, std::string_view s) {
  if (is_valid_utf8(s)) {
    write_string(w, s);
  } else {
    write_string(w, to_utf8(s, charset::utf8).text);
  }
}

template <typename Writer>
void write_leaf(Writer& w, const element& e, std::string& scratch) {
  if (e.is_null()) {
    w.Null();
  } else {
    write_string(w, e.decoded(scratch));
  }
}

// The pieces of `raw` between `sep`, in one pass (element::component(c) scans from the start each
// time, which made one element with many pieces quadratic).
template <typename F>
void for_each_piece(std::string_view raw, char sep, F&& f) {
  std::size_t start = 0;
  for (;;) {
    const std::size_t at = sep == '\0' ? std::string_view::npos : raw.find(sep, start);
    if (at == std::string_view::npos) {
      f(raw.substr(start));
      return;
    }
    f(raw.substr(start, at - start));
    start = at + 1;
  }
}

bool has(std::string_view raw, char sep) {
  return sep != '\0' && raw.find(sep) != std::string_view::npos;
}

template <typename Writer>
void write_component(Writer& w, const message& m, std::string_view raw, std::string& scratch) {
  const char sub = m.delims().subcomponent;
  if (!has(raw, sub)) {
    write_leaf(w, element{raw, &m, element::level::component}, scratch);
    return;
  }
  w.StartArray();
  for_each_piece(raw, sub, [&](std::string_view piece) {
    write_leaf(w, element{piece, &m, element::level::subcomponent}, scratch);
  });
  w.EndArray();
}

// A repetition with no inner delimiter is a string (or null); otherwise an array of components.
template <typename Writer>
void write_repetition(Writer& w, const message& m, std::string_view raw, std::string& scratch) {
  const char comp = m.delims().component;
  if (!has(raw, comp) && !has(raw, m.delims().subcomponent)) {
    write_leaf(w, element{raw, &m, element::level::repetition}, scratch);
    return;
  }
  w.StartArray();
  for_each_piece(raw, comp,
                 [&](std::string_view piece) { write_component(w, m, piece, scratch); });
  w.EndArray();
}

// A field with no inner delimiter is a string (or null); otherwise an array of repetitions.
template <typename Writer>
void write_field(Writer& w, const message& m, const element& f, std::string& scratch) {
  if (f.depth() == element::level::literal) {
    write_text(w, f.raw());
    return;
  }
  const delimiters& d = m.delims();
  const std::string_view raw = f.raw();
  if (!has(raw, d.repetition) && !has(raw, d.component) && !has(raw, d.subcomponent)) {
    write_leaf(w, f, scratch);
    return;
  }
  w.StartArray();
  for_each_piece(raw, d.repetition,
                 [&](std::string_view piece) { write_repetition(w, m, piece, scratch); });
  w.EndArray();
}

template <typename Writer>
void write_message(Writer& w, const message& m) {
  w.StartObject();
  w.Key("control_id");
  write_string(w, m.control_id());
  w.Key("type");
  std::string type(m.message_type());
  if (!m.trigger_event().empty()) type.append("^").append(m.trigger_event());
  write_string(w, type);
  w.Key("version");
  write_string(w, m.version());
  w.Key("delimiters");
  {
    const delimiters& d = m.delims();
    const char s[2] = {d.field, '\0'};
    w.StartObject();
    w.Key("field");
    w.String(s, 1);
    w.Key("encoding");
    write_string(w, d.encoding_characters());
    w.EndObject();
  }
  w.Key("encoding");
  {
    const text_encoding& e = m.encoding();
    w.StartObject();
    w.Key("declared");
    write_text(w, e.declared);
    w.Key("read_as");
    write_string(w, hl7_name(e.source));
    w.Key("transcoded");
    w.Bool(e.transcoded);
    w.Key("used_fallback");
    w.Bool(e.used_fallback);
    w.Key("unknown_declared");
    w.Bool(e.unknown_declared);
    w.Key("invalid_bytes");
    w.Uint64(e.invalid_bytes);
    w.EndObject();
  }
  w.Key("segments");
  w.StartArray();
  std::string scratch;
  for (std::size_t i = 0; i < m.segment_count(); ++i) {
    const segment_view seg = m.segment(i);
    w.StartObject();
    w.Key("id");
    write_string(w, seg.id());
    w.Key("fields");
    w.StartObject();
    const std::uint32_t n = seg.field_count();
    for (std::uint32_t f = 1; f <= n; ++f) {
      const element field = seg.field(f);
      if (field.empty()) continue;
      const std::string key = std::to_string(f);
      write_string(w, key);
      write_field(w, m, field, scratch);
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

template <typename Writer>
void write_document(Writer& w, const batch_file& file,
                    const std::vector<boost::system::result<message, parse_error>>& parsed) {
  w.StartObject();
  w.Key("messages");
  w.StartArray();
  const auto offsets = [&] {
    std::vector<std::size_t> all;
    for (const auto& b : file.batches)
      all.insert(all.end(), b.message_offsets.begin(), b.message_offsets.end());
    return all;
  }();
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    if (parsed[i]) {
      write_message(w, *parsed[i]);
    } else {
      w.StartObject();
      w.Key("error");
      write_string(w, parsed[i].error().code.message());
      w.Key("offset");
      w.Uint64((i < offsets.size() ? offsets[i] : 0) + parsed[i].error().offset);
      w.EndObject();
    }
  }
  w.EndArray();
  w.Key("batch");
  if (file.is_envelope()) {
    w.StartObject();
    w.Key("file_header");
    file.file_header.empty() ? w.Null() : (write_text(w, file.file_header), true);
    w.Key("file_trailer");
    file.file_trailer.empty() ? w.Null() : (write_text(w, file.file_trailer), true);
    w.Key("batches");
    w.StartArray();
    for (const auto& b : file.batches) {
      w.StartObject();
      w.Key("header");
      b.header.empty() ? w.Null() : (write_text(w, b.header), true);
      w.Key("trailer");
      b.trailer.empty() ? w.Null() : (write_text(w, b.trailer), true);
      w.Key("message_count");
      w.Uint64(b.messages.size());
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("issues");
  w.StartArray();
  for (const auto& issue : file.issues) write_text(w, issue.describe());
  w.EndArray();
  w.EndObject();
}

}  // namespace

void append_json(const message& msg, std::string& out) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  write_message(w, msg);
  out.append(buf.GetString(), buf.GetSize());
}

std::string to_json(const batch_file& file,
                    const std::vector<boost::system::result<message, parse_error>>& parsed,
                    bool pretty) {
  rapidjson::StringBuffer buf;
  if (pretty) {
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    write_document(w, file, parsed);
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    write_document(w, file, parsed);
  }
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace carebridge::mappings::hl7v2
