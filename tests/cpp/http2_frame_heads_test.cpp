// Http2FrameHeads: frame heads found in a client's byte stream, fed whole,
// byte by byte, and with the next frame's bytes trailing.
#include "http/http2_frame_heads.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace subcorn::http {
namespace {

std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string payload) {
  std::string f;
  uint32_t n = static_cast<uint32_t>(payload.size());
  f += static_cast<char>(n >> 16);
  f += static_cast<char>(n >> 8);
  f += static_cast<char>(n);
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  f += static_cast<char>(stream >> 24);
  f += static_cast<char>(stream >> 16);
  f += static_cast<char>(stream >> 8);
  f += static_cast<char>(stream);
  return f + payload;
}

std::string priority_payload(uint32_t depends_on, bool exclusive = false) {
  std::string p(5, '\0');
  uint32_t v = depends_on | (exclusive ? 0x80000000u : 0u);
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
  p[4] = 15;
  return p;
}

const std::string PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Every head reported, with the offset (in the whole stream) it completed at.
struct Seen {
  Http2FrameHead head;
  size_t end;
};

std::vector<Seen> feed_in_pieces(const std::string& bytes, size_t piece) {
  Http2FrameHeads heads;
  std::vector<Seen> seen;
  for (size_t at = 0; at < bytes.size(); at += piece) {
    std::string_view part = std::string_view(bytes).substr(at, piece);
    heads.feed(part, [&](const Http2FrameHead& h, size_t end) { seen.push_back({h, at + end}); });
  }
  return seen;
}

class FrameHeadsTest : public ::testing::TestWithParam<size_t> {};

TEST_P(FrameHeadsTest, ReportsEachHeadOnceWhereItEnds) {
  std::string settings = frame(0x4, 0, 0, std::string(6, '\0'));
  std::string headers = frame(0x1, 0x4, 1, "abc");
  std::string data = frame(0x0, 0x1, 1, std::string(70000 % 16384, 'x'));
  std::string bytes = PREFACE + settings + headers + data;
  std::vector<Seen> seen = feed_in_pieces(bytes, GetParam());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].head.type, 0x4);
  EXPECT_EQ(seen[0].head.length, 6u);
  EXPECT_EQ(seen[0].end, PREFACE.size() + 9);
  EXPECT_EQ(seen[1].head.type, 0x1);
  EXPECT_EQ(seen[1].head.stream_id, 1);
  EXPECT_EQ(seen[1].head.flags, 0x4);
  EXPECT_EQ(seen[1].end, PREFACE.size() + settings.size() + 9);
  EXPECT_EQ(seen[2].head.type, 0x0);
  EXPECT_EQ(seen[2].head.length, 70000u % 16384);
  EXPECT_EQ(seen[2].end, PREFACE.size() + settings.size() + headers.size() + 9);
}

TEST_P(FrameHeadsTest, PriorityIsReportedWithItsDependencyAfterItsPayload) {
  std::string bytes = PREFACE + frame(0x2, 0, 3, priority_payload(3, true)) +
                      frame(0x2, 0, 5, priority_payload(0)) + frame(0x8, 0, 0, std::string(8, '\0'));
  std::vector<Seen> seen = feed_in_pieces(bytes, GetParam());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].head.stream_id, 3);
  EXPECT_EQ(seen[0].head.depends_on, 3);  // the exclusive bit is not part of it
  EXPECT_EQ(seen[0].end, PREFACE.size() + 14);
  EXPECT_EQ(seen[1].head.depends_on, 0);
  EXPECT_EQ(seen[2].head.type, 0x8);
  EXPECT_EQ(seen[2].head.depends_on, -1);
}

TEST_P(FrameHeadsTest, PriorityOfAWrongLengthIsReportedAtItsHead) {
  std::string bytes = PREFACE + frame(0x2, 0, 1, std::string(4, '\1')) + frame(0x1, 0x5, 3, "h");
  std::vector<Seen> seen = feed_in_pieces(bytes, GetParam());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].head.length, 4u);
  EXPECT_EQ(seen[0].head.depends_on, -1);
  EXPECT_EQ(seen[0].end, PREFACE.size() + 9);
  EXPECT_EQ(seen[1].head.stream_id, 3);
}

TEST_P(FrameHeadsTest, TheReservedBitOfTheStreamIdIsIgnored) {
  std::string bytes = PREFACE + frame(0x0, 0, 0x80000001u, "");
  std::vector<Seen> seen = feed_in_pieces(bytes, GetParam());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].head.stream_id, 1);
  EXPECT_EQ(seen[0].head.length, 0u);
}

TEST_P(FrameHeadsTest, AnIncompleteHeadIsNotReported) {
  std::string bytes = PREFACE + frame(0x1, 0x4, 1, "abc") + frame(0x0, 0, 1, "x").substr(0, 8);
  EXPECT_EQ(feed_in_pieces(bytes, GetParam()).size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Pieces, FrameHeadsTest, ::testing::Values(1, 2, 7, 9, 24, 25, 1 << 20),
                         [](const auto& info) { return "piece_" + std::to_string(info.param); });

}  // namespace
}  // namespace subcorn::http
