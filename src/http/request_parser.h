// Sans-IO HTTP/1.1 request parser: bytes in, one event out at a time.
//
// Rules:
// - No sockets, no Python. The caller owns the bytes; the parser never reads
//   past what it is given and reports how much it consumed.
// - Exactly one event per call, so the caller can stop between requests
//   (pipelining: bytes of the next request stay unconsumed until asked for).
// - The request head is copied into parser-owned storage (a head may arrive in
//   many pieces); header names are lowercased there, once, as ASGI and WSGI want.
// - Every protocol error carries the status to answer with (400, 413, 414,
//   431, 501), after which the parser is dead and the connection must close.
// - Only what an origin server serves passes: CONNECT is refused (501: this
//   is not a proxy), an asterisk-form target only with OPTIONS, and an
//   HTTP/1.1 request needs exactly one valid Host (RFC 9112 3.2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/limits.h"

namespace subcorn::http {

struct Header {
  std::string_view name;   // lowercased
  std::string_view value;  // as received, surrounding whitespace trimmed
};

struct RequestHead {
  std::string_view method;  // "GET"
  std::string_view target;  // raw request target, e.g. "/a%20b?x=1"
  // The target in origin-form, raw: "/p?q=1" also for "http://h/p?q=1", and
  // "/" for "http://h"; "*" for OPTIONS *. Always starts with '/' or is "*".
  std::string_view path;
  // The Host to use: an absolute-form target's authority (which RFC 9112
  // 3.2.2 puts in place of the Host field), else the Host field's value;
  // "" when there is neither (HTTP/1.0). The "host" entry in `headers` says
  // the same, so whoever reads the headers sees one Host.
  std::string_view authority;
  int version_major = 1;
  int version_minor = 1;
  // In order received, repeats kept (except Host: exactly one). With an
  // absolute-form target, the host entry's value is `authority`, added at
  // the end if the request had none.
  std::vector<Header> headers;
  bool keep_alive = true;       // from version and Connection header
  bool chunked = false;         // Transfer-Encoding: chunked
  int64_t content_length = -1;  // -1 when absent
  bool expect_continue = false; // Expect: 100-continue
  bool upgrade = false;         // Connection: upgrade with an Upgrade header
  // HTTP/2 extended CONNECT's :protocol ("websocket", RFC 8441); "" otherwise.
  std::string_view protocol;
};

enum class EventType {
  NeedMore,         // all input consumed, no complete event yet
  Head,             // head() is valid until the next Head
  Body,             // event.body views the caller's input
  MessageComplete,  // the request (and its body, if any) is done
  Error,            // event.status/reason; the parser accepts nothing more
};

struct Event {
  EventType type = EventType::NeedMore;
  std::string_view body;     // Body only; points into the input given to next()
  int status = 0;            // Error only: 400, 413, 414, 431 or 501
  std::string_view reason;   // Error only: short text for logs
};

class RequestParser {
 public:
  explicit RequestParser(const Limits& limits = Limits{});
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses from `input` until one event is produced or input runs out.
  // `*consumed` is set to the bytes used; feed the rest in the next call.
  //
  // Call it in a loop until NeedMore (or Error), also when the input left is
  // empty: an event may need no bytes (MessageComplete right after the Head
  // of a request without a body, or after the Body that ended the input).
  // - Head consumes the whole head, through the blank line's CRLF.
  // - Body consumes exactly its view; chunk framing is consumed silently.
  // - MessageComplete consumes through the last byte of the request (the
  //   final CRLF of a chunked body), never a byte of the next request.
  // - Error: `*consumed` is how far parsing got (for logs only). Every later
  //   call returns the same Error and consumes nothing, until reset().
  // After a request with keep_alive false, further bytes other than empty
  // lines are an Error (400). After an upgrade request's MessageComplete, a
  // server that switches protocols stops calling next(); one that does not
  // switch goes on calling it and gets HTTP/1.1 again. CONNECT never gets
  // that far: it is an Error (501) as soon as its method is read, so no
  // tunnel byte is ever parsed as a request.
  Event next(std::string_view input, size_t* consumed);

  const RequestHead& head() const noexcept;

  // True between Head and MessageComplete.
  bool in_message() const noexcept;

  // Forget any partial state and be ready for a new request (used after an
  // upgrade is refused, never on the hot path). Also clears an Error and
  // head(), whose views must not be used afterwards.
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace subcorn::http
