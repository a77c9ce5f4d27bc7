// Http1Session: each case is a conversation. The test plays a connection and
// an app: it feeds the client's bytes (whole, one byte at a time, and with
// the start of another request trailing), answers every request the way the
// case says, and checks what the session did (a trace of events and states)
// and every byte it wrote.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "http/http1_session.h"
#include "http/response.h"
#include "parser_driver.h"

namespace subcorn::http {
namespace {

using State = Http1Session::State;
constexpr std::string_view DATE = "Sun, 06 Nov 1994 08:49:37 GMT";

const char* state_name(State s) {
  switch (s) {
    case State::Idle: return "idle";
    case State::Receiving: return "receiving";
    case State::Received: return "received";
    case State::Done: return "done";
    case State::Switched: return "switched";
  }
  return "?";
}

// How the app answers a request once it is received.
using Answer = std::function<void(Http1Session&, std::string& out)>;

void answer_ok(Http1Session& s, std::string& out) {
  ASSERT_EQ(s.start(200), nullptr);
  ASSERT_EQ(s.header("content-type", "text/plain"), nullptr);
  std::string body = "ok ";
  body.append(s.head().path);
  ASSERT_EQ(s.body(out, body, false, DATE), nullptr);
}

struct Conversation {
  std::vector<std::string> trace;  // events and states, in order
  std::string out;                 // every byte the session wrote
  std::string unparsed;            // what the session left unconsumed
  State state = State::Idle;
};

// The pump: bytes arrive in `pieces`; a request is answered as soon as it is
// whole (with `answer`), then finished; `on_head` may act between the head
// and the body (100-continue, switching protocols).
Conversation converse(const std::vector<std::string>& pieces, const Answer& answer,
                      const std::function<void(Http1Session&, Conversation&)>& on_head = nullptr) {
  Http1Session session;
  Conversation c;
  std::string buffer;
  State last = session.state();
  auto note_state = [&] {
    if (session.state() != last) {
      last = session.state();
      c.trace.push_back(std::string("-> ") + state_name(last));
    }
  };
  for (const std::string& piece : pieces) {
    buffer += piece;
    for (;;) {
      if (session.state() == State::Received) {
        answer(session, c.out);
        if (session.writer().complete()) session.finish_request();
        note_state();
      }
      if (session.state() == State::Done || session.state() == State::Switched) break;
      if (buffer.empty() && !session.in_message()) break;
      size_t consumed = 0;
      Event ev = session.next(buffer, &consumed);
      std::string body(ev.body);  // a view into `buffer`, which is cut next
      buffer.erase(0, consumed);
      switch (ev.type) {
        case EventType::NeedMore:
          break;
        case EventType::Head:
          c.trace.push_back("head " + std::string(session.head().method) + " " +
                            std::string(session.head().path));
          note_state();
          if (on_head) on_head(session, c);
          note_state();
          continue;
        case EventType::Body:
          if (!c.trace.empty() && c.trace.back().starts_with("body "))
            c.trace.back() += body;
          else
            c.trace.push_back("body " + body);
          continue;
        case EventType::MessageComplete:
          c.trace.push_back("complete");
          note_state();
          continue;
        case EventType::Error:
          c.trace.push_back("error " + std::to_string(ev.status));
          c.trace.push_back(session.write_error(ev.status, c.out, DATE) ? "answered" : "not answered");
          note_state();
          break;
      }
      break;
    }
  }
  c.unparsed = buffer;
  c.state = session.state();
  return c;
}

const std::string TRAILING = "GET /next HT";

// Every case three ways: whole, byte by byte, and with the start of a next
// request trailing (which must stay unparsed or be left as a partial head).
void check(const std::string& input, const Answer& answer, const std::vector<std::string>& trace,
           const std::string& out, const std::function<void(Http1Session&, Conversation&)>& on_head = nullptr) {
  for (const auto& pieces : {test::whole(input), test::bytewise(input), test::whole(input + TRAILING)}) {
    Conversation c = converse(pieces, answer, on_head);
    EXPECT_EQ(c.trace, trace) << "input of " << pieces.size() << " pieces";
    EXPECT_EQ(c.out, out) << "input of " << pieces.size() << " pieces";
  }
}

// The writer's order: the app's headers, the framing, Date and Server, then
// "connection: close" when the connection ends with this response.
std::string ok_response(std::string_view path, bool close = false, bool http10 = false) {
  std::string body = "ok " + std::string(path);
  return std::string(http10 ? "HTTP/1.0" : "HTTP/1.1") + " 200 OK\r\ncontent-type: text/plain\r\n" +
         "content-length: " + std::to_string(body.size()) +
         "\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\nserver: subcorn\r\n" +
         std::string(close ? "connection: close\r\n" : "") + "\r\n" + body;
}

const std::string GET_A = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
const std::string GET_B = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
TEST(Http1Session, PipelinedKeepAliveRequestsAreAnsweredInOrder) {
  check(GET_A + GET_B, answer_ok,
        {"head GET /a", "-> receiving", "complete", "-> received", "-> idle",
         "head GET /b", "-> receiving", "complete", "-> received", "-> idle"},
        ok_response("/a") + ok_response("/b"));
}

TEST(Http1Session, TrailingBytesOfTheNextRequestStayInTheParser) {
  for (const auto& pieces : {test::whole(GET_A + TRAILING), test::bytewise(GET_A + TRAILING)}) {
    Conversation c = converse(pieces, answer_ok);
    EXPECT_EQ(c.out, ok_response("/a"));
    EXPECT_EQ(c.state, State::Idle);  // a partial head is not a request yet
    EXPECT_EQ(c.trace.back(), "-> idle");
  }
}

TEST(Http1Session, ConnectionCloseEndsTheConnectionAfterItsResponse) {
  std::string input = "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  check(input + GET_B, answer_ok, {"head GET /a", "-> receiving", "complete", "-> received", "-> done"},
        ok_response("/a", true));
  // Nothing after it is parsed, however it arrives.
  Conversation c = converse(test::whole(input + GET_B), answer_ok);
  EXPECT_EQ(c.unparsed, GET_B);
}

TEST(Http1Session, Http10WithoutKeepAliveIsDoneAfterOneResponse) {
  std::string input = "GET /a HTTP/1.0\r\n\r\n";
  check(input, answer_ok, {"head GET /a", "-> receiving", "complete", "-> received", "-> done"},
        ok_response("/a", true, true));
}

TEST(Http1Session, AppSayingCloseEndsKeepAlive) {
  auto close_answer = [](Http1Session& s, std::string& out) {
    ASSERT_EQ(s.start(204), nullptr);
    ASSERT_EQ(s.header("connection", "close"), nullptr);
    ASSERT_EQ(s.body(out, "", false, DATE), nullptr);
  };
  check(GET_A + GET_B, close_answer, {"head GET /a", "-> receiving", "complete", "-> received", "-> done"},
        "HTTP/1.1 204 No Content\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        "server: subcorn\r\nconnection: close\r\n\r\n");
}

TEST(Http1Session, BodyArrivesBetweenHeadAndCompletion) {
  std::string input = "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
  check(input + GET_B, answer_ok,
        {"head POST /u", "-> receiving", "body hello", "complete", "-> received", "-> idle",
         "head GET /b", "-> receiving", "complete", "-> received", "-> idle"},
        ok_response("/u") + ok_response("/b"));
}

TEST(Http1Session, ContinueIsOwedOnceAndOnlyForABody) {
  std::string input = "POST /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi";
  auto want_body = [](Http1Session& s, Conversation& c) {
    EXPECT_TRUE(s.continue_owed());
    s.write_continue(c.out);
    EXPECT_FALSE(s.continue_owed());
    s.write_continue(c.out);  // once only
  };
  check(input, answer_ok, {"head POST /u", "-> receiving", "body hi", "complete", "-> received", "-> idle"},
        "HTTP/1.1 100 Continue\r\n\r\n" + ok_response("/u"), want_body);
  // Without a body nothing is owed.
  std::string no_body = "GET /g HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n";
  auto nothing_owed = [](Http1Session& s, Conversation&) { EXPECT_FALSE(s.continue_owed()); };
  check(no_body, answer_ok, {"head GET /g", "-> receiving", "complete", "-> received", "-> idle"},
        ok_response("/g"), nothing_owed);
}

TEST(Http1Session, AResponseThatBeginsFirstCancelsTheContinue) {
  std::string input = "POST /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi";
  auto answer_at_head = [](Http1Session& s, Conversation& c) {
    ASSERT_EQ(s.start(413), nullptr);
    EXPECT_FALSE(s.continue_owed());
    s.write_continue(c.out);  // appends nothing
    ASSERT_EQ(s.body(c.out, "", false, DATE), nullptr);
  };
  auto already_answered = [](Http1Session&, std::string&) {};
  check(input, already_answered,
        {"head POST /u", "-> receiving", "body hi", "complete", "-> received", "-> idle"},
        "HTTP/1.1 413 Content Too Large\r\ncontent-length: 0\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        "server: subcorn\r\n\r\n",
        answer_at_head);
}

TEST(Http1Session, MalformedInputIsAnsweredOnceAndNothingMoreIsParsed) {
  std::string bad = "GET /a HTTP/1.1\r\nHost: h\r\nbad header\r\n\r\n";
  std::string expected =
      "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 11\r\n"
      "date: Sun, 06 Nov 1994 08:49:37 GMT\r\nserver: subcorn\r\nconnection: close\r\n\r\nBad Request";
  check(bad + GET_B, answer_ok, {"error 400", "answered", "-> done"}, expected);
}

TEST(Http1Session, AnErrorAfterTheResponseBeganCannotBeAnswered) {
  // Chunked body that goes bad after the app has begun its response.
  std::string input = "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\nzz\r\n";
  auto stream_at_head = [](Http1Session& s, Conversation& c) {
    ASSERT_EQ(s.start(200), nullptr);
    ASSERT_EQ(s.body(c.out, "part", true, DATE), nullptr);
  };
  std::string head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                     "server: subcorn\r\n\r\n4\r\npart\r\n";
  check(input, answer_ok, {"head POST /u", "-> receiving", "body hi", "error 400", "not answered", "-> done"},
        head, stream_at_head);
}

TEST(Http1Session, DrainingAnswersTheNextRequestWithClose) {
  for (const auto& pieces : {test::whole(GET_A + GET_B), test::bytewise(GET_A + GET_B)}) {
    Http1Session session;
    session.drain();
    std::string buffer, out;
    for (const std::string& piece : pieces) {
      buffer += piece;
      size_t consumed = 0;
      for (;;) {
        if (session.state() == State::Received) {
          answer_ok(session, out);
          EXPECT_FALSE(session.finish_request());
        }
        if (session.state() == State::Done) break;
        Event ev = session.next(buffer, &consumed);
        buffer.erase(0, consumed);
        if (ev.type == EventType::NeedMore || ev.type == EventType::Error) break;
      }
    }
    EXPECT_EQ(out, ok_response("/a", true));
    EXPECT_EQ(session.state(), State::Done);
  }
}

TEST(Http1Session, SwitchingProtocolsLeavesTheBytesAfterTheHeadUnparsed) {
  std::string upgrade = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  std::string frames = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";  // a masked "Hello"
  auto switch_now = [](Http1Session& s, Conversation& c) {
    EXPECT_TRUE(s.head().upgrade);
    c.out += "HTTP/1.1 101 Switching Protocols\r\n\r\n";
    s.switch_protocols();
  };
  for (const auto& pieces : {test::whole(upgrade + frames), test::bytewise(upgrade + frames)}) {
    Conversation c = converse(pieces, answer_ok, switch_now);
    EXPECT_EQ(c.state, State::Switched);
    EXPECT_EQ(c.trace, (std::vector<std::string>{"head GET /ws", "-> receiving", "-> switched"}));
    EXPECT_EQ(c.unparsed, frames);  // handed over to the new protocol whole
    EXPECT_EQ(c.out, "HTTP/1.1 101 Switching Protocols\r\n\r\n");
  }
}

TEST(Http1Session, SwitchingOnceTheRequestIsReceivedHandsOverTheSameBytes) {
  std::string upgrade = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  std::string frames = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58" + GET_B;  // not HTTP any more
  auto accept_later = [](Http1Session& s, std::string& out) {
    out += "HTTP/1.1 101 Switching Protocols\r\n\r\n";
    s.switch_protocols();
  };
  for (const auto& pieces : {test::whole(upgrade + frames), test::bytewise(upgrade + frames)}) {
    Conversation c = converse(pieces, accept_later);
    EXPECT_EQ(c.state, State::Switched);
    EXPECT_EQ(c.trace, (std::vector<std::string>{"head GET /ws", "-> receiving", "complete", "-> received",
                                                 "-> switched"}));
    EXPECT_EQ(c.unparsed, frames);
  }
}

TEST(Http1Session, AnUpgradeNotTakenIsServedAsHttp) {
  std::string upgrade = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  check(upgrade + GET_B, answer_ok,
        {"head GET /ws", "-> receiving", "complete", "-> received", "-> idle",
         "head GET /b", "-> receiving", "complete", "-> received", "-> idle"},
        ok_response("/ws") + ok_response("/b"));
}

}  // namespace
}  // namespace subcorn::http
