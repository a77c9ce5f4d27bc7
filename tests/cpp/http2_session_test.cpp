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

// The connection's window is every stream's at once, but at most 16 MiB
// (or one stream's window when that is larger): the defaults (100 x 1 MiB)
// would otherwise let one client park 100 MiB of unread bodies.
TEST(Http2Session, ConnectionWindowIsCapped) {
  struct Case {
    uint32_t streams, window;
    int32_t expected;
  };
  for (Case c : {Case{100, 1024 * 1024, 16 * 1024 * 1024}, Case{10, 1024 * 1024, 10 * 1024 * 1024},
                 Case{4, 64 * 1024 * 1024, 64 * 1024 * 1024}, Case{1, 1000, 65535}}) {
    Http2Settings settings;
    settings.max_concurrent_streams = c.streams;
    settings.initial_window_size = c.window;
    Link link(settings, {}, {}, Split::Whole);
    link.server.start();
    link.pump();
    EXPECT_EQ(nghttp2_session_get_remote_window_size(link.client.raw()), c.expected)
        << c.streams << " x " << c.window;
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
    // The cookies joined into one field (RFC 9113 8.2.3), where the first was.
    std::vector<std::string> expected = {"request 1 GET /p?q=1 end", "authority 1 example.com", "h 1 accept=*/*",
                                         "h 1 cookie=a=1; b=2", "h 1 host=example.com", "end 1", "closed 1"};
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
    const RequestHead* saved = nullptr;
    link.recorder.on_request = [&saved](int32_t, const RequestHead& head, bool) { saved = &head; };
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
    // The head (and its views) lives until the stream closes.
    ASSERT_NE(saved, nullptr);
    EXPECT_EQ(saved->path, "/upload");
    EXPECT_EQ(saved->content_length, 100000);
    ASSERT_EQ(saved->headers.size(), 2u);
    EXPECT_EQ(saved->headers[0].name, "content-length");
    EXPECT_EQ(saved->headers[1].value, "example.com");
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

namespace subcorn::http::test {
namespace {

// --- more of the exchange ---

TEST(Http2Session, ManyConcurrentStreams) {
  for (Split split : SPLITS) {
    Link link({}, {}, {}, split, 7);
    link.server.start();
    link.pump();
    std::vector<int32_t> ids;
    for (int i = 0; i < 50; ++i) ids.push_back(link.client.request(Client::get("/" + std::to_string(i))));
    link.pump();
    EXPECT_EQ(link.server.open_streams(), 50u) << split_name(split);
    // Answered in reverse order, each streaming in two parts.
    for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
      EXPECT_EQ(link.server.start_response(*it, 200), nullptr);
      EXPECT_EQ(link.server.body(*it, "to " + std::to_string(*it), true), nullptr);
    }
    link.pump();
    for (int32_t id : ids) EXPECT_EQ(link.server.body(id, "!", false), nullptr);
    link.pump();
    for (int32_t id : ids) {
      EXPECT_EQ(link.client.responses[id].body, "to " + std::to_string(id) + "!");
      EXPECT_TRUE(link.recorder.has("closed " + std::to_string(id)));
    }
    EXPECT_EQ(link.server.open_streams(), 0u);
  }
}

TEST(Http2Session, ResponseLargerThanTheWindowDrainsWithWindowUpdates) {
  for (Split split : SPLITS) {
    // The client's stream window is 1000 bytes; its connection window 65535.
    Link link({}, {}, {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1000}}, split);
    link.server.start();
    link.pump();
    int32_t id = link.client.request(Client::get("/big"));
    link.pump();
    std::string big(300000, 'z');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('0' + i % 10);
    EXPECT_EQ(link.server.start_response(id, 200), nullptr);
    EXPECT_EQ(link.server.body(id, big, false), nullptr);
    // Without the client's WINDOW_UPDATEs, only its window goes out.
    std::string first = link.server_output();
    EXPECT_LT(first.size(), 2000u);
    EXPECT_EQ(link.server.buffered(id), big.size() - 1000);
    EXPECT_FALSE(link.server.wants_output());  // queued data without a window does not count
    link.client.input(first);
    link.pump(100000);
    EXPECT_EQ(link.client.responses[id].body, big) << split_name(split);
    EXPECT_EQ(link.server.buffered(id), 0u);
    EXPECT_GT(link.recorder.drained[id], 10);
    EXPECT_TRUE(link.recorder.has("closed 1"));
  }
}

TEST(Http2Session, ProduceKeepsToItsBudget) {
  Link link;
  link.server.start();
  link.pump();
  int32_t id = link.client.request(Client::get("/"));
  link.pump();
  EXPECT_EQ(link.server.start_response(id, 200), nullptr);
  EXPECT_EQ(link.server.body(id, std::string(60000, 'a'), false), nullptr);
  std::string out;
  link.server.produce(out, 20000);
  std::fprintf(stderr, "out %zu\n", out.size());
  // About the budget: it stops after the frame that reaches it.
  EXPECT_GE(out.size(), 20000u);
  EXPECT_LT(out.size(), 20000u + 16384 + 9 + 200);
  EXPECT_TRUE(link.server.wants_output());
}

TEST(Http2Session, ALongStreamNeverQuiteDrainedKeepsItsQueueSmall) {
  Link link;
  link.server.start();
  link.pump();
  int32_t id = link.client.request(Client::get("/events"));
  link.pump();
  EXPECT_EQ(link.server.start_response(id, 200), nullptr);
  const std::string chunk(10000, 'e');
  size_t before = __sanitizer_get_current_allocated_bytes();
  size_t peak = 0;
  size_t received = 0;
  // The app keeps 40000 bytes ahead; each produce() frames one DATA frame
  // (16384 bytes): the queue is never empty.
  for (int i = 0; i < 2000; ++i) {
    while (link.server.buffered(id) < 40000) {
      ASSERT_EQ(link.server.body(id, chunk, true), nullptr);
    }
    std::string out;
    link.server.produce(out, 8000);
    link.client.input(out);
    received += link.client.responses[id].body.size();
    link.client.responses[id].body.clear();
    link.send_raw(link.client.output());
    size_t now = __sanitizer_get_current_allocated_bytes();
    if (now > before) peak = std::max(peak, now - before);
  }
  EXPECT_GT(received, 10u << 20);
  EXPECT_LT(peak, 1u << 20);
}

TEST(Http2Session, Trailers) {
  for (Split split : SPLITS) {
    Link link({}, {}, {}, split);
    link.server.start();
    int32_t id = link.client.request(Client::get("/grpc", "POST"));
    link.pump();
    EXPECT_EQ(link.server.start_response(id, 200), nullptr);
    link.server.expect_trailers(id);
    EXPECT_STREQ(link.server.trailers(id, {{"grpc-status", "0"}}), "Response trailers sent before the response body ended.");
    EXPECT_EQ(link.server.body(id, "payload", false), nullptr);
    EXPECT_EQ(link.server.response_state(id), ResponseWriter::State::Streaming);
    link.pump();
    EXPECT_EQ(link.client.responses[id].body, "payload");
    EXPECT_FALSE(link.client.responses[id].closed);  // the trailers end it
    EXPECT_EQ(link.server.trailers(id, {{"Grpc-Status", "0"}, {"grpc-message", " ok "}, {"connection", "x"}}), nullptr);
    EXPECT_EQ(link.server.response_state(id), ResponseWriter::State::Complete);
    link.pump();
    const Response& r = link.client.responses[id];
    EXPECT_EQ(r.trailers, (Fields{{"grpc-status", "0"}, {"grpc-message", "ok"}})) << split_name(split);
    EXPECT_EQ(r.header("content-length"), "7");
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(r.close_code, 0u);
  }
}

TEST(Http2Session, TrailersAfterAStreamedBodyAndWithoutAnnouncing) {
  Link link;
  link.server.start();
  int32_t id = link.client.request(Client::get("/"));
  link.pump();
  EXPECT_EQ(link.server.start_response(id, 200), nullptr);
  EXPECT_EQ(link.server.body(id, "a", true), nullptr);
  EXPECT_NE(link.server.trailers(id, {{"x", "1"}}), nullptr);  // not announced
  link.server.expect_trailers(id);
  EXPECT_EQ(link.server.body(id, "b", true), nullptr);
  link.pump();
  EXPECT_EQ(link.server.body(id, "", false), nullptr);
  link.pump();
  EXPECT_FALSE(link.client.responses[id].closed);
  EXPECT_STREQ(link.server.trailers(id, {{"bad name", "1"}}), app_mistake::BAD_NAME);
  EXPECT_STREQ(link.server.trailers(id, {{"x", "a\r\nb"}}), app_mistake::BAD_VALUE);
  EXPECT_EQ(link.server.trailers(id, {{"x-sum", "2"}}), nullptr);
  link.pump();
  const Response& r = link.client.responses[id];
  EXPECT_EQ(r.body, "ab");
  EXPECT_EQ(r.trailers, (Fields{{"x-sum", "2"}}));
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(link.server.trailers(id, {{"x", "1"}}), nullptr);  // closed: goes nowhere
}

TEST(Http2Session, EarlyHints) {
  for (Split split : SPLITS) {
    Link link({}, {}, {}, split);
    link.server.start();
    int32_t id = link.client.request(Client::get("/"));
    link.pump();
    EXPECT_EQ(link.server.early_hints(id, {{"Link", "</a.css>; rel=preload"}}), nullptr);
    link.pump();
    EXPECT_EQ(link.client.responses[id].interim, std::vector<int>{103}) << split_name(split);
    EXPECT_EQ(link.client.responses[id].interim_fields, (Fields{{"link", "</a.css>; rel=preload"}}));
    EXPECT_STREQ(link.server.early_hints(id, {{"x", "a\nb"}}), app_mistake::BAD_VALUE);
    EXPECT_EQ(link.server.start_response(id, 200), nullptr);
    EXPECT_EQ(link.server.early_hints(id, {{"link", "</b.js>"}}), nullptr);  // Started: still before the head
    EXPECT_EQ(link.server.body(id, "x", false), nullptr);
    EXPECT_NE(link.server.early_hints(id, {{"link", "</c.js>"}}), nullptr);
    link.pump();
    const Response& r = link.client.responses[id];
    EXPECT_EQ(r.interim, (std::vector<int>{103, 103}));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "x");
  }
}

struct NoBodyCase {
  const char* method;
  int status;
};

TEST(Http2Session, HeadAnd204And304SendNoData) {
  for (NoBodyCase c : {NoBodyCase{"HEAD", 200}, NoBodyCase{"GET", 204}, NoBodyCase{"GET", 304}}) {
    for (bool streamed : {false, true}) {
      Link link;
      link.server.start();
      int32_t id = link.client.request(Client::get("/", c.method));
      link.pump();
      EXPECT_EQ(link.server.start_response(id, c.status), nullptr);
      if (c.status == 304) {
        EXPECT_EQ(link.server.header(id, "content-length", "10"), nullptr);
      } else if (c.status == 204) {
        EXPECT_EQ(link.server.header(id, "content-length", "0"), nullptr);
      }
      link.server.expect_trailers(id);  // nothing to wait for without a body
      if (streamed) {
        EXPECT_EQ(link.server.body(id, "hello", true), nullptr);
        link.pump();
        EXPECT_EQ(link.server.body(id, " world", false), nullptr);
      } else {
        EXPECT_EQ(link.server.body(id, "hello", false), nullptr);
      }
      EXPECT_EQ(link.server.trailers(id, {{"x", "1"}}), nullptr);
      link.pump();
      const Response& r = link.client.responses[id];
      SCOPED_TRACE(std::string(c.method) + " " + std::to_string(c.status) + (streamed ? " streamed" : ""));
      EXPECT_EQ(r.status, c.status);
      EXPECT_EQ(r.data_frames, 0);
      EXPECT_EQ(r.body, "");
      EXPECT_TRUE(r.trailers.empty());
      EXPECT_TRUE(r.closed);
      EXPECT_EQ(r.close_code, 0u);
      // HEAD gets the head a GET would: the length of the whole body.
      const std::string length = c.status == 304 ? "10" : c.status == 204 ? "" : streamed ? "" : "5";
      EXPECT_EQ(r.header("content-length"), length);
    }
  }
}

TEST(Http2Session, AppMistakesAreRefusedWithResponseWritersWords) {
  Link link;
  link.server.start();
  int32_t id = link.client.request(Client::get("/"));
  link.pump();
  EXPECT_STREQ(link.server.header(id, "x", "1"), app_mistake::NOT_STARTED);
  EXPECT_STREQ(link.server.body(id, "x", false), app_mistake::NOT_STARTED);
  EXPECT_STREQ(link.server.start_response(id, 103), app_mistake::BAD_STATUS);
  EXPECT_STREQ(link.server.start_response(id, 600), app_mistake::BAD_STATUS);
  EXPECT_EQ(link.server.start_response(id, 200), nullptr);
  EXPECT_STREQ(link.server.start_response(id, 200), app_mistake::ALREADY_STARTED);
  EXPECT_STREQ(link.server.header(id, "bad name", "1"), app_mistake::BAD_NAME);
  EXPECT_EQ(link.server.response_state(id), ResponseWriter::State::Idle);  // forgotten, as ResponseWriter does
  EXPECT_EQ(link.server.start_response(id, 200), nullptr);
  EXPECT_STREQ(link.server.header(id, "x", "a\r\nb"), app_mistake::BAD_VALUE);
  EXPECT_EQ(link.server.start_response(id, 200), nullptr);
  EXPECT_EQ(link.server.header(id, "content-length", "3"), nullptr);
  EXPECT_STREQ(link.server.header(id, "content-length", "4"), app_mistake::TWO_LENGTHS);
  EXPECT_EQ(link.server.start_response(id, 200), nullptr);
  EXPECT_STREQ(link.server.header(id, "content-length", "x"), app_mistake::BAD_LENGTH);
  EXPECT_EQ(link.server.start_response(id, 204), nullptr);
  EXPECT_STREQ(link.server.header(id, "content-length", "5"), app_mistake::LENGTH_ON_204);
  EXPECT_EQ(link.server.start_response(id, 200), nullptr);
  EXPECT_EQ(link.server.header(id, "content-length", "3"), nullptr);
  EXPECT_EQ(link.server.header(id, "content-length", "3"), nullptr);  // the same twice is one
  EXPECT_STREQ(link.server.body(id, "abcd", false), app_mistake::TOO_LONG);
  EXPECT_EQ(link.server.response_state(id), ResponseWriter::State::Started);  // nothing queued
  EXPECT_EQ(link.server.buffered(id), 0u);
  EXPECT_EQ(link.server.body(id, "ab", true), nullptr);
  EXPECT_STREQ(link.server.header(id, "x", "1"), app_mistake::HEAD_ALREADY_SENT);
  EXPECT_STREQ(link.server.body(id, "cd", false), app_mistake::TOO_LONG);
  EXPECT_EQ(link.server.body(id, "c", false), nullptr);
  EXPECT_STREQ(link.server.body(id, "d", false), app_mistake::ALREADY_COMPLETE);
  EXPECT_FALSE(link.server.write_error(id, 500));  // the app's response has begun
  link.pump();
  const Response& r = link.client.responses[id];
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "abc");
  EXPECT_EQ(r.header("content-length"), "3");
  int lengths = 0;
  for (const auto& [n, v] : r.headers) lengths += n == "content-length";
  EXPECT_EQ(lengths, 1);
}

TEST(Http2Session, BodyShorterThanItsLengthEndsWithAReset) {
  Link link;
  link.server.start();
  int32_t id = link.client.request(Client::get("/"));
  link.pump();
  EXPECT_EQ(link.server.start_response(id, 200), nullptr);
  EXPECT_EQ(link.server.header(id, "content-length", "10"), nullptr);
  EXPECT_EQ(link.server.body(id, "abc", false), nullptr);
  EXPECT_EQ(link.server.response_state(id), ResponseWriter::State::Complete);
  link.pump();
  const Response& r = link.client.responses[id];
  EXPECT_EQ(r.body, "abc");
  EXPECT_TRUE(r.reset_received);  // not END_STREAM: the client cannot take it for whole
  EXPECT_EQ(r.reset_code, static_cast<uint32_t>(NGHTTP2_INTERNAL_ERROR));
  EXPECT_TRUE(link.recorder.has("closed 1"));
}

TEST(Http2Session, ConnectionFieldsFromTheAppAreNotSentAndNamesAreLowercased) {
  Link link;
  link.server.start();
  answer_all(link, 200, "x",
             {{"Connection", "close"}, {"Keep-Alive", "timeout=5"}, {"Transfer-Encoding", "chunked"},
              {"Upgrade", "h2c"}, {"Proxy-Connection", "x"}, {"TE", "trailers"}, {"X-Mixed-Case", "Value"},
              {"Date", "Sun, 06 Nov 1994 08:49:37 GMT"}, {"Server", "mine"}});
  int32_t id = link.client.request(Client::get("/"));
  link.pump();
  const Response& r = link.client.responses[id];
  EXPECT_FALSE(link.client.failed);
  EXPECT_EQ(r.status, 200);
  Fields expected = {{"x-mixed-case", "Value"}, {"date", "Sun, 06 Nov 1994 08:49:37 GMT"}, {"server", "mine"},
                     {"content-length", "1"}};
  EXPECT_EQ(r.headers, expected);
  EXPECT_EQ(link.server.state(), Http2Session::State::Open);  // "Connection: close" means nothing here
}

TEST(Http2Session, HostEntryAndAuthority) {
  Link link;
  link.server.start();
  // :authority and no host: a host entry is added at the end.
  link.client.request(Client::get("/a"));
  // host and no :authority: it is the authority.
  link.client.request({{":method", "GET"}, {":scheme", "https"}, {":path", "/b"}, {"host", "h.example:8443"}});
  // both, the same.
  link.client.request({{":method", "GET"}, {":scheme", "https"}, {":authority", "same"}, {":path", "/c"}, {"host", "same"}});
  // both, different: malformed (RFC 9113 8.3.1), reset, never reported.
  int32_t bad = link.client.request(
      {{":method", "GET"}, {":scheme", "https"}, {":authority", "one"}, {":path", "/d"}, {"host", "other"}});
  link.pump();
  EXPECT_TRUE(link.recorder.has("h 1 host=example.com"));
  EXPECT_TRUE(link.recorder.has("authority 1 example.com"));
  EXPECT_TRUE(link.recorder.has("authority 3 h.example:8443"));
  EXPECT_TRUE(link.recorder.has("h 3 host=h.example:8443"));
  EXPECT_TRUE(link.recorder.has("h 5 host=same"));
  int hosts = 0;
  for (const std::string& line : link.recorder.trace) hosts += line.rfind("h 5 host=", 0) == 0;
  EXPECT_EQ(hosts, 1);
  EXPECT_FALSE(link.recorder.has("request 7 GET /d end"));
  EXPECT_EQ(link.client.responses[bad].reset_code, static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
}

TEST(Http2Session, MalformedHeadsAreResetAndNeverReported) {
  const std::vector<Fields> heads = {
      {{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}},                        // no :path
      {{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/"}, {":path", "/"}},
      {{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/"}, {"connection", "close"}},
      {{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/"}, {"transfer-encoding", "chunked"}},
      {{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/"}, {"te", "gzip"}},
      {{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/"}, {"upgrade", "h2c"}},
      {{":method", "GET"}, {"x", "1"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/"}},  // pseudo after regular
      {{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", "noslash"}},
  };
  for (const Fields& head : heads) {
    Link link;
    link.server.start();
    int32_t id = link.client.request(head);
    link.pump();
    EXPECT_TRUE(link.recorder.trace.empty()) << head.back().first << " " << link.recorder.trace.size();
    EXPECT_EQ(link.client.responses[id].reset_code, static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
    EXPECT_EQ(link.server.state(), Http2Session::State::Open);
  }
}

TEST(Http2Session, OptionsAsteriskAndTe) {
  Link link;
  link.server.start();
  link.client.request({{":method", "OPTIONS"}, {":scheme", "http"}, {":authority", "x"}, {":path", "*"},
                       {"te", "trailers"}});
  link.pump();
  EXPECT_TRUE(link.recorder.has("request 1 OPTIONS * end"));
  EXPECT_TRUE(link.recorder.has("h 1 te=trailers"));
}

TEST(Http2Session, PlainConnectGets501) {
  Link link;
  link.server.start();
  int32_t id = link.client.request({{":method", "CONNECT"}, {":authority", "example.com:443"}});
  link.pump();
  EXPECT_TRUE(link.recorder.trace.empty());
  EXPECT_EQ(link.client.responses[id].status, 501);
}

TEST(Http2Session, ExtendedConnectWhenEnabled) {
  Http2Settings settings;
  settings.enable_connect_protocol = true;
  Link link(settings);
  link.server.start();
  link.pump();
  EXPECT_EQ(nghttp2_session_get_remote_settings(link.client.raw(), NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL), 1u);
  int32_t id = link.client.request({{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "https"},
                                    {":path", "/chat"}, {":authority", "example.com"},
                                    {"sec-websocket-version", "13"}},
                                   nullptr, true);
  link.pump();
  EXPECT_TRUE(link.recorder.has("request 1 CONNECT /chat"));
  EXPECT_TRUE(link.recorder.has("protocol 1 websocket"));
  EXPECT_TRUE(link.recorder.has("h 1 sec-websocket-version=13"));
  // Both ways as DATA, the stream open.
  EXPECT_EQ(link.server.start_response(id, 200), nullptr);
  EXPECT_EQ(link.server.body(id, "frame-out", true), nullptr);
  link.pump();
  EXPECT_EQ(link.client.responses[id].status, 200);
  EXPECT_EQ(link.client.responses[id].body, "frame-out");
  EXPECT_EQ(link.client.responses[id].header("content-length"), "");
  EXPECT_FALSE(link.client.responses[id].closed);
}

TEST(Http2Session, ExtendedConnectRefusedWhenNotEnabled) {
  Link link;
  link.server.start();
  link.pump();
  int32_t id = link.client.request({{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "https"},
                                    {":path", "/chat"}, {":authority", "example.com"}},
                                   nullptr, true);
  link.pump();
  EXPECT_TRUE(link.recorder.trace.empty());
  EXPECT_EQ(link.client.responses[id].reset_code, static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
}

TEST(Http2Session, WriteError) {
  for (Split split : SPLITS) {
    Link link({}, {}, {}, split);
    link.server.start();
    int32_t id = link.client.request(Client::get("/"));
    int32_t head_id = link.client.request(Client::get("/", "HEAD"));
    link.pump();
    EXPECT_EQ(link.server.start_response(id, 200), nullptr);  // Started: still replaceable
    EXPECT_TRUE(link.server.write_error(id, 503));
    EXPECT_EQ(link.server.response_state(id), ResponseWriter::State::Complete);
    EXPECT_STREQ(link.server.body(id, "x", false), app_mistake::ALREADY_COMPLETE);
    EXPECT_TRUE(link.server.write_error(head_id, 599));  // not one of ours: 500
    link.pump();
    const Response& r = link.client.responses[id];
    EXPECT_EQ(r.status, 503) << split_name(split);
    EXPECT_EQ(r.body, "Service Unavailable");
    EXPECT_EQ(r.header("content-type"), "text/plain; charset=utf-8");
    EXPECT_EQ(r.header("content-length"), "19");
    EXPECT_EQ(link.client.responses[head_id].status, 500);
    EXPECT_EQ(link.client.responses[head_id].data_frames, 0);
    EXPECT_TRUE(link.recorder.has("closed 1"));
    EXPECT_TRUE(link.recorder.has("closed 3"));
  }
}

TEST(Http2Session, WriteErrorWhileTheBodyComesStopsTheUpload) {
  // One stream at a time, so the connection's window is 65535: two
  // uploads left unconsumed would close it to a third without the session
  // giving their bytes back when their streams close.
  Http2Settings settings;
  settings.initial_window_size = 16384;
  settings.max_concurrent_streams = 1;
  Link link(settings);
  link.recorder.auto_consume = false;
  link.server.start();
  link.pump();
  for (int32_t expected_id : {1, 3, 5}) {
    std::string body(50000, 'b');
    int32_t id = link.client.request(Client::get("/", "POST"), &body);
    ASSERT_EQ(id, expected_id);
    link.pump();
    EXPECT_EQ(link.recorder.bodies[id].size(), 16384u);
    EXPECT_TRUE(link.server.write_error(id, 500));
    link.pump();
    const Response& r = link.client.responses[id];
    EXPECT_EQ(r.status, 500);
    EXPECT_TRUE(r.reset_received);  // RST_STREAM NO_ERROR: stop sending (RFC 9113 8.1)
    EXPECT_EQ(r.reset_code, 0u);
    EXPECT_TRUE(link.recorder.has("closed " + std::to_string(id)));
    EXPECT_FALSE(link.recorder.has("reset " + std::to_string(id) + " 0"));
  }
  EXPECT_GE(nghttp2_session_get_remote_window_size(link.client.raw()), 65535 - 16384);
}

TEST(Http2Session, UppercaseNamesAreMalformed) {
  Link link;
  link.server.start();
  Hpack hpack;
  std::string block = hpack.encode({{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/"},
                                    {"Upper", "x"}});
  link.send_raw(std::string(HTTP2_PREFACE) + settings_frame({}) +
                frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1, block));
  link.server_output();
  EXPECT_TRUE(link.recorder.trace.empty());
  ASSERT_FALSE(link.sent.empty());
  EXPECT_EQ(link.sent.back().type, NGHTTP2_RST_STREAM);
  EXPECT_EQ(link.sent.back().error_code, static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
}

// --- limits ---

TEST(Http2Session, TooManyHeadersOrTooLongAFieldGets431) {
  Limits limits;
  limits.max_headers = 3;
  limits.max_field_bytes = 20;
  for (Split split : SPLITS) {
    Link link({}, limits, {}, split);
    link.server.start();
    Fields many = Client::get("/");
    for (int i = 0; i < 4; ++i) many.emplace_back("x" + std::to_string(i), "v");
    int32_t a = link.client.request(many);
    Fields longer = Client::get("/");
    longer.emplace_back("x", std::string(20, 'v'));
    int32_t b = link.client.request(longer);
    Fields fine = Client::get("/");
    fine.emplace_back("x", std::string(19, 'v'));
    for (int i = 0; i < 2; ++i) fine.emplace_back("y" + std::to_string(i), "v");
    int32_t c = link.client.request(fine);
    link.pump();
    EXPECT_EQ(link.client.responses[a].status, 431) << split_name(split);
    EXPECT_EQ(link.client.responses[a].body, "Request Header Fields Too Large");
    EXPECT_EQ(link.client.responses[b].status, 431);
    EXPECT_TRUE(link.recorder.has("request 5 GET / end"));
    EXPECT_FALSE(link.recorder.has("request 1 GET / end"));
    EXPECT_FALSE(link.recorder.has("request 3 GET / end"));
    (void)c;
  }
}

TEST(Http2Session, HeaderListSizeAndHeadBytesGet431) {
  Http2Settings settings;
  settings.max_header_list_size = 1000;
  Limits limits;
  limits.max_head_bytes = 600;
  Link link(settings, limits);
  link.server.start();
  link.pump();
  Fields big = Client::get("/");
  big.emplace_back("x", std::string(990, 'v'));
  int32_t a = link.client.request(big);
  Fields bytes = Client::get("/");
  bytes.emplace_back("y", std::string(600, 'v'));
  int32_t b = link.client.request(bytes);
  link.pump();
  EXPECT_EQ(link.client.responses[a].status, 431);
  EXPECT_EQ(link.client.responses[b].status, 431);
  EXPECT_TRUE(link.recorder.trace.empty());
}

TEST(Http2Session, DeclaredBodyOverTheLimitGets413BeforeTheApp) {
  Limits limits;
  limits.max_body_bytes = 10;
  Link link({}, limits);
  link.server.start();
  Fields post = Client::get("/", "POST");
  post.emplace_back("content-length", "11");
  std::string body(11, 'x');
  int32_t id = link.client.request(post, &body);
  link.pump();
  EXPECT_EQ(link.client.responses[id].status, 413);
  EXPECT_TRUE(link.recorder.trace.empty());
}

TEST(Http2Session, BodyOverTheLimitGets413OrAReset) {
  Limits limits;
  limits.max_body_bytes = 10;
  for (bool response_begun : {false, true}) {
    Link link({}, limits);
    link.server.start();
    link.recorder.on_request = [&link, response_begun](int32_t id, const RequestHead&, bool) {
      if (response_begun) {
        EXPECT_EQ(link.server.start_response(id, 200), nullptr);
        EXPECT_EQ(link.server.body(id, "streaming", true), nullptr);
      }
    };
    std::string body(25, 'x');
    int32_t id = link.client.request(Client::get("/", "POST"), &body);
    link.pump();
    const Response& r = link.client.responses[id];
    if (response_begun) {
      // (its HEADERS may not have gone out before the reset)
      EXPECT_TRUE(r.reset_received);
      EXPECT_EQ(r.reset_code, static_cast<uint32_t>(NGHTTP2_CANCEL));
      EXPECT_TRUE(link.recorder.has("reset 1 8"));
    } else {
      EXPECT_EQ(r.status, 413);
      EXPECT_TRUE(link.recorder.has("reset 1 0"));
    }
    EXPECT_TRUE(link.recorder.has("closed 1"));
    EXPECT_LE(link.recorder.bodies[id].size(), 10u);
    EXPECT_EQ(link.server.start_response(id, 200), nullptr);  // gone: nothing happens
  }
}

TEST(Http2Session, ContentLengthMismatchResetsTheStream) {
  for (bool more : {false, true}) {
    Link link;
    link.server.start();
    Fields post = Client::get("/", "POST");
    post.emplace_back("content-length", "5");
    std::string body = more ? "123456" : "1234";
    int32_t id = link.client.request(post, &body);
    link.pump();
    EXPECT_EQ(link.client.responses[id].reset_code, static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
    EXPECT_TRUE(link.recorder.has("reset 1 1"));
    EXPECT_TRUE(link.recorder.has("closed 1"));
    EXPECT_FALSE(link.recorder.has("end 1"));
  }
}

// --- h2c ---

TEST(Http2Session, CleartextUpgradeServesStreamOne) {
  for (Split split : SPLITS) {
    Link link({}, {}, {}, split);
    RequestHead head;
    head.method = "GET";
    head.target = head.path = "/up?x=1";
    head.authority = "example.com";
    head.headers = {{"host", "example.com"}, {"connection", "Upgrade, HTTP2-Settings"}, {"upgrade", "h2c"},
                    {"http2-settings", "AAMAAABkAAQAAP__"}, {"accept", "*/*"}};
    answer_all(link, 200, "upgraded");
    // The client side of an upgrade: nghttp2 opens stream 1 for it.
    uint8_t payload[64];
    nghttp2_settings_entry entries[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
                                        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 65535}};
    nghttp2_ssize n = nghttp2_pack_settings_payload2(payload, sizeof payload, entries, 2);
    ASSERT_GT(n, 0);
    ASSERT_EQ(nghttp2_session_upgrade2(link.client.raw(), payload, static_cast<size_t>(n), 0, nullptr), 0);
    EXPECT_TRUE(link.server.start_upgraded(head, "AAMAAABkAAQAAP__"));
    std::vector<std::string> expected = {"request 1 GET /up?x=1 end", "authority 1 example.com",
                                         "h 1 host=example.com", "h 1 accept=*/*", "end 1"};
    EXPECT_EQ(link.recorder.trace, expected);
    link.pump();
    EXPECT_FALSE(link.client.failed);
    EXPECT_EQ(link.client.responses[1].status, 200) << split_name(split);
    EXPECT_EQ(link.client.responses[1].body, "upgraded");
    EXPECT_TRUE(link.recorder.has("closed 1"));
    // The connection goes on with stream 3.
    int32_t next = link.client.request(Client::get("/next"));
    link.pump();
    EXPECT_EQ(next, 3);
    EXPECT_EQ(link.client.responses[3].body, "upgraded");
  }
}

TEST(Http2Session, CleartextUpgradeWithBadSettingsQueuesNothing) {
  RequestHead head;
  head.method = "GET";
  head.target = head.path = "/";
  for (const char* bad : {"not base64!", "AAMAAABkAAQAAP_", "AAIAAAAC" /* ENABLE_PUSH=2 */, "AAM"}) {
    Link link;
    EXPECT_FALSE(link.server.start_upgraded(head, bad)) << bad;
    EXPECT_FALSE(link.server.wants_output());
    EXPECT_TRUE(link.recorder.trace.empty());
  }
}

// --- the connection ---

TEST(Http2Session, GracefulShutdown) {
  for (Split split : SPLITS) {
    Link link({}, {}, {}, split);
    link.server.start();
    int32_t in_flight = link.client.request(Client::get("/slow"));
    link.pump();
    link.server.shutdown();
    EXPECT_EQ(link.server.state(), Http2Session::State::Draining);
    link.pump();
    // The notice, then after the PING's round trip the real GOAWAY.
    EXPECT_EQ(link.client.goaways, 2) << split_name(split);
    EXPECT_EQ(link.client.goaway_code, 0u);
    EXPECT_EQ(link.client.goaway_last_stream, in_flight);
    // A stream opened now is not taken.
    int32_t late = link.client.request(Client::get("/late"));
    link.pump();
    EXPECT_FALSE(link.recorder.has("request 3 GET /late end"));
    EXPECT_EQ(link.client.responses[late].status, 0);
    // The one in flight finishes; then the connection does.
    EXPECT_EQ(link.server.state(), Http2Session::State::Draining);
    EXPECT_EQ(link.server.start_response(in_flight, 200), nullptr);
    EXPECT_EQ(link.server.body(in_flight, "done", false), nullptr);
    link.pump();
    EXPECT_EQ(link.client.responses[in_flight].body, "done");
    EXPECT_TRUE(link.recorder.has("closed 1"));
    EXPECT_EQ(link.server.state(), Http2Session::State::Finished);
  }
}

TEST(Http2Session, ShutdownWhileIdleFinishes) {
  Link link;
  link.server.start();
  link.pump();
  link.server.shutdown();
  link.pump();
  EXPECT_EQ(link.server.state(), Http2Session::State::Finished);
  // (nghttp2's client stops reading once idle after the notice: the frames
  // are read from the server's output.)
  auto goaways = link.goaways();
  ASSERT_EQ(goaways.size(), 2u);
  EXPECT_EQ(goaways[0].last_stream, INT32_MAX);
  EXPECT_EQ(goaways[1].last_stream, 0);
  EXPECT_EQ(goaways[1].error_code, 0u);
}

TEST(Http2Session, Ping) {
  Link link;
  link.server.start();
  link.pump();
  EXPECT_FALSE(link.server.ping_outstanding());
  link.server.ping();
  EXPECT_TRUE(link.server.ping_outstanding());
  EXPECT_TRUE(link.server.wants_output());
  std::string out = link.server_output();
  EXPECT_TRUE(link.server.ping_outstanding());
  link.client.input(out);
  link.pump();
  EXPECT_FALSE(link.server.ping_outstanding());
  // The client's PING is answered.
  nghttp2_submit_ping(link.client.raw(), NGHTTP2_FLAG_NONE, nullptr);
  link.pump();
  EXPECT_EQ(link.client.ping_acks, 1);
}

TEST(Http2Session, TheConnectionsEndClosesEveryStream) {
  Link* link = new Link;
  link->server.start();
  link->client.request(Client::get("/a"));
  link->client.request(Client::get("/b"));
  link->pump();
  // A protocol error from the client: the streams end with the connection.
  link->send_raw(frame(NGHTTP2_WINDOW_UPDATE, 0, 0, std::string(4, '\0')));  // increment 0
  link->pump();
  EXPECT_TRUE(link->client.goaway);
  EXPECT_EQ(link->client.goaway_code, static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
  EXPECT_EQ(link->server.state(), Http2Session::State::Finished);
  EXPECT_TRUE(link->recorder.has("reset 1 1"));
  EXPECT_TRUE(link->recorder.has("closed 1"));
  EXPECT_TRUE(link->recorder.has("closed 3"));
  delete link;
}

TEST(Http2Session, DestroyingTheSessionClosesItsStreams) {
  Recorder recorder;
  std::string client_bytes;
  {
    Client client;
    client.request(Client::get("/"));
    client_bytes = client.output();
  }
  {
    Http2Session session({}, {}, recorder);
    session.start();
    EXPECT_TRUE(session.receive(client_bytes));
    EXPECT_TRUE(recorder.has("end 1"));
  }
  EXPECT_EQ(recorder.trace.back(), "closed 1");
  EXPECT_TRUE(recorder.has("reset 1 8"));
}

}  // namespace
}  // namespace subcorn::http::test

namespace subcorn::http::test {
namespace {

// --- attacks: each ends as http2_session.h says, with bounded memory ---

// A hand-made client: the preface, empty SETTINGS and (unless told not to)
// the ACK of the server's SETTINGS.
std::string raw_start(bool ack = true) {
  std::string s(HTTP2_PREFACE);
  s += settings_frame({});
  if (ack) s += settings_frame({}, true);
  return s;
}

std::string get_block(Hpack& hpack, const std::string& path = "/") {
  return hpack.encode({{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", path}});
}

// Feeds `chunks` to the server one at a time, producing (and dropping: the
// attacker does not read, unless `reads`) between them; returns the largest
// growth of the heap seen.
size_t feed_attack(Link& link, const std::vector<std::string>& chunks, bool reads = true) {
  const size_t before = __sanitizer_get_current_allocated_bytes();
  size_t peak = 0;
  for (const std::string& chunk : chunks) {
    if (link.server_refused) break;
    link.send_raw(chunk);
    if (reads) link.server_output();
    size_t now = __sanitizer_get_current_allocated_bytes();
    if (now > before) peak = std::max(peak, now - before);
  }
  link.server_output();
  return peak;
}

bool goaway_with(const Link& link, uint32_t code) {
  for (const SentFrame& f : link.goaways()) {
    if (f.error_code == code) return true;
  }
  return false;
}

TEST(Http2Attack, RapidReset) {
  Link link;
  link.server.start();
  Hpack hpack;
  std::vector<std::string> chunks = {raw_start()};
  std::string rst_payload("\0\0\0\x08", 4);  // CANCEL
  for (int batch = 0; batch < 40; ++batch) {
    std::string chunk;
    for (int i = 0; i < 100; ++i) {
      int32_t id = 1 + 2 * (batch * 100 + i);
      chunk += frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, id, get_block(hpack));
      chunk += frame(NGHTTP2_RST_STREAM, 0, id, rst_payload);
    }
    chunks.push_back(chunk);
  }
  size_t growth = feed_attack(link, chunks);
  // nghttp2's reset limit: GOAWAY after about RESET_BURST resets, and no new
  // stream is taken after it.
  auto goaways = link.goaways();
  ASSERT_FALSE(goaways.empty());
  EXPECT_NE(goaways.front().error_code, 0u);
  int requests = 0;
  for (const std::string& line : link.recorder.trace) requests += line.rfind("request ", 0) == 0;
  EXPECT_GE(requests, 900);
  EXPECT_LE(requests, 1100);
  EXPECT_EQ(link.server.open_streams(), 0u);
  EXPECT_NE(link.server.state(), Http2Session::State::Open);
  EXPECT_LT(growth, 2u << 20);
}

TEST(Http2Attack, ContinuationFlood) {
  Link link;
  link.server.start();
  Hpack hpack;
  std::string block = get_block(hpack);
  // A field "x" whose 60000-byte value comes 500 bytes a CONTINUATION, and
  // the block never ends: valid HPACK all along, only too many frames.
  std::string literal("\x00\x01x\x7f", 4);
  size_t rest = 60000 - 127;
  while (rest >= 128) {
    literal.push_back(static_cast<char>(0x80 | (rest & 0x7f)));
    rest >>= 7;
  }
  literal.push_back(static_cast<char>(rest));
  std::vector<std::string> chunks = {raw_start() + frame(NGHTTP2_HEADERS, 0, 1, block + literal)};
  for (int i = 0; i < 100; ++i) chunks.push_back(frame(NGHTTP2_CONTINUATION, 0, 1, std::string(500, 'y')));
  size_t growth = feed_attack(link, chunks);
  EXPECT_TRUE(link.server_refused);
  EXPECT_TRUE(goaway_with(link, NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_EQ(link.server.state(), Http2Session::State::Finished);
  EXPECT_TRUE(link.recorder.trace.empty());
  EXPECT_LT(growth, 1u << 20);
}

TEST(Http2Attack, HpackBomb) {
  Http2Settings settings;
  settings.max_header_list_size = 64 * 1024;
  Link link(settings);
  link.server.start();
  // One 4000-byte field put in the dynamic table, then referenced 16000
  // times (one byte each): 64 MB of header list from 20 KB.
  Hpack hpack;
  std::string block = get_block(hpack);
  std::string literal;
  literal.push_back(0x40);  // literal with incremental indexing, new name
  literal.push_back(0x01);
  literal.push_back('x');
  std::string value(4000, 'v');
  literal.push_back(0x7f);  // length 127 + varint
  size_t rest = value.size() - 127;
  while (rest >= 128) {
    literal.push_back(static_cast<char>(0x80 | (rest & 0x7f)));
    rest >>= 7;
  }
  literal.push_back(static_cast<char>(rest));
  literal += value;
  std::string bomb = block + literal + std::string(12000, '\xbe');  // 0xbe: indexed, entry 62
  std::string attack = raw_start() + frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, bomb.substr(0, 16000)) +
                       frame(NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 1, bomb.substr(16000));
  size_t growth = feed_attack(link, {attack});
  EXPECT_LT(growth, 1u << 20);
  EXPECT_TRUE(link.recorder.trace.empty());
  bool got_431 = false;
  for (const SentFrame& f : link.sent) got_431 |= f.type == NGHTTP2_HEADERS && f.stream == 1;
  EXPECT_TRUE(got_431);
  EXPECT_EQ(link.server.state(), Http2Session::State::Open);
  // The connection goes on: the next request is served.
  // (by hand: the server's table holds "x" now, which the encoder does not know)
  link.send_raw(frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 3,
                      std::string("\x82\x86\x84", 3) + std::string("\x41\x01x", 3)));
  EXPECT_TRUE(link.recorder.has("request 3 GET / end"));
}

TEST(Http2Attack, HpackBombStatusIs431) {
  Http2Settings settings;
  settings.max_header_list_size = 8 * 1024;
  Link link(settings);
  link.server.start();
  link.pump();
  Fields huge = Client::get("/");
  for (int i = 0; i < 100; ++i) huge.emplace_back("same", std::string(100, 'v'));  // indexed after the first
  int32_t id = link.client.request(huge);
  link.pump();
  EXPECT_EQ(link.client.responses[id].status, 431);
  EXPECT_TRUE(link.recorder.trace.empty());
}

TEST(Http2Attack, SettingsFlood) {
  Link link;
  link.server.start();
  std::string flood;
  for (int i = 0; i < 5000; ++i) flood += settings_frame({});
  size_t growth = feed_attack(link, {raw_start(), flood}, false);
  EXPECT_TRUE(link.server_refused);
  EXPECT_TRUE(goaway_with(link, NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_EQ(link.server.state(), Http2Session::State::Finished);
  EXPECT_LT(growth, 1u << 20);
}

TEST(Http2Attack, SettingsWithTooManyEntries) {
  Link link;
  link.server.start();
  std::vector<std::pair<uint16_t, uint32_t>> entries(40, {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 4096});
  feed_attack(link, {raw_start() + settings_frame(entries)});
  EXPECT_TRUE(goaway_with(link, NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_EQ(link.server.state(), Http2Session::State::Finished);
}

TEST(Http2Attack, PingFlood) {
  Link link;
  link.server.start();
  std::string flood;
  for (int i = 0; i < 5000; ++i) flood += frame(NGHTTP2_PING, 0, 0, std::string(8, 'p'));
  size_t growth = feed_attack(link, {raw_start(), flood}, false);
  EXPECT_TRUE(link.server_refused);
  EXPECT_TRUE(goaway_with(link, NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_EQ(link.server.state(), Http2Session::State::Finished);
  EXPECT_LT(growth, 1u << 20);
}

TEST(Http2Attack, PingsAnsweredAtAReadersPaceAreNotAFlood) {
  Link link;
  link.server.start();
  std::vector<std::string> chunks = {raw_start()};
  for (int i = 0; i < 50; ++i) {
    std::string some;
    for (int j = 0; j < 100; ++j) some += frame(NGHTTP2_PING, 0, 0, std::string(8, 'p'));
    chunks.push_back(some);
  }
  feed_attack(link, chunks, true);
  EXPECT_FALSE(link.server_refused);
  EXPECT_EQ(link.server.state(), Http2Session::State::Open);
}

TEST(Http2Attack, EmptyDataFlood) {
  Link link;
  link.server.start();
  Hpack hpack;
  std::vector<std::string> chunks = {raw_start() +
                                     frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, get_block(hpack))};
  for (int batch = 0; batch < 30; ++batch) {
    std::string some;
    for (int i = 0; i < 100; ++i) some += frame(NGHTTP2_DATA, 0, 1, "");
    chunks.push_back(some);
  }
  size_t growth = feed_attack(link, chunks);
  EXPECT_TRUE(goaway_with(link, NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_EQ(link.server.state(), Http2Session::State::Finished);
  // The stream the flood came on ends with the connection.
  EXPECT_TRUE(link.recorder.has("request 1 GET /"));
  EXPECT_TRUE(link.recorder.has("closed 1"));
  EXPECT_LT(growth, 1u << 20);
}

TEST(Http2Attack, StreamsAboveTheLimitBeforeTheSettingsAreAcknowledged) {
  Http2Settings settings;
  settings.max_concurrent_streams = 2;
  Link link(settings);
  link.server.start();
  Hpack hpack;
  // The client has not acknowledged the limit: extra streams are refused,
  // one by one, until it has tried too often.
  std::vector<std::string> chunks = {raw_start(false)};
  for (int batch = 0; batch < 30; ++batch) {
    std::string some;
    for (int i = 0; i < 100; ++i) {
      int32_t id = 1 + 2 * (batch * 100 + i);
      some += frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, id, get_block(hpack));
    }
    chunks.push_back(some);
  }
  size_t growth = feed_attack(link, chunks);
  int refused = 0;
  for (const SentFrame& f : link.sent) {
    refused += f.type == NGHTTP2_RST_STREAM && f.error_code == NGHTTP2_REFUSED_STREAM;
  }
  EXPECT_GE(refused, 500);
  EXPECT_TRUE(link.recorder.has("request 1 GET / end"));
  EXPECT_TRUE(link.recorder.has("request 3 GET / end"));
  EXPECT_FALSE(link.recorder.has("request 5 GET / end"));
  EXPECT_TRUE(goaway_with(link, NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_LT(growth, 1u << 20);
}

TEST(Http2Attack, StreamsAboveTheLimitOnceAcknowledged) {
  Http2Settings settings;
  settings.max_concurrent_streams = 2;
  Link link(settings);
  link.server.start();
  Hpack hpack;
  std::string some = raw_start(true);
  for (int32_t id : {1, 3, 5}) {
    some += frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, id, get_block(hpack));
  }
  feed_attack(link, {some});
  EXPECT_TRUE(goaway_with(link, NGHTTP2_PROTOCOL_ERROR));
  EXPECT_FALSE(link.recorder.has("request 5 GET / end"));
  EXPECT_EQ(link.server.state(), Http2Session::State::Finished);
  EXPECT_TRUE(link.recorder.has("closed 1"));
  EXPECT_TRUE(link.recorder.has("closed 3"));
}

TEST(Http2Attack, AClientThatNeverOpensItsWindowCostsOnlyWhatTheAppQueued) {
  // Stream window 0 after SETTINGS: the server may send nothing.
  Link link({}, {}, {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0}});
  link.server.start();
  link.pump();
  int32_t id = link.client.request(Client::get("/"));
  link.pump();
  EXPECT_EQ(link.server.start_response(id, 200), nullptr);
  EXPECT_EQ(link.server.body(id, std::string(100000, 'x'), true), nullptr);
  link.pump();
  EXPECT_EQ(link.server.buffered(id), 100000u);  // the handler sees it, and stops its app
  EXPECT_EQ(link.client.responses[id].body, "");
  EXPECT_FALSE(link.server.wants_output());
}

}  // namespace
}  // namespace subcorn::http::test
