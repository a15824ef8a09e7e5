#include "adapters/notify/backoff.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace carebridge::adapters::notify {

namespace chr = std::chrono;

random_source default_random_source() {
  return [] {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
  };
}

chr::milliseconds backoff_ceiling(unsigned attempt, const backoff_options& o) {
  const auto base = std::max<chr::milliseconds::rep>(o.base.count(), 0);
  const auto cap = std::max<chr::milliseconds::rep>(o.cap.count(), 0);
  if (attempt == 0 || base == 0) return chr::milliseconds(std::min(base, cap));
  // Doubling stops as soon as the cap is reached, so a large attempt number cannot overflow.
  auto v = base;
  for (unsigned i = 1; i < attempt && v < cap; ++i) v = v > cap / 2 ? cap : v * 2;
  return chr::milliseconds(std::min(v, cap));
}

chr::milliseconds full_jitter(unsigned attempt, const backoff_options& o,
                              const random_source& random) {
  const auto ceiling = backoff_ceiling(attempt, o).count();
  double u = random ? random() : 0.5;
  if (!(u >= 0.0)) u = 0.0;  // also catches NaN
  if (u >= 1.0) u = std::nextafter(1.0, 0.0);
  // ceiling + 1 so that the ceiling itself can be drawn: [0, ceiling] in whole milliseconds.
  const auto v =
      static_cast<chr::milliseconds::rep>(std::floor(u * static_cast<double>(ceiling + 1)));
  return chr::milliseconds(std::clamp<chr::milliseconds::rep>(v, 0, ceiling));
}

chr::milliseconds retry_delay(unsigned attempt, std::optional<chr::milliseconds> retry_after,
                              const backoff_options& o, const random_source& random) {
  auto delay = full_jitter(attempt, o, random);
  if (retry_after) {
    const auto asked = std::clamp(*retry_after, chr::milliseconds(0),
                                  std::max(o.max_retry_after, chr::milliseconds(0)));
    delay = std::max(delay, asked);
  }
  return delay;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Reads exactly s.size() digits (1..9 of them).
std::optional<int> number(std::string_view s) {
  if (!all_digits(s) || s.size() > 9) return std::nullopt;
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> days = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> long_days = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

std::optional<unsigned> month_of(std::string_view s) {
  for (std::size_t i = 0; i < months.size(); ++i)
    if (months[i] == s) return static_cast<unsigned>(i + 1);
  return std::nullopt;
}

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& names, std::string_view s) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

// "08:49:37"
std::optional<chr::seconds> time_of_day(std::string_view s) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return std::nullopt;
  const auto h = number(s.substr(0, 2)), m = number(s.substr(3, 2)), sec = number(s.substr(6, 2));
  // 60 for a leap second, which HTTP-date's grammar allows.
  if (!h || !m || !sec || *h > 23 || *m > 59 || *sec > 60) return std::nullopt;
  return chr::hours(*h) + chr::minutes(*m) + chr::seconds(*sec);
}

std::optional<chr::sys_seconds> make(int year, std::optional<unsigned> month, int day,
                                     std::optional<chr::seconds> tod) {
  if (!month || !tod || day < 1 || day > 31) return std::nullopt;
  const chr::year_month_day ymd{chr::year(year), chr::month(*month),
                                chr::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return std::nullopt;
  return chr::sys_days(ymd) + *tod;
}

// Splits at single spaces; asctime pads a one-digit day with a second space, kept as an empty
// token that the caller allows for.
std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (true) {
    const std::size_t j = s.find(sep, i);
    out.push_back(s.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  return out;
}

}  // namespace

std::optional<chr::sys_seconds> parse_http_date(std::string_view text) {
  const std::string_view s = trim(text);
  const auto t = split(s, ' ');
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  if (t.size() == 6 && t[0].size() == 4 && t[0].back() == ',' && one_of(days, t[0].substr(0, 3)) &&
      t[1].size() == 2 && t[3].size() == 4 && t[5] == "GMT") {
    const auto d = number(t[1]), y = number(t[3]);
    if (!d || !y) return std::nullopt;
    return make(*y, month_of(t[2]), *d, time_of_day(t[4]));
  }
  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
  if (t.size() == 4 && !t[0].empty() && t[0].back() == ',' &&
      one_of(long_days, t[0].substr(0, t[0].size() - 1)) && t[3] == "GMT") {
    const auto dmy = split(t[1], '-');
    if (dmy.size() != 3 || dmy[0].size() != 2 || dmy[2].size() != 2) return std::nullopt;
    const auto d = number(dmy[0]), yy = number(dmy[2]);
    if (!d || !yy) return std::nullopt;
    // RFC 9110: a two-digit year more than 50 years ahead is in the past century; for the years a
    // server can mean here, "70 and above is 19xx" is the same rule.
    return make(*yy >= 70 ? 1900 + *yy : 2000 + *yy, month_of(dmy[1]), *d, time_of_day(t[2]));
  }
  // asctime: "Sun Nov  6 08:49:37 1994" (day space-padded) or "Sun Nov 16 08:49:37 1994"
  if ((t.size() == 5 || (t.size() == 6 && t[2].empty())) && one_of(days, t[0])) {
    const std::size_t k = t.size() == 6 ? 3 : 2;
    if (t[k].size() != (k == 3 ? 1u : 2u) || t[k + 2].size() != 4) return std::nullopt;
    const auto d = number(t[k]), y = number(t[k + 2]);
    if (!d || !y) return std::nullopt;
    return make(*y, month_of(t[1]), *d, time_of_day(t[k + 1]));
  }
  return std::nullopt;
}

std::optional<chr::milliseconds> parse_retry_after(std::string_view value,
                                                   chr::system_clock::time_point now) {
  const std::string_view s = trim(value);
  if (all_digits(s)) {
    // Saturate instead of overflowing; retry_delay clamps to max_retry_after anyway.
    constexpr std::int64_t max_seconds = std::numeric_limits<std::int64_t>::max() / 1000 / 2;
    std::int64_t v = 0;
    for (char c : s) {
      v = v * 10 + (c - '0');
      if (v > max_seconds) return chr::seconds(max_seconds);
    }
    return chr::seconds(v);
  }
  const auto when = parse_http_date(s);
  if (!when) return std::nullopt;
  if (*when <= now) return chr::milliseconds(0);
  // Round up: waiting a little longer than asked is allowed, shorter is not.
  return chr::ceil<chr::milliseconds>(*when - now);
}

std::string_view code_of(subscription_error e) noexcept {
  switch (e) {
    case subscription_error::none:
      return "";
    case subscription_error::dns_resolution_error:
      return "dns-resolution-error";
    case subscription_error::no_response:
      return "no-response";
    case subscription_error::error_response:
      return "error-response";
  }
  return "";
}

classification classify(unsigned status, boost::system::error_code network_error) noexcept {
  if (network_error) {
    if (network_error.category() == error_category()) {
      switch (static_cast<error>(network_error.value())) {
        case error::resolve_failed:
          return {outcome::retry, subscription_error::dns_resolution_error, 0};
        case error::connect_failed:
        case error::tls_failed:
        case error::timeout:
        case error::connection_lost:
        case error::bad_response:
        case error::shut_down:
          return {outcome::retry, subscription_error::no_response, 0};
        case error::certificate_rejected:
        case error::bad_endpoint:
        case error::bad_header:
          return {outcome::permanent, subscription_error::no_response, 0};
      }
    }
    return {outcome::retry, subscription_error::no_response, 0};
  }
  if (status >= 200 && status <= 299) return {outcome::delivered, subscription_error::none, status};
  if (status == 408 || status == 429 || (status >= 500 && status <= 599))
    return {outcome::retry, subscription_error::error_response, status};
  if (status == 0) return {outcome::retry, subscription_error::no_response, 0};
  return {outcome::permanent, subscription_error::error_response, status};
}

}  // namespace carebridge::adapters::notify
