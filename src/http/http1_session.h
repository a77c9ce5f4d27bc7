// Http1Session: the server side of one HTTP/1.1 connection, sans-IO. It owns
// the request parser and the response writer and the rules between them:
// which request is in flight, whether another may follow (keep-alive,
// draining), "100 Continue", the server's own error answers, and the switch
// to another protocol. Bytes in through next(), bytes out appended to a
// caller-owned buffer; no sockets, no Python, no clock (the connection keeps
// the timeouts).
//
// States (one at a time; the response's own states are the writer's):
//   Idle       between requests: nothing of the next one parsed yet (its
//              head may be partly buffered in the parser)
//   Receiving  a request's head is parsed; its body is arriving
//   Received   the whole request is read; its response may still be going
//   Done       no more requests on this connection: an error was answered,
//              or the last response said (or was owed) "connection: close"
//   Switched   the connection speaks another protocol now; the bytes after
//              the request's head belong to it (switch_protocols())
//
// A request ends (finish_request()) once it is Received and its response is
// complete: back to Idle when the connection may carry another, else Done.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/limits.h"
#include "http/request_parser.h"
#include "http/response_writer.h"

namespace subcorn::http {

class Http1Session {
 public:
  enum class State { Idle, Receiving, Received, Done, Switched };

  explicit Http1Session(const Limits& limits = Limits{},
                        const ResponseDefaults& defaults = ResponseDefaults::standard());

  // --- input ---
  // The parser's events, one per call (see RequestParser::next), which move
  // the session: Head -> Receiving (the writer begins a response for it),
  // MessageComplete -> Received, Error -> Done. In Done or Switched nothing
  // is parsed (NeedMore, nothing consumed).
  Event next(std::string_view input, size_t* consumed);
  const RequestHead& head() const noexcept { return parser_.head(); }
  // Between a head and the end of its body.
  bool in_message() const noexcept { return parser_.in_message(); }
  State state() const noexcept { return state_; }
  // A request is in flight (parsed, not yet finished).
  bool in_request() const noexcept { return state_ == State::Receiving || state_ == State::Received; }
  bool request_received() const noexcept { return state_ == State::Received; }

  // "100 Continue" is owed when the client asked for it, the request has a
  // body and no response has begun. write_continue() appends it once, the
  // first time the app wants the body; a response that begins first means
  // the client must not wait for it any more.
  bool continue_owed() const noexcept { return continue_ == Continue::Owed; }
  void write_continue(std::string& out);

  // --- the response (framing is the writer's: http/response_writer.h) ---
  const char* start(int status);
  const char* header(std::string_view name, std::string_view value) { return writer_.header(name, value); }
  const char* body(std::string& out, std::string_view data, bool more, std::string_view date);
  const char* file(std::string& out, int64_t count, bool more, std::string_view date, int64_t* send);
  void file_end(std::string& out) { writer_.file_end(out); }
  const ResponseWriter& writer() const noexcept { return writer_; }

  // The server answers on its own (400, 408, 413, 500, 503...): appends the
  // response (with the default fields, Date as `date`), which closes the
  // connection, and moves to Done. False when the app's response has begun
  // (nothing can be said any more; only closing is left), in which case
  // nothing is appended.
  bool write_error(int status, std::string& out, std::string_view date);

  // The request is read and its response complete: moves to Idle and
  // returns true when another request may follow, else to Done.
  bool finish_request();

  // May the connection carry another request after this one? False once
  // the client or the app said close, the server is draining, or an error
  // was answered.
  bool keep_alive() const noexcept { return keep_alive_; }

  // Graceful shutdown: the response in flight (or the next one) says
  // "connection: close", and no request follows it.
  void drain();
  // The same for this request's answer only (an upgrade request's, which no
  // request may follow on this connection whatever the answer).
  void close_after_response();
  // Like write_error, with a response the caller built (a refused WebSocket
  // handshake: 400 or 426 with its own headers).
  bool write_refusal(std::string_view response, std::string& out);
  const ResponseDefaults& defaults() const noexcept { return *defaults_; }

  // The request in flight asked to switch protocols, and the server agreed
  // (it has written the 101 itself): no byte is parsed as HTTP/1.1 any more.
  // The caller hands what it buffered after the head to the new protocol.
  void switch_protocols() noexcept { state_ = State::Switched; }

 private:
  enum class Continue { NotOwed, Owed };

  bool refuse();

  const ResponseDefaults* defaults_;
  RequestParser parser_;
  ResponseWriter writer_;
  State state_ = State::Idle;
  Continue continue_ = Continue::NotOwed;
  bool keep_alive_ = true;
  bool draining_ = false;
};

}  // namespace subcorn::http
