// roster_db: imports as diffs against the source's previous snapshot (new, changed, dropped
// members; period changes), dropped members still attributed on earlier dates, plan() writing
// nothing, version() seen from another connection, snapshot loading, attributed_group boundaries,
// group settings.
#include "gateway/members/roster.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdlib.h>

#include <sstream>

namespace {

namespace gm = carebridge::gateway::members;

class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "roster-db-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::filesystem::path file() const { return path_ / "members.db"; }

 private:
  std::filesystem::path path_;
};

gm::member_record person(std::string id, std::string family, std::string dob) {
  gm::member_record m;
  m.member_id = std::move(id);
  m.family = std::move(family);
  m.given = "Al";
  m.birth_date = std::move(dob);
  m.sex = "male";
  m.postal_code = "60601";
  m.identifiers.push_back({"urn:oid:2.16.840.1.113883.3.1001", "MRN-" + m.member_id, "MR"});
  return m;
}

// Members M1..M5 with G1/G2 attributions.
gm::roster_batch first_roster() {
  gm::roster_batch b;
  for (int i = 1; i <= 5; ++i)
    b.members.push_back(person("M" + std::to_string(i), "Doe" + std::to_string(i),
                               "1950-01-0" + std::to_string(i)));
  b.attributions = {{"M1", "G1", "2026-01-01", ""},           {"M2", "G1", "2026-01-01", ""},
                    {"M3", "G2", "2026-01-01", "2026-12-31"}, {"M4", "G2", "2026-01-01", ""},
                    {"M5", "G1", "2025-01-01", "2025-12-31"}, {"M5", "G2", "2026-01-01", ""}};
  b.groups = {{"G1", "One", "", "", "moderate", gm::alert_discharge},
              {"G2", "Two", "", "", "moderate", gm::alert_discharge}};
  return b;
}

TEST(RosterDb, FirstImportThenLoad) {
  temp_dir dir;
  auto db = gm::roster_db::open(dir.file());
  EXPECT_EQ(db->version(), 0);
  const auto s = db->apply(first_roster(), "plan", "2026-06-01");
  EXPECT_EQ(s.members_new, 5u);
  EXPECT_EQ(s.members_changed + s.members_unchanged + s.members_dropped, 0u);
  EXPECT_EQ(s.attributions_new, 6u);
  EXPECT_EQ(s.groups_new, 2u);
  EXPECT_EQ(s.version, 1);
  EXPECT_EQ(db->version(), 1);

  const auto snap = db->load();
  EXPECT_EQ(snap->version, 1);
  ASSERT_EQ(snap->index->size(), 5u);
  EXPECT_EQ(snap->index->member(0).member_id, "M1");
  EXPECT_EQ(snap->index->member(0).family, "Doe1");
  ASSERT_EQ(snap->index->member(0).identifiers.size(), 1u);
  EXPECT_EQ(snap->index->member(0).identifiers[0].value, "MRN-M1");
  EXPECT_EQ(snap->index->member(0).identifiers[0].type, "MR");
  EXPECT_EQ(snap->attributions.at("M5").size(), 2u);
  EXPECT_EQ(snap->groups.size(), 2u);
  EXPECT_EQ(snap->groups.at("G1").name, "One");
  ASSERT_NE(snap->attributed_group("M5", "2025-07-01"), nullptr);
  EXPECT_EQ(snap->attributed_group("M5", "2025-07-01")->id, "G1");
  EXPECT_EQ(snap->attributed_group("M5", "2026-07-01")->id, "G2");
  // The index matches on what was loaded.
  gm::patient_facts p;
  p.member_ids = {"X9"};
  EXPECT_EQ(gm::match(*snap->index, p).decision, gm::match_decision::no_match);
  p.member_ids = {"M3"};
  p.family = "Doe3";
  p.given = "Al";
  p.birth_date = "1950-01-03";
  const auto r = gm::match(*snap->index, p);
  ASSERT_NE(r.linked(), nullptr);
  EXPECT_EQ(r.linked()->member_id, "M3");
}

TEST(RosterDb, ReimportAppliesNewChangedDroppedAndPeriodChanges) {
  temp_dir dir;
  auto db = gm::roster_db::open(dir.file());
  db->apply(first_roster(), "plan", "2026-06-01");

  gm::roster_batch b = first_roster();
  b.members.erase(b.members.begin() + 3);                   // M4 dropped
  b.members[1].postal_code = "60699";                       // M2 changed
  b.members.push_back(person("M6", "Doe6", "1950-01-06"));  // M6 new
  b.attributions = {{"M1", "G1", "2026-01-01", ""},
                    {"M2", "G1", "2026-01-01", ""},
                    {"M3", "G2", "2026-01-01", "2026-09-30"},  // end changed
                    {"M5", "G1", "2025-01-01", "2025-12-31"},
                    {"M5", "G2", "2026-02-01", ""},  // start moved
                    {"M6", "G3", "2026-06-01", ""}};
  b.groups.push_back({"G3", "Three", "", "", "moderate", gm::alert_discharge});

  const auto planned = db->plan(b, "plan", "2026-07-01");
  EXPECT_EQ(db->version(), 1);  // plan writes nothing
  const auto s = db->apply(b, "plan", "2026-07-01");
  EXPECT_EQ(s.members_new, 1u);
  EXPECT_EQ(s.members_changed, 1u);
  EXPECT_EQ(s.members_unchanged, 3u);
  EXPECT_EQ(s.members_dropped, 1u);
  EXPECT_EQ(s.attributions_new, 1u);
  EXPECT_EQ(s.attributions_changed, 2u);
  EXPECT_EQ(s.attributions_ended, 1u);
  EXPECT_EQ(s.groups_new, 1u);
  EXPECT_EQ(s.version, 2);
  EXPECT_EQ(planned.members_new, s.members_new);
  EXPECT_EQ(planned.members_changed, s.members_changed);
  EXPECT_EQ(planned.members_dropped, s.members_dropped);
  EXPECT_EQ(planned.attributions_changed, s.attributions_changed);
  EXPECT_EQ(planned.attributions_ended, s.attributions_ended);
  EXPECT_EQ(planned.version, s.version);

  const auto snap = db->load();
  EXPECT_EQ(snap->index->size(), 6u);  // the dropped member stays, for late events
  // M4 dropped as of 2026-07-01: its open period ended the day before.
  EXPECT_EQ(snap->attributions.at("M4"),
            (std::vector<gm::attribution>{{"M4", "G2", "2026-01-01", "2026-06-30"}}));
  ASSERT_NE(snap->attributed_group("M4", "2026-06-30"), nullptr);
  EXPECT_EQ(snap->attributed_group("M4", "2026-06-30")->id, "G2");
  EXPECT_EQ(snap->attributed_group("M4", "2026-07-01"), nullptr);
  // M2's new postal code.
  for (std::uint32_t i = 0; i < snap->index->size(); ++i) {
    if (snap->index->member(i).member_id == "M2") {
      EXPECT_EQ(snap->index->member(i).postal_code, "60699");
    }
  }
  // Period changes.
  EXPECT_EQ(snap->attributed_group("M3", "2026-10-01"), nullptr);
  EXPECT_EQ(snap->attributed_group("M5", "2026-01-15"), nullptr);
  EXPECT_EQ(snap->attributed_group("M5", "2026-02-01")->id, "G2");
  EXPECT_EQ(snap->attributed_group("M6", "2026-06-01")->id, "G3");

  // The same file again changes nothing, and the version stays.
  const auto again = db->apply(b, "plan", "2026-07-02");
  EXPECT_EQ(again.members_unchanged, 5u);
  EXPECT_EQ(again.members_new + again.members_changed + again.members_dropped, 0u);
  EXPECT_EQ(again.attributions_new + again.attributions_changed + again.attributions_ended, 0u);
  EXPECT_EQ(again.version, 2);
  EXPECT_EQ(db->version(), 2);

  // A dropped member who comes back is new again, with its new period beside the old one.
  gm::roster_batch back = b;
  back.members.push_back(person("M4", "Doe4", "1950-01-04"));
  back.attributions.push_back({"M4", "G1", "2026-09-01", ""});
  const auto readded = db->apply(back, "plan", "2026-09-01");
  EXPECT_EQ(readded.members_new, 1u);
  EXPECT_EQ(readded.members_dropped, 0u);
  const auto snap2 = db->load();
  EXPECT_EQ(snap2->attributed_group("M4", "2026-06-01")->id, "G2");
  EXPECT_EQ(snap2->attributed_group("M4", "2026-08-01"), nullptr);
  EXPECT_EQ(snap2->attributed_group("M4", "2026-09-01")->id, "G1");
}

TEST(RosterDb, APeriodThatHadNotStartedIsRemovedWhenTheMemberIsDropped) {
  temp_dir dir;
  auto db = gm::roster_db::open(dir.file());
  gm::roster_batch b;
  b.members = {person("M1", "Doe", "1950-01-01"), person("M2", "Roe", "1950-01-02")};
  b.attributions = {{"M1", "G1", "2027-01-01", ""}, {"M2", "G1", "2026-01-01", ""}};
  db->apply(b, "s", "2026-06-01");
  b.members.erase(b.members.begin());
  b.attributions.erase(b.attributions.begin());
  const auto s = db->apply(b, "s", "2026-06-01");
  EXPECT_EQ(s.members_dropped, 1u);
  EXPECT_EQ(s.attributions_ended, 1u);
  const auto snap = db->load();
  EXPECT_FALSE(snap->attributions.contains("M1"));
}

TEST(RosterDb, SkippedMembersAreNeitherChangedNorDropped) {
  temp_dir dir;
  auto db = gm::roster_db::open(dir.file());
  db->apply(first_roster(), "plan", "2026-06-01");
  gm::roster_batch b = first_roster();
  b.members.erase(b.members.begin() + 1);  // M2's row was bad in this file
  std::erase_if(b.attributions, [](const gm::attribution& a) { return a.member_id == "M2"; });
  b.skipped_member_ids = {"M2"};
  b.rows_skipped = 1;
  const auto s = db->apply(b, "plan", "2026-07-01");
  EXPECT_EQ(s.members_dropped, 0u);
  EXPECT_EQ(s.attributions_ended, 0u);
  EXPECT_EQ(s.rows_skipped, 1u);
  EXPECT_EQ(db->load()->attributed_group("M2", "2026-08-01")->id, "G1");
}

TEST(RosterDb, SourcesAreSnapshotsOfTheirOwn) {
  temp_dir dir;
  auto db = gm::roster_db::open(dir.file());
  gm::roster_batch a;
  a.members = {person("M1", "Doe", "1950-01-01")};
  a.attributions = {{"M1", "G1", "2026-01-01", ""}};
  gm::roster_batch b;
  b.members = {person("M1", "Doe", "1950-01-01"), person("M2", "Roe", "1950-01-02")};
  b.attributions = {{"M1", "G2", "2026-03-01", ""}, {"M2", "G2", "2026-01-01", ""}};
  db->apply(a, "contract-a", "2026-06-01");
  EXPECT_EQ(db->apply(b, "contract-b", "2026-06-01").members_new, 2u);
  // contract-b drops M1: contract-a's attribution stays.
  b.members.erase(b.members.begin());
  b.attributions.erase(b.attributions.begin());
  const auto s = db->apply(b, "contract-b", "2026-07-01");
  EXPECT_EQ(s.members_dropped, 1u);
  const auto snap = db->load();
  EXPECT_EQ(snap->attributed_group("M1", "2026-06-15")->id, "G2");  // later start wins
  EXPECT_EQ(snap->attributed_group("M1", "2026-07-01")->id, "G1");
  const auto st = db->stats("2026-07-01");
  EXPECT_EQ(st.members, 2u);
  EXPECT_EQ(st.members_current, 2u);
  EXPECT_EQ(st.attributions_active, 2u);  // M1 in G1, M2 in G2
  EXPECT_EQ(st.groups, 2u);
  ASSERT_EQ(st.last_imports.size(), 3u);
  EXPECT_EQ(st.last_imports[0].source, "contract-b");
  EXPECT_EQ(st.last_imports[0].members_dropped, 1u);
}

TEST(RosterDb, VersionChangesWhenAnotherConnectionImports) {
  temp_dir dir;
  auto reader = gm::roster_db::open(dir.file());
  auto writer = gm::roster_db::open(dir.file());
  const auto before = reader->version();
  const auto snap = reader->load();
  writer->apply(first_roster(), "plan", "2026-06-01");
  const auto after = reader->version();
  EXPECT_NE(after, before);
  EXPECT_EQ(snap->version, before);  // a loaded snapshot is immutable
  EXPECT_EQ(reader->load()->index->size(), 5u);
  writer->put_group({"G1", "One", "1234567893", "", "high", gm::alert_discharge});
  EXPECT_NE(reader->version(), after);
}

TEST(RosterSnapshot, AttributedGroupBoundaries) {
  gm::roster_snapshot s;
  s.groups["A"] = {"A", "a", "", "", "moderate", gm::alert_discharge};
  s.groups["B"] = {"B", "b", "", "", "moderate", gm::alert_discharge};
  s.groups["C"] = {"C", "c", "", "", "moderate", gm::alert_discharge};
  s.attributions["M"] = {{"M", "A", "2026-01-01", "2026-03-31"},
                         {"M", "B", "2026-03-01", ""},
                         {"M", "C", "2026-05-01", "2026-05-01"}};
  const auto at = [&](std::string_view date) -> std::string {
    const auto* g = s.attributed_group("M", date);
    return g ? g->id : "-";
  };
  EXPECT_EQ(at("2025-12-31"), "-");
  EXPECT_EQ(at("2026-01-01"), "A");  // start inclusive
  EXPECT_EQ(at("2026-02-28"), "A");
  EXPECT_EQ(at("2026-03-01"), "B");  // overlap: the later start wins
  EXPECT_EQ(at("2026-03-31"), "B");
  EXPECT_EQ(at("2026-04-30"), "B");
  EXPECT_EQ(at("2026-05-01"), "C");  // a one-day period, both ends inclusive
  EXPECT_EQ(at("2026-05-02"), "B");  // open-ended
  EXPECT_EQ(at("2099-01-01"), "B");
  EXPECT_EQ(s.attributed_group("nobody", "2026-03-01"), nullptr);
}

TEST(RosterDb, GroupSettingsRoundTripAndSurviveImports) {
  temp_dir dir;
  auto db = gm::roster_db::open(dir.file());
  db->apply(first_roster(), "plan", "2026-06-01");
  gm::physician_group g = *db->group("G1");
  EXPECT_EQ(g.risk_threshold, "moderate");
  EXPECT_EQ(g.alert_events, gm::alert_discharge);
  g.npi = "1234567893";
  g.tin = "123456789";
  g.risk_threshold = "high";
  g.alert_events = gm::alert_discharge | gm::alert_ed_visit | gm::alert_admission;
  db->put_group(g);
  EXPECT_EQ(*db->group("G1"), g);
  // A re-import renames the group but keeps its settings and identifiers.
  gm::roster_batch b = first_roster();
  b.groups[0].name = "One renamed";
  db->apply(b, "plan", "2026-06-02");
  const auto after = *db->group("G1");
  EXPECT_EQ(after.name, "One renamed");
  EXPECT_EQ(after.risk_threshold, "high");
  EXPECT_EQ(after.npi, "1234567893");
  EXPECT_EQ(after.alert_events, g.alert_events);
  EXPECT_EQ(db->groups().size(), 2u);
  EXPECT_EQ(db->load()->groups.at("G1").risk_threshold, "high");
  EXPECT_FALSE(db->group("nope").has_value());
  g.npi = "1234567890";
  EXPECT_THROW(db->put_group(g), std::invalid_argument);
  g.npi.clear();
  g.risk_threshold = "extreme";
  EXPECT_THROW(db->put_group(g), std::invalid_argument);
}

TEST(RosterDb, CsvRoundTripThroughTheDatabase) {
  temp_dir dir;
  auto db = gm::roster_db::open(dir.file());
  std::istringstream in(
      "member_id,family,given,birth_date,sex,postal_code,group_id,group_name,period_start,"
      "period_end,mbi\n"
      "M1,Doe,Al,1950-01-01,M,60601,G1,One,2026-01-01,,1EG4TE5MK73\n");
  const auto s = db->apply(gm::read_roster_csv(in), "csv", "2026-06-01");
  EXPECT_EQ(s.members_new, 1u);
  const auto snap = db->load();
  ASSERT_EQ(snap->index->size(), 1u);
  const auto& m = snap->index->member(0);
  EXPECT_EQ(m.sex, "male");
  ASSERT_EQ(m.identifiers.size(), 1u);
  EXPECT_EQ(m.identifiers[0].system, gm::mbi_system);
  EXPECT_EQ(m.identifiers[0].type, "MC");
}

}  // namespace
