// The MLLP framer: every way a TCP stream can cut, join or garble frames.
#include "adapters/mllp/mllp_framer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using carebridge::adapters::mllp::mllp_framer;
using kind = mllp_framer::kind;

std::string frame(const std::string& body) { return "\x0B" + body + "\x1C\x0D"; }

// Feeds `chunks` one by one and collects every frame.
std::vector<std::string> collect(mllp_framer& f, const std::vector<std::string>& chunks) {
  std::vector<std::string> out;
  for (const auto& c : chunks) {
    f.feed(c);
    for (auto ev = f.next(); ev.what == kind::frame; ev = f.next()) out.emplace_back(ev.payload);
  }
  return out;
}

TEST(MllpFramer, OneFrameOneRead) {
  mllp_framer f(1024);
  EXPECT_EQ(collect(f, {frame("MSH|a")}), std::vector<std::string>{"MSH|a"});
  EXPECT_EQ(f.junk_bytes(), 0u);
  EXPECT_FALSE(f.in_frame());
}

TEST(MllpFramer, SeveralFramesInOneRead) {
  mllp_framer f(1024);
  EXPECT_EQ(collect(f, {frame("A") + frame("B") + frame("C")}),
            (std::vector<std::string>{"A", "B", "C"}));
}

TEST(MllpFramer, OneFrameAcrossManyReadsByteByByte) {
  mllp_framer f(1024);
  const std::string all = frame("MSH|^~\\&|X\rPID|1\r") + frame("second");
  std::vector<std::string> bytes;
  for (char c : all) bytes.emplace_back(1, c);
  EXPECT_EQ(collect(f, bytes), (std::vector<std::string>{"MSH|^~\\&|X\rPID|1\r", "second"}));
  EXPECT_EQ(f.junk_bytes(), 0u);
}

TEST(MllpFramer, JunkBeforeStartIsSkippedAndCounted) {
  mllp_framer f(1024);
  EXPECT_EQ(collect(f, {"garbage" + frame("A") + "xy" + frame("B")}),
            (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(f.junk_bytes(), 9u);
}

TEST(MllpFramer, CarriageReturnsAndLineFeedsBetweenFramesAreNotJunk) {
  mllp_framer f(1024);
  EXPECT_EQ(collect(f, {frame("A") + "\r\n\n" + frame("B")}), (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(f.junk_bytes(), 0u);
}

TEST(MllpFramer, FrameWithoutTrailingCarriageReturn) {
  mllp_framer f(1024);
  // The sender omits 0x0D and waits for the ACK: the frame must come out at once.
  EXPECT_EQ(collect(f, {"\x0B" "A\x1C"}), std::vector<std::string>{"A"});
  EXPECT_EQ(collect(f, {"\x0B" "B\x1C"}), std::vector<std::string>{"B"});
  f.finish();
  EXPECT_EQ(f.truncated_bytes(), 0u);
}

TEST(MllpFramer, CarriageReturnArrivingInALaterRead) {
  mllp_framer f(1024);
  EXPECT_EQ(collect(f, {"\x0B" "A\x1C", "\x0D", frame("B")}), (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(f.junk_bytes(), 0u);
}

TEST(MllpFramer, UnterminatedFrameAtEndOfStreamIsCounted) {
  mllp_framer f(1024);
  EXPECT_TRUE(collect(f, {"\x0B" "MSH|partial"}).empty());
  EXPECT_TRUE(f.in_frame());
  f.finish();
  EXPECT_EQ(f.truncated_bytes(), 11u);
  EXPECT_FALSE(f.in_frame());
}

TEST(MllpFramer, RestartInsideAFrameDropsThePartialOne) {
  mllp_framer f(1024);
  EXPECT_EQ(collect(f, {"\x0B" "lost" + frame("kept")}), std::vector<std::string>{"kept"});
  EXPECT_EQ(f.restarted_frames(), 1u);
  EXPECT_EQ(f.junk_bytes(), 5u);
}

TEST(MllpFramer, OversizeInProgressIsReportedOnceWithItsHead) {
  mllp_framer f(10);
  f.feed("\x0B" "0123456789ABCDEF");
  const auto ev = f.next();
  ASSERT_EQ(ev.what, kind::oversize);
  EXPECT_EQ(ev.payload.substr(0, 4), "0123");
  EXPECT_EQ(f.next().what, kind::need_more);
  f.feed("more");
  EXPECT_EQ(f.next().what, kind::need_more);
}

TEST(MllpFramer, OversizeCompleteFrameInOneRead) {
  mllp_framer f(4);
  f.feed(frame("123456") + frame("ok"));
  const auto ev = f.next();
  ASSERT_EQ(ev.what, kind::oversize);
  EXPECT_EQ(ev.payload, "123456");
}

TEST(MllpFramer, ExactlyMaxSizeIsAccepted) {
  mllp_framer f(4);
  EXPECT_EQ(collect(f, {frame("1234")}), std::vector<std::string>{"1234"});
}

TEST(MllpFramer, LongStreamStaysCompact) {
  mllp_framer f(1 << 20);
  const std::string one = frame(std::string(1000, 'x'));
  std::size_t frames = 0;
  for (int i = 0; i < 5000; ++i) {
    f.feed(one);
    while (f.next().what == kind::frame) ++frames;
  }
  EXPECT_EQ(frames, 5000u);
  EXPECT_EQ(f.buffered(), 0u);
}

}  // namespace
