// ws::Session beyond the spec table: sending, states, the zero-copy path,
// buffering, and round trips through the test client (ws_peer.h) with every
// negotiated deflate parameter.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "ws/session.h"
#include "ws_peer.h"

namespace subcorn::ws::test {
namespace {

struct Fed {
  Event event;
  size_t consumed = 0;
};

Fed next(Session& s, std::string& input, std::string& out) {
  Fed f;
  f.event = s.next(input.data(), input.size(), &f.consumed, out);
  return f;
}

TEST(SessionApi, SingleFrameMessageIsAViewIntoTheInput) {
  Session s;
  std::string input = frame(FIN | TEXT, "Hello") + frame(FIN | BINARY, "rest");
  std::string out;
  Fed f = next(s, input, out);
  ASSERT_EQ(f.event.type, EventType::Message);
  EXPECT_EQ(f.event.payload, "Hello");
  EXPECT_EQ(f.event.payload.data(), input.data() + 6);  // unmasked in place
  EXPECT_EQ(f.consumed, 11u);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(s.buffered_bytes(), 0u);
}

TEST(SessionApi, PartialFrameIsAssembledAndCounted) {
  Session s;
  std::string whole = frame(FIN | BINARY, std::string(1000, 'b'));
  std::string first = whole.substr(0, 600), second = whole.substr(600);
  std::string out;
  Fed f = next(s, first, out);
  EXPECT_EQ(f.event.type, EventType::NeedMore);
  EXPECT_EQ(f.consumed, 600u);
  EXPECT_EQ(s.buffered_bytes(), 600u - 8);  // header of 2 + 2 + mask 4
  f = next(s, second, out);
  ASSERT_EQ(f.event.type, EventType::Message);
  EXPECT_EQ(f.event.payload, std::string(1000, 'b'));
  EXPECT_EQ(s.buffered_bytes(), 0u);
}

TEST(SessionApi, FragmentedMessageCountsItsBytes) {
  Session s;
  std::string input = frame(TEXT, "abc") + frame(CONT, "de");
  std::string out;
  EXPECT_EQ(next(s, input, out).event.type, EventType::NeedMore);
  EXPECT_EQ(s.buffered_bytes(), 5u);
}

TEST(SessionApi, SendMessageFrames) {
  Session s;
  std::string out;
  EXPECT_EQ(s.send_message(true, "Hello", out), nullptr);
  EXPECT_EQ(out, std::string("\x81\x05Hello"));
  out.clear();
  EXPECT_EQ(s.send_message(false, std::string(256, 'x'), out), nullptr);
  EXPECT_EQ(out.substr(0, 4), std::string("\x82\x7e\x01\x00", 4));
  EXPECT_EQ(s.send_ping("p", out), nullptr);
  EXPECT_NE(s.send_ping(std::string(126, 'p'), out), nullptr);
  EXPECT_EQ(ServerReader().read(out), (std::vector<std::string>{"binary " + show(std::string(256, 'x')), "ping [p]"}));
}

TEST(SessionApi, SendCloseRulesAndStates) {
  Session s;
  std::string out;
  EXPECT_NE(s.send_close(1005 + 1, "", out), nullptr);  // 1006 is never sent
  EXPECT_NE(s.send_close(999, "", out), nullptr);
  EXPECT_NE(s.send_close(1015, "", out), nullptr);
  EXPECT_NE(s.send_close(1000, "\xff", out), nullptr);
  EXPECT_NE(s.send_close(1005, "reason", out), nullptr);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(s.state(), State::Open);
  EXPECT_EQ(s.close_code(), 0);

  // A long reason is cut to 123 bytes, not inside a code point.
  std::string reason = std::string(121, 'r') + "\xc3\xa9\xc3\xa9";
  EXPECT_EQ(s.send_close(4000, reason, out), nullptr);
  ASSERT_EQ(out.size(), 2u + 2 + 121 + 2);
  EXPECT_EQ(out.substr(0, 4), std::string("\x88\x7d\x0f\xa0", 4));  // 2 + 123 bytes
  EXPECT_EQ(out.substr(4), std::string(121, 'r') + "\xc3\xa9");
  EXPECT_EQ(s.state(), State::CloseSent);
  EXPECT_EQ(s.close_code(), 4000);

  // Nothing more may be sent; messages and pings still arrive, unanswered.
  out.clear();
  EXPECT_NE(s.send_message(true, "x", out), nullptr);
  EXPECT_NE(s.send_ping("x", out), nullptr);
  EXPECT_NE(s.send_close(1000, "", out), nullptr);
  std::string input = frame(FIN | TEXT, "late") + frame(FIN | PING, "p") + frame(FIN | CLOSE, close_payload(1000));
  Fed f = next(s, input, out);
  EXPECT_EQ(f.event.type, EventType::Message);
  input.erase(0, f.consumed);
  f = next(s, input, out);
  EXPECT_EQ(f.event.type, EventType::Ping);
  input.erase(0, f.consumed);
  f = next(s, input, out);
  EXPECT_EQ(f.event.type, EventType::Close);
  EXPECT_EQ(f.event.code, 1000);
  EXPECT_TRUE(out.empty()) << "no pong and no second close after ours";
  EXPECT_EQ(s.state(), State::Closed);
  EXPECT_EQ(s.close_code(), 1000);
}

TEST(SessionApi, EmptyCloseFromTheApp) {
  Session s;
  std::string out;
  EXPECT_EQ(s.send_close(CLOSE_NO_STATUS, "", out), nullptr);
  EXPECT_EQ(out, std::string("\x88\x00", 2));
}

TEST(SessionApi, PeerCloseThenNothingMore) {
  Session s;
  std::string out;
  std::string input = frame(FIN | CLOSE, close_payload(1001, "going"));
  Fed f = next(s, input, out);
  ASSERT_EQ(f.event.type, EventType::Close);
  EXPECT_EQ(f.event.reason, "going");
  EXPECT_EQ(s.state(), State::CloseReceived);
  EXPECT_EQ(s.close_code(), 1001);
  EXPECT_EQ(out, std::string("\x88\x07\x03\xe9going", 9));  // its code and reason echoed
  out.clear();
  EXPECT_NE(s.send_close(1000, "", out), nullptr);
  EXPECT_NE(s.send_message(false, "x", out), nullptr);
  EXPECT_TRUE(out.empty());
}

TEST(SessionApi, ErrorReasonGoesInTheCloseFrame) {
  Session s;
  std::string out;
  std::string input = unmasked_frame(FIN | TEXT, "x");
  Fed f = next(s, input, out);
  ASSERT_EQ(f.event.type, EventType::Error);
  EXPECT_EQ(f.event.code, 1002);
  EXPECT_EQ(out.substr(2, 2), std::string("\x03\xea", 2));
  EXPECT_EQ(out.substr(4), f.event.reason);
  EXPECT_EQ(s.state(), State::Closed);
}

// RFC 7692 7.2.3.1 and 7.2.3.2 as the server sends them.
TEST(SessionApi, CompressedSendIsRfc7692ByteExact) {
  SessionConfig config;
  config.deflate = DeflateParams{};
  config.compress_threshold = 0;
  Session s(config);
  std::string out;
  EXPECT_EQ(s.send_message(true, "Hello", out), nullptr);
  EXPECT_EQ(out, std::string("\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00", 9));
  out.clear();
  EXPECT_EQ(s.send_message(true, "Hello", out), nullptr);
  EXPECT_EQ(out, std::string("\xc1\x05\xf2\x00\x11\x00\x00", 7));
}

TEST(SessionApi, CompressThreshold) {
  SessionConfig config;
  config.deflate = DeflateParams{};
  config.compress_threshold = 10;
  Session s(config);
  std::string out;
  s.send_message(true, "short", out);
  s.send_message(true, std::string(10, 'a'), out);
  EXPECT_EQ(ServerReader(config.deflate).read(out),
            (std::vector<std::string>{"text [short]", "text+z [aaaaaaaaaa]"}));
}

std::string sample(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  const char* words[] = {"alpha ", "beta ", "gamma ", "\xce\xb4\xce\xad\xce\xbb\xcf\x84\xce\xb1 ", "epsilon "};
  std::string s;
  while (s.size() < n) s += words[rng() % 5];
  return s;
}

// Both directions with every window size and takeover combination: the
// client compresses as negotiated, the session inflates; the session
// compresses, the client reads it back.
TEST(SessionApi, RoundTripEveryDeflateParameter) {
  for (int bits = 8; bits <= 15; ++bits) {
    for (int resets = 0; resets < 4; ++resets) {
      DeflateParams p;
      p.client_max_window_bits = bits;
      p.server_max_window_bits = 23 - bits;
      p.client_no_context_takeover = resets & 1;
      p.server_no_context_takeover = resets & 2;
      SessionConfig config;
      config.deflate = p;
      config.compress_threshold = 16;
      Session session(config);
      ClientCompressor client(p);
      ServerReader reader(p);
      std::string out;
      for (unsigned i = 0; i < 12; ++i) {
        std::string msg = sample(i * 700 + 3, i);
        bool text = i % 3 != 2;
        std::string input = client_message(text, msg, 1 + i % 3, &client);
        // Arrives in two pieces; both may produce nothing but NeedMore.
        std::vector<std::string> pieces = {input.substr(0, input.size() / 2), input.substr(input.size() / 2)};
        std::string got;
        int messages = 0;
        for (std::string& piece : pieces) {
          for (;;) {
            Fed f = next(session, piece, out);
            piece.erase(0, f.consumed);
            if (f.event.type == EventType::NeedMore) break;
            ASSERT_EQ(f.event.type, EventType::Message) << f.event.reason;
            EXPECT_EQ(f.event.text, text);
            got = std::string(f.event.payload);
            ++messages;
          }
        }
        ASSERT_EQ(messages, 1);
        ASSERT_EQ(got, msg) << bits << " " << resets << " " << i;
        ASSERT_EQ(session.send_message(text, got, out), nullptr);
        std::vector<std::string> read = reader.read(out);
        out.clear();
        ASSERT_EQ(read.size(), 1u);
        std::string kind = text ? "text" : "binary";
        if (msg.size() >= 16) kind += "+z";
        EXPECT_EQ(read[0], kind + " " + show(msg)) << bits << " " << resets << " " << i;
      }
    }
  }
}

// A compressed message that inflates past the limit is refused without the
// session holding more than the limit.
TEST(SessionApi, ZipBombIsBounded) {
  DeflateParams p;
  SessionConfig config;
  config.deflate = p;
  config.max_message_size = 1 << 20;
  Session session(config);
  ClientCompressor client(p);
  std::string input = client_message(false, std::string(32 << 20, '\0'), 4, &client);
  EXPECT_LT(input.size(), 64u << 10);
  std::string out;
  Fed f = next(session, input, out);
  ASSERT_EQ(f.event.type, EventType::Error);
  EXPECT_EQ(f.event.code, CLOSE_TOO_BIG);
  EXPECT_EQ(session.buffered_bytes(), 0u);
}

}  // namespace
}  // namespace subcorn::ws::test
