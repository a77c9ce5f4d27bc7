// ResponseDefaults: the fields every response gets (Date, Server, --header),
// what is refused at start, and that the app's own fields win, over
// HTTP/1.1 (ResponseWriter, the server's own answers) and HTTP/2.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/http1_session.h"
#include "http/response_defaults.h"
#include "http/response_writer.h"
#include "http2_client.h"

namespace subcorn::http::test {
namespace {

constexpr std::string_view DATE = "Sun, 06 Nov 1994 08:49:37 GMT";

ResponseDefaults configured(bool date, bool server, const std::vector<HeaderField>& extra) {
  ResponseDefaults d;
  std::string error = d.configure(date, server, extra);
  EXPECT_EQ(error, "");
  return d;
}

std::string lines(const ResponseDefaults& d, uint64_t app_set = 0) {
  std::string out;
  d.append_lines(out, DATE, app_set);
  return out;
}

TEST(ResponseDefaults, TheStandardOnesAreDateAndServer) {
  EXPECT_EQ(lines(ResponseDefaults::standard()),
            "date: Sun, 06 Nov 1994 08:49:37 GMT\r\nserver: subcorn\r\n");
}

TEST(ResponseDefaults, ExtraFieldsFollowInOrderWithLowerCaseNames) {
  ResponseDefaults d = configured(true, true, {{"X-Frame-Options", "DENY"}, {"x-a", "1"}, {"X-A", "2"}});
  EXPECT_EQ(lines(d), "date: Sun, 06 Nov 1994 08:49:37 GMT\r\nserver: subcorn\r\n"
                      "x-frame-options: DENY\r\nx-a: 1\r\nx-a: 2\r\n");
}

TEST(ResponseDefaults, DateAndServerCanBeLeftOut) {
  EXPECT_EQ(lines(configured(false, true, {})), "server: subcorn\r\n");
  EXPECT_EQ(lines(configured(true, false, {})), "date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
  EXPECT_EQ(lines(configured(false, false, {})), "");
}

TEST(ResponseDefaults, AServerHeaderNamesTheServerValue) {
  EXPECT_EQ(lines(configured(false, true, {{"Server", "edge/2"}})), "server: edge/2\r\n");
  // Explicit wins over --no-server-header.
  EXPECT_EQ(lines(configured(false, false, {{"server", "edge/2"}})), "server: edge/2\r\n");
}

TEST(ResponseDefaults, TheAppsOwnFieldsWinInAnyCase) {
  ResponseDefaults d = configured(true, true, {{"x-frame-options", "DENY"}, {"x-a", "1"}, {"x-a", "2"}});
  uint64_t app = d.bit_of("X-FRAME-OPTIONS") | d.bit_of("Server");
  EXPECT_EQ(lines(d, app), "date: Sun, 06 Nov 1994 08:49:37 GMT\r\nx-a: 1\r\nx-a: 2\r\n");
  EXPECT_EQ(lines(d, d.bit_of("x-a") | d.bit_of("date")),
            "server: subcorn\r\nx-frame-options: DENY\r\n");  // both x-a go
  EXPECT_EQ(d.bit_of("x-other"), 0u);
}

TEST(ResponseDefaults, BadFieldsAreRefusedByName) {
  struct Case {
    HeaderField field;
    std::string_view says;
  };
  for (const Case& c : std::vector<Case>{
           {{"X Bad", "v"}, "not a valid header name"},
           {{"", "v"}, "not a valid header name"},
           {{"x:y", "v"}, "not a valid header name"},
           {{"x-split", "a\r\nx-injected: 1"}, "CR, LF or NUL"},
           {{"x-lf", "a\nb"}, "CR, LF or NUL"},
           {{"x-nul", std::string("a\0b", 3)}, "CR, LF or NUL"},
           {{"Content-Length", "5"}, "sets this field itself"},
           {{"transfer-encoding", "chunked"}, "sets this field itself"},
           {{"Connection", "close"}, "sets this field itself"},
           {{"Date", "x"}, "--no-date-header"},
       }) {
    ResponseDefaults d = configured(true, true, {{"x-kept", "1"}});
    std::string error = d.configure(false, false, {{"x-ok", "1"}, c.field});
    EXPECT_NE(error.find(c.says), std::string::npos) << error;
    EXPECT_NE(error.find("--header"), std::string::npos) << error;
    // Nothing of the refused settings was taken.
    EXPECT_EQ(lines(d), "date: Sun, 06 Nov 1994 08:49:37 GMT\r\nserver: subcorn\r\nx-kept: 1\r\n");
  }
}

TEST(ResponseDefaults, AtMostSixtyTwoExtraFields) {
  std::vector<HeaderField> many(ResponseDefaults::MAX_EXTRA, HeaderField{"x-a", "1"});
  ResponseDefaults d;
  EXPECT_EQ(d.configure(true, true, many), "");
  many.push_back({"x-b", "2"});
  EXPECT_NE(d.configure(true, true, many), "");
  // The last one has its own bit.
  ResponseDefaults last = configured(true, true, {many.end() - 2, many.end()});
  EXPECT_NE(last.bit_of("x-b"), 0u);
  EXPECT_EQ(lines(last, last.bit_of("x-b")),
            "date: Sun, 06 Nov 1994 08:49:37 GMT\r\nserver: subcorn\r\nx-a: 1\r\n");
}

TEST(ResponseDefaults, TheServersOwnAnswerCarriesThem) {
  ResponseDefaults d = configured(true, true, {{"x-frame-options", "DENY"}});
  std::string out = "<unsent>";
  d.append_error(out, 431, DATE);
  EXPECT_EQ(out,
            "<unsent>HTTP/1.1 431 Request Header Fields Too Large\r\n"
            "content-type: text/plain; charset=utf-8\r\ncontent-length: 31\r\n"
            "date: Sun, 06 Nov 1994 08:49:37 GMT\r\nserver: subcorn\r\nx-frame-options: DENY\r\n"
            "connection: close\r\n\r\nRequest Header Fields Too Large");
  std::string other;
  configured(false, false, {}).append_error(other, 599, DATE);  // not one of ours: 500
  EXPECT_EQ(other,
            "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n"
            "content-length: 21\r\nconnection: close\r\n\r\nInternal Server Error");
}

TEST(ResponseDefaults, ResponseWriterAddsThemUnlessTheAppSetThem) {
  ResponseDefaults d = configured(true, false, {{"x-frame-options", "DENY"}, {"x-b", "1"}});
  ResponseWriter writer(d);
  std::string out;
  writer.begin({});
  ASSERT_EQ(writer.start(200), nullptr);
  ASSERT_EQ(writer.header("X-Frame-Options", "SAMEORIGIN"), nullptr);
  ASSERT_EQ(writer.body(out, "hi", false, DATE), nullptr);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nX-Frame-Options: SAMEORIGIN\r\ncontent-length: 2\r\n"
                 "date: Sun, 06 Nov 1994 08:49:37 GMT\r\nx-b: 1\r\n\r\nhi");
  // The next response on the connection starts afresh: the app's field is forgotten.
  out.clear();
  writer.begin({});
  ASSERT_EQ(writer.start(204), nullptr);
  ASSERT_EQ(writer.body(out, "", false, DATE), nullptr);
  EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                 "x-frame-options: DENY\r\nx-b: 1\r\n\r\n");
}

TEST(ResponseDefaults, Http1SessionAnswersErrorsWithThem) {
  ResponseDefaults d = configured(false, true, {{"x-b", "1"}});
  Http1Session session(Limits{}, d);
  std::string input = "GET / HTTP/1.1\r\nHost: h\r\nbad header\r\n\r\n";
  size_t consumed = 0;
  Event ev = session.next(input, &consumed);
  ASSERT_EQ(ev.type, EventType::Error);
  std::string out;
  ASSERT_TRUE(session.write_error(ev.status, out, DATE));
  EXPECT_EQ(out, "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
                 "content-length: 11\r\nserver: subcorn\r\nx-b: 1\r\nconnection: close\r\n\r\n"
                 "Bad Request");
}

TEST(ResponseDefaults, Http2ResponsesAndErrorsCarryThem) {
  ResponseDefaults d = configured(false, true, {{"X-Frame-Options", "DENY"}, {"x-b", "1"}});
  Http2Settings settings;
  settings.defaults = &d;
  Link link(settings);
  link.server.start();
  link.recorder.on_request = [&link](int32_t id, const RequestHead& head, bool) {
    if (head.path == "/error") {
      EXPECT_TRUE(link.server.write_error(id, 503));
      return;
    }
    EXPECT_EQ(link.server.start_response(id, 200), nullptr);
    EXPECT_EQ(link.server.header(id, "x-frame-options", "SAMEORIGIN"), nullptr);
    EXPECT_EQ(link.server.body(id, "x", false), nullptr);
  };
  int32_t ok = link.client.request(Client::get("/"));
  int32_t error = link.client.request(Client::get("/error"));
  link.pump();
  ASSERT_FALSE(link.client.failed);
  Fields expected_ok = {{"x-frame-options", "SAMEORIGIN"}, {"content-length", "1"},
                        {"server", "subcorn"}, {"x-b", "1"}};
  EXPECT_EQ(link.client.responses[ok].headers, expected_ok);
  Fields expected_error = {{"content-type", "text/plain; charset=utf-8"}, {"content-length", "19"},
                           {"server", "subcorn"}, {"x-frame-options", "DENY"}, {"x-b", "1"}};
  EXPECT_EQ(link.client.responses[error].status, 503);
  EXPECT_EQ(link.client.responses[error].headers, expected_error);
}

}  // namespace
}  // namespace subcorn::http::test
