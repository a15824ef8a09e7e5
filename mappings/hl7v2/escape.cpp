#include "mappings/hl7v2/escape.hpp"

#include "mappings/hl7v2/message.hpp"

namespace carebridge::mappings::hl7v2 {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// \Xhh…\ : the bytes the hex digits spell, in the message's character set. NUL bytes are dropped
// outside UTF-16/32 so that \X000d\ and \X00D\ (CR written as a 16-bit code) read as CR.
bool decode_hex(std::string_view digits, charset source, std::string& out) {
  if (digits.empty()) return false;
  std::string bytes;
  bytes.reserve(digits.size() / 2 + 1);
  std::size_t i = 0;
  int pending = -1;
  if (digits.size() % 2 == 1) pending = 0;  // odd count: a leading zero nibble
  for (; i < digits.size(); ++i) {
    const int v = hex_value(digits[i]);
    if (v < 0) return false;
    if (pending < 0) {
      pending = v;
    } else {
      bytes.push_back(static_cast<char>((pending << 4) | v));
      pending = -1;
    }
  }
  const bool wide = source == charset::utf16 || source == charset::utf32;
  if (!wide) std::erase(bytes, '\0');
  if (source == charset::utf8 || source == charset::none) {
    out += to_utf8(bytes, charset::utf8).text;
  } else {
    out += to_utf8(bytes, source).text;
  }
  return true;
}

}  // namespace

void decode_escapes(std::string_view raw, const delimiters& d, charset source, std::string& out) {
  const char esc = d.escape;
  if (esc == '\0') {
    out.append(raw);
    return;
  }
  std::size_t pos = 0;
  while (pos < raw.size()) {
    const std::size_t open = raw.find(esc, pos);
    if (open == std::string_view::npos) break;
    const std::size_t close = raw.find(esc, open + 1);
    if (close == std::string_view::npos) break;  // an unterminated sequence is text
    out.append(raw.substr(pos, open - pos));
    const std::string_view seq = raw.substr(open + 1, close - open - 1);
    bool done = true;
    if (seq.size() == 1) {
      switch (seq[0]) {
        case 'F': out.push_back(d.field); break;
        case 'S': out.push_back(d.component); break;
        case 'T': out.push_back(d.subcomponent); break;
        case 'R': out.push_back(d.repetition); break;
        case 'E': out.push_back(d.escape); break;
        case 'P':
          if (d.truncation != '\0') out.push_back(d.truncation);
          else done = false;
          break;
        default: done = false;
      }
    } else if (!seq.empty() && seq[0] == 'X') {
      done = decode_hex(seq.substr(1), source, out);
    } else if (seq == ".br") {
      out.push_back('\n');
    } else {
      done = false;  // \H\ \N\ \.sp\ \Cxxyy\ \Mxxyyzz\ \Zxx\ and anything unknown: verbatim
    }
    if (!done) out.append(raw.substr(open, close - open + 1));
    pos = close + 1;
  }
  out.append(raw.substr(pos));
}

std::string unescape(std::string_view raw, const delimiters& d, charset source) {
  std::string out;
  out.reserve(raw.size());
  decode_escapes(raw, d, source, out);
  return out;
}

std::string escape(std::string_view text, const delimiters& d) {
  std::string out;
  if (d.escape == '\0') {
    // No escape character: a delimiter cannot be written as data; keep the value one leaf.
    out.reserve(text.size());
    for (char c : text) {
      const bool delimiter = c == d.field || c == '\r' || c == '\n' ||
                             (c != '\0' && (c == d.component || c == d.subcomponent ||
                                            c == d.repetition || c == d.truncation));
      out.push_back(delimiter ? ' ' : c);
    }
    return out;
  }
  const char esc = d.escape;
  out.reserve(text.size() + 8);
  auto seq = [&](std::string_view code) {
    out.push_back(esc);
    out.append(code);
    out.push_back(esc);
  };
  for (char c : text) {
    if (c == esc) seq("E");
    else if (c == d.field) seq("F");
    else if (c == d.component && c != '\0') seq("S");
    else if (c == d.subcomponent && c != '\0') seq("T");
    else if (c == d.repetition && c != '\0') seq("R");
    else if (c == d.truncation && c != '\0') seq("P");
    else if (c == '\r') seq("X0D");
    else if (c == '\n') seq("X0A");
    else out.push_back(c);
  }
  return out;
}

}  // namespace carebridge::mappings::hl7v2
