// The retry policy of the notification sender, as pure functions (no I/O, no clock of its own):
// how long to wait before the next attempt, what a server's Retry-After asks for, what an attempt's
// outcome means (delivered, retry, permanent) with the subscription-error code of the Subscriptions
// Backport IG, and when consecutive failures put a subscription into `error`.
//
// Jitter: **full jitter**, delay = uniform(0, min(cap, base * 2^(attempt-1))). It is stateless —
// the delay depends only on the attempt number, which the outbox persists, not on the previous
// delay (decorrelated jitter needs that, and it would be lost on a restart) — and, of the usual
// schemes, it spreads a crowd of senders best after an outage of a shared endpoint (most receivers
// are a few care-management platforms serving many subscriptions), at the price of sometimes
// retrying sooner than the plain exponential curve would.
#pragma once

#include "adapters/notify/error.hpp"

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

namespace carebridge::adapters::notify {

struct backoff_options {
  std::chrono::milliseconds base{std::chrono::seconds(1)};  // ceiling of the first retry's delay
  std::chrono::milliseconds cap{std::chrono::minutes(5)};   // ceiling of any backoff delay
  /// A server's Retry-After is honoured up to this much; a longer ask is clamped to it, so that a
  /// misconfigured or hostile endpoint cannot park a subscription for days.
  std::chrono::milliseconds max_retry_after{std::chrono::hours(1)};
};

/// Uniformly distributed values in [0, 1). Injected so that tests can pin the jitter.
using random_source = std::function<double()>;

/// A random source backed by a per-thread std::mt19937_64 seeded from std::random_device.
random_source default_random_source();

/// min(cap, base * 2^(attempt-1)) for attempt >= 1 (attempt 1 is the first retry); never overflows.
std::chrono::milliseconds backoff_ceiling(unsigned attempt, const backoff_options& o);

/// Full jitter: uniform in [0, backoff_ceiling(attempt)]. Values of `random` outside [0, 1) are
/// clamped into it.
std::chrono::milliseconds full_jitter(unsigned attempt, const backoff_options& o,
                                      const random_source& random);

/// The wait before retry number `attempt`: the jittered backoff, but never less than the server's
/// Retry-After (clamped to max_retry_after) when it sent one.
std::chrono::milliseconds retry_delay(unsigned attempt,
                                      std::optional<std::chrono::milliseconds> retry_after,
                                      const backoff_options& o, const random_source& random);

/// An HTTP-date in any of the three forms recipients must accept (RFC 9110 §5.6.7): IMF-fixdate
/// "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT", asctime
/// "Sun Nov  6 08:49:37 1994". nullopt when malformed.
std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view text);

/// A Retry-After value (delta-seconds or HTTP-date) as a wait from `now`; a date in the past is
/// zero; nullopt when malformed (then the plain backoff applies). Not clamped: retry_delay does.
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now);

enum class outcome : std::uint8_t {
  delivered,  // 2xx: the subscriber has it
  retry,      // worth sending again later: network errors, timeouts, 408, 429, 5xx
  permanent,  // sending again will not help until someone fixes something
};

/// `http://terminology.hl7.org/CodeSystem/subscription-error` codes (Backport IG `errors.md`).
enum class subscription_error : std::uint8_t {
  none,                  // delivered
  dns_resolution_error,  // the endpoint's host did not resolve
  no_response,           // no HTTP answer: connect failed, TLS refused, timeout, connection lost
  error_response,        // an HTTP answer other than 2xx (the status travels beside it)
};

inline constexpr std::string_view subscription_error_system =
    "http://terminology.hl7.org/CodeSystem/subscription-error";

/// "dns-resolution-error", "no-response", "error-response"; "" for none.
std::string_view code_of(subscription_error e) noexcept;

struct classification {
  notify::outcome outcome = notify::outcome::retry;
  subscription_error error = subscription_error::none;
  unsigned http_status = 0;  // with error_response: the status to report beside the code

  friend bool operator==(const classification&, const classification&) = default;
};

/// What an attempt's result means. `network_error` wins over `status` when set.
///  - 2xx: delivered.
///  - 408, 429, 5xx: retry (error-response).
///  - 3xx: permanent (error-response). Redirects are not followed: the endpoint was vetted when the
///    subscription was accepted; following a Location would send the notification and the
///    subscriber's channel headers (its credential) to a host nobody approved, and 301/302 turn a
///    POST into a GET in many stacks. The subscriber must update its endpoint instead.
///  - other 4xx, 1xx, anything else: permanent (error-response); Da Vinci Alerts says not to resend
///    on 401/404 until the problem is fixed.
///  - resolve_failed: retry (dns-resolution-error). connect_failed, timeout, connection_lost,
///    tls_failed, bad_response and errors of other categories: retry (no-response).
///  - certificate_rejected: permanent (no-response): a certificate does not start verifying by
///    itself within a retry window, and retrying an endpoint that may be impersonated helps nobody.
///  - bad_endpoint, bad_header: permanent (no-response): the channel as configured cannot be used.
classification classify(unsigned status, boost::system::error_code network_error) noexcept;

/// Counts consecutive failed attempts of one subscription; when `threshold` is reached the
/// subscription should go to `error` (fhir.md §1.4). A success resets the count. Permanent
/// outcomes put a subscription in `error` at once, without this count.
class failure_policy {
 public:
  explicit failure_policy(unsigned threshold = 10) noexcept
      : threshold_(threshold ? threshold : 1) {}

  /// Counts a failure; true when the threshold is reached (and on every failure after that).
  bool on_failure() noexcept { return ++consecutive_ >= threshold_; }
  void on_success() noexcept { consecutive_ = 0; }
  void reset() noexcept { consecutive_ = 0; }
  unsigned consecutive() const noexcept { return consecutive_; }
  unsigned threshold() const noexcept { return threshold_; }

 private:
  unsigned threshold_;
  unsigned consecutive_ = 0;
};

}  // namespace carebridge::adapters::notify
