#include <gtest/gtest.h>

#include <string>

#include "ws/frame.h"
#include "ws_peer.h"

namespace subcorn::ws {
namespace {

using test::frame;

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

FrameHeader decode(const std::string& s) {
  EXPECT_EQ(header_size(s[0], s[1]), std::min<size_t>(s.size(), header_size(s[0], s[1])));
  return decode_header(reinterpret_cast<const uint8_t*>(s.data()));
}

// RFC 6455 5.7, the examples byte for byte.
TEST(Frame, Rfc6455Examples) {
  std::string out;
  append_frame(out, Opcode::Text, "Hello");  // single-frame unmasked text
  EXPECT_EQ(out, bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));

  // A single-frame masked text message.
  std::string masked = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  EXPECT_EQ(masked, frame(0x81, "Hello", 0x37fa213d));
  FrameHeader h = decode(masked);
  EXPECT_TRUE(h.fin);
  EXPECT_EQ(h.opcode, 0x1);
  EXPECT_TRUE(h.masked);
  EXPECT_EQ(h.length, 5u);
  EXPECT_EQ(header_size(masked[0], masked[1]), 6u);
  std::string payload = masked.substr(6);
  unmask(payload.data(), payload.size(), h.mask, 0);
  EXPECT_EQ(payload, "Hello");

  // A fragmented unmasked text message, the first frame's header.
  out.clear();
  append_header(out, false, false, Opcode::Text, 3);
  out += "Hel";
  append_header(out, true, false, Opcode::Continuation, 2);
  out += "lo";
  EXPECT_EQ(out, bytes({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f}));

  // Unmasked Ping, masked Pong.
  out.clear();
  append_frame(out, Opcode::Ping, "Hello");
  EXPECT_EQ(out, bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  EXPECT_EQ(frame(0x8a, "Hello", 0x37fa213d), bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));

  // 256 bytes and 64 KiB binary messages in a single unmasked frame.
  out.clear();
  append_frame(out, Opcode::Binary, std::string(256, 'x'));
  EXPECT_EQ(out.substr(0, 4), bytes({0x82, 0x7E, 0x01, 0x00}));
  EXPECT_EQ(out.size(), 4u + 256);
  out.clear();
  append_frame(out, Opcode::Binary, std::string(65536, 'x'));
  EXPECT_EQ(out.substr(0, 10), bytes({0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}));
  EXPECT_EQ(out.size(), 10u + 65536);
}

TEST(Frame, LengthFormsAtTheirEdges) {
  for (uint64_t n : {0ull, 125ull, 126ull, 65535ull, 65536ull, 0x7fffffffffffffffull}) {
    std::string out;
    append_header(out, true, false, Opcode::Binary, n);
    size_t expected = n < 126 ? 2 : n <= 0xffff ? 4 : 10;
    ASSERT_EQ(out.size(), expected) << n;
    EXPECT_EQ(header_size(out[0], out[1]), expected);
    EXPECT_EQ(decode_header(reinterpret_cast<const uint8_t*>(out.data())).length, n);
    EXPECT_FALSE(decode_header(reinterpret_cast<const uint8_t*>(out.data())).masked);
  }
}

TEST(Frame, ClientHeaderRules) {
  auto check = [](int b0, int b1, bool deflate = false) {
    return check_client_header_start(static_cast<uint8_t>(b0), static_cast<uint8_t>(b1), deflate) == nullptr;
  };
  EXPECT_TRUE(check(0x81, 0x85));
  EXPECT_FALSE(check(0x81, 0x05));          // unmasked
  EXPECT_FALSE(check(0xC1, 0x85));          // RSV1 without deflate
  EXPECT_TRUE(check(0xC1, 0x85, true));     // RSV1 with deflate
  EXPECT_FALSE(check(0xC9, 0x80, true));    // RSV1 on a ping
  EXPECT_FALSE(check(0xA1, 0x85, true));    // RSV2
  EXPECT_FALSE(check(0x91, 0x85, true));    // RSV3
  for (int op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) EXPECT_FALSE(check(0x80 | op, 0x80)) << op;
  for (int op : {0, 1, 2, 8, 9, 0xA}) EXPECT_TRUE(check(0x80 | op, 0x80)) << op;
  EXPECT_FALSE(check(0x09, 0x80));          // fragmented ping
  EXPECT_TRUE(check(0x89, 0x80 | 125));
  EXPECT_FALSE(check(0x89, 0x80 | 126));    // control payload over 125
  EXPECT_TRUE(check(0x01, 0x80 | 127));     // data frames may be long and fragmented

  FrameHeader h;
  h.length = 1ull << 63;
  EXPECT_NE(check_client_header(h), nullptr);
  h.length = (1ull << 63) - 1;
  EXPECT_EQ(check_client_header(h), nullptr);
}

TEST(Frame, UnmaskMatchesBytewiseAtEveryOffsetAndLength) {
  const uint8_t mask[4] = {0x12, 0x9a, 0xff, 0x01};
  std::string data;
  for (int i = 0; i < 67; ++i) data.push_back(static_cast<char>(i * 37));
  for (size_t offset = 0; offset < 4; ++offset) {
    for (size_t start = 0; start < 9; ++start) {  // unaligned starts too
      for (size_t n = 0; start + n <= data.size(); ++n) {
        std::string fast = data;
        unmask(fast.data() + start, n, mask, offset);
        std::string slow = data;
        for (size_t i = 0; i < n; ++i) slow[start + i] = static_cast<char>(slow[start + i] ^ mask[(offset + i) % 4]);
        ASSERT_EQ(fast, slow) << offset << " " << start << " " << n;
      }
    }
  }
}

TEST(Frame, UnmaskInPiecesEqualsWhole) {
  std::string masked = frame(0x82, std::string(1000, 'q'), 0xdeadbeef).substr(8);
  const uint8_t mask[4] = {0xde, 0xad, 0xbe, 0xef};
  for (size_t cut : {1, 2, 3, 5, 8, 13, 500, 999}) {
    std::string s = masked;
    unmask(s.data(), cut, mask, 0);
    unmask(s.data() + cut, s.size() - cut, mask, cut & 3);
    EXPECT_EQ(s, std::string(1000, 'q')) << cut;
  }
}

TEST(Frame, CloseCodes) {
  for (int c : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}) {
    EXPECT_TRUE(close_code_valid_on_wire(static_cast<uint16_t>(c))) << c;
  }
  for (int c : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    EXPECT_FALSE(close_code_valid_on_wire(static_cast<uint16_t>(c))) << c;
  }
  std::string out;
  append_close_frame(out, 1000, "bye");
  EXPECT_EQ(out, bytes({0x88, 0x05, 0x03, 0xe8, 'b', 'y', 'e'}));
  out.clear();
  append_close_frame(out, CLOSE_NO_STATUS, "ignored");
  EXPECT_EQ(out, bytes({0x88, 0x00}));
}

}  // namespace
}  // namespace subcorn::ws
