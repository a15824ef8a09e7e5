// alerts::state_of: a stored subscription row as the alerts core's state — status, events counted,
// the error text, and in error the subscription-error code that $status and $events report.
#include "gateway/alerts/events.hpp"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace {

namespace alerts = carebridge::gateway::alerts;
namespace store = carebridge::gateway::store;

store::subscription_row row(std::string status, std::string error) {
  store::subscription_row r;
  r.id = "sub-1";
  r.status = std::move(status);
  r.error = std::move(error);
  r.events_since_start = 4;
  return r;
}

TEST(AlertsStateOf, ErrorCarriesTheSubscriptionErrorCodeOfItsText) {
  const auto refused = row("error", "error-response (HTTP 400)");
  auto s = alerts::state_of(refused);
  EXPECT_EQ(s.status, alerts::subscription_status::error);
  EXPECT_EQ(s.events_since_start, 4u);
  EXPECT_EQ(s.error_text, "error-response (HTTP 400)");
  EXPECT_EQ(s.error_codes, std::vector<std::string_view>{"error-response"});

  const auto silent = row("error", "no-response");
  EXPECT_EQ(alerts::state_of(silent).error_codes, std::vector<std::string_view>{"no-response"});
  const auto dns = row("error", "dns-resolution-error");
  EXPECT_EQ(alerts::state_of(dns).error_codes,
            std::vector<std::string_view>{"dns-resolution-error"});
}

TEST(AlertsStateOf, NoCodeOutsideErrorOrForAnUnknownText) {
  const auto active = row("active", "error-response (HTTP 400)");  // a text left from before
  EXPECT_EQ(alerts::state_of(active).status, alerts::subscription_status::active);
  EXPECT_TRUE(alerts::state_of(active).error_codes.empty());
  const auto other = row("error", "something else");
  EXPECT_TRUE(alerts::state_of(other).error_codes.empty());
  const auto none = row("error", "");
  EXPECT_TRUE(alerts::state_of(none).error_codes.empty());
}

}  // namespace
