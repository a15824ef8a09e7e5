// libFuzzer target for the MLLP framer (adapters/mllp/mllp_framer): the bytes a peer sends, cut
// into reads of fuzzer-chosen sizes, against a byte-at-a-time model of what mllp_framer.hpp
// promises. Checks:
//   - the events (frame / oversize, with their payloads) are exactly the model's, whatever the
//     read sizes, and every payload is a view into the framer's buffer with no framing byte in it;
//   - junk, restarted and truncated counts are the model's;
//   - nothing is buffered after finish(), and buffered() never exceeds what was fed.
//
// Input layout: byte 0 picks the frame size limit, byte 1 seeds the read sizes, the rest is the
// stream.
#include "adapters/mllp/mllp_framer.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mllp = carebridge::adapters::mllp;

namespace {

struct seen {
  mllp::mllp_framer::kind what;
  std::string payload;
  bool operator==(const seen&) const = default;
};

// The framer's rules, one byte at a time (mllp_framer.hpp).
struct model {
  std::size_t max = 0;
  bool in_frame = false;
  bool oversize_reported = false;
  std::string payload;
  std::uint64_t junk = 0, restarted = 0, truncated = 0;
  std::vector<seen> events;

  void byte(char c) {
    if (!in_frame) {
      if (c == mllp::start_block) {
        in_frame = true;
        oversize_reported = false;
        payload.clear();
      } else if (c != '\r' && c != '\n') {
        ++junk;
      }
      return;
    }
    if (c == mllp::end_block) {
      in_frame = false;
      if (payload.size() > max) {
        if (!oversize_reported) events.push_back({mllp::mllp_framer::kind::oversize, payload});
      } else {
        events.push_back({mllp::mllp_framer::kind::frame, payload});
      }
      return;
    }
    if (c == mllp::start_block) {  // the sender restarted: the partial frame is junk
      junk += 1 + payload.size();
      ++restarted;
      oversize_reported = false;
      payload.clear();
      return;
    }
    payload.push_back(c);
  }
  // After each read the caller drains next(): a frame in progress past the limit is reported once.
  void end_of_read() {
    if (in_frame && payload.size() > max && !oversize_reported) {
      oversize_reported = true;
      events.push_back({mllp::mllp_framer::kind::oversize, payload});
    }
  }
  void finish() {
    if (in_frame) truncated += payload.size();
    in_frame = false;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // Limits from 0 to 254 bytes exercise oversize; 255 means "large" (the listener's default range).
  const std::size_t max = data[0] == 255 ? 1u << 20 : data[0];
  std::uint32_t rng = data[1] * 2654435761u + 1;
  const std::string_view stream = carebridge::fuzz::as_text(data + 2, size - 2);

  mllp::mllp_framer framer(max);
  model expect;
  expect.max = max;
  std::vector<seen> got;
  std::size_t fed = 0;
  while (fed < stream.size()) {
    rng = rng * 1103515245u + 12345u;
    // Mostly small reads (1..16 bytes), sometimes up to 4 KiB.
    const std::size_t want = (rng >> 16) % 8 == 0 ? 1 + (rng >> 8) % 4096 : 1 + (rng >> 20) % 16;
    const std::string_view chunk = stream.substr(fed, want);
    fed += chunk.size();
    framer.feed(chunk);
    for (char c : chunk) expect.byte(c);
    expect.end_of_read();
    for (;;) {
      const mllp::mllp_framer::event e = framer.next();
      if (e.what == mllp::mllp_framer::kind::need_more) break;
      CB_FUZZ_REQUIRE(e.payload.find(mllp::start_block) == std::string_view::npos);
      CB_FUZZ_REQUIRE(e.payload.find(mllp::end_block) == std::string_view::npos);
      got.push_back({e.what, std::string(e.payload)});
      CB_FUZZ_REQUIRE(got.size() <= expect.events.size());
      CB_FUZZ_REQUIRE(got.back() == expect.events[got.size() - 1]);
    }
    CB_FUZZ_REQUIRE(got.size() == expect.events.size());
    CB_FUZZ_REQUIRE(framer.buffered() <= fed);
    CB_FUZZ_REQUIRE(framer.in_frame() == expect.in_frame);
    if (framer.in_frame()) CB_FUZZ_REQUIRE(framer.partial_frame() == expect.payload);
    CB_FUZZ_REQUIRE(framer.junk_bytes() == expect.junk);
    CB_FUZZ_REQUIRE(framer.restarted_frames() == expect.restarted);
  }
  framer.finish();
  expect.finish();
  CB_FUZZ_REQUIRE(framer.next().what == mllp::mllp_framer::kind::need_more);
  CB_FUZZ_REQUIRE(framer.truncated_bytes() == expect.truncated);
  CB_FUZZ_REQUIRE(framer.buffered() == 0);
  CB_FUZZ_REQUIRE(!framer.in_frame());
  return 0;
}
