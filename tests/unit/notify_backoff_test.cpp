// The notification sender's pure parts: full-jitter backoff and its cap, Retry-After in both forms
// (and the three HTTP-date layouts), the outcome classifier with its subscription-error codes, the
// failure threshold, and the validation of endpoints and channel headers.
#include "adapters/notify/backoff.hpp"
#include "adapters/notify/rest_hook_client.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>

namespace {

using namespace carebridge::adapters::notify;
using namespace std::chrono_literals;
namespace chr = std::chrono;

random_source fixed(double u) {
  return [u] { return u; };
}

backoff_options opts(chr::milliseconds base, chr::milliseconds cap,
                     chr::milliseconds max_retry_after = 1h) {
  backoff_options o;
  o.base = base;
  o.cap = cap;
  o.max_retry_after = max_retry_after;
  return o;
}

TEST(NotifyBackoff, CeilingDoublesFromBaseUpToCap) {
  const auto o = opts(100ms, 1000ms);
  EXPECT_EQ(backoff_ceiling(1, o), 100ms);
  EXPECT_EQ(backoff_ceiling(2, o), 200ms);
  EXPECT_EQ(backoff_ceiling(3, o), 400ms);
  EXPECT_EQ(backoff_ceiling(4, o), 800ms);
  EXPECT_EQ(backoff_ceiling(5, o), 1000ms);
  EXPECT_EQ(backoff_ceiling(60, o), 1000ms);
  EXPECT_EQ(backoff_ceiling(std::numeric_limits<unsigned>::max(), o), 1000ms);
}

TEST(NotifyBackoff, HugeCapDoesNotOverflow) {
  const auto o = opts(1s, chr::milliseconds(std::numeric_limits<chr::milliseconds::rep>::max()));
  auto previous = backoff_ceiling(1, o);
  for (unsigned a = 2; a < 200; ++a) {
    const auto c = backoff_ceiling(a, o);
    EXPECT_GE(c, previous) << a;
    previous = c;
  }
}

TEST(NotifyBackoff, FullJitterSpansZeroToCeiling) {
  const auto o = opts(100ms, 1000ms);
  EXPECT_EQ(full_jitter(3, o, fixed(0.0)), 0ms);
  EXPECT_EQ(full_jitter(3, o, fixed(0.5)), 200ms);
  EXPECT_EQ(full_jitter(3, o, fixed(0.999999)), 400ms);
  // Out-of-range sources are clamped, not trusted.
  EXPECT_EQ(full_jitter(3, o, fixed(7.0)), 400ms);
  EXPECT_EQ(full_jitter(3, o, fixed(-1.0)), 0ms);
  EXPECT_EQ(full_jitter(3, o, fixed(std::numeric_limits<double>::quiet_NaN())), 0ms);
}

TEST(NotifyBackoff, DefaultRandomSourceStaysWithinBounds) {
  const auto o = opts(10ms, 50ms);
  const auto r = default_random_source();
  for (int i = 0; i < 1000; ++i) {
    const auto d = full_jitter(4, o, r);
    EXPECT_GE(d, 0ms);
    EXPECT_LE(d, 50ms);
  }
}

TEST(NotifyBackoff, RetryAfterIsAFloorClampedToTheMaximum) {
  const auto o = opts(100ms, 1000ms, 30s);
  EXPECT_EQ(retry_delay(1, std::nullopt, o, fixed(0.5)), 50ms);
  EXPECT_EQ(retry_delay(1, 2s, o, fixed(0.5)), 2s);            // longer than the backoff: honoured
  EXPECT_EQ(retry_delay(4, 10ms, o, fixed(0.999999)), 800ms);  // shorter: the backoff still applies
  EXPECT_EQ(retry_delay(1, 24h, o, fixed(0.5)), 30s);          // clamped
  EXPECT_EQ(retry_delay(1, -5s, o, fixed(0.0)), 0ms);
}

TEST(NotifyRetryAfter, DeltaSeconds) {
  const auto now = chr::system_clock::now();
  EXPECT_EQ(parse_retry_after("120", now), 120s);
  EXPECT_EQ(parse_retry_after(" 0 ", now), 0s);
  EXPECT_FALSE(parse_retry_after("-1", now));
  EXPECT_FALSE(parse_retry_after("1.5", now));
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("soon", now));
  // Absurd values saturate instead of overflowing (and are clamped later).
  const auto big = parse_retry_after("99999999999999999999999999", now);
  ASSERT_TRUE(big);
  EXPECT_GT(*big, 24h * 365 * 100);
}

TEST(NotifyRetryAfter, HttpDateInTheThreeForms) {
  const chr::sys_seconds expected = chr::sys_days(chr::year(1994) / 11 / 6) + 8h + 49min + 37s;
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), expected);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), expected);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), expected);
  EXPECT_EQ(parse_http_date("Thu, 01 Jan 2026 00:00:00 GMT"),
            chr::sys_days(chr::year(2026) / 1 / 1));
  EXPECT_EQ(parse_http_date("Thursday, 01-Jan-26 00:00:00 GMT"),
            chr::sys_days(chr::year(2026) / 1 / 1));
  EXPECT_EQ(parse_http_date("Wed Dec 16 10:00:00 2026"),
            chr::sys_days(chr::year(2026) / 12 / 16) + 10h);
}

TEST(NotifyRetryAfter, MalformedDatesAreRefused) {
  for (const char* bad :
       {"Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:49 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun Nov 6 08:49:37 1994", "06 Nov 1994", "GMT"})
    EXPECT_FALSE(parse_http_date(bad)) << bad;
}

TEST(NotifyRetryAfter, DateIsAWaitFromNowAndThePastIsZero) {
  const auto now = chr::sys_days(chr::year(2026) / 12 / 1) + 12h;
  EXPECT_EQ(parse_retry_after("Tue, 01 Dec 2026 12:00:05 GMT", now), 5s);
  EXPECT_EQ(parse_retry_after("Tue, 01 Dec 2026 11:00:00 GMT", now), 0ms);
  // Sub-second "now" rounds the wait up, never down.
  const auto later = now + 300ms;
  EXPECT_EQ(parse_retry_after("Tue, 01 Dec 2026 12:00:05 GMT", later), 4700ms);
}

TEST(NotifyClassify, HttpStatuses) {
  const boost::system::error_code none;
  for (unsigned s : {200u, 201u, 202u, 204u, 299u})
    EXPECT_EQ(classify(s, none), (classification{outcome::delivered, subscription_error::none, s}));
  for (unsigned s : {408u, 429u, 500u, 502u, 503u, 504u, 599u})
    EXPECT_EQ(classify(s, none),
              (classification{outcome::retry, subscription_error::error_response, s}))
        << s;
  for (unsigned s :
       {100u, 301u, 302u, 307u, 308u, 400u, 401u, 403u, 404u, 409u, 410u, 413u, 422u, 600u})
    EXPECT_EQ(classify(s, none),
              (classification{outcome::permanent, subscription_error::error_response, s}))
        << s;
}

TEST(NotifyClassify, NetworkErrorsWinOverStatus) {
  EXPECT_EQ(classify(0, error::resolve_failed),
            (classification{outcome::retry, subscription_error::dns_resolution_error, 0}));
  for (error e : {error::connect_failed, error::timeout, error::connection_lost, error::tls_failed,
                  error::bad_response})
    EXPECT_EQ(classify(200, e),
              (classification{outcome::retry, subscription_error::no_response, 0}))
        << make_error_code(e).message();
  for (error e : {error::certificate_rejected, error::bad_endpoint, error::bad_header})
    EXPECT_EQ(classify(0, e),
              (classification{outcome::permanent, subscription_error::no_response, 0}))
        << make_error_code(e).message();
  // Foreign error categories are network trouble too.
  EXPECT_EQ(classify(0, make_error_code(boost::system::errc::connection_refused)).outcome,
            outcome::retry);
}

TEST(NotifyClassify, IgCodes) {
  EXPECT_EQ(code_of(subscription_error::dns_resolution_error), "dns-resolution-error");
  EXPECT_EQ(code_of(subscription_error::no_response), "no-response");
  EXPECT_EQ(code_of(subscription_error::error_response), "error-response");
  EXPECT_EQ(code_of(subscription_error::none), "");
}

TEST(NotifyFailurePolicy, ThresholdOfConsecutiveFailures) {
  failure_policy p(3);
  EXPECT_FALSE(p.on_failure());
  EXPECT_FALSE(p.on_failure());
  p.on_success();
  EXPECT_EQ(p.consecutive(), 0u);
  EXPECT_FALSE(p.on_failure());
  EXPECT_FALSE(p.on_failure());
  EXPECT_TRUE(p.on_failure());
  EXPECT_TRUE(p.on_failure());
  EXPECT_EQ(p.consecutive(), 4u);
  EXPECT_EQ(failure_policy(0).threshold(), 1u);
}

TEST(NotifyEndpoint, HttpsUrls) {
  auto e = parse_endpoint("https://Hooks.Example.org/fhir/notify?sub=7#frag", false);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->tls);
  EXPECT_EQ(e->host, "hooks.example.org");
  EXPECT_EQ(e->port, 443);
  EXPECT_EQ(e->target, "/fhir/notify?sub=7");
  EXPECT_EQ(e->origin(), "https://hooks.example.org:443");
  EXPECT_EQ(e->host_header(), "hooks.example.org");

  e = parse_endpoint("HTTPS://10.0.0.5:8443", false);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->port, 8443);
  EXPECT_EQ(e->target, "/");
  EXPECT_EQ(e->host_header(), "10.0.0.5:8443");

  e = parse_endpoint("https://[::1]:9443/x", false);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->host_header(), "[::1]:9443");
  EXPECT_EQ(e->origin(), "https://[::1]:9443");

  e = parse_endpoint("https://h?only=query", false);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->target, "/?only=query");
}

TEST(NotifyEndpoint, RefusedUrls) {
  for (const char* bad :
       {"", "hooks.example.org/x", "ftp://h/x", "https://", "https:///x", "https://user:pw@h/x",
        "https://h:0/", "https://h:65536/", "https://h:/", "https://h:12a/", "https://[::1/x",
        "https://[zz]/", "https://h/a b", "https://h/\r\nX: y", "https://h\x7f/",
        "http://hooks.example.org/x", "http://127.0.0.1/x"})
    EXPECT_FALSE(parse_endpoint(bad, false)) << bad;
  EXPECT_EQ(parse_endpoint("ftp://h/x", false).error(), error::bad_endpoint);
}

TEST(NotifyEndpoint, PlainHttpOnlyToLoopbackWhenAllowed) {
  EXPECT_TRUE(parse_endpoint("http://127.0.0.1:8080/x", true));
  EXPECT_TRUE(parse_endpoint("http://127.3.2.1/x", true));
  EXPECT_TRUE(parse_endpoint("http://localhost/x", true));
  EXPECT_TRUE(parse_endpoint("http://[::1]/x", true));
  EXPECT_FALSE(parse_endpoint("http://10.0.0.1/x", true));
  EXPECT_FALSE(parse_endpoint("http://hooks.example.org/x", true));
  EXPECT_FALSE(parse_endpoint("http://localhost.example.org/x", true));
  EXPECT_EQ(parse_endpoint("http://localhost/x", true)->port, 80);
}

TEST(NotifyChannelHeader, NameAndValue) {
  auto h = parse_channel_header("Authorization: Bearer abc:def");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->name, "Authorization");
  EXPECT_EQ(h->value, "Bearer abc:def");
  h = parse_channel_header("X-Empty:");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->value, "");
  h = parse_channel_header("X-Tab:\tv\t");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->value, "v");
}

TEST(NotifyChannelHeader, InjectionAndOwnedNamesAreRefused) {
  for (const char* bad :
       {"no colon", ": value", "Bad Name: v", "Name : v", "X-A: v\r\nX-B: w", "X-A: v\n",
        "X-A: v\rw", "X-A: \x01", "Host: evil", "content-length: 5", "Transfer-Encoding: chunked",
        "Connection: close", "Content-Type: text/plain", "Proxy-Authorization: x",
        "Expect: 100-continue", "TE: trailers"})
    EXPECT_EQ(parse_channel_header(bad).error(), error::bad_header) << bad;
  EXPECT_EQ(parse_channel_header(std::string_view("X-A: a\0b", 8)).error(), error::bad_header);
}

TEST(NotifyChannelHeader, ErrorTextNeverHoldsTheValue) {
  const auto h = parse_channel_header("Authorization: Bearer s3cr3t\r\nX: y");
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message().find("s3cr3t"), std::string::npos);
}

}  // namespace
