// The fan-out from the alert outbox to subscriptions' numbered events, on a real store: topics per
// entry kind, group scoping, filters, a subscription's start, off subscriptions, and a position
// that survives a reopen (nothing numbered twice).
#include "gateway/alerts/fan_out.hpp"
#include "gateway/store/sqlite_store.hpp"
#include "tests/e2e/process.hpp"
#include "tests/support/settled_message.hpp"

#include <gtest/gtest.h>

#include <future>

namespace {

namespace alerts = carebridge::gateway::alerts;
namespace store = carebridge::gateway::store;
using carebridge::test::temp_dir;

std::string subscription_json(std::string_view topic, std::string_view filter = {}) {
  std::string j = R"({"resourceType":"Subscription","status":"requested","reason":"test",
    "criteria":"https://carebridge.example/fhir/SubscriptionTopic/)" +
                  std::string(topic) + "\"";
  if (!filter.empty())
    j += R"(,"_criteria":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria","valueString":")" +
         std::string(filter) + "\"}]}";
  j += R"(,"channel":{"type":"rest-hook","endpoint":"https://care.example.org/hook",
      "payload":"application/fhir+json"}})";
  return j;
}

template <class Op>
bool wait(Op op) {
  std::promise<bool> p;
  op([&p](bool ok) { p.set_value(ok); });
  return p.get_future().get();
}

struct fan_out_fixture : ::testing::Test {
  temp_dir dir;
  std::unique_ptr<store::sqlite_store> s = store::sqlite_store::open(dir.path(), {});
  int next_control = 0;

  void subscribe(std::string id, std::string group, std::string_view topic,
                 std::string_view filter = {}, std::string status = "requested") {
    store::subscription_row r;
    r.id = std::move(id);
    r.group_id = std::move(group);
    r.topic = "https://carebridge.example/fhir/SubscriptionTopic/" + std::string(topic);
    r.status = std::move(status);
    r.json = subscription_json(topic, filter);
    ASSERT_TRUE(wait([&](auto d) { s->save_subscription(r, d); }));
  }
  void settle(std::vector<store::alert_row> alerts) {
    store::processing_result pr;
    pr.alerts = std::move(alerts);
    ASSERT_NE(carebridge::test::settle_message(*s, "F" + std::to_string(next_control++), pr), 0);
  }
  // A settled message that wrote these resources (and no alerts).
  void settle_resources(std::vector<store::resource_row> resources) {
    store::processing_result pr;
    pr.resources = std::move(resources);
    ASSERT_NE(
        carebridge::test::settle_message(*s, "R" + std::to_string(next_control++), pr, "ADT^A01"),
        0);
  }
  static store::alert_row row(std::string kind, std::string group, std::string patient,
                              std::string band) {
    store::alert_row a;
    a.kind = std::move(kind);
    a.event_kind = "discharge";
    a.group_id = std::move(group);
    a.patient_id = std::move(patient);
    a.encounter_id = "enc-" + a.patient_id;
    a.risk_band = std::move(band);
    if (a.kind == "alert") a.task_id = "task-" + a.patient_id;
    return a;
  }
  std::vector<std::int64_t> seqs(std::string_view id) {
    std::vector<std::int64_t> out;
    for (const auto& e : s->events_of(id, 1, 0, 100)) out.push_back(e.alert_seq);
    return out;
  }
};

TEST(AlertsFanOut, TopicsOfEachEntryKind) {
  store::alert_row a;
  a.event_kind = "discharge";
  a.group_id = "G1";
  a.patient_id = "p1";
  a.kind = "alert";
  a.task_id = "t1";
  auto f = alerts::facts_of(a);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].topic, alerts::topic_id::attributed_discharge);
  EXPECT_EQ(f[1].topic, alerts::topic_id::readmission_risk);
  EXPECT_EQ(f[1].patient_reference, "Patient/p1");
  a.kind = "notice";
  a.task_id.clear();
  EXPECT_EQ(alerts::facts_of(a).size(), 1u);
  a.kind = "retraction";
  EXPECT_EQ(alerts::facts_of(a).size(), 1u);
  a.task_id = "t1";
  EXPECT_EQ(alerts::facts_of(a).size(), 2u);
}

TEST(AlertsFanOut, AdmissionAndEdVisitEntriesRaiseTheAdmissionTopic) {
  store::alert_row a;
  a.kind = "alert";
  a.event_kind = "admission";
  a.group_id = "G1";
  a.patient_id = "p1";
  a.task_id = "t1";
  auto f = alerts::facts_of(a);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].topic, alerts::topic_id::attributed_admission);
  EXPECT_EQ(f[0].group_id, "G1");
  EXPECT_EQ(f[0].patient_reference, "Patient/p1");
  EXPECT_EQ(f[0].encounter_event, "admission");
  EXPECT_TRUE(f[0].risk_band.empty());
  a.event_kind = "ed_visit";
  f = alerts::facts_of(a);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].topic, alerts::topic_id::attributed_admission);
  EXPECT_EQ(f[0].encounter_event, "ed-visit");
  // A withdrawal goes where the alert went, with or without its Task.
  a.kind = "retraction";
  f = alerts::facts_of(a);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].topic, alerts::topic_id::attributed_admission);
  a.task_id.clear();
  EXPECT_EQ(alerts::facts_of(a).size(), 1u);
  // Only what the group's alert events asked for: no notice of an encounter start.
  a.kind = "notice";
  EXPECT_TRUE(alerts::facts_of(a).empty());
  a.kind = "alert";
  a.group_id.clear();
  EXPECT_TRUE(alerts::facts_of(a).empty());
  a.group_id = "G1";
  a.event_kind = "registration";  // not an alert kind
  EXPECT_TRUE(alerts::facts_of(a).empty());
}

TEST_F(fan_out_fixture, EachSubscriptionGetsItsGroupsMatchingEntriesNumberedInOrder) {
  settle({row("alert", "G1", "p0", "high")});  // seq 1: before any subscription
  subscribe("risk-g1", "G1", "readmission-risk");
  subscribe("all-g1", "G1", "attributed-discharge");
  subscribe("high-g1", "G1", "readmission-risk", "risk=high");
  subscribe("p2-g1", "G1", "attributed-discharge", "Encounter?patient=Patient/p2");
  subscribe("risk-g2", "G2", "readmission-risk");
  subscribe("off-g1", "G1", "attributed-discharge", {}, "off");
  settle({row("alert", "G1", "p1", "moderate"), row("notice", "G1", "p2", "low")});  // seq 2, 3
  settle({row("alert", "G2", "p3", "high")});                                         // seq 4
  settle({row("alert", "G1", "p4", "high")});                                         // seq 5

  alerts::fan_out f(*s, *s);
  const auto p = f.run_once();
  EXPECT_FALSE(p.failed);
  EXPECT_EQ(p.entries, 5u);
  EXPECT_EQ(s->fanned_out_through(), 5);
  EXPECT_EQ(seqs("risk-g1"), (std::vector<std::int64_t>{2, 5}));
  EXPECT_EQ(seqs("all-g1"), (std::vector<std::int64_t>{2, 3, 5}));
  EXPECT_EQ(seqs("high-g1"), (std::vector<std::int64_t>{5}));
  EXPECT_EQ(seqs("p2-g1"), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(seqs("risk-g2"), (std::vector<std::int64_t>{4}));  // never another group's
  EXPECT_TRUE(seqs("off-g1").empty());
  EXPECT_EQ(p.events, 8u);
  const auto ev = s->events_of("all-g1", 1, 0, 10);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].event_number, 1);
  EXPECT_EQ(ev[2].event_number, 3);
  EXPECT_EQ(s->subscription("all-g1")->events_since_start, 3);

  // Nothing new: nothing happens. A reopened store and a fresh fan-out go on from the position.
  EXPECT_EQ(f.run_once().entries, 0u);
  s->close();
  s = store::sqlite_store::open(dir.path(), {});
  // p1's discharge withdrawn (seq 6): both topics had it (it came with a Task).
  auto retraction = row("retraction", "G1", "p1", "moderate");
  retraction.task_id = "task-p1";
  settle({retraction});
  alerts::fan_out again(*s, *s);
  EXPECT_EQ(again.run_once().entries, 1u);
  EXPECT_EQ(seqs("risk-g1"), (std::vector<std::int64_t>{2, 5, 6}));
  EXPECT_EQ(seqs("all-g1"), (std::vector<std::int64_t>{2, 3, 5, 6}));
  EXPECT_EQ(seqs("p2-g1"), (std::vector<std::int64_t>{3}));
  const auto third = s->events_of("risk-g1", 3, 3, 1);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].alert_seq, 6);
}

TEST_F(fan_out_fixture, AdmissionAlertsReachTheAdmissionTopicWithEncounterPatientAndTask) {
  subscribe("adm-g1", "G1", "attributed-admission");
  subscribe("ed-g1", "G1", "attributed-admission", "Encounter?event=ed-visit");
  subscribe("p1-g1", "G1", "attributed-admission", "patient=Patient/p1");
  subscribe("all-g1", "G1", "attributed-discharge");
  subscribe("risk-g1", "G1", "readmission-risk");
  subscribe("adm-g2", "G2", "attributed-admission");
  auto admission = row("alert", "G1", "p1", "");
  admission.event_kind = "admission";
  auto ed = row("alert", "G1", "p2", "");
  ed.event_kind = "ed_visit";
  settle({admission, ed});                     // seq 1, 2
  settle({row("alert", "G1", "p3", "high")});  // seq 3: a discharge
  alerts::fan_out f(*s, *s);
  const auto p = f.run_once();
  EXPECT_EQ(p.entries, 3u);
  EXPECT_EQ(seqs("adm-g1"), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(seqs("ed-g1"), (std::vector<std::int64_t>{2}));
  EXPECT_EQ(seqs("p1-g1"), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(seqs("all-g1"), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(seqs("risk-g1"), (std::vector<std::int64_t>{3}));
  EXPECT_TRUE(seqs("adm-g2").empty());

  // What the notification says: focus the Encounter, context the Patient and the Task.
  const auto row_of = s->subscription("adm-g1");
  ASSERT_TRUE(row_of);
  const auto req = alerts::read_stored(*row_of);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->topic, alerts::topic_id::attributed_admission);
  const auto events = s->events_of("adm-g1", 1, 0, 10);
  auto ns = alerts::notification_events(*req, events, *s, alerts::payload_content::id_only);
  ASSERT_EQ(ns.size(), 2u);
  EXPECT_EQ(ns[0].number, 1u);
  EXPECT_EQ(ns[0].focus.reference, "Encounter/enc-p1");
  ASSERT_EQ(ns[0].context.size(), 2u);
  EXPECT_EQ(ns[0].context[0].reference, "Patient/p1");
  EXPECT_EQ(ns[0].context[1].reference, "Task/task-p1");
  EXPECT_TRUE(ns[0].focus.json.empty());
  EXPECT_EQ(ns[1].focus.reference, "Encounter/enc-p2");

  // full-resource: the stored resources come along (one that is not stored goes by reference).
  const std::string encounter =
      R"({"resourceType":"Encounter","id":"enc-p1","status":"in-progress","class":{"code":"IMP"},"subject":{"reference":"Patient/p1"}})";
  const std::string task =
      R"({"resourceType":"Task","id":"task-p1","status":"requested","intent":"order","for":{"reference":"Patient/p1"},"encounter":{"reference":"Encounter/enc-p1"}})";
  settle_resources({{"Encounter", "enc-p1", encounter, false}, {"Task", "task-p1", task, true}});
  ns = alerts::notification_events(*req, events, *s, alerts::payload_content::full_resource);
  ASSERT_EQ(ns.size(), 2u);
  EXPECT_NE(ns[0].focus.json.find(R"("id":"enc-p1")"), std::string::npos) << ns[0].focus.json;
  EXPECT_TRUE(ns[0].context[0].json.empty());  // Patient p1 is not stored
  EXPECT_NE(ns[0].context[1].json.find(R"("id":"task-p1")"), std::string::npos);
}

TEST_F(fan_out_fixture, ABatchLimitMovesThePositionStepByStep) {
  subscribe("all-g1", "G1", "attributed-discharge");
  for (int i = 0; i < 5; ++i) settle({row("notice", "G1", "p" + std::to_string(i), "low")});
  alerts::fan_out f(*s, *s);
  EXPECT_EQ(f.run_once(2).entries, 2u);
  EXPECT_EQ(s->fanned_out_through(), 2);
  EXPECT_EQ(f.run_once(2).entries, 2u);
  EXPECT_EQ(f.run_once(2).entries, 1u);
  EXPECT_EQ(f.run_once(2).entries, 0u);
  EXPECT_EQ(seqs("all-g1"), (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
}

}  // namespace

namespace {

// The patients of a subscription's notification events (events 1..10), as delivery builds them.
std::vector<std::string> notified_patients(store::sqlite_store& st, const std::string& id) {
  const auto row = st.subscription(id);
  const auto req = alerts::read_stored(*row);
  const auto events = st.events_of(id, 1, 0, 10);
  std::vector<std::string> out;
  for (const auto& n : alerts::notification_events(*req, events, st, alerts::payload_content::id_only))
    for (const auto& c : n.context)
      if (c.reference.starts_with("Patient/")) out.push_back(c.reference.substr(8));
  return out;
}

}  // namespace

// Notification events read their outbox entries in one go when they lie close together, one by
// one when they are far apart; either way each event gets its own entry, never another group's.
TEST_F(fan_out_fixture, NotificationEventsFindTheirEntriesCloseTogetherOrFarApart) {
  subscribe("all-g1", "G1", "attributed-discharge");
  settle({row("notice", "G1", "p1", "low"), row("notice", "G2", "q1", "low"),
          row("alert", "G1", "p2", "high")});
  alerts::fan_out f(*s, *s);
  EXPECT_EQ(f.run_once().events, 2u);
  EXPECT_EQ(notified_patients(*s, "all-g1"), (std::vector<std::string>{"p1", "p2"}));
  // Twenty of G2's entries between two of G1's: too far apart for one read.
  for (int i = 0; i < 20; ++i) settle({row("notice", "G2", "q" + std::to_string(i + 2), "low")});
  settle({row("notice", "G1", "p3", "low")});
  f.run_once();
  EXPECT_EQ(notified_patients(*s, "all-g1"), (std::vector<std::string>{"p1", "p2", "p3"}));
}
