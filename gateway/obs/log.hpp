// Structured logging: one JSON object per line on standard error (or a given stream).
//
// Events carry identifiers only (control ids, internal ids, sender ids, peer addresses): never a
// name, a birth date, an address or a message body. Thread-safe; each line is written whole.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <string_view>
#include <variant>

namespace carebridge::gateway::obs {

enum class level : std::uint8_t { debug, info, warn, error };

using field_value = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;

struct field {
  std::string_view key;
  field_value value;
  field(std::string_view k, std::string_view v) : key(k), value(v) {}
  field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  field(std::string_view k, std::int64_t v) : key(k), value(v) {}
  field(std::string_view k, int v) : key(k), value(static_cast<std::int64_t>(v)) {}
  field(std::string_view k, std::uint64_t v) : key(k), value(v) {}
  field(std::string_view k, unsigned v) : key(k), value(static_cast<std::uint64_t>(v)) {}
  field(std::string_view k, double v) : key(k), value(v) {}
  field(std::string_view k, bool v) : key(k), value(v) {}
};

/// Sets the minimum level written and the stream (default: info, std::cerr).
void configure(level min, std::ostream* out = nullptr);
/// Parses "debug" / "info" / "warn" / "error".
bool parse_level(std::string_view text, level& out);

/// Writes {"ts":"…","level":"info","event":"…",…fields} as one line.
void log(level lv, std::string_view event, std::initializer_list<field> fields = {});

inline void info(std::string_view event, std::initializer_list<field> f = {}) { log(level::info, event, f); }
inline void warn(std::string_view event, std::initializer_list<field> f = {}) { log(level::warn, event, f); }
inline void error(std::string_view event, std::initializer_list<field> f = {}) { log(level::error, event, f); }
inline void debug(std::string_view event, std::initializer_list<field> f = {}) { log(level::debug, event, f); }

/// "2026-12-02T06:27:55Z": a Unix time in seconds as UTC ISO 8601 (logs' and commands' timestamps).
std::string utc_seconds_text(std::int64_t unix_seconds);

}  // namespace carebridge::gateway::obs
