// The message log on its own: records read back whole, segments roll over, a scan walks them in
// order, zero-filled room ahead of the records is not taken for records, a torn tail is reported
// and cut, damage is detected by the CRC.
#include "gateway/store/message_log.hpp"
#include "tests/e2e/process.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <system_error>
#include <vector>

namespace {

using namespace carebridge::gateway::store;
using carebridge::test::temp_dir;

inbound_record record(int n) {
  inbound_record r;
  r.sending_application = "EPIC";
  r.sending_facility = "MERCY";
  r.control_id = "C" + std::to_string(n);
  r.message_type = "ADT^A03";
  r.sender = "mercy";
  r.peer = "10.0.0.1:4000";
  r.state = n % 5 == 0 ? message_state::rejected : message_state::pending;
  r.reason = n % 5 == 0 ? "sending facility (MSH-4) not allowed on this connection" : "";
  r.ack_code = n % 5 == 0 ? "AR" : "AA";
  r.ack = "MSH|^~\\&|CB|PLAN|EPIC|MERCY|20261122||ACK|A" + std::to_string(n) + "|P|2.5\rMSA|" +
          r.ack_code + "|" + r.control_id + "\r";
  r.raw = "MSH|^~\\&|EPIC|MERCY|||||ADT^A03|" + r.control_id + "|P|2.5\r" +
          std::string(static_cast<std::size_t>(500 + n % 700), 'x') + "\r";
  r.received_at_us = 1'000'000 + n;
  return r;
}

void expect_same(const inbound_record& a, const inbound_record& b) {
  EXPECT_EQ(a.sending_application, b.sending_application);
  EXPECT_EQ(a.sending_facility, b.sending_facility);
  EXPECT_EQ(a.control_id, b.control_id);
  EXPECT_EQ(a.message_type, b.message_type);
  EXPECT_EQ(a.sender, b.sender);
  EXPECT_EQ(a.peer, b.peer);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.ack_code, b.ack_code);
  EXPECT_EQ(a.ack, b.ack);
  EXPECT_EQ(a.raw, b.raw);
  EXPECT_EQ(a.received_at_us, b.received_at_us);
}

// Appends records 1..n in batches of `per_batch`; returns their positions.
std::vector<std::int64_t> append(message_log& log, int first, int n, int per_batch) {
  std::vector<std::int64_t> pos;
  for (int i = first; i < first + n; ++i) {
    if ((i - first) % per_batch == 0) log.rotate_if_full();
    pos.push_back(log.append(i, record(i)));
    if ((i - first) % per_batch == per_batch - 1 || i == first + n - 1) {
      std::error_code ec;
      EXPECT_TRUE(log.flush(true, ec)) << ec.message();
    }
  }
  return pos;
}

TEST(StoreMessageLog, RecordsReadBackWholeAcrossSegments) {
  temp_dir dir;
  std::vector<std::int64_t> pos;
  {
    auto log = message_log::open(dir / "log", true, 64 * 1024);
    pos = append(*log, 1, 300, 7);
    log->preallocate();  // zeros ahead of the records are not records
    for (int i = 0; i < 300; ++i) {
      auto r = log->read(pos[static_cast<std::size_t>(i)]);
      ASSERT_TRUE(r.has_value()) << i;
      EXPECT_EQ(r->id, i + 1);
      expect_same(r->record, record(i + 1));
    }
  }
  EXPECT_GT(message_log::segment_of(pos.back()), 3u);  // it rolled over, more than once
  auto log = message_log::open(dir / "log", true, 64 * 1024);
  EXPECT_EQ(log->torn_bytes(), 0u);
  // A scan from any record's position gives that record and all later ones, in order.
  std::vector<std::int64_t> ids;
  log->scan(pos[100], [&](std::int64_t p, logged_record&& r) {
    EXPECT_EQ(p, pos[static_cast<std::size_t>(r.id - 1)]);
    ids.push_back(r.id);
  });
  ASSERT_EQ(ids.size(), 200u);
  EXPECT_EQ(ids.front(), 101);
  EXPECT_EQ(ids.back(), 300);
  std::size_t all = 0;
  log->scan(0, [&](std::int64_t, logged_record&&) { ++all; });
  EXPECT_EQ(all, 300u);
  // Appending goes on after the last record, past the zeros of the reopened segment.
  const auto more = append(*log, 301, 5, 5);
  EXPECT_GT(more.front(), pos.back());
  EXPECT_EQ(log->read(more.back())->id, 305);
}

TEST(StoreMessageLog, ATornTailIsReportedAndCutOnlyWhenAsked) {
  temp_dir dir;
  std::int64_t end = 0;
  {
    auto log = message_log::open(dir / "log", true);
    append(*log, 1, 3, 3);
    log->preallocate();
    end = log->next_position();
  }
  const auto seg = dir / "log" / "00000001.cblog";
  {
    std::FILE* f = std::fopen(seg.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, static_cast<long>(message_log::offset_of(end)), SEEK_SET);
    std::fputs("CBL1 half a record", f);
    std::fclose(f);
  }
  {
    auto log = message_log::open(dir / "log", true);
    EXPECT_GT(log->torn_bytes(), 0u);
    EXPECT_EQ(log->next_position(), end);
  }
  auto log = message_log::open(dir / "log", true);
  EXPECT_GT(log->torn_bytes(), 0u);  // still there: nothing was cut without being asked
  log->cut_torn_tail();
  EXPECT_EQ(log->torn_bytes(), 0u);
  const auto more = append(*log, 4, 2, 2);
  EXPECT_EQ(more.front(), end);
  std::size_t n = 0;
  log->scan(0, [&](std::int64_t, logged_record&&) { ++n; });
  EXPECT_EQ(n, 5u);
}

TEST(StoreMessageLog, DamageIsCaughtByTheCrc) {
  temp_dir dir;
  std::vector<std::int64_t> pos;
  {
    auto log = message_log::open(dir / "log", true);
    pos = append(*log, 1, 2, 2);
  }
  {
    std::FILE* f = std::fopen((dir / "log" / "00000001.cblog").c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, static_cast<long>(message_log::offset_of(pos[1])) + 40, SEEK_SET);
    std::fputc('#', f);
    std::fclose(f);
  }
  auto log = message_log::open(dir / "log", false);
  std::string why;
  EXPECT_TRUE(log->read(pos[0]).has_value());
  EXPECT_FALSE(log->read(pos[1], &why).has_value());
  EXPECT_NE(why.find("corrupted"), std::string::npos) << why;
}

TEST(StoreMessageLog, Crc32cMatchesTheKnownValue) {
  // The check value of CRC-32C (RFC 3720, appendix B.4).
  EXPECT_EQ(crc32c(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

}  // namespace
