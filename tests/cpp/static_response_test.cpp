// What the server answers for a static file (http/static_response.h): the
// request's fields read once, then status, fields and body bytes.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "http/static_response.h"

namespace subcorn::http {
namespace {

constexpr int64_t MTIME_NS = 784111777'500000000;  // Sun, 06 Nov 1994 08:49:37.5 GMT
const StaticFileFacts TEXT_FILE{0xa1, 1000, MTIME_NS, "text/plain; charset=utf-8", Coding::Identity, true};
const StaticFileFacts IMAGE{0xa2, 1000, MTIME_NS, "image/png", Coding::Identity, false};

RequestHead head(std::string_view method, std::initializer_list<Header> headers) {
  RequestHead h;
  h.method = method;
  h.target = h.path = "/static/a.txt";
  h.headers = headers;
  return h;
}

std::string field(const StaticAnswer& a, std::string_view name) {
  std::string value;
  for (const auto& [n, v] : a.headers)
    if (n == name) value += (value.empty() ? "" : "|") + v;
  return value;
}

StaticAnswer answer(std::string_view method, std::initializer_list<Header> headers,
                    const StaticFileFacts& file = TEXT_FILE, long max_age = 3600) {
  RequestHead h = head(method, headers);
  StaticRequest request(h);
  return answer_file(request, file, max_age);
}

TEST(StaticResponse, AWholeFile) {
  StaticAnswer a = answer("GET", {});
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(field(a, "etag"), file_entity_tag(0xa1, MTIME_NS, 1000, ""));
  EXPECT_EQ(field(a, "last-modified"), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(field(a, "cache-control"), "public, max-age=3600");
  EXPECT_EQ(field(a, "content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(field(a, "content-length"), "1000");
  EXPECT_EQ(field(a, "accept-ranges"), "bytes");
  EXPECT_EQ(field(a, "vary"), "Accept-Encoding");
  EXPECT_EQ(field(a, "content-encoding"), "");
  EXPECT_TRUE(a.file_body);
  EXPECT_EQ(a.file_offset, 0);
  EXPECT_EQ(a.file_length, 1000);
}

TEST(StaticResponse, HeadSaysTheLengthAndSendsNothing) {
  StaticAnswer a = answer("HEAD", {});
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(field(a, "content-length"), "1000");
  EXPECT_FALSE(a.file_body);
}

TEST(StaticResponse, CacheControlFromMaxAge) {
  EXPECT_EQ(field(answer("GET", {}, TEXT_FILE, 0), "cache-control"), "public, max-age=0");
  EXPECT_EQ(field(answer("GET", {}, TEXT_FILE, -1), "cache-control"), "");
}

TEST(StaticResponse, ACompressedSibling) {
  StaticFileFacts br = TEXT_FILE;
  br.coding = Coding::Brotli;
  br.size = 300;
  StaticAnswer a = answer("GET", {});
  StaticAnswer b = answer("GET", {}, br);
  EXPECT_EQ(field(b, "content-encoding"), "br");
  EXPECT_EQ(field(b, "content-type"), "text/plain; charset=utf-8");  // the name asked for
  EXPECT_EQ(field(b, "content-length"), "300");
  EXPECT_NE(field(a, "etag"), field(b, "etag"));
  EXPECT_TRUE(field(b, "etag").ends_with("-br\""));
}

TEST(StaticResponse, VaryOnlyForCompressibleTypes) {
  EXPECT_EQ(field(answer("GET", {}, IMAGE), "vary"), "");
  EXPECT_EQ(field(answer("GET", {{"if-none-match", "*"}}), "vary"), "Accept-Encoding");
}

TEST(StaticResponse, NotModified) {
  std::string etag = field(answer("GET", {}), "etag");
  for (StaticAnswer a : {answer("GET", {{"if-none-match", etag}}),
                         answer("HEAD", {{"if-none-match", "\"x\", " + etag}}),
                         answer("GET", {{"if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT"}})}) {
    EXPECT_EQ(a.status, 304);
    EXPECT_EQ(field(a, "etag"), etag);
    EXPECT_EQ(field(a, "cache-control"), "public, max-age=3600");
    EXPECT_EQ(field(a, "content-length"), "");
    EXPECT_EQ(field(a, "content-type"), "");
    EXPECT_FALSE(a.file_body);
  }
  // A modification within the second the client has: its date says nothing newer.
  EXPECT_EQ(answer("GET", {{"if-modified-since", "Sun, 06 Nov 1994 08:49:36 GMT"}}).status, 200);
}

TEST(StaticResponse, PreconditionFailed) {
  StaticAnswer a = answer("GET", {{"if-match", "\"other\""}});
  EXPECT_EQ(a.status, 412);
  EXPECT_FALSE(a.file_body);
  EXPECT_FALSE(a.text.empty());
}

TEST(StaticResponse, Ranges) {
  StaticAnswer a = answer("GET", {{"range", "bytes=100-199"}});
  EXPECT_EQ(a.status, 206);
  EXPECT_EQ(field(a, "content-range"), "bytes 100-199/1000");
  EXPECT_EQ(field(a, "content-length"), "100");
  EXPECT_EQ(a.file_offset, 100);
  EXPECT_EQ(a.file_length, 100);
  a = answer("GET", {{"range", "bytes=-10"}});
  EXPECT_EQ(field(a, "content-range"), "bytes 990-999/1000");
  a = answer("GET", {{"range", "bytes=1000-"}});
  EXPECT_EQ(a.status, 416);
  EXPECT_EQ(field(a, "content-range"), "bytes */1000");
  EXPECT_FALSE(a.file_body);
  a = answer("GET", {{"range", "bytes=0-1,5-6"}});
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.file_length, 1000);
  a = answer("HEAD", {{"range", "bytes=0-9"}});
  EXPECT_EQ(a.status, 206);
  EXPECT_EQ(field(a, "content-length"), "10");
  EXPECT_FALSE(a.file_body);
}

TEST(StaticResponse, IfRangeDecidesWhetherTheRangeApplies) {
  std::string etag = field(answer("GET", {}), "etag");
  EXPECT_EQ(answer("GET", {{"range", "bytes=0-9"}, {"if-range", etag}}).status, 206);
  EXPECT_EQ(answer("GET", {{"range", "bytes=0-9"}, {"if-range", "\"old\""}}).status, 200);
  EXPECT_EQ(answer("GET", {{"range", "bytes=0-9"}, {"if-range", "Sun, 06 Nov 1994 08:49:37 GMT"}}).status, 206);
  EXPECT_EQ(answer("GET", {{"range", "bytes=0-9"}, {"if-range", "Sun, 06 Nov 1994 08:49:38 GMT"}}).status, 200);
}

TEST(StaticResponse, FieldsSentTwice) {
  std::string etag = field(answer("GET", {}), "etag");
  // A list field may come as several lines: they are one list.
  EXPECT_EQ(answer("GET", {{"if-none-match", "\"x\""}, {"if-none-match", etag}}).status, 304);
  // Range is no list: two of them are ignored, the whole file is sent.
  EXPECT_EQ(answer("GET", {{"range", "bytes=0-1"}, {"range", "bytes=2-3"}}).status, 200);
}

TEST(StaticResponse, MethodsAndRefusals) {
  RequestHead post = head("POST", {});
  EXPECT_FALSE(StaticRequest(post).get_or_head());
  StaticAnswer a = answer_refusal(405);
  EXPECT_EQ(a.status, 405);
  EXPECT_EQ(field(a, "allow"), "GET, HEAD");
  EXPECT_EQ(a.text, "Method Not Allowed\n");
  EXPECT_EQ(field(answer_refusal(404), "content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(field(answer_refusal(406, true), "vary"), "Accept-Encoding");
  StaticAnswer r = answer_redirect("/static/docs/?x=1");
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(field(r, "location"), "/static/docs/?x=1");
}

}  // namespace
}  // namespace subcorn::http
