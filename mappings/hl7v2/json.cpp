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

template <typename Writer>
void write_leaf(Writer& w, const element& e) {
  if (e.is_null()) {
    w.Null();
  } else {
    write_string(w, e.decoded());
  }
}

template <typename Writer>
void write_component(Writer& w, const element& c) {
  const std::uint32_t subs = c.subcomponent_count();
  if (subs <= 1) {
    write_leaf(w, c);
    return;
  }
  w.StartArray();
  for (std::uint32_t s = 1; s <= subs; ++s) write_leaf(w, c.subcomponent(s));
  w.EndArray();
}

template <typename Writer>
void write_repetition(Writer& w, const element& r) {
  const std::uint32_t comps = r.component_count();
  if (comps <= 1) {
    write_component(w, r.component(1));
    return;
  }
  w.StartArray();
  for (std::uint32_t c = 1; c <= comps; ++c) write_component(w, r.component(c));
  w.EndArray();
}

template <typename Writer>
void write_field(Writer& w, const element& f) {
  if (f.depth() == element::level::literal) {
    write_string(w, f.raw());
    return;
  }
  const std::uint32_t reps = f.repetition_count();
  const element first = f.repetition(1);
  if (reps == 1 && first.component_count() <= 1 && first.subcomponent_count() <= 1) {
    write_leaf(w, first);
    return;
  }
  w.StartArray();
  for (std::uint32_t r = 1; r <= reps; ++r) {
    const element rep = f.repetition(r);
    if (rep.component_count() <= 1 && rep.subcomponent_count() <= 1) {
      write_leaf(w, rep);
    } else {
      w.StartArray();
      for (std::uint32_t c = 1; c <= rep.component_count(); ++c)
        write_component(w, rep.component(c));
      w.EndArray();
    }
  }
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
    write_string(w, e.declared);
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
      write_field(w, field);
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
    file.file_header.empty() ? w.Null() : (write_string(w, file.file_header), true);
    w.Key("file_trailer");
    file.file_trailer.empty() ? w.Null() : (write_string(w, file.file_trailer), true);
    w.Key("batches");
    w.StartArray();
    for (const auto& b : file.batches) {
      w.StartObject();
      w.Key("header");
      b.header.empty() ? w.Null() : (write_string(w, b.header), true);
      w.Key("trailer");
      b.trailer.empty() ? w.Null() : (write_string(w, b.trailer), true);
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
  for (const auto& issue : file.issues) write_string(w, issue.describe());
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
