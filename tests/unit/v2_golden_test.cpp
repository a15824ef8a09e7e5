// Golden files: every sample message in tests/data/hl7/adt/ converted with the sample facilities'
// profiles (tests/data/fhir/facilities.json) must give the Bundle stored beside it, compared
// as JSON. The conversion takes no clock or randomness, so there are no volatile paths to remove.
//
// After an intended change of the mapping: CAREBRIDGE_UPDATE_GOLDEN=1 rewrites the files; review
// the diff, then `conformance/run.sh` validates them with the outside FHIR validators.
#include "gateway/config/config.hpp"
#include "mappings/fhir/v2_to_fhir.hpp"
#include "mappings/hl7v2/message.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

namespace fs = std::filesystem;
namespace hl7 = carebridge::mappings::hl7v2;
namespace fhir = carebridge::mappings::fhir;

const fs::path samples = fs::path(CAREBRIDGE_TEST_DATA) / "hl7" / "adt";
const fs::path golden = fs::path(CAREBRIDGE_TEST_DATA) / "fhir" / "golden";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string pretty(const rapidjson::Document& d) {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 2);
  d.Accept(w);
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

std::vector<fs::path> sample_files() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(samples))
    if (e.path().extension() == ".hl7") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

class V2Golden : public testing::TestWithParam<fs::path> {};

TEST_P(V2Golden, BundleMatchesTheGoldenFile) {
  static const carebridge::gateway::config::config cfg = carebridge::gateway::config::load_text(
      slurp(golden.parent_path() / "facilities.json"), "facilities.json");
  const fs::path input = GetParam();
  const std::string raw = slurp(input);
  auto parsed = hl7::parse(raw);
  ASSERT_TRUE(parsed) << parsed.error().describe();
  fhir::convert_options options;
  const std::string facility(parsed->segment(0).field(4).component(1).raw());
  auto it = cfg.facilities.find(facility);
  ASSERT_NE(it, cfg.facilities.end()) << "facility " << facility << " is not in facilities.json";
  options.sender = &it->second;
  auto converted = fhir::convert(*parsed, options);
  ASSERT_TRUE(converted) << converted.error().message();

  rapidjson::Document actual;
  actual.Parse(converted->bundle.data(), converted->bundle.size());
  ASSERT_FALSE(actual.HasParseError());

  const fs::path expected_file = golden / (input.stem().string() + ".json");
  if (std::getenv("CAREBRIDGE_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(expected_file, std::ios::binary) << pretty(actual);
    GTEST_SKIP() << "rewrote " << expected_file;
  }
  ASSERT_TRUE(fs::exists(expected_file))
      << expected_file << " is missing: run with CAREBRIDGE_UPDATE_GOLDEN=1, review, commit";
  const std::string expected_text = slurp(expected_file);
  rapidjson::Document expected;
  expected.Parse(expected_text.data(), expected_text.size());
  ASSERT_FALSE(expected.HasParseError()) << expected_file;
  if (actual != expected) {
    // Show the first differing line of the pretty forms.
    std::istringstream a(pretty(actual)), e(pretty(expected));
    std::string la, le;
    int line = 0;
    while (true) {
      ++line;
      const bool ga = static_cast<bool>(std::getline(a, la));
      const bool ge = static_cast<bool>(std::getline(e, le));
      if (!ga && !ge) break;
      if (la != le) {
        ADD_FAILURE() << expected_file.filename() << " differs at line " << line
                      << "\n  expected: " << le << "\n  actual:   " << la;
        break;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Samples, V2Golden, testing::ValuesIn(sample_files()),
                         [](const testing::TestParamInfo<fs::path>& param_info) {
                           std::string name = param_info.param.stem().string();
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

// Every sample has its golden file and every golden file its sample (none left behind).
TEST(V2GoldenFiles, OneGoldenFilePerSample) {
  std::set<std::string> want, have;
  for (const auto& p : sample_files()) want.insert(p.stem().string());
  for (const auto& e : fs::directory_iterator(golden))
    if (e.path().extension() == ".json") have.insert(e.path().stem().string());
  EXPECT_EQ(want, have);
}

}  // namespace
