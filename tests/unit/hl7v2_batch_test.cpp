// Unit tests of the batch splitter (mappings/hl7v2/batch.hpp): single messages, message streams
// and FHS/BHS … BTS/FTS envelopes (HL7 v2 chapter 2, "Batch protocol").

#include "mappings/hl7v2/batch.hpp"
#include "mappings/hl7v2/message.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace h = carebridge::mappings::hl7v2;
using kind = h::batch_issue::kind;

h::batch_file must_split(std::string_view in) {
  auto r = h::split_batch(in);
  if (!r) throw std::runtime_error("split failed: " + r.error().describe());
  return *r;
}

std::string msh(std::string_view control_id) {
  return "MSH|^~\\&|EPIC|MERCY|CB|PLAN|20261120143005||ADT^A01|" + std::string(control_id) +
         "|P|2.5.1\r";
}

std::string message(std::string_view control_id, std::string_view name = "DOE^JANE") {
  return msh(control_id) + "EVN|A01|20261120143005\rPID|1||MRN-" + std::string(control_id) + "||" +
         std::string(name) + "\r";
}

const std::string kFhs = "FHS|^~\\&|EPIC|MERCY|CB|PLAN|20261120150000||batchfile.hl7\r";
const std::string kBhs = "BHS|^~\\&|EPIC|MERCY|CB|PLAN|20261120150000\r";

std::vector<const h::batch_issue*> issues_of(const h::batch_file& f, kind k) {
  std::vector<const h::batch_issue*> out;
  for (const auto& i : f.issues) {
    if (i.what == k) out.push_back(&i);
  }
  return out;
}

// A message view must parse to the message it came from.
void expect_message(std::string_view view, std::string_view control_id, std::size_t segments) {
  EXPECT_TRUE(view.starts_with("MSH")) << view.substr(0, 20);
  auto r = h::parse(view);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  EXPECT_EQ(r->control_id(), control_id);
  EXPECT_EQ(r->segment_count(), segments);
  EXPECT_EQ(r->count("BHS") + r->count("BTS") + r->count("FHS") + r->count("FTS"), 0u);
}

void expect_views_into(const h::batch_file& f, std::string_view in) {
  for (const auto& b : f.batches) {
    ASSERT_EQ(b.messages.size(), b.message_offsets.size());
    for (std::size_t i = 0; i < b.messages.size(); ++i) {
      EXPECT_EQ(b.messages[i].data(), in.data() + b.message_offsets[i]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Without an envelope

TEST(Hl7v2Batch, SingleMessage) {
  const std::string in = message("C1");
  const auto f = must_split(in);
  EXPECT_FALSE(f.is_envelope());
  EXPECT_TRUE(f.file_header.empty());
  EXPECT_TRUE(f.file_trailer.empty());
  ASSERT_EQ(f.batches.size(), 1u);
  EXPECT_TRUE(f.batches[0].header.empty());
  EXPECT_TRUE(f.batches[0].trailer.empty());
  ASSERT_EQ(f.message_count(), 1u);
  EXPECT_EQ(f.batches[0].message_offsets[0], 0u);
  expect_message(f.messages()[0], "C1", 3);
  EXPECT_TRUE(f.issues.empty());
  expect_views_into(f, in);
}

TEST(Hl7v2Batch, MessagesOneAfterAnother) {
  const std::string in = message("C1") + message("C2") + message("C3");
  const auto f = must_split(in);
  EXPECT_FALSE(f.is_envelope());
  ASSERT_EQ(f.batches.size(), 1u);
  ASSERT_EQ(f.message_count(), 3u);
  const auto msgs = f.messages();
  ASSERT_EQ(msgs.size(), 3u);
  expect_message(msgs[0], "C1", 3);
  expect_message(msgs[1], "C2", 3);
  expect_message(msgs[2], "C3", 3);
  EXPECT_EQ(f.batches[0].message_offsets[1], in.find("MSH", 1));
  EXPECT_EQ(f.batches[0].message_offsets[2], in.rfind("MSH"));
  EXPECT_TRUE(f.issues.empty());
  expect_views_into(f, in);
}

TEST(Hl7v2Batch, MessagesWithNewlinesAndBlankLines) {
  static constexpr std::string_view in =
      "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|C1|P|2.5\nPID|1||X\n\n"
      "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|C2|P|2.5\r\nPID|1||Y\r\n\r\n";
  const auto f = must_split(in);
  ASSERT_EQ(f.message_count(), 2u);
  expect_message(f.messages()[0], "C1", 2);
  expect_message(f.messages()[1], "C2", 2);
  EXPECT_TRUE(f.issues.empty());
}

TEST(Hl7v2Batch, LeadingBomIsSkippedAndOffsetsAreIntoTheInputAsGiven) {
  const std::string in = "\xEF\xBB\xBF" + message("C1") + message("C2");
  const auto f = must_split(in);
  ASSERT_EQ(f.message_count(), 2u);
  EXPECT_EQ(f.batches[0].message_offsets[0], 3u);
  EXPECT_EQ(f.batches[0].message_offsets[1], in.find("MSH", 4));
  expect_message(f.messages()[0], "C1", 3);
  EXPECT_TRUE(f.issues.empty());
  expect_views_into(f, in);
}

TEST(Hl7v2Batch, MshOnlyCountsAtTheStartOfASegment) {
  const std::string in = msh("C1") + "NTE|1||see MSH|^~\\&|in text\rNTE|2||MSH\r" + message("C2");
  const auto f = must_split(in);
  ASSERT_EQ(f.message_count(), 2u);
  expect_message(f.messages()[0], "C1", 3);
  expect_message(f.messages()[1], "C2", 3);
}

TEST(Hl7v2Batch, TextBeforeTheFirstMshIsReportedNotFatal) {
  const std::string in = "ZZZ|junk before\r" + message("C1");
  const auto f = must_split(in);
  ASSERT_EQ(f.message_count(), 1u);
  expect_message(f.messages()[0], "C1", 3);
  const auto u = issues_of(f, kind::unexpected_segment);
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0]->offset, 0u);
}

// ---------------------------------------------------------------------------------------------
// Envelopes

TEST(Hl7v2Batch, FullEnvelopeWithMatchingCounts) {
  const std::string in = kFhs + kBhs + message("C1") + message("C2") + "BTS|2\rFTS|1\r";
  const auto f = must_split(in);
  EXPECT_TRUE(f.is_envelope());
  EXPECT_TRUE(f.file_header.starts_with("FHS|^~\\&|EPIC"));
  EXPECT_EQ(f.file_header.find('\r'), std::string_view::npos);
  EXPECT_EQ(f.file_trailer, "FTS|1");
  ASSERT_EQ(f.batches.size(), 1u);
  EXPECT_TRUE(f.batches[0].header.starts_with("BHS|^~\\&|EPIC"));
  EXPECT_EQ(f.batches[0].trailer, "BTS|2");
  ASSERT_EQ(f.batches[0].messages.size(), 2u);
  EXPECT_EQ(f.message_count(), 2u);
  expect_message(f.batches[0].messages[0], "C1", 3);
  expect_message(f.batches[0].messages[1], "C2", 3);
  EXPECT_EQ(f.batches[0].message_offsets[0], kFhs.size() + kBhs.size());
  EXPECT_TRUE(f.issues.empty());
  expect_views_into(f, in);
}

TEST(Hl7v2Batch, SeveralBatchesInAFile) {
  const std::string in = kFhs + kBhs + message("A1") + "BTS|1\r" + kBhs + message("B1") +
                         message("B2") + message("B3") + "BTS|3\rFTS|2\r";
  const auto f = must_split(in);
  EXPECT_TRUE(f.is_envelope());
  ASSERT_EQ(f.batches.size(), 2u);
  EXPECT_EQ(f.batches[0].messages.size(), 1u);
  EXPECT_EQ(f.batches[0].trailer, "BTS|1");
  EXPECT_EQ(f.batches[1].messages.size(), 3u);
  EXPECT_EQ(f.batches[1].trailer, "BTS|3");
  EXPECT_EQ(f.message_count(), 4u);
  const auto all = f.messages();
  ASSERT_EQ(all.size(), 4u);
  expect_message(all[0], "A1", 3);
  expect_message(all[1], "B1", 3);
  expect_message(all[2], "B2", 3);
  expect_message(all[3], "B3", 3);
  EXPECT_TRUE(f.issues.empty());
  expect_views_into(f, in);
}

TEST(Hl7v2Batch, BatchWithoutFileEnvelope) {
  const std::string in = kBhs + message("C1") + "BTS|1\r";
  const auto f = must_split(in);
  EXPECT_TRUE(f.is_envelope());
  EXPECT_TRUE(f.file_header.empty());
  ASSERT_EQ(f.batches.size(), 1u);
  EXPECT_FALSE(f.batches[0].header.empty());
  EXPECT_EQ(f.message_count(), 1u);
  EXPECT_TRUE(f.issues.empty());
}

TEST(Hl7v2Batch, EnvelopeWithNewlineTerminators) {
  const std::string in =
      "FHS|^~\\&|A\nBHS|^~\\&|A\n"
      "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|C1|P|2.5\nPID|1||X\n"
      "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|C2|P|2.5\nPID|1||Y\n"
      "BTS|2\nFTS|1\n";
  const auto f = must_split(in);
  ASSERT_EQ(f.message_count(), 2u);
  expect_message(f.messages()[0], "C1", 2);
  expect_message(f.messages()[1], "C2", 2);
  EXPECT_EQ(f.batches[0].trailer, "BTS|2");
  EXPECT_EQ(f.file_trailer, "FTS|1");
  EXPECT_TRUE(f.issues.empty());
}

TEST(Hl7v2Batch, EmptyCountsAreNotChecked) {
  // BTS-1 and FTS-1 are optional.
  const std::string in = kFhs + kBhs + message("C1") + message("C2") + "BTS\rFTS|\r";
  const auto f = must_split(in);
  EXPECT_EQ(f.message_count(), 2u);
  EXPECT_TRUE(issues_of(f, kind::bts_count_mismatch).empty());
  EXPECT_TRUE(issues_of(f, kind::fts_count_mismatch).empty());
}

// ---------------------------------------------------------------------------------------------
// Envelope problems: reported beside the messages, never by dropping one

TEST(Hl7v2Batch, BtsCountMismatch) {
  const std::string in = kFhs + kBhs + message("C1") + message("C2") + "BTS|3\rFTS|1\r";
  const auto f = must_split(in);
  EXPECT_EQ(f.message_count(), 2u);
  const auto m = issues_of(f, kind::bts_count_mismatch);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]->expected, 3u);
  EXPECT_EQ(m[0]->actual, 2u);
  EXPECT_EQ(m[0]->offset, in.find("BTS|3"));
  EXPECT_TRUE(issues_of(f, kind::fts_count_mismatch).empty());
}

TEST(Hl7v2Batch, BtsCountTooSmall) {
  const std::string in = kBhs + message("C1") + message("C2") + message("C3") + "BTS|1\r";
  const auto f = must_split(in);
  EXPECT_EQ(f.message_count(), 3u);
  const auto m = issues_of(f, kind::bts_count_mismatch);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]->expected, 1u);
  EXPECT_EQ(m[0]->actual, 3u);
}

TEST(Hl7v2Batch, FtsCountMismatch) {
  const std::string in = kFhs + kBhs + message("C1") + "BTS|1\r" + "FTS|2\r";
  const auto f = must_split(in);
  EXPECT_EQ(f.message_count(), 1u);
  const auto m = issues_of(f, kind::fts_count_mismatch);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]->expected, 2u);
  EXPECT_EQ(m[0]->actual, 1u);
  EXPECT_EQ(m[0]->offset, in.find("FTS|2"));
  EXPECT_TRUE(issues_of(f, kind::bts_count_mismatch).empty());
}

TEST(Hl7v2Batch, MissingBts) {
  const std::string in = kFhs + kBhs + message("C1") + message("C2") + "FTS|1\r";
  const auto f = must_split(in);
  EXPECT_EQ(f.message_count(), 2u);
  EXPECT_EQ(issues_of(f, kind::missing_bts).size(), 1u);
  EXPECT_TRUE(issues_of(f, kind::missing_fts).empty());
}

TEST(Hl7v2Batch, MissingBtsBeforeTheNextBatch) {
  const std::string in = kBhs + message("A1") + kBhs + message("B1") + "BTS|1\r";
  const auto f = must_split(in);
  EXPECT_EQ(f.message_count(), 2u);
  EXPECT_EQ(issues_of(f, kind::missing_bts).size(), 1u);
  const auto all = f.messages();
  ASSERT_EQ(all.size(), 2u);
  expect_message(all[0], "A1", 3);
  expect_message(all[1], "B1", 3);
}

TEST(Hl7v2Batch, MissingFts) {
  const std::string in = kFhs + kBhs + message("C1") + "BTS|1\r";
  const auto f = must_split(in);
  EXPECT_EQ(f.message_count(), 1u);
  EXPECT_EQ(issues_of(f, kind::missing_fts).size(), 1u);
  EXPECT_TRUE(issues_of(f, kind::missing_bts).empty());
}

TEST(Hl7v2Batch, BtsWithoutBhsIsUnexpected) {
  const std::string in = message("C1") + "BTS|1\r";
  const auto f = must_split(in);
  ASSERT_EQ(f.message_count(), 1u);
  expect_message(f.messages()[0], "C1", 3);
  const auto u = issues_of(f, kind::unexpected_segment);
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0]->offset, in.find("BTS"));
}

TEST(Hl7v2Batch, SegmentsAfterFtsAreTrailing) {
  const std::string in = kFhs + kBhs + message("C1") + "BTS|1\rFTS|1\rNTE|1||after the end\r";
  const auto f = must_split(in);
  EXPECT_EQ(f.message_count(), 1u);
  const auto t = issues_of(f, kind::trailing_segment);
  ASSERT_GE(t.size(), 1u);
  EXPECT_EQ(t[0]->offset, in.find("NTE|1||after"));
  // The message before it is intact.
  expect_message(f.messages()[0], "C1", 3);
}

TEST(Hl7v2Batch, IssueDescriptionsNeverContainContent) {
  const std::string in = "ZZZ|SECRETJUNK\r" + kFhs + kBhs + message("C1", "SECRETNAME^JOHN") +
                         "BTS|5\rFTS|3\rNTE|1||SECRETTRAILER\r";
  const auto f = must_split(in);
  ASSERT_GE(f.issues.size(), 3u);
  for (const auto& i : f.issues) {
    const std::string d = i.describe();
    EXPECT_FALSE(d.empty());
    EXPECT_EQ(d.find("SECRET"), std::string::npos) << d;
    EXPECT_EQ(d.find("JOHN"), std::string::npos) << d;
    EXPECT_EQ(d.find('\n'), std::string::npos) << d;
  }
  EXPECT_EQ(f.message_count(), 1u);
}

TEST(Hl7v2Batch, CountMismatchDescriptionStatesBothCounts) {
  const std::string in = kBhs + message("C1") + message("C2") + "BTS|7\r";
  const auto f = must_split(in);
  const auto m = issues_of(f, kind::bts_count_mismatch);
  ASSERT_EQ(m.size(), 1u);
  const std::string d = m[0]->describe();
  EXPECT_NE(d.find('7'), std::string::npos) << d;
  EXPECT_NE(d.find('2'), std::string::npos) << d;
}

// ---------------------------------------------------------------------------------------------
// Failures

TEST(Hl7v2Batch, EmptyInputFails) {
  for (const std::string_view in : {std::string_view(""), std::string_view("\r\n\r\n")}) {
    const auto r = h::split_batch(in);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, h::error::empty_input);
  }
}

TEST(Hl7v2Batch, NoMshFails) {
  static constexpr std::string_view in = "PID|1||SECRETMRN||DOE^JOHN\rPV1|1|I\r";
  const auto r = h::split_batch(in);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, h::error::no_msh);
  EXPECT_EQ(r.error().describe().find("SECRET"), std::string::npos);
  EXPECT_EQ(r.error().describe().find("DOE"), std::string::npos);
}

TEST(Hl7v2Batch, MaxBytesIsInclusive) {
  const std::string in = message("C1") + message("C2");
  EXPECT_TRUE(h::split_batch(in, in.size()).has_value());
  const auto r = h::split_batch(in, in.size() - 1);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, h::error::too_large);
}

TEST(Hl7v2Batch, DemoFileSplitsIntoOneMessage) {
  // The sample from tests/data/hl7/demo, if present.
  const std::string path = std::string(CAREBRIDGE_TEST_DATA) + "/hl7/demo/adt_a03_demo.hl7";
  FILE* fp = std::fopen(path.c_str(), "rb");
  if (fp == nullptr) GTEST_SKIP() << "no " << path;
  std::string in;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, fp)) > 0) in.append(buf, n);
  std::fclose(fp);
  const auto f = must_split(in);
  ASSERT_EQ(f.message_count(), 1u);
  auto r = h::parse(f.messages()[0]);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->message_type(), "ADT");
  EXPECT_EQ(r->trigger_event(), "A03");
  EXPECT_EQ(r->count("DG1"), 3u);
}

}  // namespace
