// The access log's format compiler and formatter (http/access_log_format.h).
#include "http/access_log_format.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace subcorn::http {
namespace {

class AccessLogFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // %(t)s is local time: pinned to UTC so the expected text is known.
    setenv("TZ", "UTC", 1);
    tzset();
    head.method = "GET";
    head.target = "/items/7?color=red&size=2";
    head.path = head.target;
    head.version_major = 1;
    head.version_minor = 1;
    head.headers = {{"host", "example.test"},
                    {"user-agent", "curl/8.0"},
                    {"referer", "https://ref.test/a"},
                    {"authorization", "Basic YWxpY2U6c2VjcmV0"},  // alice:secret
                    {"x-request-id", "abc-123"}};
    record.client = "192.0.2.7:51234";
    record.head = &head;
    record.status = 201;
    record.response_bytes = 1234;
    record.duration = 0.0123456;
    record.unix_time = 971185536;  // 2000-10-10T13:45:36Z
    record.worker = 3;
    record.protocol = "h2c";
  }

  std::string line(const std::string& format,
                   AccessLogFormat::Output output = AccessLogFormat::Output::Text) {
    std::string error;
    auto f = AccessLogFormat::compile(format, output, 4242, &error);
    EXPECT_TRUE(f) << error;
    if (!f) return {};
    std::string out;
    f->append(out, record, clock);
    return out;
  }

  std::string compile_error(const std::string& format) {
    std::string error;
    auto f = AccessLogFormat::compile(format, AccessLogFormat::Output::Text, 1, &error);
    EXPECT_FALSE(f) << format;
    return error;
  }

  RequestHead head;
  AccessRecord record;
  AccessLogClock clock;
};

TEST_F(AccessLogFormatTest, DefaultIsUvicornsLine) {
  std::string out;
  AccessLogFormat::uvicorn(AccessLogFormat::Output::Text).append(out, record, clock);
  EXPECT_EQ(out, "INFO:     192.0.2.7:51234 - \"GET /items/7?color=red&size=2 HTTP/1.1\" 201\n");
}

TEST_F(AccessLogFormatTest, DefaultWebSocketLine) {
  record.websocket_accepted = true;
  std::string out;
  AccessLogFormat::uvicorn(AccessLogFormat::Output::Text).append(out, record, clock);
  EXPECT_EQ(out, "INFO:     192.0.2.7:51234 - \"WebSocket /items/7?color=red&size=2\" [accepted]\n");
  head.version_major = 2;
  out.clear();
  AccessLogFormat::uvicorn(AccessLogFormat::Output::Text).append(out, record, clock);
  EXPECT_EQ(out,
            "INFO:     192.0.2.7:51234 - \"WebSocket /items/7?color=red&size=2\" [accepted, HTTP/2]\n");
}

TEST_F(AccessLogFormatTest, GunicornsDefaultFormat) {
  EXPECT_EQ(line(R"(%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s")"),
            "192.0.2.7 - alice [10/Oct/2000:13:45:36 +0000] "
            "\"GET /items/7?color=red&size=2 HTTP/1.1\" 201 1234 "
            "\"https://ref.test/a\" \"curl/8.0\"\n");
}

TEST_F(AccessLogFormatTest, EveryAtom) {
  EXPECT_EQ(line("%(L)s|%(M)s|%(D)s|%(T)s"), "0.012346|12|12345|0\n");
  EXPECT_EQ(line("%(p)s %(m)s %(U)s %(q)s %(H)s"),
            "<4242> GET /items/7 color=red&size=2 HTTP/1.1\n");
  EXPECT_EQ(line("%(client)s w%(worker)s %(protocol)s"), "192.0.2.7:51234 w3 h2c\n");
  EXPECT_EQ(line("%({X-Request-Id}i)s %({x-missing}i)s"), "abc-123 -\n");
  Header response[] = {{"content-type", "text/plain"}, {"x-cache", "hit"}};
  record.response_headers = response;
  EXPECT_EQ(line("%({Content-Type}o)s %({x-cache}o)s %({etag}o)s"), "text/plain hit -\n");
}

TEST_F(AccessLogFormatTest, MissingValuesAreDashes) {
  head.headers.clear();
  head.target = head.path = "/";
  EXPECT_EQ(line("%(u)s %(f)s %(a)s [%(q)s] %(U)s"), "- - - [] /\n");
}

TEST_F(AccessLogFormatTest, UserOnlyFromBasic) {
  head.headers = {{"authorization", "Bearer xyz"}};
  EXPECT_EQ(line("%(u)s"), "-\n");
  head.headers = {{"authorization", "basic Ym9iOnB3"}};  // bob:pw, scheme in any case
  EXPECT_EQ(line("%(u)s"), "bob\n");
  head.headers = {{"authorization", "Basic !!!"}};
  EXPECT_EQ(line("%(u)s"), "-\n");
}

TEST_F(AccessLogFormatTest, Http2AndHttp10Versions) {
  head.version_major = 2;
  head.version_minor = 0;
  EXPECT_EQ(line("%(H)s"), "HTTP/2\n");
  head.version_major = 1;
  EXPECT_EQ(line("%(r)s"), "GET /items/7?color=red&size=2 HTTP/1.0\n");
}

TEST_F(AccessLogFormatTest, RemoteAddressOfIpv6AndUnix) {
  record.client = "::1:4000";
  EXPECT_EQ(line("%(h)s"), "::1\n");
  record.client = "unix";
  EXPECT_EQ(line("%(h)s"), "unix\n");
}

TEST_F(AccessLogFormatTest, LiteralsAndPercent) {
  EXPECT_EQ(line("100%% of %(s)s!"), "100% of 201!\n");
  EXPECT_EQ(line(""), "\n");
  EXPECT_EQ(line("plain"), "plain\n");
}

TEST_F(AccessLogFormatTest, ClientTextIsEscaped) {
  head.headers = {{"user-agent", "evil\"\n\\x\x01"}};
  EXPECT_EQ(line("\"%(a)s\""), "\"evil\\\"\\x0a\\\\x\\x01\"\n");
}

TEST_F(AccessLogFormatTest, NeedsDurationOnlyForTimeAtoms) {
  std::string error;
  EXPECT_FALSE(AccessLogFormat::uvicorn(AccessLogFormat::Output::Text).needs_duration());
  EXPECT_TRUE(AccessLogFormat::uvicorn(AccessLogFormat::Output::Json).needs_duration());
  EXPECT_FALSE(AccessLogFormat::compile("%(h)s %(r)s %(b)s", AccessLogFormat::Output::Text, 1,
                                        &error)->needs_duration());
  for (const char* f : {"%(L)s", "%(M)s", "%(D)s", "%(T)s"})
    EXPECT_TRUE(AccessLogFormat::compile(f, AccessLogFormat::Output::Text, 1, &error)
                    ->needs_duration())
        << f;
}

TEST_F(AccessLogFormatTest, NeedsWallTimeOnlyForTimeOrJson) {
  std::string error;
  EXPECT_FALSE(AccessLogFormat::uvicorn(AccessLogFormat::Output::Text).needs_wall_time());
  EXPECT_TRUE(AccessLogFormat::uvicorn(AccessLogFormat::Output::Json).needs_wall_time());
  EXPECT_FALSE(AccessLogFormat::compile("%(h)s %(D)s", AccessLogFormat::Output::Text, 1, &error)
                   ->needs_wall_time());
  EXPECT_TRUE(AccessLogFormat::compile("%(t)s", AccessLogFormat::Output::Text, 1, &error)
                  ->needs_wall_time());
}

TEST_F(AccessLogFormatTest, ResponseHeaderNamesOnceLowercased) {
  std::string error;
  auto f = AccessLogFormat::compile("%({ETag}o)s %({etag}o)s %({X-A}o)s %({x-b}i)s",
                                    AccessLogFormat::Output::Text, 1, &error);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->response_header_names(), (std::vector<std::string>{"etag", "x-a"}));
}

TEST_F(AccessLogFormatTest, BadFormatsAreOneLineErrors) {
  EXPECT_NE(compile_error("%(nope)s").find("unknown atom %(nope)s"), std::string::npos);
  EXPECT_NE(compile_error("%(h)d").find("must end in 's'"), std::string::npos);
  EXPECT_NE(compile_error("%(h)").find("must end in 's'"), std::string::npos);
  EXPECT_NE(compile_error("%(h").find("no ')'"), std::string::npos);
  EXPECT_NE(compile_error("50% off").find("starts no atom"), std::string::npos);
  EXPECT_NE(compile_error("trailing %").find("starts no atom"), std::string::npos);
  EXPECT_NE(compile_error("%({}i)s").find("names no header"), std::string::npos);
  EXPECT_NE(compile_error("%({a b}i)s").find("names no header"), std::string::npos);
  EXPECT_NE(compile_error("%({x}e)s").find("unknown atom"), std::string::npos);
  for (const char* f : {"%(nope)s", "%(h)d", "%(h", "50% off", "%({}i)s"})
    EXPECT_EQ(compile_error(f).find('\n'), std::string::npos) << f;
}

TEST_F(AccessLogFormatTest, JsonRecord) {
  std::string out = line("%(h)s %(s)s", AccessLogFormat::Output::Json);
  EXPECT_EQ(out,
            "{\"time\":\"2000-10-10T13:45:36Z\",\"level\":\"INFO\",\"logger\":\"subcorn.access\","
            "\"worker\":3,\"client\":\"192.0.2.7:51234\",\"method\":\"GET\","
            "\"path\":\"/items/7?color=red&size=2\",\"version\":\"HTTP/1.1\","
            "\"protocol\":\"h2c\",\"status\":201,\"bytes\":1234,\"duration_ms\":12.346,"
            "\"message\":\"192.0.2.7 201\"}\n");
  std::string plain;
  AccessLogFormat::uvicorn(AccessLogFormat::Output::Json).append(plain, record, clock);
  EXPECT_NE(plain.find("\"message\":\"192.0.2.7:51234 - \\\"GET /items/7?color=red&size=2 "
                       "HTTP/1.1\\\" 201\"}"),
            std::string::npos)
      << plain;
}

TEST(JsonStringTest, EscapesAndKeepsUtf8) {
  auto body = [](std::string_view s) {
    std::string out;
    append_json_string_body(out, s);
    return out;
  };
  EXPECT_EQ(body("a\"b\\c\n\t\x01"), "a\\\"b\\\\c\\u000a\\u0009\\u0001");
  EXPECT_EQ(body("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(body("\xff"), "\\ufffd");
  EXPECT_EQ(body("\xc3"), "\\ufffd");                     // cut short at the end
  EXPECT_EQ(body("\xc0\xaf"), "\\ufffd\\ufffd");          // overlong
  EXPECT_EQ(body("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");  // a surrogate
  EXPECT_EQ(body("\xe2\x82x"), "\\ufffd\\ufffdx");
}

}  // namespace
}  // namespace subcorn::http
