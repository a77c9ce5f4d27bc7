// The parser's contract with its caller, step by step: what each call
// consumes, when views are valid, and what happens after an error.
#include <gtest/gtest.h>

#include <string>

#include "http/request_parser.h"

namespace subcorn::http {
namespace {

Event step(RequestParser& p, std::string_view in, size_t* consumed) {
  *consumed = 99999;
  return p.next(in, consumed);
}

TEST(RequestParserApi, HeadConsumesThroughBlankLineAndNoFurther) {
  RequestParser p;
  std::string in = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2";
  size_t n;
  Event e = step(p, in, &n);
  ASSERT_EQ(e.type, EventType::Head);
  EXPECT_EQ(n, in.find("GET /2"));  // the final CRLF is part of the head
  EXPECT_TRUE(p.in_message());
  in.erase(0, n);
  e = step(p, in, &n);
  EXPECT_EQ(e.type, EventType::MessageComplete);
  EXPECT_EQ(n, 0u);
  EXPECT_FALSE(p.in_message());
  e = step(p, in, &n);
  EXPECT_EQ(e.type, EventType::NeedMore);
  EXPECT_EQ(n, in.size());
}

TEST(RequestParserApi, BodyViewsTheInputAndCompleteNeedsNoMoreBytes) {
  RequestParser p;
  std::string in = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  size_t n;
  ASSERT_EQ(step(p, in, &n).type, EventType::Head);
  std::string_view rest = std::string_view(in).substr(n);
  Event e = step(p, rest, &n);
  ASSERT_EQ(e.type, EventType::Body);
  EXPECT_EQ(e.body, "abc");
  EXPECT_EQ(e.body.data(), rest.data());
  EXPECT_EQ(n, 3u);
  // The body ended with the input: MessageComplete comes from an empty call.
  e = step(p, std::string_view(), &n);
  EXPECT_EQ(e.type, EventType::MessageComplete);
  EXPECT_EQ(n, 0u);
}

TEST(RequestParserApi, ChunkedCompleteConsumesTheFinalCrlf) {
  RequestParser p;
  std::string in = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nT: v\r\n\r\nNEXT";
  size_t n, total = 0;
  EventType t;
  do {
    t = step(p, std::string_view(in).substr(total), &n).type;
    total += n;
  } while (t != EventType::MessageComplete && t != EventType::Error);
  EXPECT_EQ(t, EventType::MessageComplete);
  EXPECT_EQ(in.substr(total), "NEXT");
}

TEST(RequestParserApi, ErrorIsStickyUntilReset) {
  RequestParser p;
  size_t n;
  Event e = step(p, "GET/ HTTP/1.1\r\n\r\n", &n);
  ASSERT_EQ(e.type, EventType::Error);
  EXPECT_EQ(e.status, 400);
  EXPECT_FALSE(e.reason.empty());
  e = step(p, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", &n);
  EXPECT_EQ(e.type, EventType::Error);
  EXPECT_EQ(n, 0u);
  p.reset();
  e = step(p, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", &n);
  EXPECT_EQ(e.type, EventType::Head);
  EXPECT_EQ(p.head().target, "/");
}

TEST(RequestParserApi, ResetDropsAPartialRequest) {
  RequestParser p;
  size_t n;
  EXPECT_EQ(step(p, "POST /a HTTP/1.1\r\nContent-Le", &n).type, EventType::NeedMore);
  p.reset();
  Event e = step(p, "GET /b HTTP/1.0\r\n\r\n", &n);
  ASSERT_EQ(e.type, EventType::Head);
  EXPECT_EQ(p.head().target, "/b");
  EXPECT_TRUE(p.head().headers.empty());
}

TEST(RequestParserApi, UnknownMethodIsReadToItsEndThenRefused) {
  RequestParser p;
  size_t n;
  // Not yet known whether "FROB" is a method (a space follows) or a broken line.
  EXPECT_EQ(step(p, "FRO", &n).type, EventType::NeedMore);
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(step(p, "BNICATE", &n).type, EventType::NeedMore);
  EXPECT_EQ(n, 7u);
  Event e = step(p, " / HTTP/1.1\r\n", &n);
  ASSERT_EQ(e.type, EventType::Error);
  EXPECT_EQ(e.status, 501);
  EXPECT_EQ(step(p, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", &n).status, 501);
  EXPECT_EQ(n, 0u);
  // reset() also forgets a token being read.
  p.reset();
  EXPECT_EQ(step(p, "FROB", &n).type, EventType::NeedMore);
  p.reset();
  EXPECT_EQ(step(p, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", &n).type, EventType::Head);
}

TEST(RequestParserApi, ErrorAfterHeadLeavesNoMessageOpen) {
  RequestParser p;
  std::string in = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
  size_t n;
  ASSERT_EQ(step(p, in, &n).type, EventType::Head);
  EXPECT_TRUE(p.in_message());
  Event e = step(p, std::string_view(in).substr(n), &n);
  EXPECT_EQ(e.type, EventType::Error);
  EXPECT_EQ(e.status, 400);
  EXPECT_FALSE(p.in_message());
}

TEST(RequestParserApi, HeadStorageIsReusedAcrossRequests) {
  // Two buffers alternate, so the third request's head lands where the
  // first one's did: no allocation once a connection is warm.
  RequestParser p;
  const char* where[4];
  for (int i = 0; i < 4; ++i) {
    std::string in = "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t n;
    ASSERT_EQ(step(p, in, &n).type, EventType::Head);
    where[i] = p.head().target.data();
    ASSERT_EQ(step(p, std::string_view(in).substr(n), &n).type, EventType::MessageComplete);
  }
  EXPECT_NE(where[0], where[1]);
  EXPECT_EQ(where[0], where[2]);
  EXPECT_EQ(where[1], where[3]);
}

TEST(RequestParserApi, HeadOutlivesTheInputAndTheNextHeadArriving) {
  RequestParser p;
  size_t n;
  {
    std::string in = "GET /first HTTP/1.1\r\nX-A: one\r\nHost: h\r\n\r\n";
    ASSERT_EQ(step(p, in, &n).type, EventType::Head);
    ASSERT_EQ(step(p, std::string_view(in).substr(n), &n).type, EventType::MessageComplete);
  }  // input gone
  std::string second = "GET /second HTTP/1.1\r\nHost: h\r\nX-B: " + std::string(10000, 'b') + "\r\n";
  EXPECT_EQ(step(p, second, &n).type, EventType::NeedMore);
  EXPECT_EQ(p.head().target, "/first");
  ASSERT_EQ(p.head().headers.size(), 2u);
  EXPECT_EQ(p.head().headers[0].name, "x-a");
  EXPECT_EQ(p.head().headers[0].value, "one");
  ASSERT_EQ(step(p, "\r\n", &n).type, EventType::Head);
  EXPECT_EQ(p.head().target, "/second");
}

TEST(RequestParserApi, PathAndAuthorityOutliveTheNextHeadArriving) {
  // "/?x=1" is not in the target as received: the parser builds it in its
  // own storage, which must hold while the next head grows the other buffer.
  RequestParser p;
  size_t n;
  std::string in = "GET http://a.example?x=1 HTTP/1.1\r\nHost: other\r\n\r\n";
  ASSERT_EQ(step(p, in, &n).type, EventType::Head);
  ASSERT_EQ(step(p, std::string_view(in).substr(n), &n).type, EventType::MessageComplete);
  in.assign(in.size(), '\0');
  std::string second = "GET /second HTTP/1.1\r\nHost: h\r\nX-B: " + std::string(10000, 'b') + "\r\n";
  EXPECT_EQ(step(p, second, &n).type, EventType::NeedMore);
  EXPECT_EQ(p.head().path, "/?x=1");
  EXPECT_EQ(p.head().authority, "a.example");
  ASSERT_EQ(p.head().headers.size(), 1u);
  EXPECT_EQ(p.head().headers[0].value, "a.example");
}

TEST(RequestParserApi, HugeContentLengthWithoutLimit) {
  RequestParser p;
  size_t n;
  ASSERT_EQ(step(p, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", &n).type, EventType::Head);
  EXPECT_EQ(p.head().content_length, INT64_MAX);
}

TEST(RequestParserApi, DefaultLimits) {
  Limits l;
  EXPECT_EQ(l.max_head_bytes, 64u * 1024);
  EXPECT_EQ(l.max_headers, 100u);
  EXPECT_EQ(l.max_body_bytes, -1);
  // The line and field limits come from the flags (the shard fills them).
  EXPECT_EQ(l.max_request_line, Limits::NO_LIMIT);
  EXPECT_EQ(l.max_field_bytes, Limits::NO_LIMIT);
}

TEST(RequestParserApi, EmptyInputIsNeedMore) {
  RequestParser p;
  size_t n;
  EXPECT_EQ(step(p, std::string_view(), &n).type, EventType::NeedMore);
  EXPECT_EQ(n, 0u);
}

}  // namespace
}  // namespace subcorn::http
