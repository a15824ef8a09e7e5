#include "gateway/obs/log.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <iostream>
#include <mutex>

namespace carebridge::gateway::obs {
namespace {

std::atomic<level> min_level{level::info};
std::atomic<std::ostream*> sink{nullptr};
std::mutex write_mu;

std::string_view name(level lv) {
  switch (lv) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
  }
  return "info";
}

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lldZ", static_cast<long long>(us % 1'000'000));
  return std::string(buf, n) + frac;
}

}  // namespace

void configure(level min, std::ostream* out) {
  min_level.store(min);
  if (out != nullptr) sink.store(out);
}

bool parse_level(std::string_view text, level& out) {
  for (level lv : {level::debug, level::info, level::warn, level::error}) {
    if (text == name(lv)) {
      out = lv;
      return true;
    }
  }
  return false;
}

void log(level lv, std::string_view event, std::initializer_list<field> fields) {
  if (lv < min_level.load(std::memory_order_relaxed)) return;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  const std::string ts = timestamp();
  w.StartObject();
  w.Key("ts");
  w.String(ts.data(), static_cast<rapidjson::SizeType>(ts.size()));
  w.Key("level");
  const std::string_view lname = name(lv);
  w.String(lname.data(), static_cast<rapidjson::SizeType>(lname.size()));
  w.Key("event");
  w.String(event.data(), static_cast<rapidjson::SizeType>(event.size()));
  for (const field& f : fields) {
    w.Key(f.key.data(), static_cast<rapidjson::SizeType>(f.key.size()));
    std::visit(
        [&w](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string_view>) {
            w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            w.Int64(v);
          } else if constexpr (std::is_same_v<T, std::uint64_t>) {
            w.Uint64(v);
          } else if constexpr (std::is_same_v<T, double>) {
            w.Double(v);
          } else {
            w.Bool(v);
          }
        },
        f.value);
  }
  w.EndObject();
  std::ostream* out = sink.load();
  if (out == nullptr) out = &std::cerr;
  std::lock_guard lock(write_mu);
  out->write(buf.GetString(), static_cast<std::streamsize>(buf.GetSize()));
  out->put('\n');
  out->flush();
}

std::string utc_seconds_text(std::int64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace carebridge::gateway::obs
