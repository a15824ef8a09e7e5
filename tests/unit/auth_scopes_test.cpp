// SMART system scopes (gateway/auth/scopes): parsing v2 and v1 spellings, and grant() narrowing a
// request by what the client was registered for.
#include "gateway/auth/principal.hpp"
#include "gateway/auth/scopes.hpp"

#include <gtest/gtest.h>

namespace {

namespace auth = carebridge::gateway::auth;
using auth::action;

std::uint8_t bits(std::initializer_list<action> as) {
  std::uint8_t b = 0;
  for (auto a : as) b = static_cast<std::uint8_t>(b | static_cast<std::uint8_t>(a));
  return b;
}

TEST(AuthScopes, ParsesV2InCrudsOrder) {
  const auto s = auth::parse_scope("system/Encounter.rs");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->type, "Encounter");
  EXPECT_EQ(s->actions, bits({action::read, action::search}));
  EXPECT_EQ(s->text, "system/Encounter.rs");
  EXPECT_EQ(auth::parse_scope("system/Subscription.cruds")->actions, 31);
  EXPECT_EQ(auth::parse_scope("system/*.c")->type, "*");
  EXPECT_FALSE(auth::parse_scope("system/Encounter.sr"));  // out of order
  EXPECT_FALSE(auth::parse_scope("system/Encounter.rr"));  // repeated
  EXPECT_FALSE(auth::parse_scope("system/Encounter.x"));
  EXPECT_FALSE(auth::parse_scope("system/Encounter."));
  EXPECT_FALSE(auth::parse_scope("system/Encounter"));
}

TEST(AuthScopes, ParsesV1) {
  EXPECT_EQ(auth::parse_scope("system/Patient.read")->actions,
            bits({action::read, action::search}));
  EXPECT_EQ(auth::parse_scope("system/Patient.write")->actions,
            bits({action::create, action::update, action::remove}));
  EXPECT_EQ(auth::parse_scope("system/*.*")->actions, 31);
}

TEST(AuthScopes, OnlySystemScopesWithoutRestrictions) {
  EXPECT_FALSE(auth::parse_scope("patient/*.rs"));
  EXPECT_FALSE(auth::parse_scope("user/Encounter.read"));
  EXPECT_FALSE(auth::parse_scope("launch"));
  EXPECT_FALSE(auth::parse_scope("openid"));
  EXPECT_FALSE(auth::parse_scope("system/Observation.rs?category=laboratory"));
  EXPECT_FALSE(auth::parse_scope("system/encounter.rs"));  // a type starts upper-case
  EXPECT_FALSE(auth::parse_scope("system/En-counter.rs"));
  EXPECT_FALSE(auth::parse_scope("system/.rs"));
}

TEST(AuthScopes, ParsesAListReportingWhatItDropped) {
  std::vector<std::string> unknown;
  const auto set =
      auth::parse_scopes("  system/*.rs\tlaunch system/Task.rus system/*.rs\n openid", &unknown);
  ASSERT_EQ(set.items.size(), 2u);  // the repeated one once
  EXPECT_EQ(set.text(), "system/*.rs system/Task.rus");
  EXPECT_FALSE(auth::parse_scope("system/Task.rsu"));  // s comes last
  EXPECT_EQ(unknown, (std::vector<std::string>{"launch", "openid"}));
  EXPECT_TRUE(set.permits("Encounter", action::read));
  EXPECT_TRUE(set.permits("Task", action::update));
  EXPECT_FALSE(set.permits("Task", action::create));
  EXPECT_TRUE(auth::parse_scopes("").empty());
}

TEST(AuthScopes, GrantNarrowsTheRequest) {
  const auto allowed = auth::parse_scopes("system/Task.rus system/Encounter.rs");
  // * requested, specific types allowed: each allowed type, with the requested actions it has.
  const auto g = auth::grant(auth::parse_scopes("system/*.rs"), allowed);
  EXPECT_EQ(g.text(), "system/Task.rs system/Encounter.rs");
  EXPECT_FALSE(g.permits("Task", action::update));
  // Requested exactly as allowed: kept as written.
  EXPECT_EQ(auth::grant(auth::parse_scopes("system/Task.rus"), allowed).text(), "system/Task.rus");
  // Not allowed at all: nothing.
  EXPECT_TRUE(auth::grant(auth::parse_scopes("system/Patient.rs system/Task.d"), allowed).empty());
}

TEST(AuthScopes, GrantKeepsV1SpellingWhenWhole) {
  const auto allowed = auth::parse_scopes("system/*.read");
  EXPECT_EQ(auth::grant(auth::parse_scopes("system/Encounter.read"), allowed).text(),
            "system/Encounter.read");
  // v1 .* narrowed by a read-only registration becomes v2 .rs.
  EXPECT_EQ(auth::grant(auth::parse_scopes("system/Encounter.*"), allowed).text(),
            "system/Encounter.rs");
  // v2 against v1: the same actions, v2 spelling kept.
  EXPECT_EQ(auth::grant(auth::parse_scopes("system/*.rs"), allowed).text(), "system/*.rs");
}

TEST(AuthScopes, GrantLeavesOutWhatAWildcardGrantCovers) {
  const auto allowed = auth::parse_scopes("system/Subscription.crud system/*.rs");
  EXPECT_EQ(auth::grant(auth::parse_scopes("system/*.rs"), allowed).text(), "system/*.rs");
  // Subscription gets more than *.rs gives: kept.
  EXPECT_EQ(auth::grant(auth::parse_scopes("system/*.cruds"), allowed).text(),
            "system/Subscription.crud system/*.rs");
}

TEST(AuthScopes, GrantMergesActionsOfOneType) {
  const auto allowed = auth::parse_scopes("system/Task.r system/Task.u");
  EXPECT_EQ(auth::grant(auth::parse_scopes("system/Task.cru"), allowed).text(), "system/Task.ru");
}

TEST(AuthPrincipal, MaySendFor) {
  auth::principal p;
  p.kind = auth::role::sender;
  p.facilities = {"MERCY"};
  EXPECT_TRUE(p.may_send_for("MERCY"));
  EXPECT_FALSE(p.may_send_for("OTHER"));
  p.facilities = {"*"};
  EXPECT_TRUE(p.may_send_for("OTHER"));
  p.kind = auth::role::group;
  EXPECT_FALSE(p.may_send_for("OTHER"));
  EXPECT_EQ(auth::role_name(auth::role::ops), "ops");
}

}  // namespace
