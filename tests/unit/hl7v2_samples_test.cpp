// The codec against the sample files under tests/data/hl7 (adt/, batch/, edge/): realistic
// messages from several senders and one odd real-world case per file. The expected values are
// those listed in the folders' READMEs.

#include "mappings/hl7v2/ack.hpp"
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

std::string data_path(std::string_view rel) {
  return std::string(CAREBRIDGE_TEST_DATA) + "/hl7/" + std::string(rel);
}

bool read_file(const std::string& path, std::string& out) {
  FILE* fp = std::fopen(path.c_str(), "rb");
  if (fp == nullptr) return false;
  out.clear();
  char buf[8192];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, fp)) > 0) out.append(buf, n);
  std::fclose(fp);
  return true;
}

// The samples are part of the repository: a missing one is a failure, not a skip.
#define LOAD_OR_SKIP(var, rel) \
  std::string var;             \
  ASSERT_TRUE(read_file(data_path(rel), var)) << "no sample " << (rel)

// Terminator normalisation done independently of the codec: BOM dropped, any run of CR/LF is one
// segment end, each segment followed by CR.
std::string normalise(std::string_view in) {
  if (in.starts_with("\xEF\xBB\xBF")) in.remove_prefix(3);
  std::string out;
  std::size_t i = 0;
  while (i < in.size()) {
    const std::size_t end = in.find_first_of("\r\n", i);
    const std::size_t stop = end == std::string_view::npos ? in.size() : end;
    if (stop > i) {
      out.append(in.substr(i, stop - i));
      out += '\r';
    }
    i = stop + 1;
  }
  return out;
}

struct expectation {
  std::string_view path;
  std::string_view value;
};

void expect_values(const h::message& msg, const std::vector<expectation>& values,
                   std::string_view file) {
  for (const auto& e : values) {
    const auto r = msg.get(e.path);
    ASSERT_TRUE(r.has_value()) << file << " " << e.path;
    EXPECT_EQ(*r, e.value) << file << " " << e.path;
  }
}

// ---------------------------------------------------------------------------------------------
// adt/

struct adt_case {
  const char* file;
  std::vector<expectation> values;
};

class Hl7v2AdtSamples : public ::testing::TestWithParam<adt_case> {};

void PrintTo(const adt_case& c, std::ostream* os) {
  *os << c.file;
}

TEST_P(Hl7v2AdtSamples, ParseDecodeRoundTripAndAck) {
  const auto& c = GetParam();
  LOAD_OR_SKIP(in, std::string("adt/") + c.file);
  auto r = h::parse(in);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  const auto& msg = *r;
  EXPECT_FALSE(msg.encoding().transcoded);
  EXPECT_EQ(msg.encoding().invalid_bytes, 0u);
  expect_values(msg, c.values, c.file);
  EXPECT_EQ(msg.to_er7(), normalise(in));
  // indexed_segment gives every field exactly as segment_view does (and nothing past the end).
  for (std::size_t i = 0; i < msg.segment_count(); ++i) {
    const h::segment_view seg = msg.segment(i);
    const h::indexed_segment idx(seg);
    EXPECT_EQ(idx.id(), seg.id());
    EXPECT_EQ(idx.field_count(), seg.field_count());
    for (std::uint32_t n = 0; n <= seg.field_count() + 2; ++n) {
      EXPECT_EQ(idx.field(n).raw(), seg.field(n).raw()) << c.file << " " << seg.id() << "-" << n;
      EXPECT_EQ(idx.field(n).depth(), seg.field(n).depth()) << c.file << " " << seg.id() << "-" << n;
      // components() splits like component(c), one by one.
      const h::element f = seg.field(n);
      h::element parts[8];
      h::element::split_info info;
      const std::uint32_t count = f.components(parts, 8, &info);
      EXPECT_EQ(count, f.component_count()) << c.file << " " << seg.id() << "-" << n;
      // What else the pass reports is what the first repetition holds.
      const std::string_view first = f.depth() == h::element::level::literal
                                         ? std::string_view()
                                         : f.repetition(1).raw();
      EXPECT_EQ(info.escapes, msg.delims().escape != '\0' &&
                                  first.find(msg.delims().escape) != std::string_view::npos)
          << c.file << " " << seg.id() << "-" << n;
      EXPECT_EQ(info.subcomponents, f.depth() != h::element::level::literal &&
                                        first.find(msg.delims().subcomponent) != std::string_view::npos)
          << c.file << " " << seg.id() << "-" << n;
      for (std::uint32_t k = 0; k < count && k < 8; ++k) {
        EXPECT_EQ(parts[k].raw(), f.component(k + 1).raw()) << seg.id() << "-" << n << "." << k + 1;
        EXPECT_EQ(parts[k].depth(), f.component(k + 1).depth());
      }
    }
  }

  const h::ack_context ctx{"ACKSAMPLE1", "20261122143005+0000"};
  for (const auto d :
       {h::disposition::accepted, h::disposition::errored, h::disposition::rejected}) {
    const auto built = h::build_ack(msg, d, ctx);
    const auto policy = h::ack_policy_of(msg);
    if (!built) {
      EXPECT_EQ(policy.mode, h::ack_mode::enhanced) << c.file;
      continue;
    }
    auto ack = h::parse(built->text);
    ASSERT_TRUE(ack.has_value()) << c.file;
    EXPECT_EQ(ack->get("MSA.2").value(), msg.control_id()) << c.file;
    EXPECT_EQ(ack->get("MSA.1").value(), built->code) << c.file;
    EXPECT_EQ(ack->version(), msg.version()) << c.file;
    EXPECT_EQ(ack->segment(0).field(5).raw(), msg.segment(0).field(3).raw()) << c.file;
    // PHI stays out of the ACK: the patient's family name is nowhere in it.
    const auto family = msg.get("PID.5.1").value();
    if (family.size() > 3) {
      EXPECT_EQ(built->text.find(family), std::string::npos) << c.file;
    }
  }
}

std::vector<expectation> adt(std::string_view ctrl, std::string_view mrn, std::string_view family,
                             std::string_view visit, std::string_view discharge,
                             std::string_view dg1_2) {
  return {{"MSH.10", ctrl},    {"PID.3[1].1", mrn},   {"PID.5.1", family},
          {"PV1.19.1", visit}, {"PV1.45", discharge}, {"DG1[2].3.1", dg1_2}};
}

INSTANTIATE_TEST_SUITE_P(
    Files, Hl7v2AdtSamples,
    ::testing::Values(
        adt_case{"cascadia_v28_A03_01.hl7",
                 adt("9b5d1869-9b94-51a6-8244-4ea32f021cc8", "CV3309127", "Nguy\xE1\xBB\x85n",
                     "CVE55012873", "20261120163000.000-0800", "J12.82")},
        adt_case{"cascadia_v28_A03_02.hl7",
                 adt("7de8a3ec-7667-5dca-b7e1-54adbfd777c8", "CV2981456", "Lindqvist",
                     "CVE55031190", "20261121084000.000-0800", "F10.20")},
        adt_case{"cascadia_v28_ORU_R01_01.hl7",
                 adt("acb85fcd-5c94-5ca1-ad9e-707aa6d2d6d0", "CV2981456", "Lindqvist",
                     "CVE55031190", "", "")},
        adt_case{"lakeshore_v251_A01_01.hl7",
                 adt("LUH-ADT-2026112100004", "LU00903311", "Adeyemi", "LV10345120", "", "")},
        adt_case{"lakeshore_v251_A03_01.hl7", adt("LUH-ADT-2026111700001", "LU00736152", "Nowak",
                                                  "LV10293847", "20261117153000-0600", "N17.9")},
        adt_case{"lakeshore_v251_A03_02.hl7",
                 adt("LUH-ADT-2026111900002", "LU00812409", "Castellanos Ruiz", "LV10311562",
                     "20261119085500-0600", "N39.0")},
        adt_case{"lakeshore_v251_A03_03.hl7",
                 adt("LUH-ADT-2026112100003", "LU00450987", "Washington", "LV10330095",
                     "20261121124500-0600", "R47.01")},
        adt_case{"northfield_v26_A03_01.hl7", adt("NCH.20261118.004852", "M000481230", "Delgado",
                                                  "V00772201", "202611181230", "E66.9")},
        adt_case{"northfield_v26_A03_02.hl7",
                 adt("NCH.20261120.004889", "M000392817", "MacAllister", "V00771875",
                     "202611201500", "M17.11")},
        adt_case{"northfield_v26_A04_01.hl7",
                 adt("NCH.20261121.004926", "M000529904", "Patel", "V00774410", "", "")},
        adt_case{"riverbend_v23_A03_01.hl7",
                 adt("88232760", "004418273", "HARTLEY", "V000418231", "202611191115", "I11.0")},
        adt_case{"riverbend_v23_A03_02.hl7",
                 adt("88234063", "004502916", "KOWALCZYK", "V000418977", "202611201350", "J18.9")},
        adt_case{"riverbend_v23_A03_03.hl7",
                 adt("88235366", "004611058", "THAO", "V000419402", "202611211020", "Z37.0")},
        adt_case{"riverbend_v23_A04_01.hl7",
                 adt("88236669", "004620734", "JOHNSON", "V000419588", "", "")},
        adt_case{"stbrigid_v24_A01_01.hl7",
                 adt("STB202611210314520003", "SB21203348", "Brennan", "4472133906", "", "I48.91")},
        adt_case{"stbrigid_v24_A03_01.hl7", adt("STB202611181622090001", "SB20938471", "Fitzgerald",
                                                "4472019384", "20261118155800", "I25.10")},
        adt_case{"stbrigid_v24_A03_02.hl7", adt("STB202611201105310002", "SB21175560", "Okafor",
                                                "4472101127", "20261120104500", "K35.80")}));

// ---------------------------------------------------------------------------------------------
// batch/

struct batch_case {
  const char* file;
  std::vector<std::string_view> control_ids;
  bool envelope;
  std::size_t batches;
  std::size_t issues;
};

void PrintTo(const batch_case& c, std::ostream* os) {
  *os << c.file;
}

class Hl7v2BatchSamples : public ::testing::TestWithParam<batch_case> {};

TEST_P(Hl7v2BatchSamples, SplitsIntoTheListedMessages) {
  const auto& c = GetParam();
  LOAD_OR_SKIP(in, std::string("batch/") + c.file);
  const auto f = h::split_batch(in);
  ASSERT_TRUE(f.has_value()) << f.error().describe();
  EXPECT_EQ(f->is_envelope(), c.envelope);
  EXPECT_EQ(f->batches.size(), c.batches);
  EXPECT_EQ(f->issues.size(), c.issues);
  const auto msgs = f->messages();
  ASSERT_EQ(msgs.size(), c.control_ids.size());
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    auto m = h::parse(msgs[i]);
    ASSERT_TRUE(m.has_value()) << c.file << " #" << i;
    EXPECT_EQ(m->control_id(), c.control_ids[i]) << c.file << " #" << i;
    EXPECT_EQ(m->count("BTS") + m->count("FTS") + m->count("BHS") + m->count("FHS"), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Files, Hl7v2BatchSamples,
    ::testing::Values(
        batch_case{"fhs_bhs_3msgs.hl7", {"HP-B1-0001", "HP-B1-0002", "HP-B1-0003"}, true, 1, 0},
        batch_case{"two_batches.hl7", {"HP-B1-0001", "HP-B1-0002", "HP-B2-0004"}, true, 2, 0},
        batch_case{"bts_count_wrong.hl7", {"HP-B2-0004", "HP-B2-0005", "HP-B2-0006"}, true, 1, 1},
        batch_case{"bhs_without_fhs.hl7", {"HP-B1-0001", "HP-B2-0005"}, true, 1, 0},
        batch_case{"concatenated_no_envelope.hl7",
                   {"HP-B1-0001", "HP-B1-0003", "HP-B2-0006"},
                   false,
                   1,
                   0},
        batch_case{"batch_lf.hl7", {"HP-B1-0002", "HP-B2-0004", "HP-B2-0005"}, true, 1, 0}));

TEST(Hl7v2BatchSamples, BtsCountWrongStatesBothCounts) {
  LOAD_OR_SKIP(in, "batch/bts_count_wrong.hl7");
  const auto f = h::split_batch(in);
  ASSERT_TRUE(f.has_value());
  ASSERT_EQ(f->issues.size(), 1u);
  EXPECT_EQ(f->issues[0].what, h::batch_issue::kind::bts_count_mismatch);
  EXPECT_EQ(f->issues[0].expected, 5u);
  EXPECT_EQ(f->issues[0].actual, 3u);
}

// ---------------------------------------------------------------------------------------------
// edge/

struct edge_case {
  const char* file;
  std::vector<expectation> values;
  std::size_t segments;  // 0: not checked
  std::size_t invalid_bytes;
};

void PrintTo(const edge_case& c, std::ostream* os) {
  *os << c.file;
}

class Hl7v2EdgeSamples : public ::testing::TestWithParam<edge_case> {};

TEST_P(Hl7v2EdgeSamples, DecodesTheListedValues) {
  const auto& c = GetParam();
  LOAD_OR_SKIP(in, std::string("edge/") + c.file);
  auto r = h::parse(in);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  expect_values(*r, c.values, c.file);
  if (c.segments != 0) {
    EXPECT_EQ(r->segment_count(), c.segments);
  }
  EXPECT_EQ(r->encoding().invalid_bytes, c.invalid_bytes);
  if (!r->encoding().transcoded) {
    EXPECT_EQ(r->to_er7(), normalise(in));
  }
}

const std::vector<expectation> kLindgren = {
    {"PID.5.1", "Lindgren"}, {"DG1[2].3.1", "E11.9"}, {"PV1.45", "20261120140000-0500"}};

std::vector<expectation> with(std::vector<expectation> base, std::vector<expectation> more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

INSTANTIATE_TEST_SUITE_P(
    Files, Hl7v2EdgeSamples,
    ::testing::Values(
        edge_case{"lf_terminators.hl7", with(kLindgren, {{"MSH.10", "EDGE-LF-0001"}}), 6, 0},
        edge_case{"crlf_terminators.hl7",
                  with(kLindgren, {{"MSH.10", "EDGE-CRLF-0002"}, {"PID.8", "F"}}), 6, 0},
        edge_case{"utf8_bom.hl7",
                  {{"MSH.1", "|"},
                   {"MSH.3", "EDGEAPP"},
                   {"MSH.10", "EDGE-BOM-0003"},
                   {"PID.5.1", "Lindgren"}},
                  6,
                  0},
        edge_case{"blank_lines_and_trailing_newlines.hl7",
                  with(kLindgren, {{"MSH.10", "EDGE-BLANK-0004"}, {"DG1[2].6", "F"}}), 6, 0},
        edge_case{"null_vs_empty.hl7",
                  {{"PID.5.3", "\"\""},
                   {"PID.6", ""},
                   {"PID.8", "\"\""},
                   {"PID.9", ""},
                   {"PID.10", "\"\""},
                   {"PID.11.1", "\"\""},
                   {"PID.11.3", "Dayton"},
                   {"PID.13", "\"\""},
                   {"PID.14", ""},
                   {"PV1.36", "\"\""},
                   {"PV1.45", "\"\""},
                   {"ZPI.2", "\"\""},
                   {"ZPI.3", ""},
                   {"ZPI.4.1", "\"\""}},
                  0,
                  0},
        edge_case{"pid3_35_repetitions.hl7",
                  {{"PID.3[1].1", "E1006"},
                   {"PID.3[2].1", "X02-9034"},
                   {"PID.3[35].1", "X35-9595"},
                   {"PID.3[35].4", "FAC35"},
                   {"PID.3[35].5", "PI"},
                   {"PID.3[36].1", ""},
                   {"PID.5.1", "Ivanov"}},
                  0,
                  0},
        edge_case{"zsegments_middle.hl7",
                  with(kLindgren, {{"ZEV.1.1", "SRC"},
                                   {"ZPI.2.2", "Addie"},
                                   {"ZPV[2].1.2", "CONTACT"},
                                   {"ZDG.2.2", "Y"},
                                   {"ZZZ.1", "end"},
                                   {"PV1.19.1", "V7001"}}),
                  12, 0},
        edge_case{"extra_fields.hl7",
                  {{"MSH.25", "X-MSH-25"},
                   {"MSH.12", "2.5.1"},
                   {"PID.5.1", "Okonkwo"},
                   {"PID.5.16", "X-XPN-16"},
                   {"PID.7", "19900101"},
                   {"PID.41", "X-PID-41"},
                   {"PID.45", "X-PID-45"},
                   {"PID.46", ""},
                   {"PV1.45", "20261120140000-0500"},
                   {"PV1.60", "X-PV1-60"},
                   {"OBX.30.1", "X-OBX-30"},
                   {"OBX.30.3", "component"}},
                  0,
                  0},
        edge_case{"escapes_obx5.hl7",
                  {{"OBX.5",
                    "Ratio 3^4 & rising|see note ~ approx\\range.\rLine two\rLine "
                    "three\nLine four \\H\\CRITICAL\\N\\ called to RN"},
                   {"PID.5.1", "O&Brien"},
                   {"OBX[2].5", "C:\\labs\\run 7 ABC"}},
                  0,
                  0},
        edge_case{"truncation_char_v27.hl7",
                  {{"MSH.2", "^~\\&#"},
                   {"MSH.12", "2.7"},
                   {"MSH.9.2", "A03"},
                   {"PID.5.1", "Fairweather-Montgomer#"},
                   {"PID.11.1", "Suite #210"},
                   {"PID.11.3", "Portland"},
                   {"PV1.45", "20261120140000-0500"}},
                  0,
                  0},
        edge_case{"nonstandard_delimiters.hl7",
                  {{"MSH.1", "#"},
                   {"MSH.2", "$*@!"},
                   {"MSH.9.2", "A03"},
                   {"MSH.10", "EDGE-DELIM-0011"},
                   {"PID.3[2].1", "W55120"},
                   {"PID.5.1", "Smith!Jones"},
                   {"PID.5.2", "Pat"},
                   {"PID.11.1", "12^B Main St|Rear"},
                   {"PV1.45", "20261120140000-0500"},
                   {"DG1.3.2", "Pneumonia# unspecified organism"},
                   {"DG1[2].3.1", "E11.9"}},
                  0,
                  0},
        edge_case{"iso8859_1_msh18.hl7",
                  {{"MSH.18", "8859/1"},
                   {"PID.5.1", "M\xC3\xBCller"},
                   {"PID.5.2", "Jos\xC3\xA9"},
                   {"PID.5.3",
                    "\xC3\x91u\xC3\xB1"
                    "ez"},
                   {"NK1.2.1",
                    "Pe\xC3\xB1"
                    "a"},
                   {"NK1.2.2", "In\xC3\xA9s"},
                   {"PID.11.1", "12 Rue Sainte-Th\xC3\xA9r\xC3\xA8se"},
                   {"PID.11.3",
                    "Montr\xC3\xA9"
                    "al"}},
                  0,
                  0},
        edge_case{"utf8_unicode_msh18.hl7",
                  {{"MSH.18", "UNICODE UTF-8"},
                   {"PID.5.1", "\xE7\x8E\x8B"},
                   {"PID.5.2", "\xE5\xB0\x8F\xE6\x98\x8E"},
                   {"PID.5[2].1", "Wang"},
                   {"PID.11.3", "\xE4\xB9\x9D\xE9\xBE\x8D"},
                   {"NK1.2.1",
                    "\xCE\xA0\xCE\xB1\xCF\x80\xCE\xB1\xCE\xB4\xCE\xBF\xCF\x80\xCE\xBF"
                    "\xCF\x8D\xCE\xBB\xCE\xBF\xCF\x85"},
                   {"NK1[2].2.2", "\xD0\x9C\xD0\xB0\xD1\x80\xD0\xB8\xD1\x8F"},
                   {"DG1[2].3.1", "E11.9"}},
                  0,
                  0},
        edge_case{"invalid_utf8.hl7",
                  {{"PID.5.1", "Bj\xEF\xBF\xBD(rk"},
                   {"PID.5.2",
                    "An\xEF\xBF\xBD"
                    "a"},
                   {"PID.11.1", "12 Elm St \xEF\xBF\xBD\xEF\xBF\xBD"},
                   {"PID.11.3",
                    "Spring\xEF\xBF\xBD\xEF\xBF\xBD"
                    "ield"},
                   {"NK1.2.1",
                    "\xC3\x96"
                    "berg"},
                   {"PV1.45", "20261120140000-0500"}},
                  0,
                  6},
        edge_case{"msh15_al_msh16_ne.hl7",
                  {{"MSH.15", "AL"},
                   {"MSH.16", "NE"},
                   {"MSH.10", "EDGE-ACK-0016"},
                   {"PID.5.1", "Lindgren"}},
                  0,
                  0}));

TEST(Hl7v2EdgeSamples, Windows1252WithAndWithoutFallback) {
  LOAD_OR_SKIP(in, "edge/windows1252_no_msh18.hl7");
  {
    h::parse_options o;
    o.fallback_charset = h::charset::windows_1252;
    auto r = h::parse(in, o);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->encoding().used_fallback);
    EXPECT_EQ(r->encoding().invalid_bytes, 0u);
    expect_values(*r,
                  {{"OBX.5", "Pt states she feels \xE2\x80\x9Cmuch better\xE2\x80\x9D today."},
                   {"OBX[2].5",
                    "Copay of \xE2\x82\xAC"
                    "25 collected at discharge."},
                   {"PID.5.2",
                    "Ren\xC3\xA9"
                    "e"}},
                  "windows1252_no_msh18.hl7");
  }
  {
    auto r = h::parse(in);
    ASSERT_TRUE(r.has_value());
    EXPECT_FALSE(r->encoding().used_fallback);
    EXPECT_EQ(r->encoding().invalid_bytes, 4u);
    expect_values(*r,
                  {{"OBX.5", "Pt states she feels \xEF\xBF\xBDmuch better\xEF\xBF\xBD today."},
                   {"PID.5.2",
                    "Ren\xEF\xBF\xBD"
                    "e"}},
                  "windows1252_no_msh18.hl7");
  }
}

TEST(Hl7v2EdgeSamples, MshFifteenAlSixteenNeGivesAnAcceptAck) {
  LOAD_OR_SKIP(in, "edge/msh15_al_msh16_ne.hl7");
  auto r = h::parse(in);
  ASSERT_TRUE(r.has_value());
  const auto p = h::ack_policy_of(*r);
  EXPECT_EQ(p.mode, h::ack_mode::enhanced);
  EXPECT_EQ(p.accept, h::ack_condition::always);
  EXPECT_EQ(p.application, h::ack_condition::never);
  const auto built = h::build_ack(*r, h::disposition::accepted, {"A1", "20261122"});
  ASSERT_TRUE(built.has_value());
  EXPECT_EQ(built->code, "CA");
}

struct refused_case {
  const char* file;
  h::error code;
};

void PrintTo(const refused_case& c, std::ostream* os) {
  *os << c.file;
}

class Hl7v2RefusedSamples : public ::testing::TestWithParam<refused_case> {};

TEST_P(Hl7v2RefusedSamples, AreNotHl7) {
  const auto& c = GetParam();
  LOAD_OR_SKIP(in, std::string("edge/") + c.file);
  auto r = h::parse(in);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, h::make_error_code(c.code)) << r.error().describe();
  // Never the content.
  EXPECT_EQ(r.error().describe().find("Patient"), std::string::npos);
  EXPECT_EQ(r.error().describe().find("Lindgren"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Files, Hl7v2RefusedSamples,
                         ::testing::Values(refused_case{"empty.hl7", h::error::empty_input},
                                           refused_case{"msx_header.hl7", h::error::no_msh},
                                           refused_case{"not_hl7_json.hl7", h::error::no_msh},
                                           refused_case{"truncated_msh.hl7",
                                                        h::error::truncated_msh}));

}  // namespace
