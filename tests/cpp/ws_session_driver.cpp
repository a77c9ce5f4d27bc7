#include "ws_session_driver.h"

#include <gtest/gtest.h>

#include "ws_peer.h"

namespace subcorn::ws::test {

std::vector<std::string> whole(const std::string& s) { return {s}; }

std::vector<std::string> bytewise(const std::string& s) {
  std::vector<std::string> out;
  for (char c : s) out.emplace_back(1, c);
  return out;
}

std::vector<std::string> split_at(const std::string& s, size_t at) { return {s.substr(0, at), s.substr(at)}; }

static std::string describe(const Event& e) {
  switch (e.type) {
    case EventType::Message: return (e.text ? "text " : "binary ") + show(e.payload);
    case EventType::Ping: return "ping " + show(e.payload);
    case EventType::Pong: return "pong " + show(e.payload);
    case EventType::Close: return "close " + std::to_string(e.code) + " " + show(e.reason);
    case EventType::Error: return "error " + std::to_string(e.code);
    case EventType::NeedMore: break;
  }
  return "needmore";
}

SessionFeed feed(const std::vector<std::string>& pieces, const SessionConfig& config) {
  SessionFeed result;
  Session session(config);
  ServerReader reader(config.deflate);
  std::string pending;
  std::string out;
  int idle_events = 0;
  for (const std::string& piece : pieces) {
    pending += piece;
    for (;;) {
      // A copy to feed, so that ASan sees any read past `size`, and the
      // session may unmask it in place.
      std::vector<char> input(pending.begin(), pending.end());
      size_t consumed = 12345;
      Event ev = session.next(input.data(), input.size(), &consumed, out);
      EXPECT_LE(consumed, input.size());
      if (consumed > input.size()) return result;
      EXPECT_LE(session.buffered_bytes(), config.max_message_size);
      // A view into the input lies within what was consumed.
      const char* begin = input.data();
      const char* end = input.data() + input.size();
      for (std::string_view v : {ev.payload, ev.reason}) {
        if (v.data() >= begin && v.data() < end) {
          EXPECT_LE(v.data() + v.size(), begin + consumed) << "view beyond the consumed input";
        }
      }
      if (ev.type == EventType::NeedMore) {
        EXPECT_EQ(consumed, input.size()) << "NeedMore must consume everything";
        pending.clear();
        break;
      }
      result.events.push_back(describe(ev));
      pending.erase(0, consumed);
      if (ev.type == EventType::Close || ev.type == EventType::Error) {
        EXPECT_TRUE(session.state() == State::Closed || session.state() == State::CloseReceived);
        EXPECT_EQ(session.close_code(), ev.code);
        // Final: the same event again, nothing consumed, nothing sent.
        std::string more_out;
        size_t again = 1;
        std::vector<char> rest(pending.begin(), pending.end());
        Event ev2 = session.next(rest.data(), rest.size(), &again, more_out);
        EXPECT_EQ(describe(ev2), describe(ev));
        EXPECT_EQ(again, 0u);
        EXPECT_TRUE(more_out.empty());
        EXPECT_NE(session.send_message(true, "x", more_out), nullptr);
        EXPECT_TRUE(more_out.empty());
        result.rest = pending;
        result.out = reader.read(out);
        result.state = session.state();
        return result;
      }
      idle_events = consumed == 0 ? idle_events + 1 : 0;
      if (idle_events > 2) {
        ADD_FAILURE() << "events without progress";
        return result;
      }
    }
  }
  result.out = reader.read(out);
  result.state = session.state();
  return result;
}

}  // namespace subcorn::ws::test
