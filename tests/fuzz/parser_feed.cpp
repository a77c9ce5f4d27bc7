#include "parser_feed.h"

#include <algorithm>
#include <cstdint>

namespace subcorn::fuzz {
namespace {

using http::Event;
using http::EventType;
using http::RequestHead;
using http::RequestParser;

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_ows(char c) { return c == ' ' || c == '\t'; }

// What the RequestHead promises whatever the input was.
void check_head(const RequestHead& h) {
  FUZZ_CHECK(!h.method.empty());
  FUZZ_CHECK(!h.target.empty());
  FUZZ_CHECK(h.version_major == 1);
  FUZZ_CHECK(h.version_minor == 0 || h.version_minor == 1);
  FUZZ_CHECK(h.content_length >= -1);
  FUZZ_CHECK(!(h.chunked && h.content_length >= 0));
  for (char c : h.target) FUZZ_CHECK(static_cast<unsigned char>(c) > 0x20 && c != 0x7f);
  FUZZ_CHECK(h.path == "*" || h.path.starts_with('/'));
  size_t hosts = 0;  // one Host, saying the authority, or none without one
  for (const http::Header& hd : h.headers) {
    if (hd.name == "host") {
      ++hosts;
      FUZZ_CHECK(hd.value == h.authority);
    }
  }
  FUZZ_CHECK(hosts <= 1);
  if (!h.authority.empty()) FUZZ_CHECK(hosts == 1);
  for (const http::Header& hd : h.headers) {
    FUZZ_CHECK(!hd.name.empty());
    FUZZ_CHECK(std::none_of(hd.name.begin(), hd.name.end(), is_upper));
    if (!hd.value.empty()) FUZZ_CHECK(!is_ows(hd.value.front()) && !is_ows(hd.value.back()));
    for (char c : hd.value) FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
  }
}

// A deep copy of head(), to compare feedings and to check that its views
// still hold the same bytes later (under ASan: still point at live memory).
std::string describe(const RequestHead& h) {
  std::string s = std::string(h.method) + ' ' + std::string(h.target) + " (" + std::string(h.path) + " at " +
                  std::string(h.authority) + ") HTTP/1." +
                  std::to_string(h.version_minor) + (h.keep_alive ? " keep-alive" : " close") +
                  (h.chunked ? " chunked" : "") + " cl=" + std::to_string(h.content_length) +
                  (h.expect_continue ? " expect" : "") + (h.upgrade ? " upgrade" : "");
  for (const http::Header& hd : h.headers) s += "\n" + std::string(hd.name) + ": [" + std::string(hd.value) + "]";
  return s;
}

// Byte-by-byte feeding of longer streams would slow the fuzzers more than it finds.
constexpr size_t BYTEWISE_MAX = 384;

}  // namespace

Trace feed(std::string_view stream, std::vector<size_t> cuts, const http::Limits& limits) {
  for (size_t& c : cuts) c = std::min(c, stream.size());
  cuts.push_back(stream.size());
  std::sort(cuts.begin(), cuts.end());

  RequestParser parser(limits);
  Trace trace;
  std::string pending;
  size_t pending_at = 0;  // stream offset of pending[0]
  size_t fed = 0;
  std::string last_head;  // describe() of the last Head, empty before one
  bool in_body = false;
  // The current message's framing, from its Head, and the body seen so far:
  // never more body than declared (or than max_body_bytes allows).
  int64_t declared = -1;
  bool chunked = false;
  int64_t body_bytes = 0;
  for (size_t cut : cuts) {
    pending.append(stream.substr(fed, cut - fed));
    fed = cut;
    int idle = 0;  // events in a row that consumed nothing
    for (;;) {
      if (!last_head.empty()) FUZZ_CHECK(describe(parser.head()) == last_head);
      size_t consumed = SIZE_MAX;
      Event ev = parser.next(pending, &consumed);
      FUZZ_CHECK(consumed <= pending.size());
      idle = consumed == 0 ? idle + 1 : 0;
      FUZZ_CHECK(idle <= 2);  // an event with no bytes only follows one with bytes
      size_t end = pending_at + consumed;
      switch (ev.type) {
        case EventType::NeedMore:
          FUZZ_CHECK(consumed == pending.size());
          break;
        case EventType::Head:
          FUZZ_CHECK(!in_body);
          FUZZ_CHECK(consumed > 0);
          FUZZ_CHECK(parser.in_message());
          check_head(parser.head());
          last_head = describe(parser.head());
          trace.push_back({EventType::Head, last_head, 0, end});
          in_body = true;
          declared = parser.head().content_length;
          chunked = parser.head().chunked;
          body_bytes = 0;
          if (declared >= 0 && limits.max_body_bytes >= 0) FUZZ_CHECK(declared <= limits.max_body_bytes);
          break;
        case EventType::Body:
          FUZZ_CHECK(in_body);
          FUZZ_CHECK(parser.in_message());
          FUZZ_CHECK(!ev.body.empty());
          // "Body consumes exactly its view": the view ends where the
          // consumed bytes end (chunk framing before it is consumed too).
          FUZZ_CHECK(ev.body.data() >= pending.data());
          FUZZ_CHECK(ev.body.data() + ev.body.size() == pending.data() + consumed);
          body_bytes += static_cast<int64_t>(ev.body.size());
          FUZZ_CHECK(chunked || declared >= 0);  // no framing, no body
          if (declared >= 0) FUZZ_CHECK(body_bytes <= declared);
          if (limits.max_body_bytes >= 0) FUZZ_CHECK(body_bytes <= limits.max_body_bytes);
          if (!trace.empty() && trace.back().type == EventType::Body) {
            trace.back().text.append(ev.body);
          } else {
            trace.push_back({EventType::Body, std::string(ev.body), 0, 0});
          }
          break;
        case EventType::MessageComplete:
          FUZZ_CHECK(in_body);
          FUZZ_CHECK(!parser.in_message());
          if (declared >= 0) FUZZ_CHECK(body_bytes == declared);
          in_body = false;
          trace.push_back({EventType::MessageComplete, {}, 0, end});
          break;
        case EventType::Error: {
          FUZZ_CHECK(ev.status == 400 || ev.status == 413 || ev.status == 414 || ev.status == 431 || ev.status == 501);
          FUZZ_CHECK(!ev.reason.empty());
          FUZZ_CHECK(!parser.in_message());
          trace.push_back({EventType::Error, std::string(ev.reason), ev.status, 0});
          // Final: the same error again, nothing consumed, whatever comes next,
          // and the head of the request before is undisturbed.
          for (std::string_view more : {std::string_view(pending), std::string_view("GET / HTTP/1.1\r\n\r\n")}) {
            size_t again = SIZE_MAX;
            Event ev2 = parser.next(more, &again);
            FUZZ_CHECK(ev2.type == EventType::Error && ev2.status == ev.status && again == 0);
          }
          if (!last_head.empty()) FUZZ_CHECK(describe(parser.head()) == last_head);
          FUZZ_CHECK(!parser.in_message());
          return trace;
        }
      }
      pending.erase(0, consumed);
      pending_at += consumed;
      if (ev.type == EventType::NeedMore) break;
    }
  }
  FUZZ_CHECK(pending.empty() && pending_at == stream.size());  // NeedMore took everything
  // A reset parser is as good as a new one, whatever state it was left in.
  // (HTTP/1.0: a request that needs no header field, which max_headers may forbid.)
  constexpr std::string_view fresh = "GET / HTTP/1.0\r\n\r\n";
  parser.reset();
  RequestParser new_parser(limits);
  size_t consumed = SIZE_MAX, new_consumed = SIZE_MAX;
  Event ev = parser.next(fresh, &consumed), new_ev = new_parser.next(fresh, &new_consumed);
  FUZZ_CHECK(ev.type == EventType::Head || ev.type == EventType::Error);  // a whole head, an answer
  FUZZ_CHECK(ev.type == new_ev.type && ev.status == new_ev.status && consumed == new_consumed);
  if (ev.type == EventType::Head) FUZZ_CHECK(describe(parser.head()) == describe(new_parser.head()));
  return trace;
}

namespace {
bool is_size_limit(const Step& s) { return s.type == EventType::Error && (s.status == 414 || s.status == 431); }
}  // namespace

void check_same(const Trace& a, const Trace& b) {
  size_t common = std::min(a.size(), b.size());
  for (size_t i = 0; i < common; ++i) {
    const Step &x = a[i], &y = b[i];
    FUZZ_CHECK(x.type == y.type);
    if (x.type == EventType::Error) {
      FUZZ_CHECK(x.status == y.status || is_size_limit(x) || is_size_limit(y));
      continue;
    }
    FUZZ_CHECK(x.text == y.text);
    FUZZ_CHECK(x.end == y.end);
  }
  // The verdict the size limit came before may lie past the input's end.
  const Trace& longer = a.size() > b.size() ? a : b;
  if (longer.size() > common) FUZZ_CHECK(longer.size() == common + 1 && is_size_limit(longer.back()));
}

Trace feed_every_way(std::string_view stream, const std::vector<size_t>& cuts, const http::Limits& limits) {
  Trace whole = feed(stream, {}, limits);
  check_same(whole, feed(stream, cuts, limits));
  if (stream.size() <= BYTEWISE_MAX) {
    std::vector<size_t> every_byte(stream.size());
    for (size_t i = 0; i < every_byte.size(); ++i) every_byte[i] = i + 1;
    check_same(whole, feed(stream, every_byte, limits));
  }
  return whole;
}

FirstMessage first_message(const Trace& trace) {
  FirstMessage m;
  for (const Step& s : trace) {
    if (s.type == EventType::Body) m.body += s.text;
    if (s.type == EventType::Error) m.error = &s;
    if (s.type == EventType::MessageComplete) m.complete = true;
    if (s.type == EventType::MessageComplete || s.type == EventType::Error) break;
  }
  return m;
}

}  // namespace subcorn::fuzz
