// Ingest against a fake store: dispositions, ACK codes and modes, what is stored, PHI-free errors.
#include "gateway/ingest/ingest_service.hpp"
#include "mappings/hl7v2/message.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <set>

namespace {

using namespace carebridge::gateway;
using carebridge::mappings::hl7v2::disposition;
using ::testing::HasSubstr;
using ::testing::Not;

// Commits at once with a configurable outcome, and keeps what it was given.
class fake_store final : public store::message_store {
 public:
  std::vector<store::inbound_record> records;
  std::deque<store::commit_result> scripted;  // outcomes to return, then "stored"

  void submit(store::inbound_record r, commit_handler done) override {
    records.push_back(r);
    store::commit_result c;
    if (!scripted.empty()) {
      c = scripted.front();
      scripted.pop_front();
    } else {
      c.what = store::commit_result::outcome::stored;
      c.id = static_cast<std::int64_t>(records.size());
    }
    c.record = std::move(r);
    done(std::move(c));
  }
  std::vector<store::stored_message> pending(std::int64_t, std::size_t) override { return {}; }
  void settle(std::int64_t, store::message_state, std::string, std::function<void(bool)> d) override {
    if (d) d(true);
  }
  void settle_processed(std::int64_t, store::processing_result,
                        std::function<void(bool)> d) override {
    if (d) d(true);
  }
  std::optional<store::stored_resource> read_resource(std::string_view,
                                                      std::string_view) override {
    return std::nullopt;
  }
  std::vector<store::stored_event> events_for_patient(std::string_view) override { return {}; }
  store::store_stats stats() override { return {}; }
  backlog_info backlog() override { return {}; }
  bool writable() const override { return true; }
  std::size_t queued() const override { return 0; }
  void close() override {}
};

const std::string a03 =
    "MSH|^~\\&|EPIC|MERCY|CB|PLAN|20261120143005-0500||ADT^A03^ADT_A03|CTRL1|P|2.5.1\r"
    "PID|1||12345^^^MERCY^MR||Secretname^Mary||19500101|F\r";

struct fixture : ::testing::Test {
  fake_store store;
  obs::registry metrics;
  ingest::sender_policy policy{{{"mercy", {"MERCY"}, {"mercy-engine"}, {}, {}}}};
  int accepted_hook = 0;
  std::vector<store::stored_message> handed_over;  // what on_accepted got
  ingest::ingest_service svc{store, policy, metrics, [this] {
                               ingest::ingest_service::options o;
                               o.max_frame_bytes = 4096;
                               o.on_accepted = [this](store::stored_message m) {
                                 ++accepted_hook;
                                 handed_over.push_back(std::move(m));
                               };
                               return o;
                             }()};
  ingest::connection_info conn = [] {
    ingest::connection_info c;
    c.listener = "mllp";
    c.peer_address = "127.0.0.1";
    c.peer_port = 5000;
    c.tls = true;
    c.certificate_subject = "CN=mercy-engine";
    c.certificate_names = {"mercy-engine"};
    return c;
  }();

  ingest::ingest_result run(const std::string& frame) {
    ingest::ingest_result out;
    svc.ingest(frame, conn, policy.grant(conn), [&](ingest::ingest_result r) { out = std::move(r); });
    return out;
  }
};

std::string msa(const std::string& ack, const char* path) {
  auto m = carebridge::mappings::hl7v2::parse(ack);
  return m ? m->get(path).value() : "<unparseable ack>";
}

TEST_F(fixture, AcceptedMessageIsStoredPendingAndAnsweredAA) {
  const auto r = run(a03);
  EXPECT_EQ(r.disposition, disposition::accepted);
  ASSERT_TRUE(r.ack);
  EXPECT_EQ(r.ack_code, "AA");
  EXPECT_EQ(msa(*r.ack, "MSA.2"), "CTRL1");
  EXPECT_TRUE(r.stored);
  ASSERT_EQ(store.records.size(), 1u);
  const auto& rec = store.records[0];
  EXPECT_EQ(rec.state, store::message_state::pending);
  EXPECT_EQ(rec.sending_facility, "MERCY");
  EXPECT_EQ(rec.sending_application, "EPIC");
  EXPECT_EQ(rec.control_id, "CTRL1");
  EXPECT_EQ(rec.message_type, "ADT^A03");
  EXPECT_EQ(rec.sender, "mercy");
  EXPECT_EQ(rec.raw, a03);
  EXPECT_EQ(rec.ack, *r.ack);
  EXPECT_EQ(accepted_hook, 1);
  // The pipeline gets the message as stored, without reading it back.
  ASSERT_EQ(handed_over.size(), 1u);
  EXPECT_EQ(handed_over[0].id, 1);
  EXPECT_EQ(handed_over[0].raw, a03);
  EXPECT_EQ(handed_over[0].sending_facility, "MERCY");
  EXPECT_EQ(handed_over[0].control_id, "CTRL1");
  EXPECT_EQ(handed_over[0].message_type, "ADT^A03");
  EXPECT_EQ(handed_over[0].sender, "mercy");
  EXPECT_EQ(handed_over[0].received_at_us, rec.received_at_us);
}

TEST_F(fixture, EnhancedModeGivesCommitCodesAndHonoursNE) {
  std::string enhanced = a03;
  enhanced.replace(enhanced.find("2.5.1\r"), 6, "2.5.1|||AL|NE\r");
  auto r = run(enhanced);
  EXPECT_EQ(r.ack_code, "CA");
  std::string never = a03;
  never.replace(never.find("|CTRL1|"), 7, "|CTRL2|");
  never.replace(never.find("2.5.1\r"), 6, "2.5.1|||NE|NE\r");
  r = run(never);
  EXPECT_FALSE(r.ack.has_value());
  EXPECT_TRUE(r.stored);  // no ACK wanted, but kept all the same
  EXPECT_EQ(store.records.size(), 2u);
  // No accept ACK but an application ACK wanted: the application answer comes at once.
  std::string app = a03;
  app.replace(app.find("|CTRL1|"), 7, "|CTRL3|");
  app.replace(app.find("2.5.1\r"), 6, "2.5.1|||NE|AL\r");
  r = run(app);
  EXPECT_EQ(r.ack_code, "AA");
}

TEST_F(fixture, FacilityNotAllowedOnThisConnectionIsRejectedAndKept) {
  std::string other = a03;
  other.replace(other.find("|MERCY|"), 7, "|STJOES|");
  const auto r = run(other);
  EXPECT_EQ(r.disposition, disposition::rejected);
  EXPECT_EQ(r.ack_code, "AR");
  ASSERT_TRUE(r.ack);
  EXPECT_THAT(*r.ack, HasSubstr("ERR|"));
  EXPECT_THAT(*r.ack, Not(HasSubstr("Secretname")));
  EXPECT_THAT(*r.ack, Not(HasSubstr("19500101")));
  ASSERT_EQ(store.records.size(), 1u);
  EXPECT_EQ(store.records[0].state, store::message_state::rejected);
  EXPECT_THAT(store.records[0].reason, HasSubstr("not allowed"));
  EXPECT_EQ(store.records[0].raw, other);
  EXPECT_EQ(accepted_hook, 0);
}

TEST_F(fixture, ConnectionMatchingNoSenderRuleGetsRejects) {
  conn.certificate_names = {"someone-else"};
  const auto r = run(a03);
  EXPECT_EQ(r.ack_code, "AR");
}

TEST_F(fixture, UnparseableInputIsRejectedWithoutEchoingIt) {
  const auto r = run("PID|1||Secretname\r");
  EXPECT_EQ(r.disposition, disposition::rejected);
  ASSERT_TRUE(r.ack);
  EXPECT_EQ(msa(*r.ack, "MSA.1"), "AR");
  EXPECT_THAT(*r.ack, Not(HasSubstr("Secretname")));
  ASSERT_EQ(store.records.size(), 1u);
  EXPECT_EQ(store.records[0].state, store::message_state::rejected);
  EXPECT_EQ(store.records[0].raw, "PID|1||Secretname\r");
  EXPECT_TRUE(store.records[0].control_id.empty());
}

TEST_F(fixture, MissingControlIdIsRequiredFieldMissing) {
  std::string no_id = a03;
  no_id.replace(no_id.find("|CTRL1|"), 7, "||");
  const auto r = run(no_id);
  EXPECT_EQ(r.ack_code, "AR");
  EXPECT_THAT(*r.ack, HasSubstr("101^Required field missing^HL70357"));
}

TEST_F(fixture, StoreFailureIsAnsweredAEAndNothingIsClaimed) {
  store::commit_result fail;
  fail.what = store::commit_result::outcome::failed;
  fail.error = "disk I/O error";
  store.scripted.push_back(fail);
  const auto r = run(a03);
  EXPECT_EQ(r.disposition, disposition::errored);
  EXPECT_EQ(r.ack_code, "AE");
  EXPECT_FALSE(r.stored);
  EXPECT_THAT(*r.ack, HasSubstr("please resend"));
  EXPECT_EQ(accepted_hook, 0);
}

TEST_F(fixture, StoreFailureInEnhancedModeIsCEOrNothingAsMsh15Asks) {
  store::commit_result fail;
  fail.what = store::commit_result::outcome::failed;
  fail.error = "disk I/O error";
  store.scripted.push_back(fail);
  store.scripted.push_back(fail);
  std::string enhanced = a03;
  enhanced.replace(enhanced.find("2.5.1\r"), 6, "2.5.1|||AL|NE\r");
  auto r = run(enhanced);
  EXPECT_EQ(r.disposition, disposition::errored);
  EXPECT_FALSE(r.stored);
  EXPECT_EQ(r.ack_code, "CE");
  ASSERT_TRUE(r.ack.has_value());
  EXPECT_EQ(msa(*r.ack, "MSA.2"), "CTRL1");
  EXPECT_THAT(*r.ack, Not(HasSubstr("MSA|CA")));
  std::string never = a03;
  never.replace(never.find("2.5.1\r"), 6, "2.5.1|||NE|NE\r");
  r = run(never);
  EXPECT_EQ(r.disposition, disposition::errored);
  EXPECT_FALSE(r.ack.has_value());  // no accept ACK wanted, not even this one
  EXPECT_EQ(accepted_hook, 0);
}

TEST_F(fixture, DuplicateIsAnsweredWithTheStoredAck) {
  store::commit_result dup;
  dup.what = store::commit_result::outcome::duplicate;
  dup.id = 7;
  dup.ack = "MSH|^~\\&|the original ack\rMSA|AA|CTRL1\r";
  dup.ack_code = "AA";
  store.scripted.push_back(dup);
  const auto r = run(a03);
  EXPECT_TRUE(r.duplicate);
  EXPECT_EQ(r.id, 7);
  EXPECT_EQ(*r.ack, dup.ack);
  EXPECT_EQ(accepted_hook, 0);  // nothing new to process
}

TEST_F(fixture, OversizeIsRejectedInTheSendersModeAndKeptTruncated) {
  std::string enhanced = a03;
  enhanced.replace(enhanced.find("2.5.1\r"), 6, "2.5.1|||AL|AL\r");
  ingest::ingest_result out;
  const std::string head = enhanced.substr(0, enhanced.find('\r') + 5) + "...";
  svc.reject_oversize(head, 999999, conn, policy.grant(conn),
                      [&](ingest::ingest_result r) { out = std::move(r); });
  EXPECT_EQ(out.ack_code, "CR");
  EXPECT_THAT(*out.ack, HasSubstr("larger than the maximum of 4096 bytes"));
  ASSERT_EQ(store.records.size(), 1u);
  EXPECT_EQ(store.records[0].state, store::message_state::rejected);
  EXPECT_EQ(store.records[0].raw, head);
  EXPECT_TRUE(store.records[0].control_id.empty());  // never a duplicate key: not accepted
}

TEST_F(fixture, ControlIdsOfAcksAreUniqueAndShort) {
  ingest::control_id_generator g;
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    const auto id = g.next();
    EXPECT_LE(id.size(), 20u);
    EXPECT_TRUE(seen.insert(id).second);
  }
}

TEST_F(fixture, MetricsCountDispositionsAndCodes) {
  run(a03);
  const std::string text = metrics.expose();
  EXPECT_THAT(text, HasSubstr("carebridge_ingest_messages_total{disposition=\"accepted\"} 1"));
  EXPECT_THAT(text, HasSubstr("carebridge_ingest_acks_total{code=\"AA\"} 1"));
  EXPECT_THAT(text, HasSubstr("carebridge_store_commit_seconds_count 1"));
}

}  // namespace
