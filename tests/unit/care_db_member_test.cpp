// care_db::member(): what `carebridge members show` prints about one member — its attributions from
// the roster tables, the patients linked to it, the outcomes that linked it or concerned a patient
// linked to it or reviewed with it as a candidate, and those reviews — and nothing of others.
#include "gateway/care/care_db.hpp"
#include "gateway/members/roster.hpp"
#include "tests/e2e/process.hpp"

#include <gtest/gtest.h>

namespace {

using namespace carebridge::gateway;
using carebridge::test::temp_dir;

care::care_outcome outcome_of(std::string patient, std::string member, std::string match,
                              std::string encounter) {
  care::care_outcome o;
  o.event_kind = "discharge";
  o.patient_id = std::move(patient);
  o.encounter_id = std::move(encounter);
  o.event_date = "2026-11-20";
  o.member_id = std::move(member);
  o.match = std::move(match);
  o.rule = "demographics";
  o.attribution = o.member_id.empty() ? "no_member" : "attributed";
  o.group_id = o.member_id.empty() ? "" : "G-SB";
  o.alert_kind = "discharge";
  o.alert_wanted = !o.member_id.empty();
  o.alert_reason = o.member_id.empty() ? "review" : "";
  return o;
}

void write(care::care_db& db, std::int64_t message_id, const care::care_outcome& o,
           const care::care_changes& ch) {
  care::care_db::event_write w{0, &o, &ch};
  db.write(message_id, std::span(&w, 1));
  db.commit();
}

TEST(CareDbMember, ShowsAttributionsLinksOutcomesAndReviewsOfOneMember) {
  temp_dir dir;
  const auto file = dir.path() / "members.db";
  {
    auto roster = members::roster_db::open(file);
    members::roster_batch b;
    members::member_record m;
    m.member_id = "M1";
    m.family = "Secret";
    m.given = "Name";
    m.birth_date = "1950-01-01";
    m.sex = "female";
    b.members.push_back(m);
    m.member_id = "M2";
    b.members.push_back(m);
    b.attributions = {{"M1", "G-SB", "2025-01-01", "2025-12-31"},
                      {"M1", "G-NEW", "2026-01-01", ""},
                      {"M2", "G-SB", "2026-01-01", ""}};
    b.groups = {{"G-SB", "St Brigid", "", "", "moderate", 1},
                {"G-NEW", "New", "", "", "moderate", 1}};
    b.format = "csv";
    roster->apply(b, "default", "2026-01-01");
  }
  auto db = care::care_db::open(file);
  // Message 1: pat-A linked to M1 by demographics.
  care::care_changes linked;
  linked.links.push_back({"pat-A", "M1", "demographics", 24.5, 1});
  write(*db, 1, outcome_of("pat-A", "M1", "linked", "enc-A1"), linked);
  // Message 2: pat-B reviewed, candidates M2 and M1.
  care::care_changes review;
  review.review =
      care::match_review{"pat-B", 2, "demographics", "twin_conflict", {{"M2", 18.0}, {"M1", 17.5}}};
  write(*db, 2, outcome_of("pat-B", "", "review", "enc-B1"), review);
  // Message 3: pat-C, linked to M2 only; message 4: pat-A again.
  care::care_changes other;
  other.links.push_back({"pat-C", "M2", "demographics", 22.0, 3});
  write(*db, 3, outcome_of("pat-C", "M2", "linked", "enc-C1"), other);
  write(*db, 4, outcome_of("pat-A", "M1", "linked", "enc-A2"), care::care_changes{});
  // A member id that is a prefix of another must not match it ("M1" vs "M10").
  care::care_changes prefix;
  prefix.review =
      care::match_review{"pat-D", 5, "demographics", "below_auto_threshold", {{"M10", 12.0}}};
  write(*db, 5, outcome_of("pat-D", "", "review", "enc-D1"), prefix);

  const auto v = db->member("M1");
  EXPECT_TRUE(v.in_roster);
  ASSERT_EQ(v.attributions.size(), 2u);
  EXPECT_EQ(v.attributions[0].group_id, "G-SB");
  EXPECT_EQ(v.attributions[0].period_start, "2025-01-01");
  EXPECT_EQ(v.attributions[0].period_end, "2025-12-31");
  EXPECT_EQ(v.attributions[0].source, "default");
  EXPECT_EQ(v.attributions[1].group_id, "G-NEW");
  EXPECT_EQ(v.attributions[1].period_end, "");
  ASSERT_EQ(v.links.size(), 1u);
  EXPECT_EQ(v.links[0].patient_id, "pat-A");
  EXPECT_EQ(v.links[0].rule, "demographics");
  EXPECT_DOUBLE_EQ(v.links[0].score, 24.5);
  std::vector<std::int64_t> messages;
  for (const auto& [id, o] : v.outcomes) messages.push_back(id);
  EXPECT_EQ(messages, (std::vector<std::int64_t>{1, 2, 4}));
  EXPECT_EQ(v.outcomes[1].second.match, "review");
  EXPECT_EQ(v.outcomes[1].second.alert_reason, "review");
  ASSERT_EQ(v.reviews.size(), 1u);
  EXPECT_EQ(v.reviews[0].review.patient_id, "pat-B");
  EXPECT_EQ(v.reviews[0].status, "open");
  ASSERT_EQ(v.reviews[0].review.candidates.size(), 2u);
  EXPECT_EQ(v.reviews[0].review.candidates[1].first, "M1");
  EXPECT_DOUBLE_EQ(v.reviews[0].review.candidates[1].second, 17.5);

  const auto m2 = db->member("M2");
  messages.clear();
  for (const auto& [id, o] : m2.outcomes) messages.push_back(id);
  EXPECT_EQ(messages, (std::vector<std::int64_t>{2, 3}));

  const auto nobody = db->member("M9");
  EXPECT_FALSE(nobody.in_roster);
  EXPECT_TRUE(nobody.attributions.empty());
  EXPECT_TRUE(nobody.outcomes.empty());
  EXPECT_TRUE(nobody.reviews.empty());
}

TEST(CareDbMember, WorksWithoutRosterTables) {
  temp_dir dir;
  auto db = care::care_db::open(dir.path() / "members.db");
  const auto v = db->member("M1");
  EXPECT_FALSE(v.in_roster);
  EXPECT_TRUE(v.attributions.empty());
}

}  // namespace
