#include "parser_driver.h"

#include <gtest/gtest.h>

#include "http/request_parser.h"

namespace subcorn::http::test {
namespace {

std::string describe_head(const RequestHead& h) {
  std::string s = "head " + std::string(h.method) + " " + std::string(h.target) + " HTTP/" +
                  std::to_string(h.version_major) + "." + std::to_string(h.version_minor);
  // The origin-form path is the target itself unless the target is absolute.
  if (h.path != h.target) s += " path=" + std::string(h.path);
  if (!h.keep_alive) s += " close";
  if (h.chunked) s += " chunked";
  if (h.content_length >= 0) s += " cl=" + std::to_string(h.content_length);
  if (h.expect_continue) s += " expect";
  if (h.upgrade) s += " upgrade";
  return s;
}

// A deep copy of head(), to check later that its views still hold the same
// bytes (and, under ASan, still point at live memory).
Trace snapshot(const RequestHead& h) {
  // The authority is the host entry's value (which the trace shows), and
  // there is exactly one such entry, or neither.
  std::vector<std::string_view> hosts;
  for (const Header& hd : h.headers) {
    if (hd.name == "host") hosts.push_back(hd.value);
  }
  EXPECT_LE(hosts.size(), 1u);
  EXPECT_EQ(h.authority, hosts.empty() ? std::string_view() : hosts[0]);
  Trace t{describe_head(h)};
  for (const Header& hd : h.headers) t.push_back("h " + std::string(hd.name) + "=[" + std::string(hd.value) + "]");
  return t;
}

}  // namespace

std::vector<std::string> whole(const std::string& s) { return {s}; }

std::vector<std::string> bytewise(const std::string& s) {
  std::vector<std::string> out;
  for (char c : s) out.emplace_back(1, c);
  return out;
}

Feed feed(const std::vector<std::string>& pieces, const Limits& limits) {
  Feed out;
  RequestParser parser(limits);
  std::string pending;
  Trace last_head;
  bool in_body = false;
  int idle_events = 0;  // events in a row that consumed nothing
  for (const std::string& piece : pieces) {
    pending += piece;
    for (;;) {
      if (!last_head.empty()) {
        EXPECT_EQ(snapshot(parser.head()), last_head) << "head() changed before the next Head";
      }
      size_t consumed = 12345;
      Event ev = parser.next(pending, &consumed);
      EXPECT_LE(consumed, pending.size());
      if (consumed > pending.size()) return out;
      switch (ev.type) {
        case EventType::NeedMore:
          EXPECT_EQ(consumed, pending.size()) << "NeedMore must consume everything";
          break;
        case EventType::Head:
          EXPECT_FALSE(in_body);
          EXPECT_TRUE(parser.in_message());
          last_head = snapshot(parser.head());
          out.trace.insert(out.trace.end(), last_head.begin(), last_head.end());
          in_body = true;
          break;
        case EventType::Body: {
          EXPECT_TRUE(in_body);
          EXPECT_TRUE(parser.in_message());
          EXPECT_FALSE(ev.body.empty());
          EXPECT_GE(ev.body.data(), pending.data());
          EXPECT_LE(ev.body.data() + ev.body.size(), pending.data() + consumed) << "Body outside consumed input";
          std::string data(ev.body);
          if (!out.trace.empty() && out.trace.back().starts_with("body [")) {
            std::string& b = out.trace.back();
            b.insert(b.size() - 1, data);
          } else {
            out.trace.push_back("body [" + data + "]");
          }
          break;
        }
        case EventType::MessageComplete:
          EXPECT_TRUE(in_body);
          EXPECT_FALSE(parser.in_message());
          in_body = false;
          out.trace.push_back("complete");
          out.rest_after_complete.push_back(pending.substr(consumed));
          break;
        case EventType::Error: {
          EXPECT_FALSE(parser.in_message());
          EXPECT_FALSE(ev.reason.empty());
          out.trace.push_back("error " + std::to_string(ev.status));
          // Dead for good: the same error again, nothing consumed.
          size_t again = 1;
          Event ev2 = parser.next(pending, &again);
          EXPECT_EQ(ev2.type, EventType::Error);
          EXPECT_EQ(ev2.status, ev.status);
          EXPECT_EQ(again, 0u);
          // A failed request does not disturb the head of the one before.
          if (!last_head.empty()) {
            EXPECT_EQ(snapshot(parser.head()), last_head);
          }
          return out;
        }
      }
      idle_events = consumed == 0 ? idle_events + 1 : 0;
      if (idle_events > 2) {
        ADD_FAILURE() << "events without progress";
        return out;
      }
      pending.erase(0, consumed);
      if (ev.type == EventType::NeedMore) break;
    }
  }
  return out;
}

}  // namespace subcorn::http::test
