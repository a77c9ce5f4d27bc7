// ws::Session spec as data: client bytes -> expected events and server
// frames. Every case is fed whole, one byte at a time, split in two at every
// point, and with a frame behind it (which must stay unconsumed after a
// final event, and be read as the next event otherwise).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ws_peer.h"
#include "ws_session_driver.h"

namespace subcorn::ws::test {
namespace {

struct Case {
  const char* name;
  std::string input;
  Trace events;
  std::vector<std::string> out;  // the server's frames
  SessionConfig config = {};
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string operator*(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

SessionConfig with_deflate(DeflateParams p = {}, size_t max = 16 * 1024 * 1024) {
  SessionConfig c;
  c.deflate = p;
  c.max_message_size = max;
  c.compress_threshold = 0;
  return c;
}

SessionConfig with_max(size_t max) {
  SessionConfig c;
  c.max_message_size = max;
  return c;
}

// RFC 7692 7.2.3.1: "Hello" compressed, and the same split in two frames.
const std::string HELLO_Z("\xf2\x48\xcd\xc9\xc9\x07\x00", 7);

const std::vector<Case>& cases() {
  using S = std::string;
  static const S big = S("x") * 70000;
  static const std::vector<Case> all = {
      // --- messages ---
      {"text", frame(FIN | TEXT, "Hello"), {"text [Hello]"}, {}},
      {"binary_bytes", frame(FIN | BINARY, S("\0\x01\xff", 3)), {"binary " + show(S("\0\x01\xff", 3))}, {}},
      {"empty_text", frame(FIN | TEXT, ""), {"text []"}, {}},
      {"length_16", frame(FIN | BINARY, S("a") * 300), {"binary " + show(S("a") * 300)}, {}},
      {"length_64", frame(FIN | BINARY, big), {"binary " + show(big)}, {}},
      {"length_16_form_for_short_payload", frame(FIN | TEXT, "hi", 0x01020304, 126), {"text [hi]"}, {}},
      {"zero_mask", frame(FIN | TEXT, "plain", 0), {"text [plain]"}, {}},
      {"two_messages", frame(FIN | TEXT, "one") + frame(FIN | BINARY, "two"), {"text [one]", "binary [two]"}, {}},
      {"fragmented", frame(TEXT, "Hel") + frame(CONT, "lo, ") + frame(FIN | CONT, "world"), {"text [Hello, world]"}, {}},
      {"fragmented_with_empty_parts", frame(BINARY, "") + frame(CONT, "ab") + frame(FIN | CONT, ""), {"binary [ab]"}, {}},
      {"ping_between_fragments", frame(TEXT, "a") + frame(FIN | PING, "p") + frame(FIN | CONT, "b"),
       {"ping [p]", "text [ab]"}, {"pong [p]"}},
      {"utf8_split_between_fragments", frame(TEXT, "caf\xc3") + frame(FIN | CONT, "\xa9"), {"text " + show("caf\xc3\xa9")}, {}},
      {"utf8_text", frame(FIN | TEXT, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"),
       {"text " + show("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")}, {}},
      {"binary_not_utf8_is_fine", frame(FIN | BINARY, "\xff\xfe"), {"binary " + show("\xff\xfe")}, {}},

      // --- control frames ---
      {"ping_answered", frame(FIN | PING, "Hello"), {"ping [Hello]"}, {"pong [Hello]"}},
      {"empty_ping", frame(FIN | PING, ""), {"ping []"}, {"pong []"}},
      {"ping_125", frame(FIN | PING, S("p") * 125), {"ping " + show(S("p") * 125)}, {"pong " + show(S("p") * 125)}},
      {"pong_not_answered", frame(FIN | PONG, "x"), {"pong [x]"}, {}},
      {"close_echoed", frame(FIN | CLOSE, close_payload(1000, "bye")), {"close 1000 [bye]"}, {"close 1000"}},
      {"close_empty", frame(FIN | CLOSE, ""), {"close 1005 []"}, {"close"}},
      {"close_private_code", frame(FIN | CLOSE, close_payload(4999)), {"close 4999 []"}, {"close 4999"}},
      {"close_1014", frame(FIN | CLOSE, close_payload(1014)), {"close 1014 []"}, {"close 1014"}},
      {"close_after_message", frame(FIN | TEXT, "a") + frame(FIN | CLOSE, close_payload(1001)),
       {"text [a]", "close 1001 []"}, {"close 1001"}},
      {"close_inside_fragmented_message", frame(TEXT, "a") + frame(FIN | CLOSE, close_payload(1000)),
       {"close 1000 []"}, {"close 1000"}},
      {"close_reason_123", frame(FIN | CLOSE, close_payload(1000, S("r") * 123)), {"close 1000 " + show(S("r") * 123)},
       {"close 1000"}},

      // --- protocol errors (1002) ---
      {"unmasked", unmasked_frame(FIN | TEXT, "Hello"), {"error 1002"}, {"close 1002"}},
      {"rsv1_without_deflate", frame(FIN | RSV1 | TEXT, "x"), {"error 1002"}, {"close 1002"}},
      {"rsv2", frame(FIN | 0x20 | TEXT, "x"), {"error 1002"}, {"close 1002"}},
      {"rsv3", frame(FIN | 0x10 | BINARY, "x"), {"error 1002"}, {"close 1002"}},
      {"rsv2_with_deflate", frame(FIN | 0x20 | TEXT, "x"), {"error 1002"}, {"close 1002"}, with_deflate()},
      {"reserved_opcode_3", frame(FIN | 0x3, ""), {"error 1002"}, {"close 1002"}},
      {"reserved_opcode_7", frame(FIN | 0x7, "x"), {"error 1002"}, {"close 1002"}},
      {"reserved_opcode_b", frame(FIN | 0xB, ""), {"error 1002"}, {"close 1002"}},
      {"reserved_opcode_f", frame(FIN | 0xF, "x"), {"error 1002"}, {"close 1002"}},
      {"ping_126", frame(FIN | PING, S("p") * 126), {"error 1002"}, {"close 1002"}},
      {"fragmented_ping", frame(PING, "a") + frame(FIN | CONT, "b"), {"error 1002"}, {"close 1002"}},
      {"continuation_without_message", frame(FIN | CONT, "x"), {"error 1002"}, {"close 1002"}},
      {"new_message_inside_fragmented", frame(TEXT, "a") + frame(FIN | TEXT, "b"), {"error 1002"}, {"close 1002"}},
      {"message_then_error_keeps_message", frame(FIN | TEXT, "ok") + frame(FIN | 0x4, ""), {"text [ok]", "error 1002"},
       {"close 1002"}},
      {"length_top_bit", S("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04", 14), {"error 1002"}, {"close 1002"}},
      {"close_one_byte", frame(FIN | CLOSE, "\x03"), {"error 1002"}, {"close 1002"}},
      {"close_code_0", frame(FIN | CLOSE, close_payload(0)), {"error 1002"}, {"close 1002"}},
      {"close_code_999", frame(FIN | CLOSE, close_payload(999)), {"error 1002"}, {"close 1002"}},
      {"close_code_1004", frame(FIN | CLOSE, close_payload(1004)), {"error 1002"}, {"close 1002"}},
      {"close_code_1005", frame(FIN | CLOSE, close_payload(1005)), {"error 1002"}, {"close 1002"}},
      {"close_code_1006", frame(FIN | CLOSE, close_payload(1006)), {"error 1002"}, {"close 1002"}},
      {"close_code_1015", frame(FIN | CLOSE, close_payload(1015)), {"error 1002"}, {"close 1002"}},
      {"close_code_1016", frame(FIN | CLOSE, close_payload(1016)), {"error 1002"}, {"close 1002"}},
      {"close_code_2999", frame(FIN | CLOSE, close_payload(2999)), {"error 1002"}, {"close 1002"}},
      {"close_code_5000", frame(FIN | CLOSE, close_payload(5000)), {"error 1002"}, {"close 1002"}},
      {"close_code_65535", frame(FIN | CLOSE, close_payload(65535)), {"error 1002"}, {"close 1002"}},

      // --- invalid UTF-8 (1007) ---
      {"text_invalid_byte", frame(FIN | TEXT, "a\xff"), {"error 1007"}, {"close 1007"}},
      {"text_overlong", frame(FIN | TEXT, "\xc0\xaf"), {"error 1007"}, {"close 1007"}},
      {"text_surrogate", frame(FIN | TEXT, "\xed\xa0\x80"), {"error 1007"}, {"close 1007"}},
      {"text_above_10ffff", frame(FIN | TEXT, "\xf4\x90\x80\x80"), {"error 1007"}, {"close 1007"}},
      {"text_truncated_sequence", frame(FIN | TEXT, "caf\xc3"), {"error 1007"}, {"close 1007"}},
      {"fragmented_ends_mid_sequence", frame(TEXT, "a") + frame(FIN | CONT, "\xe2\x82"), {"error 1007"}, {"close 1007"}},
      // Fail fast: the invalid first fragment is refused before the rest comes.
      {"fail_fast_first_fragment", frame(TEXT, "\xce\xba\xed\xa0\x80") + frame(FIN | CONT, "never"),
       {"error 1007"}, {"close 1007"}},
      {"close_reason_invalid", frame(FIN | CLOSE, close_payload(1000, "\xff")), {"error 1007"}, {"close 1007"}},

      // --- size (1009) ---
      {"at_limit", frame(FIN | BINARY, "1234"), {"binary [1234]"}, {}, with_max(4)},
      {"over_limit", frame(FIN | BINARY, "12345"), {"error 1009"}, {"close 1009"}, with_max(4)},
      {"fragments_at_limit", frame(BINARY, "12") + frame(FIN | CONT, "34"), {"binary [1234]"}, {}, with_max(4)},
      {"fragments_over_limit", frame(BINARY, "123") + frame(FIN | CONT, "45"), {"error 1009"}, {"close 1009"}, with_max(4)},
      {"huge_declared_length", S("\x82\xff\x00\x00\x00\x01\x00\x00\x00\x00\x01\x02\x03\x04", 14), {"error 1009"},
       {"close 1009"}, with_max(1024)},
      {"control_frames_not_limited", frame(FIN | PING, "12345678"), {"ping [12345678]"}, {"pong [12345678]"}, with_max(4)},

      // --- permessage-deflate (RFC 7692 7.2.3) ---
      {"deflate_hello", frame(FIN | RSV1 | TEXT, HELLO_Z), {"text [Hello]"}, {}, with_deflate()},
      {"deflate_hello_fragmented", frame(RSV1 | TEXT, HELLO_Z.substr(0, 3)) + frame(FIN | CONT, HELLO_Z.substr(3)),
       {"text [Hello]"}, {}, with_deflate()},
      {"deflate_stored_block", frame(FIN | RSV1 | TEXT, S("\x00\x05\x00\xfa\xff" "Hello\x00", 11)), {"text [Hello]"}, {},
       with_deflate()},
      {"deflate_bfinal", frame(FIN | RSV1 | TEXT, S("\xf3\x48\xcd\xc9\xc9\x07\x00\x00", 8)), {"text [Hello]"}, {},
       with_deflate()},
      {"deflate_bfinal_then_next_message",
       frame(FIN | RSV1 | TEXT, S("\xf3\x48\xcd\xc9\xc9\x07\x00\x00", 8)) + frame(FIN | RSV1 | TEXT, HELLO_Z),
       {"text [Hello]", "text [Hello]"}, {}, with_deflate()},
      {"deflate_two_blocks", frame(FIN | RSV1 | TEXT, S("\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00", 13)),
       {"text [Hello]"}, {}, with_deflate()},
      {"deflate_empty", frame(FIN | RSV1 | TEXT, S("\x00", 1)), {"text []"}, {}, with_deflate()},
      {"deflate_uncompressed_message_too", frame(FIN | TEXT, "plain") + frame(FIN | RSV1 | TEXT, HELLO_Z),
       {"text [plain]", "text [Hello]"}, {}, with_deflate()},
      {"deflate_rsv1_on_continuation", frame(TEXT, "a") + frame(FIN | RSV1 | CONT, "b"), {"error 1002"}, {"close 1002"},
       with_deflate()},
      {"deflate_rsv1_on_ping", frame(FIN | RSV1 | PING, "a"), {"error 1002"}, {"close 1002"}, with_deflate()},
      {"deflate_corrupt", frame(FIN | RSV1 | BINARY, "\xff\xff\xff\xff"), {"error 1007"}, {"close 1007"}, with_deflate()},
      {"deflate_invalid_utf8_inside", frame(FIN | RSV1 | TEXT, S("\x00\x02\x00\xfd\xff" "a\xff", 7)), {"error 1007"},
       {"close 1007"}, with_deflate()},
      {"deflate_over_limit", frame(FIN | RSV1 | TEXT, HELLO_Z), {"error 1009"}, {"close 1009"}, with_deflate({}, 4)},
      {"deflate_at_limit", frame(FIN | RSV1 | TEXT, HELLO_Z), {"text [Hello]"}, {}, with_deflate({}, 5)},
  };
  return all;
}

class SessionSpec : public ::testing::TestWithParam<Case> {};

void expect_feed(const Case& c, const SessionFeed& got, const char* how) {
  EXPECT_EQ(got.events, c.events) << how;
  EXPECT_EQ(got.out, c.out) << how;
}

bool ends_final(const Trace& t) {
  return !t.empty() && (t.back().starts_with("close ") || t.back().starts_with("error "));
}

TEST_P(SessionSpec, Whole) {
  const Case& c = GetParam();
  SessionFeed got = feed(whole(c.input), c.config);
  expect_feed(c, got, "whole");
  EXPECT_EQ(got.state == State::Open, !ends_final(c.events));
}

TEST_P(SessionSpec, Bytewise) {
  const Case& c = GetParam();
  expect_feed(c, feed(bytewise(c.input), c.config), "byte by byte");
}

TEST_P(SessionSpec, SplitInTwo) {
  const Case& c = GetParam();
  // Every point of a short input; about 300 spread over a long one.
  size_t step = std::max<size_t>(1, c.input.size() / 300);
  for (size_t at = 1; at < c.input.size(); at += step) {
    expect_feed(c, feed(split_at(c.input, at), c.config), ("split at " + std::to_string(at)).c_str());
  }
}

TEST_P(SessionSpec, TrailingFrame) {
  const Case& c = GetParam();
  const std::string trailing = frame(FIN | PING, "T");
  SessionFeed got = feed(whole(c.input + trailing), c.config);
  Trace events = c.events;
  std::vector<std::string> out = c.out;
  if (!ends_final(c.events)) {
    events.push_back("ping [T]");
    out.push_back("pong [T]");
  }
  EXPECT_EQ(got.events, events);
  EXPECT_EQ(got.out, out);
  // A peer's Close is consumed exactly: what follows it stays unread.
  if (!c.events.empty() && c.events.back().starts_with("close ")) {
    EXPECT_EQ(got.rest, trailing);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, SessionSpec, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace subcorn::ws::test
