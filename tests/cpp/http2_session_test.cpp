// Http2Session against a real nghttp2 client (http2_client.h): every
// scenario runs with the client's bytes fed whole, one byte at a time and in
// random pieces, and must give the same trace and the same responses.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/app_response_head.h"
#include "http/http2_session.h"
#include "http2_client.h"

// ASan's count of the heap in use (the tests run under ASan): bounded
// memory under a flood is measured with it.
extern "C" size_t __sanitizer_get_current_allocated_bytes();

namespace subcorn::http::test {
namespace {

const Split SPLITS[] = {Split::Whole, Split::Bytewise, Split::Random};

std::string split_name(Split s) {
  switch (s) {
    case Split::Whole: return "whole";
    case Split::Bytewise: return "bytewise";
    case Split::Random: return "random";
  }
  return "?";
}

// Answers every request at once with `status` and `body`.
void answer_all(Link& link, int status, const std::string& body, const Fields& headers = {}) {
  link.recorder.on_request = [&link, status, body, headers](int32_t id, const RequestHead&, bool) {
    EXPECT_EQ(link.server.start_response(id, status), nullptr);
    for (const auto& [n, v] : headers) EXPECT_EQ(link.server.header(id, n, v), nullptr);
    EXPECT_EQ(link.server.body(id, body, false), nullptr);
  };
}

// --- the connection's start ---

TEST(Http2Session, PrefaceAndSettings) {
  for (Split split : SPLITS) {
    Http2Settings settings;
    settings.max_concurrent_streams = 7;
    settings.initial_window_size = 12345;
    settings.max_header_list_size = 4000;
    Link link(settings, {}, {}, split);
    link.server.start();
    EXPECT_EQ(link.server.state(), Http2Session::State::Open);
    link.pump();
    EXPECT_FALSE(link.client.failed) << split_name(split);
    EXPECT_EQ(link.client.settings_received, 1);
    nghttp2_session* c = link.client.raw();
    EXPECT_EQ(nghttp2_session_get_remote_settings(c, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS), 7u);
    EXPECT_EQ(nghttp2_session_get_remote_settings(c, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE), 12345u);
    EXPECT_EQ(nghttp2_session_get_remote_settings(c, NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE), 4000u);
    EXPECT_EQ(nghttp2_session_get_remote_settings(c, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL), 0u);
    // The connection's window: every stream's window at once.
    EXPECT_EQ(nghttp2_session_get_remote_window_size(c), 7 * 12345);
    EXPECT_TRUE(link.recorder.trace.empty());
    EXPECT_EQ(link.server.state(), Http2Session::State::Open);
    EXPECT_FALSE(link.server.wants_output());
  }
}

TEST(Http2Session, NotAPrefaceFailsWithGoaway) {
  Link link;
  link.server.start();
  EXPECT_FALSE(link.server.receive("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(link.server.state(), Http2Session::State::Failed);
  EXPECT_TRUE(link.server.wants_output());
  std::string out;
  link.server.produce(out, 1 << 20);
  // The last frame is GOAWAY PROTOCOL_ERROR.
  ASSERT_GE(out.size(), 17u);
  std::string goaway = out.substr(out.size() - 17);
  EXPECT_EQ(goaway[3], NGHTTP2_GOAWAY);
  EXPECT_EQ(static_cast<uint8_t>(goaway[16]), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_EQ(link.server.state(), Http2Session::State::Finished);
  EXPECT_FALSE(link.server.receive("more"));
}

// --- requests and responses ---

TEST(Http2Session, GetAndItsResponse) {
  std::vector<std::string> first_trace;
  for (Split split : SPLITS) {
    Link link({}, {}, {}, split);
    link.server.start();
    answer_all(link, 200, "hello", {{"Content-Type", "text/plain"}, {"X-Two", "a"}, {"x-two", "b"}});
    Fields get = Client::get("/p?q=1");
    get.emplace_back("accept", "*/*");
    get.emplace_back("cookie", "a=1");
    get.emplace_back("cookie", "b=2");
    int32_t id = link.client.request(get);
    link.pump();
    const Response& r = link.client.responses[id];
    EXPECT_EQ(r.status, 200) << split_name(split);
    EXPECT_EQ(r.body, "hello");
    EXPECT_EQ(r.header("content-type"), "text/plain");
    EXPECT_EQ(r.header("content-length"), "5");
    EXPECT_EQ(r.header("server"), "subcorn");
    EXPECT_EQ(r.header("date").size(), 29u);
    int twos = 0;
    for (const auto& [n, v] : r.headers) twos += n == "x-two";
    EXPECT_EQ(twos, 2);
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(r.close_code, 0u);
    std::vector<std::string> expected = {"request 1 GET /p?q=1 end", "authority 1 example.com", "h 1 accept=*/*",
                                         "h 1 cookie=a=1", "h 1 cookie=b=2", "h 1 host=example.com", "end 1",
                                         "closed 1"};
    EXPECT_EQ(link.recorder.trace, expected) << split_name(split);
    EXPECT_EQ(link.server.open_streams(), 0u);
    EXPECT_EQ(link.server.response_state(id), ResponseWriter::State::Idle);  // forgotten once closed
    EXPECT_EQ(link.server.state(), Http2Session::State::Open);
  }
}

TEST(Http2Session, ResponseStatesAndAnswerAfterTheRequest) {
  Link link;
  link.server.start();
  int32_t id = link.client.request(Client::get("/"));
  link.pump();
  ASSERT_TRUE(link.recorder.has("end 1"));
  EXPECT_EQ(link.server.response_state(id), ResponseWriter::State::Idle);
  EXPECT_EQ(link.server.start_response(id, 201), nullptr);
  EXPECT_EQ(link.server.response_state(id), ResponseWriter::State::Started);
  EXPECT_EQ(link.server.body(id, "ab", true), nullptr);
  EXPECT_EQ(link.server.response_state(id), ResponseWriter::State::Streaming);
  EXPECT_EQ(link.server.buffered(id), 2u);
  link.pump();
  EXPECT_EQ(link.server.buffered(id), 0u);
  EXPECT_GE(link.recorder.drained[id], 1);
  EXPECT_EQ(link.client.responses[id].body, "ab");
  EXPECT_FALSE(link.client.responses[id].closed);
  EXPECT_EQ(link.server.body(id, "cd", true), nullptr);
  link.pump();
  EXPECT_EQ(link.server.body(id, "", false), nullptr);
  EXPECT_EQ(link.server.response_state(id), ResponseWriter::State::Complete);
  link.pump();
  const Response& r = link.client.responses[id];
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "abcd");
  EXPECT_EQ(r.header("content-length"), "");  // it streamed
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.close_code, 0u);
  EXPECT_TRUE(link.recorder.has("closed 1"));
}

TEST(Http2Session, PostBodyWithManualFlowControl) {
  for (Split split : SPLITS) {
    Http2Settings settings;
    settings.initial_window_size = 16384;
    Link link(settings, {}, {}, split);
    link.recorder.auto_consume = false;
    link.server.start();
    link.pump();  // SETTINGS both ways: until then a stream's window is 65535
    std::string body(100000, 'x');
    for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
    Fields post = Client::get("/upload", "POST");
    post.emplace_back("content-length", std::to_string(body.size()));
    int32_t id = link.client.request(post, &body);
    link.pump();
    // The client is blocked at the stream's window until the app takes some.
    EXPECT_EQ(link.recorder.bodies[id].size(), 16384u) << split_name(split);
    EXPECT_TRUE(link.recorder.has("cl 1 100000"));
    EXPECT_FALSE(link.recorder.has("end 1"));
    link.pump();
    EXPECT_EQ(link.recorder.bodies[id].size(), 16384u);
    size_t taken = 0;
    for (int round = 0; round < 100 && !link.recorder.has("end 1"); ++round) {
      size_t have = link.recorder.bodies[id].size();
      link.server.consume(id, have - taken);
      taken = have;
      link.pump();
    }
    EXPECT_EQ(link.recorder.bodies[id], body);
    EXPECT_TRUE(link.recorder.has("end 1"));
    EXPECT_EQ(link.server.start_response(id, 200), nullptr);
    EXPECT_EQ(link.server.body(id, "ok", false), nullptr);
    link.pump();
    EXPECT_EQ(link.client.responses[id].status, 200);
    EXPECT_TRUE(link.recorder.has("closed 1"));
  }
}

TEST(Http2Session, ResetFromTheClient) {
  for (Split split : SPLITS) {
    Link link({}, {}, {}, split);
    link.server.start();
    int32_t id = link.client.request(Client::get("/slow"));
    link.pump();
    EXPECT_EQ(link.server.start_response(id, 200), nullptr);
    EXPECT_EQ(link.server.body(id, "part", true), nullptr);
    link.pump();
    nghttp2_submit_rst_stream(link.client.raw(), NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    link.pump();
    std::vector<std::string> tail(link.recorder.trace.end() - 2, link.recorder.trace.end());
    EXPECT_EQ(tail, (std::vector<std::string>{"reset 1 8", "closed 1"})) << split_name(split);
    // The app may go on talking: nothing goes out, nothing breaks.
    EXPECT_EQ(link.server.body(id, "more", false), nullptr);
    EXPECT_EQ(link.server.buffered(id), 0u);
    link.pump();
    EXPECT_EQ(link.client.responses[id].body, "part");
    EXPECT_EQ(link.server.open_streams(), 0u);
  }
}

TEST(Http2Session, ResetByTheServer) {
  Link link;
  link.server.start();
  int32_t id = link.client.request(Client::get("/"));
  link.pump();
  EXPECT_EQ(link.server.start_response(id, 200), nullptr);
  EXPECT_EQ(link.server.body(id, "part", true), nullptr);
  link.server.reset_stream(id, NGHTTP2_INTERNAL_ERROR);
  link.pump();
  const Response& r = link.client.responses[id];
  EXPECT_TRUE(r.reset_received);
  EXPECT_EQ(r.reset_code, static_cast<uint32_t>(NGHTTP2_INTERNAL_ERROR));
  // The handler asked for it: no h2_stream_reset back, only the close.
  EXPECT_FALSE(link.recorder.has("reset 1 2"));
  EXPECT_TRUE(link.recorder.has("closed 1"));
}

}  // namespace
}  // namespace subcorn::http::test
