// Response serialisation, checked by feeding what it writes back to llhttp
// in response mode: a real parser is the judge of valid HTTP.
#include <gtest/gtest.h>

#include <ctime>
#include <string>

#include "http/http_date.h"
#include "http/response.h"
#include "response_parse.h"

namespace subcorn::http {
namespace {

using std::string_view_literals::operator""sv;

using test::Parsed;
using test::parse_response;

TEST(Response, ReasonPhrases) {
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(101), "Switching Protocols");
  EXPECT_EQ(reason_phrase(204), "No Content");
  EXPECT_EQ(reason_phrase(304), "Not Modified");
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(413), "Content Too Large");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(500), "Internal Server Error");
  EXPECT_EQ(reason_phrase(599), "");
  EXPECT_EQ(reason_phrase(0), "");
  EXPECT_EQ(reason_phrase(-1), "");
}

TEST(Response, StatusLines) {
  std::string out;
  append_status_line(out, 200);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\n");
  out.clear();
  append_status_line(out, 404, true);
  EXPECT_EQ(out, "HTTP/1.0 404 Not Found\r\n");
  out.clear();
  append_status_line(out, 299);
  EXPECT_EQ(out, "HTTP/1.1 299 \r\n");  // unknown: empty phrase, SP kept
}

TEST(Response, StatusLineAndHeadersParseBack) {
  for (int status : {200, 201, 299, 404, 418, 500, 599}) {
    std::string out;
    append_status_line(out, status);
    append_header(out, "content-length", "2");
    append_header(out, "x-empty", "");
    out += "\r\nok";
    Parsed p = parse_response(out);
    EXPECT_EQ(p.error, HPE_OK) << out;
    EXPECT_TRUE(p.complete) << out;
    EXPECT_EQ(p.status, status);
    EXPECT_EQ(p.headers, "content-length: 2\nx-empty: \n");
    EXPECT_EQ(p.body, "ok");
  }
}

TEST(Response, AppendHeaderWritesExactly) {
  std::string out = "x";
  append_header(out, "Content-Type", "text/html; charset=utf-8");
  EXPECT_EQ(out, "xContent-Type: text/html; charset=utf-8\r\n");
}

TEST(Response, HeaderNameValidation) {
  for (std::string_view ok : {"a", "content-type", "X-Custom_1", "!#$%&'*+-.^_`|~", "ABC09"}) {
    EXPECT_TRUE(valid_header_name(ok)) << ok;
  }
  const std::string_view bad_names[] = {"", "a b", "a:b", "a\r\nb", "a\tb", "(x)", "a/b", "x@y", "\"q\"",
                                       "{}", "a=b", "\xc3\xa9", "a\x7f", "a\0b"sv};
  for (std::string_view bad : bad_names) {
    EXPECT_FALSE(valid_header_name(bad)) << bad;
  }
}

TEST(Response, HeaderValueValidation) {
  for (std::string_view ok : {"", "plain", "with spaces and\ttabs", "caf\xc3\xa9", "\"quoted\"; q=0.5"}) {
    EXPECT_TRUE(valid_header_value(ok)) << ok;
  }
  const std::string_view bad_values[] = {"a\r\nSet-Cookie: x", "a\nb", "a\rb", "\r", "a\0b"sv};
  for (std::string_view bad : bad_values) {
    EXPECT_FALSE(valid_header_value(bad));
  }
}

TEST(Response, ChunkFraming) {
  std::string out;
  append_chunk(out, "hello");
  EXPECT_EQ(out, "5\r\nhello\r\n");
  out.clear();
  append_chunk(out, "");
  EXPECT_EQ(out, "");  // an empty chunk would end the body
  append_chunk(out, std::string(26, 'z'));
  EXPECT_EQ(out, "1a\r\n" + std::string(26, 'z') + "\r\n");
  out.clear();
  append_chunk(out, std::string(4096, 'q'));
  EXPECT_EQ(out.substr(0, 6), "1000\r\n");
  EXPECT_EQ(last_chunk(), "0\r\n\r\n");
}

TEST(Response, ChunkSizeLineAlone) {
  std::string out = "x";
  append_chunk_size(out, 11);
  EXPECT_EQ(out, "xb\r\n");
  out.clear();
  append_chunk_size(out, 0x10000000000);  // a file bigger than 4 GiB
  EXPECT_EQ(out, "10000000000\r\n");
}

TEST(Response, ChunkedResponseParsesBack) {
  std::string out;
  append_status_line(out, 200);
  append_header(out, "transfer-encoding", "chunked");
  out += "\r\n";
  std::string expected;
  for (size_t n : {1, 15, 16, 255, 256, 5000}) {
    std::string data(n, static_cast<char>('a' + n % 26));
    append_chunk(out, data);
    expected += data;
  }
  append_chunk(out, "");
  out += last_chunk();
  Parsed p = parse_response(out);
  EXPECT_EQ(p.error, HPE_OK);
  EXPECT_TRUE(p.complete);
  EXPECT_EQ(p.body, expected);
}

TEST(Response, ContinueResponse) {
  EXPECT_EQ(continue_response(), "HTTP/1.1 100 Continue\r\n\r\n");
  Parsed p = parse_response(continue_response());
  EXPECT_EQ(p.error, HPE_OK);
  EXPECT_TRUE(p.complete);
  EXPECT_EQ(p.status, 100);
}

TEST(Response, ErrorResponsesParseBack) {
  for (int status : {400, 408, 413, 414, 431, 500, 501, 503}) {
    std::string_view text = error_response(status);
    Parsed p = parse_response(text);
    EXPECT_EQ(p.error, HPE_OK) << text;
    EXPECT_TRUE(p.complete) << text;
    EXPECT_EQ(p.status, status);
    EXPECT_EQ(p.body, reason_phrase(status));
    EXPECT_FALSE(p.keep_alive);
    EXPECT_EQ(p.headers, "content-type: text/plain; charset=utf-8\ncontent-length: " +
                             std::to_string(reason_phrase(status).size()) + "\nconnection: close\n");
  }
  EXPECT_EQ(error_response(400),
            "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
            "content-length: 11\r\nconnection: close\r\n\r\nBad Request");
}

TEST(Response, UnlistedErrorStatusesGetThe500) {
  for (int status : {0, 200, 404, 502, 506, 999}) EXPECT_EQ(error_response(status), error_response(500));
}

// --http 2 answers an HTTP/1.1 request with its own 505.
TEST(Response, HttpVersionNotSupportedIsPrebuilt) {
  EXPECT_EQ(error_status(505), 505);
  EXPECT_TRUE(error_response(505).starts_with("HTTP/1.1 505 HTTP Version Not Supported\r\n"));
}

TEST(Response, ImfFixdateKnownInstants) {
  char buf[IMF_FIXDATE_LEN];
  auto fmt = [&buf](long long t) {
    format_imf_fixdate(t, buf);
    return std::string(buf, IMF_FIXDATE_LEN);
  };
  EXPECT_EQ(fmt(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110's example
  EXPECT_EQ(fmt(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(fmt(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
  EXPECT_EQ(fmt(4102444799), "Thu, 31 Dec 2099 23:59:59 GMT");
}

TEST(Response, DateCacheIsNowAndCached) {
  DateCache cache;
  std::time_t before = std::time(nullptr);
  std::string_view a = cache.now();
  std::time_t after = std::time(nullptr);
  ASSERT_EQ(a.size(), IMF_FIXDATE_LEN);
  std::tm tm{};
  std::string text(a);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  ASSERT_NE(end, nullptr) << text;
  EXPECT_EQ(*end, '\0');
  std::time_t parsed = timegm(&tm);
  EXPECT_GE(parsed, before);
  EXPECT_LE(parsed, after);
  std::string_view b = cache.now();
  EXPECT_EQ(a.data(), b.data());  // same storage, rewritten at most once a second
}

}  // namespace
}  // namespace subcorn::http
