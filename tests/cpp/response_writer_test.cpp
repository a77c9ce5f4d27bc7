// ResponseWriter: each case is what an app says (status, headers, body and
// file parts) and the exact bytes the writer must produce for it. Every case
// also runs on a writer reused after another response (begin() must forget
// it), appends after bytes already in the buffer, and where the framing does
// not depend on how the body is cut, again with the body in 1-byte parts.
// llhttp, as a client, then reads each whole response back.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "http/response_writer.h"
#include "response_parse.h"

namespace subcorn::http {
namespace {

using std::string_literals::operator""s;
using Request = ResponseWriter::Request;
using Framing = ResponseWriter::Framing;
using State = ResponseWriter::State;

constexpr std::string_view DATE = "Sun, 06 Nov 1994 08:49:37 GMT";
// What the writer adds to every head whose app set neither Date nor Server.
const std::string DS = "date: Sun, 06 Nov 1994 08:49:37 GMT\r\nserver: subcorn\r\n";
const std::string OK = "HTTP/1.1 200 OK\r\n";
const std::string OK10 = "HTTP/1.0 200 OK\r\n";
// A buffer is seldom empty when a response begins: the writer only appends.
const std::string UNSENT = "<bytes still unsent>";

const Request GET{};
const Request GET_NO_KEEP_ALIVE{.keep_alive = false};
const Request HEAD{.head = true};
const Request GET10{.http10 = true, .keep_alive = false};
const Request GET10_KEEP_ALIVE{.http10 = true, .keep_alive = true};
const Request HEAD10_KEEP_ALIVE{.head = true, .http10 = true, .keep_alive = true};

constexpr bool MORE = true;
constexpr bool LAST = false;

// One thing the app says.
struct Step {
  enum class Kind { Start, Header, Body, File } kind;
  int status = 0;
  std::string name;
  std::string data;  // header value, body part or the file's content
  bool more = false;
};

Step status(int code) { return {Step::Kind::Start, code, {}, {}, false}; }
Step hdr(std::string name, std::string value) {
  return {Step::Kind::Header, 0, std::move(name), std::move(value), false};
}
Step part(std::string data, bool more) { return {Step::Kind::Body, 0, {}, std::move(data), more}; }
Step file_part(std::string content, bool more) {
  return {Step::Kind::File, 0, {}, std::move(content), more};
}

struct Outcome {
  std::string out;              // what went out: the writer's bytes and the file bytes
  std::string body;             // the body parts and file contents the app gave
  std::string mistake;          // the first refusal, "" when none
  size_t failed_step = SIZE_MAX;
  std::vector<int64_t> sends;   // *send of each file part
};

// Drives `w` as a connection would: file bytes are appended where the caller
// would sendfile() them, then file_end(). Stops at the first refusal, which
// must leave the buffer as it was.
Outcome run(ResponseWriter& w, const Request& request, const std::vector<Step>& steps) {
  Outcome r;
  std::string out = UNSENT;
  w.begin(request);
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    const std::string before = out;
    const char* mistake = nullptr;
    switch (s.kind) {
      case Step::Kind::Start:
        mistake = w.start(s.status);
        break;
      case Step::Kind::Header:
        mistake = w.header(s.name, s.data);
        break;
      case Step::Kind::Body:
        mistake = w.body(out, s.data, s.more, DATE);
        if (!mistake) r.body += s.data;
        break;
      case Step::Kind::File: {
        int64_t send = -1;
        mistake = w.file(out, static_cast<int64_t>(s.data.size()), s.more, DATE, &send);
        if (mistake) break;
        EXPECT_TRUE(send == 0 || send == static_cast<int64_t>(s.data.size())) << send;
        r.sends.push_back(send);
        r.body += s.data;
        out.append(s.data, 0, static_cast<size_t>(send));  // sendfile()
        w.file_end(out);
        break;
      }
    }
    if (mistake) {
      EXPECT_EQ(out, before) << "step " << i << " was refused but appended bytes";
      r.mistake = mistake;
      r.failed_step = i;
      break;
    }
  }
  EXPECT_EQ(out.compare(0, UNSENT.size(), UNSENT), 0) << "bytes before the response changed";
  r.out = out.substr(UNSENT.size());
  return r;
}

// The same steps with each body part cut into 1-byte parts.
std::vector<Step> bytewise(const std::vector<Step>& steps) {
  std::vector<Step> cut;
  for (const Step& s : steps) {
    if (s.kind != Step::Kind::Body || s.data.size() <= 1) {
      cut.push_back(s);
      continue;
    }
    for (size_t i = 0; i < s.data.size(); ++i)
      cut.push_back(part(s.data.substr(i, 1), i + 1 < s.data.size() ? MORE : s.more));
  }
  return cut;
}

// A response left half-written, with every app header the writer notes:
// begin() must forget all of it.
void dirty(ResponseWriter& w) {
  run(w, HEAD10_KEEP_ALIVE,
      {status(404), hdr("Connection", "close"), hdr("Date", "x"), hdr("Server", "y"),
       hdr("Content-Length", "3"), part("a", MORE), file_part("b", MORE)});
}

// ---- framing: what the writer writes --------------------------------------------

enum class Split {
  SameBytes,  // 1-byte body parts give the same bytes (the framing is fixed)
  Changes,    // the whole body in one part is what decides the framing
};

struct FramingCase {
  const char* name;
  Request request;
  std::vector<Step> steps;
  std::string expected;
  bool keep_alive;
  Framing framing;
  Split split;
  bool short_body = false;  // ends before its Content-Length: no client can read it whole
};

std::vector<FramingCase> framing_cases() {
  return {
      // Content-Length
      {"app_content_length", GET,
       {status(200), hdr("Content-Type", "text/plain"), hdr("Content-Length", "5"),
        part("hello", LAST)},
       OK + "Content-Type: text/plain\r\nContent-Length: 5\r\n" + DS + "\r\nhello",
       true, Framing::Length, Split::SameBytes},
      {"app_content_length_streamed", GET,
       {status(200), hdr("Content-Length", "5"), part("hel", MORE), part("lo", LAST)},
       OK + "Content-Length: 5\r\n" + DS + "\r\nhello", true, Framing::Length, Split::SameBytes},
      {"whole_body_in_one_part_gets_content_length", GET,
       {status(200), part("hello", LAST)},
       OK + "content-length: 5\r\n" + DS + "\r\nhello", true, Framing::Length, Split::Changes},
      {"empty_whole_body_gets_content_length_0", GET,
       {status(200), part("", LAST)},
       OK + "content-length: 0\r\n" + DS + "\r\n", true, Framing::Length, Split::SameBytes},
      {"two_equal_content_lengths_are_sent_once", GET,
       {status(200), hdr("Content-Length", "5"), hdr("content-length", " 5 "),
        part("hello", LAST)},
       OK + "Content-Length: 5\r\n" + DS + "\r\nhello", true, Framing::Length, Split::SameBytes},
      // Chunked
      {"streaming_gets_chunked", GET,
       {status(200), part("hel", MORE), part("lo", LAST)},
       OK + "transfer-encoding: chunked\r\n" + DS + "\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
       true, Framing::Chunked, Split::Changes},
      {"streaming_in_1_byte_parts", GET,
       {status(200), part("h", MORE), part("e", MORE), part("l", MORE), part("l", MORE),
        part("o", MORE), part("", LAST)},
       OK + "transfer-encoding: chunked\r\n" + DS +
           "\r\n1\r\nh\r\n1\r\ne\r\n1\r\nl\r\n1\r\nl\r\n1\r\no\r\n0\r\n\r\n",
       true, Framing::Chunked, Split::SameBytes},
      {"empty_parts_in_chunked_mode_write_nothing", GET,
       {status(200), part("", MORE), part("ab", MORE), part("", MORE), part("c", MORE),
        part("", LAST)},
       OK + "transfer-encoding: chunked\r\n" + DS + "\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n",
       true, Framing::Chunked, Split::Changes},
      // HTTP/1.0 and keep-alive
      {"http10_streaming_is_until_close", GET10_KEEP_ALIVE,
       {status(200), part("hel", MORE), part("lo", LAST)},
       OK10 + DS + "connection: close\r\n\r\nhello", false, Framing::UntilClose,
       Split::SameBytes},
      {"http10_keep_alive_says_so", GET10_KEEP_ALIVE,
       {status(200), part("hello", LAST)},
       OK10 + "content-length: 5\r\n" + DS + "connection: keep-alive\r\n\r\nhello", true,
       Framing::Length, Split::Changes},
      {"http10_keep_alive_app_content_length_streamed", GET10_KEEP_ALIVE,
       {status(200), hdr("Content-Length", "5"), part("hel", MORE), part("lo", LAST)},
       OK10 + "Content-Length: 5\r\n" + DS + "connection: keep-alive\r\n\r\nhello", true,
       Framing::Length, Split::SameBytes},
      {"http10_without_keep_alive_closes", GET10,
       {status(200), part("hello", LAST)},
       OK10 + "content-length: 5\r\n" + DS + "connection: close\r\n\r\nhello", false,
       Framing::Length, Split::Changes},
      {"no_keep_alive_gets_connection_close", GET_NO_KEEP_ALIVE,
       {status(200), part("hello", LAST)},
       OK + "content-length: 5\r\n" + DS + "connection: close\r\n\r\nhello", false,
       Framing::Length, Split::Changes},
      {"app_connection_close_ends_keep_alive_and_is_not_copied", GET,
       {status(200), hdr("Connection", "Close"), hdr("X-A", "1"), part("hi", LAST)},
       OK + "X-A: 1\r\ncontent-length: 2\r\n" + DS + "connection: close\r\n\r\nhi", false,
       Framing::Length, Split::Changes},
      {"app_connection_list_with_close", GET10_KEEP_ALIVE,
       {status(200), hdr("connection", "keep-alive, CLOSE"), part("hi", LAST)},
       OK10 + "content-length: 2\r\n" + DS + "connection: close\r\n\r\nhi", false,
       Framing::Length, Split::Changes},
      {"app_connection_keep_alive_is_not_copied", GET,
       {status(200), hdr("Connection", "keep-alive"), part("hi", LAST)},
       OK + "content-length: 2\r\n" + DS + "\r\nhi", true, Framing::Length, Split::Changes},
      // Transfer-Encoding from the app
      {"app_transfer_encoding_not_copied_whole_body", GET,
       {status(200), hdr("Transfer-Encoding", "chunked"), part("hello", LAST)},
       OK + "content-length: 5\r\n" + DS + "\r\nhello", true, Framing::Length, Split::Changes},
      {"app_transfer_encoding_not_copied_streaming", GET,
       {status(200), hdr("transfer-encoding", "gzip, chunked"), part("hel", MORE),
        part("lo", LAST)},
       OK + "transfer-encoding: chunked\r\n" + DS + "\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
       true, Framing::Chunked, Split::Changes},
      // HEAD: a GET's head, no body bytes
      {"head_whole_body", HEAD,
       {status(200), hdr("Content-Type", "text/plain"), part("hello", LAST)},
       OK + "Content-Type: text/plain\r\ncontent-length: 5\r\n" + DS + "\r\n", true,
       Framing::Length, Split::Changes},
      {"head_streaming_writes_no_chunk", HEAD,
       {status(200), part("hel", MORE), part("lo", LAST)},
       OK + "transfer-encoding: chunked\r\n" + DS + "\r\n", true, Framing::Chunked,
       Split::SameBytes},
      {"head_app_content_length_without_body_is_not_short", HEAD,
       {status(200), hdr("Content-Length", "5"), part("", LAST)},
       OK + "Content-Length: 5\r\n" + DS + "\r\n", true, Framing::Length, Split::SameBytes},
      {"head_app_content_length_with_body", HEAD,
       {status(200), hdr("Content-Length", "5"), part("hello", LAST)},
       OK + "Content-Length: 5\r\n" + DS + "\r\n", true, Framing::Length, Split::SameBytes},
      {"head_http10_streaming", HEAD10_KEEP_ALIVE,
       {status(200), part("hel", MORE), part("lo", LAST)},
       OK10 + DS + "connection: close\r\n\r\n", false, Framing::UntilClose, Split::SameBytes},
      // 204 and 304
      {"status_204_writes_no_body", GET,
       {status(204), hdr("X-A", "1"), part("", LAST)},
       "HTTP/1.1 204 No Content\r\nX-A: 1\r\n" + DS + "\r\n", true, Framing::None,
       Split::SameBytes},
      {"status_204_drops_the_apps_body", GET,
       {status(204), part("oops", LAST)},
       "HTTP/1.1 204 No Content\r\n" + DS + "\r\n", true, Framing::None, Split::SameBytes},
      {"status_204_streaming", GET,
       {status(204), part("a", MORE), part("", LAST)},
       "HTTP/1.1 204 No Content\r\n" + DS + "\r\n", true, Framing::None, Split::SameBytes},
      {"status_204_content_length_0_is_dropped", GET,
       {status(204), hdr("Content-Length", "0"), part("", LAST)},
       "HTTP/1.1 204 No Content\r\n" + DS + "\r\n", true, Framing::None, Split::SameBytes},
      {"status_304_passes_content_length_through", GET,
       {status(304), hdr("ETag", "\"v1\""), hdr("Content-Length", "1234"), part("", LAST)},
       "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 1234\r\n" + DS + "\r\n",
       true, Framing::None, Split::SameBytes},
      {"status_304_drops_the_apps_body", GET,
       {status(304), part("abc", MORE), part("def", LAST)},
       "HTTP/1.1 304 Not Modified\r\n" + DS + "\r\n", true, Framing::None, Split::SameBytes},
      // Date and Server
      {"app_server_and_date_are_kept_and_not_added", GET,
       {status(200), hdr("SERVER", "mine/1.0"), hdr("date", "Mon, 07 Nov 1994 00:00:00 GMT"),
        part("hi", LAST)},
       OK + "SERVER: mine/1.0\r\ndate: Mon, 07 Nov 1994 00:00:00 GMT\r\ncontent-length: 2\r\n\r\nhi",
       true, Framing::Length, Split::Changes},
      {"app_server_only", GET,
       {status(200), hdr("Server", "mine"), part("hi", LAST)},
       OK + "Server: mine\r\ncontent-length: 2\r\ndate: " + std::string(DATE) + "\r\n\r\nhi",
       true, Framing::Length, Split::Changes},
      {"app_date_only", GET,
       {status(200), hdr("Date", "Mon, 07 Nov 1994 00:00:00 GMT"), part("hi", LAST)},
       OK + "Date: Mon, 07 Nov 1994 00:00:00 GMT\r\ncontent-length: 2\r\nserver: subcorn\r\n\r\nhi",
       true, Framing::Length, Split::Changes},
      // A body shorter than its Content-Length
      {"short_body_in_one_part_says_close", GET,
       {status(200), hdr("Content-Length", "10"), part("hello", LAST)},
       OK + "Content-Length: 10\r\n" + DS + "connection: close\r\n\r\nhello", false,
       Framing::Length, Split::Changes, true},
      {"short_body_over_parts_ends_keep_alive", GET,
       {status(200), hdr("Content-Length", "10"), part("hel", MORE), part("lo", LAST)},
       OK + "Content-Length: 10\r\n" + DS + "\r\nhello", false, Framing::Length,
       Split::SameBytes, true},
      // Status lines at the edges of the valid range
      {"status_299_has_no_reason", GET,
       {status(299), part("", LAST)},
       "HTTP/1.1 299 \r\ncontent-length: 0\r\n" + DS + "\r\n", true, Framing::Length,
       Split::SameBytes},
      {"status_599", GET,
       {status(599), part("x", LAST)},
       "HTTP/1.1 599 \r\ncontent-length: 1\r\n" + DS + "\r\nx", true, Framing::Length,
       Split::SameBytes},
      // Files (wsgi.file_wrapper, sent with sendfile())
      {"file_with_app_content_length", GET,
       {status(200), hdr("Content-Length", "11"), file_part("hello world", LAST)},
       OK + "Content-Length: 11\r\n" + DS + "\r\nhello world", true, Framing::Length,
       Split::SameBytes},
      {"file_as_the_whole_body_gets_content_length", GET,
       {status(200), file_part("hello world", LAST)},
       OK + "content-length: 11\r\n" + DS + "\r\nhello world", true, Framing::Length,
       Split::SameBytes},
      {"empty_file_as_the_whole_body", GET,
       {status(200), file_part("", LAST)},
       OK + "content-length: 0\r\n" + DS + "\r\n", true, Framing::Length, Split::SameBytes},
      {"write_then_file_is_chunked", GET,
       {status(200), part("x", MORE), file_part("hello world", LAST)},
       OK + "transfer-encoding: chunked\r\n" + DS + "\r\n1\r\nx\r\nb\r\nhello world\r\n0\r\n\r\n",
       true, Framing::Chunked, Split::SameBytes},
      {"write_then_empty_file_ends_the_body_once", GET,
       {status(200), part("x", MORE), file_part("", LAST)},
       OK + "transfer-encoding: chunked\r\n" + DS + "\r\n1\r\nx\r\n0\r\n\r\n", true,
       Framing::Chunked, Split::SameBytes},
      {"file_then_body_parts", GET,
       {status(200), file_part("abc", MORE), part("de", LAST)},
       OK + "transfer-encoding: chunked\r\n" + DS + "\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
       true, Framing::Chunked, Split::Changes},
      {"several_files_chunked_empty_one_skipped", GET,
       {status(200), file_part("abc", MORE), file_part("", MORE), file_part("de", LAST)},
       OK + "transfer-encoding: chunked\r\n" + DS + "\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
       true, Framing::Chunked, Split::SameBytes},
      {"write_then_file_under_app_content_length", GET,
       {status(200), hdr("Content-Length", "12"), part("x", MORE),
        file_part("hello world", LAST)},
       OK + "Content-Length: 12\r\n" + DS + "\r\nxhello world", true, Framing::Length,
       Split::SameBytes},
      {"http10_write_then_file_until_close", GET10_KEEP_ALIVE,
       {status(200), part("x", MORE), file_part("hello world", LAST)},
       OK10 + DS + "connection: close\r\n\r\nxhello world", false, Framing::UntilClose,
       Split::SameBytes},
      {"head_file", HEAD,
       {status(200), file_part("hello world", LAST)},
       OK + "content-length: 11\r\n" + DS + "\r\n", true, Framing::Length, Split::SameBytes},
      {"head_write_then_file_writes_no_chunk", HEAD,
       {status(200), part("x", MORE), file_part("hello world", LAST)},
       OK + "transfer-encoding: chunked\r\n" + DS + "\r\n", true, Framing::Chunked,
       Split::SameBytes},
      {"head_write_then_empty_file_writes_no_chunk", HEAD,
       {status(200), part("x", MORE), file_part("", LAST)},
       OK + "transfer-encoding: chunked\r\n" + DS + "\r\n", true, Framing::Chunked,
       Split::SameBytes},
      {"status_204_file", GET,
       {status(204), file_part("abc", LAST)},
       "HTTP/1.1 204 No Content\r\n" + DS + "\r\n", true, Framing::None, Split::SameBytes},
      {"status_304_write_then_file", GET,
       {status(304), part("x", MORE), file_part("abc", LAST)},
       "HTTP/1.1 304 Not Modified\r\n" + DS + "\r\n", true, Framing::None, Split::SameBytes},
      {"file_shorter_than_content_length_says_close", GET,
       {status(200), hdr("Content-Length", "20"), file_part("hello world", LAST)},
       OK + "Content-Length: 20\r\n" + DS + "connection: close\r\n\r\nhello world", false,
       Framing::Length, Split::SameBytes, true},
  };
}

class Framings : public ::testing::TestWithParam<FramingCase> {};

void expect_framing(const FramingCase& c, const std::vector<Step>& steps, ResponseWriter& w) {
  Outcome r = run(w, c.request, steps);
  ASSERT_EQ(r.mistake, "") << "step " << r.failed_step;
  EXPECT_EQ(r.out, c.expected);
  EXPECT_EQ(w.state(), State::Complete);
  EXPECT_TRUE(w.complete());
  EXPECT_FALSE(w.replaceable());
  EXPECT_EQ(w.keep_alive(), c.keep_alive);
  EXPECT_EQ(w.framing(), c.framing);
  EXPECT_EQ(w.status(), steps[0].status);
  EXPECT_EQ(w.body_bytes(), static_cast<int64_t>(r.body.size()));
}

TEST_P(Framings, ExactBytes) {
  ResponseWriter w;
  expect_framing(GetParam(), GetParam().steps, w);
}

TEST_P(Framings, ExactBytesOnAReusedWriter) {
  ResponseWriter w;
  dirty(w);
  expect_framing(GetParam(), GetParam().steps, w);
}

TEST_P(Framings, BodyInOneBytePartsGivesTheSameBytes) {
  const FramingCase& c = GetParam();
  ResponseWriter w;
  if (c.split == Split::SameBytes) {
    expect_framing(c, bytewise(c.steps), w);
    return;
  }
  // The whole body in one part is what framed it: cut, it streams (or no
  // longer knows it is short when the head goes out)...
  Outcome r = run(w, c.request, bytewise(c.steps));
  ASSERT_EQ(r.mistake, "");
  EXPECT_NE(r.out, c.expected);
  if (c.short_body) return;
  // ...and a client still reads the same body.
  test::Parsed p = test::parse_response(r.out, c.request.head);
  EXPECT_EQ(p.error, HPE_OK) << r.out;
  EXPECT_TRUE(p.complete) << r.out;
  EXPECT_EQ(p.body, c.request.head ? "" : r.body);
}

// A client reads the response back: valid HTTP, the body the app gave (none
// for HEAD, 204 and 304) and the same view of keep-alive.
TEST_P(Framings, ClientReadsItBack) {
  const FramingCase& c = GetParam();
  if (c.short_body) return;  // incomplete by design: the client only sees the close
  ResponseWriter w;
  Outcome r = run(w, c.request, c.steps);
  test::Parsed p = test::parse_response(r.out, c.request.head);
  EXPECT_EQ(p.error, HPE_OK) << r.out;
  EXPECT_TRUE(p.complete) << r.out;
  EXPECT_EQ(p.status, w.status());
  bool body_goes_out = !c.request.head && c.framing != Framing::None;
  EXPECT_EQ(p.body, body_goes_out ? r.body : "");
  EXPECT_EQ(p.keep_alive, w.keep_alive());
}

INSTANTIATE_TEST_SUITE_P(ResponseWriter, Framings, ::testing::ValuesIn(framing_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- the app's mistakes: refused, named, nothing written --------------------------

struct MistakeCase {
  const char* name;
  Request request;
  std::vector<Step> steps;
  size_t failed_step;
  const char* mistake;   // a part of the message that names it
  std::string written;   // what the steps before it wrote
  bool replaceable;      // the server can still answer with its own 500
};

std::vector<MistakeCase> mistake_cases() {
  return {
      {"status_99", GET, {status(99)}, 0, "not a valid final status", "", true},
      {"status_100", GET, {status(100)}, 0, "not a valid final status", "", true},
      {"status_101", GET, {status(101)}, 0, "not a valid final status", "", true},
      {"status_199", GET, {status(199)}, 0, "not a valid final status", "", true},
      {"status_600", GET, {status(600)}, 0, "not a valid final status", "", true},
      {"status_0", GET, {status(0)}, 0, "not a valid final status", "", true},
      {"status_negative", GET, {status(-200)}, 0, "not a valid final status", "", true},
      {"cr_in_name", GET, {status(200), hdr("X-A\rB", "1")}, 1, "header name", "", true},
      {"lf_in_name", GET, {status(200), hdr("X-A\nB", "1")}, 1, "header name", "", true},
      {"nul_in_name", GET, {status(200), hdr("X-A\0B"s, "1")}, 1, "header name", "", true},
      {"empty_name", GET, {status(200), hdr("", "1")}, 1, "header name", "", true},
      {"cr_in_value", GET, {status(200), hdr("X-A", "1\r2")}, 1, "header value", "", true},
      {"lf_in_value", GET, {status(200), hdr("X-A", "1\n2")}, 1, "header value", "", true},
      {"nul_in_value", GET, {status(200), hdr("X-A", "1\0002"s)}, 1, "header value", "", true},
      {"response_splitting", GET,
       {status(200), hdr("X-A", "1\r\nSet-Cookie: stolen=1")}, 1, "header value", "", true},
      {"cr_in_connection_value", GET, {status(200), hdr("Connection", "close\r\nX: 1")}, 1,
       "header value", "", true},
      {"two_different_content_lengths", GET,
       {status(200), hdr("Content-Length", "5"), hdr("content-length", "6")}, 2,
       "Two different Content-Length values", "", true},
      {"content_length_on_204", GET, {status(204), hdr("Content-Length", "5")}, 1,
       "Content-Length is not allowed on a 204", "", true},
      {"content_length_0_then_5_on_204", GET,
       {status(204), hdr("Content-Length", "0"), hdr("Content-Length", "5")}, 2,
       "Two different Content-Length values", "", true},
      {"content_length_not_a_number", GET, {status(200), hdr("Content-Length", "abc")}, 1,
       "Invalid Content-Length", "", true},
      {"content_length_negative", GET, {status(200), hdr("Content-Length", "-1")}, 1,
       "Invalid Content-Length", "", true},
      {"content_length_list", GET, {status(200), hdr("Content-Length", "5, 6")}, 1,
       "Invalid Content-Length", "", true},
      {"content_length_empty", GET, {status(200), hdr("Content-Length", "")}, 1,
       "Invalid Content-Length", "", true},
      {"content_length_plus_sign", GET, {status(200), hdr("Content-Length", "+5")}, 1,
       "Invalid Content-Length", "", true},
      {"content_length_overflows", GET,
       {status(200), hdr("Content-Length", "99999999999999999999")}, 1,
       "Invalid Content-Length", "", true},
      {"body_longer_than_content_length_in_the_first_part", GET,
       {status(200), hdr("Content-Length", "3"), part("hello", LAST)}, 2,
       "longer than Content-Length", "", true},
      {"body_longer_than_content_length_later", GET,
       {status(200), hdr("Content-Length", "3"), part("he", MORE), part("llo", LAST)}, 3,
       "longer than Content-Length", OK + "Content-Length: 3\r\n" + DS + "\r\nhe", false},
      {"head_body_longer_than_content_length", HEAD,
       {status(200), hdr("Content-Length", "3"), part("hello", LAST)}, 2,
       "longer than Content-Length", "", true},
      {"file_longer_than_content_length", GET,
       {status(200), hdr("Content-Length", "5"), file_part("hello world", LAST)}, 2,
       "longer than Content-Length", "", true},
      {"file_longer_than_what_is_left_of_content_length", GET,
       {status(200), hdr("Content-Length", "5"), part("x", MORE), file_part("hello", LAST)}, 3,
       "longer than Content-Length", OK + "Content-Length: 5\r\n" + DS + "\r\nx", false},
      {"body_after_complete", GET,
       {status(200), part("hi", LAST), part("x", LAST)}, 2, "after the response already completed",
       OK + "content-length: 2\r\n" + DS + "\r\nhi", false},
      {"empty_body_after_complete", GET,
       {status(200), part("hi", LAST), part("", LAST)}, 2,
       "after the response already completed", OK + "content-length: 2\r\n" + DS + "\r\nhi",
       false},
      {"file_after_complete", GET,
       {status(200), part("", LAST), file_part("abc", LAST)}, 2,
       "after the response already completed", OK + "content-length: 0\r\n" + DS + "\r\n", false},
      {"body_before_start", GET, {part("x", LAST)}, 0, "before the response was started", "",
       true},
      {"file_before_start", GET, {file_part("x", LAST)}, 0, "before the response was started",
       "", true},
      {"header_before_start", GET, {hdr("X-A", "1")}, 0, "before the response was started", "",
       true},
      {"start_twice", GET, {status(200), status(200)}, 1, "already started", "", true},
      {"header_after_the_head", GET,
       {status(200), part("x", MORE), hdr("X-A", "1")}, 2, "after the response head was sent",
       OK + "transfer-encoding: chunked\r\n" + DS + "\r\n1\r\nx\r\n", false},
  };
}

class Mistakes : public ::testing::TestWithParam<MistakeCase> {};

TEST_P(Mistakes, RefusedAndNamed) {
  const MistakeCase& c = GetParam();
  for (bool reused : {false, true}) {
    ResponseWriter w;
    if (reused) dirty(w);
    Outcome r = run(w, c.request, c.steps);
    ASSERT_EQ(r.failed_step, c.failed_step) << "reused=" << reused;
    EXPECT_NE(r.mistake.find(c.mistake), std::string::npos) << r.mistake;
    EXPECT_EQ(r.out, c.written);
    EXPECT_EQ(w.replaceable(), c.replaceable);
  }
}

INSTANTIATE_TEST_SUITE_P(ResponseWriter, Mistakes, ::testing::ValuesIn(mistake_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- the cases the hostile review found, spelled out --------------------------------

// WSGI: write(b"x"), then wsgi.file_wrapper over an empty file. The server
// used to send "1\r\nx\r\n0\r\n0\r\n\r\n": an empty chunk-size line ends the
// body, so the last chunk came twice and curl called it malformed.
TEST(ResponseWriter, WriteThenEmptyFileEndsTheBodyOnce) {
  ResponseWriter w;
  w.begin(GET);
  ASSERT_EQ(w.start(200), nullptr);
  std::string out;
  ASSERT_EQ(w.body(out, "x", MORE, DATE), nullptr);
  size_t head_end = out.size() - 6;
  EXPECT_EQ(out.substr(head_end), "1\r\nx\r\n");
  int64_t send = -1;
  ASSERT_EQ(w.file(out, 0, LAST, DATE, &send), nullptr);
  EXPECT_EQ(send, 0);
  w.file_end(out);
  EXPECT_EQ(out.substr(head_end), "1\r\nx\r\n0\r\n\r\n");
  EXPECT_TRUE(w.complete());
  EXPECT_TRUE(w.keep_alive());
}

// The same with an 11-byte file: its chunk size line goes before the file
// bytes, its CRLF and the last chunk after them (file_end).
TEST(ResponseWriter, WriteThenFileFramesTheFileAsOneChunk) {
  ResponseWriter w;
  w.begin(GET);
  ASSERT_EQ(w.start(200), nullptr);
  std::string out;
  ASSERT_EQ(w.body(out, "x", MORE, DATE), nullptr);
  out.clear();  // flushed
  int64_t send = -1;
  ASSERT_EQ(w.file(out, 11, LAST, DATE, &send), nullptr);
  EXPECT_EQ(send, 11);
  EXPECT_EQ(out, "b\r\n");
  EXPECT_TRUE(w.complete());  // the app is done; the file bytes are still owed
  out.clear();
  w.file_end(out);
  EXPECT_EQ(out, "\r\n0\r\n\r\n");
  out.clear();
  w.file_end(out);  // once only
  EXPECT_EQ(out, "");
}

// HEAD: whatever the framing, no file byte and no chunk byte.
TEST(ResponseWriter, HeadFileSendsNothing) {
  for (bool write_first : {false, true}) {
    ResponseWriter w;
    w.begin(HEAD);
    ASSERT_EQ(w.start(200), nullptr);
    std::string out;
    if (write_first) {
      ASSERT_EQ(w.body(out, "x", MORE, DATE), nullptr);
    }
    int64_t send = -1;
    ASSERT_EQ(w.file(out, 11, LAST, DATE, &send), nullptr);
    EXPECT_EQ(send, 0);
    w.file_end(out);
    EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n") << out;
    EXPECT_EQ(out.find("\r\n\r\n"), out.size() - 4) << "bytes after the head: " << out;
  }
}

TEST(ResponseWriter, NegativeFileLengthIsRefused) {
  ResponseWriter w;
  w.begin(GET);
  ASSERT_EQ(w.start(200), nullptr);
  std::string out;
  int64_t send = -1;
  EXPECT_NE(w.file(out, -1, LAST, DATE, &send), nullptr);
  EXPECT_EQ(send, 0);
  EXPECT_EQ(out, "");
  EXPECT_TRUE(w.replaceable());
}

// ---- states ------------------------------------------------------------------------

TEST(ResponseWriter, StatesInOrder) {
  ResponseWriter w;
  EXPECT_EQ(w.state(), State::Idle);
  w.begin(GET);
  EXPECT_EQ(w.state(), State::Idle);
  EXPECT_TRUE(w.replaceable());
  ASSERT_EQ(w.start(201), nullptr);
  EXPECT_EQ(w.state(), State::Started);
  EXPECT_EQ(w.status(), 201);
  EXPECT_TRUE(w.replaceable());
  ASSERT_EQ(w.header("X-A", "1"), nullptr);
  EXPECT_EQ(w.state(), State::Started);
  std::string out;
  ASSERT_EQ(w.body(out, "ab", MORE, DATE), nullptr);
  EXPECT_EQ(w.state(), State::Streaming);
  EXPECT_FALSE(w.replaceable());
  EXPECT_FALSE(w.complete());
  int64_t send = 0;
  ASSERT_EQ(w.file(out, 3, MORE, DATE, &send), nullptr);
  w.file_end(out);
  EXPECT_EQ(w.state(), State::Streaming);
  ASSERT_EQ(w.body(out, "c", LAST, DATE), nullptr);
  EXPECT_EQ(w.state(), State::Complete);
  EXPECT_TRUE(w.complete());
  EXPECT_EQ(w.body_bytes(), 6);
  w.begin(GET);
  EXPECT_EQ(w.state(), State::Idle);
  EXPECT_EQ(w.status(), 0);
  EXPECT_EQ(w.body_bytes(), 0);
  EXPECT_EQ(w.framing(), Framing::None);
}

// A refused header forgets the status and headers taken: the app (or the
// server) starts over, and nothing of the refused attempt leaks into it.
TEST(ResponseWriter, RefusedHeaderStartsOver) {
  ResponseWriter w;
  w.begin(GET);
  ASSERT_EQ(w.start(404), nullptr);
  ASSERT_EQ(w.header("X-Old", "1"), nullptr);
  ASSERT_EQ(w.header("Connection", "close"), nullptr);
  ASSERT_EQ(w.header("Content-Length", "9"), nullptr);
  EXPECT_NE(w.header("X-Bad", "a\r\nb"), nullptr);
  EXPECT_EQ(w.state(), State::Idle);
  std::string out;
  EXPECT_NE(w.body(out, "x", LAST, DATE), nullptr);  // no status any more
  ASSERT_EQ(w.start(200), nullptr);
  ASSERT_EQ(w.body(out, "hi", LAST, DATE), nullptr);
  EXPECT_EQ(out, OK + "content-length: 2\r\n" + DS + "\r\nhi");
  EXPECT_TRUE(w.keep_alive());
}

TEST(ResponseWriter, InvalidStatusLeavesItIdle) {
  ResponseWriter w;
  w.begin(GET);
  EXPECT_NE(w.start(101), nullptr);
  EXPECT_EQ(w.state(), State::Idle);
  EXPECT_EQ(w.status(), 0);
  EXPECT_EQ(w.start(200), nullptr);  // the app may still answer properly
}

// Draining: the server closes after this response. A head not written yet
// says so; one already written cannot, but keep-alive ends all the same.
// The next begin() is not affected.
TEST(ResponseWriter, CloseAfterEndsKeepAlive) {
  struct Case {
    const char* name;
    Request request;
    bool close_before_head;
    std::string expected;
  };
  const Case cases[] = {
      {"before_head", GET, true, OK + "content-length: 2\r\n" + DS + "connection: close\r\n\r\nhi"},
      {"before_head_http10", GET10_KEEP_ALIVE, true,
       OK10 + "content-length: 2\r\n" + DS + "connection: close\r\n\r\nhi"},
      {"after_head", GET, false,
       OK + "transfer-encoding: chunked\r\n" + DS + "\r\n1\r\nh\r\n1\r\ni\r\n0\r\n\r\n"},
  };
  for (const Case& c : cases) {
    ResponseWriter w;
    w.begin(c.request);
    ASSERT_EQ(w.start(200), nullptr);
    std::string out;
    if (c.close_before_head) {
      w.close_after();
      ASSERT_EQ(w.body(out, "hi", LAST, DATE), nullptr);
    } else {
      ASSERT_EQ(w.body(out, "h", MORE, DATE), nullptr);
      w.close_after();
      ASSERT_EQ(w.body(out, "i", LAST, DATE), nullptr);
    }
    EXPECT_EQ(out, c.expected) << c.name;
    EXPECT_FALSE(w.keep_alive()) << c.name;

    w.begin(c.request);  // a new response on a connection that is not draining
    ASSERT_EQ(w.start(200), nullptr);
    ASSERT_EQ(w.body(out, "", LAST, DATE), nullptr);
    EXPECT_TRUE(w.keep_alive()) << c.name;
  }
}

// Big bodies: the chunk size is hex, the content-length decimal.
TEST(ResponseWriter, LargeSizes) {
  ResponseWriter w;
  w.begin(GET);
  ASSERT_EQ(w.start(200), nullptr);
  std::string out;
  ASSERT_EQ(w.body(out, "", MORE, DATE), nullptr);
  out.clear();
  int64_t send = 0;
  ASSERT_EQ(w.file(out, int64_t{5} << 32, LAST, DATE, &send), nullptr);
  EXPECT_EQ(out, "500000000\r\n");
  EXPECT_EQ(send, int64_t{5} << 32);

  w.begin(GET);
  ASSERT_EQ(w.start(200), nullptr);
  out.clear();
  ASSERT_EQ(w.file(out, int64_t{5} << 32, LAST, DATE, &send), nullptr);
  EXPECT_NE(out.find("content-length: 21474836480\r\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace subcorn::http
