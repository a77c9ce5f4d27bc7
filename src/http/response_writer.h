// ResponseWriter: the one place that frames an HTTP/1.1 response. Sans-IO: it
// takes what the app says (status, headers, body parts, file parts) and
// appends the bytes to send to a caller-owned buffer; the caller writes them
// (and sends file bytes itself, with sendfile(), where it is told to).
//
// Rules it owns (nowhere else decides them):
// - Framing: Content-Length when the app declared one, or when the whole body
//   comes in the first body part; chunked when the body streams (HTTP/1.1);
//   until-close when it streams on HTTP/1.0; nothing for HEAD, 204 and 304
//   (their head is sent as the app gave it, no body bytes ever follow).
//   HEAD gets the head a GET would get, framing line included (RFC 9110
//   9.3.2): framing() says what that head announces, and no body byte (no
//   chunk, no file byte) follows it. 204 and 304 have Framing::None; a 304
//   keeps the app's Content-Length (RFC 9110 8.6).
// - The app's mistakes are refused before anything of the response is
//   written, with a message naming the mistake, by the rules HTTP/2 shares
//   (app_response_head.h: the status, names and values, Content-Length, more
//   body than declared). A refused header forgets the status and headers
//   taken so far (back to Idle).
// - Transfer-Encoding and Connection from the app are not copied: the writer
//   frames the body itself, and "Connection: close" from the app ends
//   keep-alive. The server's default fields (Date, Server, --header) are
//   added unless the app set them (http/response_defaults.h).
// - A body that ends shorter than its declared Content-Length completes the
//   response but forbids keep-alive (the client can only tell by the close).
//
// States (explicit, one at a time):
//   Idle       no response begun: the server may still answer on its own
//   Started    status and headers taken, nothing written: still replaceable
//   Streaming  the head is in the output; body parts follow
//   Complete   the last part was written
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/app_response_head.h"
#include "http/response_defaults.h"

namespace subcorn::http {

class ResponseWriter {
 public:
  enum class State { Idle, Started, Streaming, Complete };
  enum class Framing { None, Length, Chunked, UntilClose };

  explicit ResponseWriter(const ResponseDefaults& defaults = ResponseDefaults::standard())
      : defaults_(&defaults) {}

  // What the response answers.
  struct Request {
    bool head = false;        // HEAD: no body bytes go out
    bool http10 = false;      // HTTP/1.0: status line and keep-alive rules
    bool keep_alive = true;   // the client allows another request after this one
  };

  // A new response: back to Idle, nothing kept from the one before.
  void begin(const Request& request);

  // The app's status and headers. Each returns nullptr, or a message naming
  // the app's mistake (the response stays replaceable: nothing was written).
  const char* start(int status);
  const char* header(std::string_view name, std::string_view value);

  // A body part; `more` false ends the body. The first part also appends the
  // head (with `date` unless the app set Date). Returns nullptr or the app's
  // mistake (too much body for Content-Length), in which case nothing of
  // this part was appended.
  const char* body(std::string& out, std::string_view data, bool more, std::string_view date);

  // A file part of `count` bytes that the caller sends itself right after
  // `out`: appends the head (first part) and the framing before the file,
  // and sets `*send` to how many file bytes to send (0 for HEAD, 204, 304 or
  // an empty file). Once they are sent, file_end() appends what follows them
  // (the chunk's CRLF, and the last chunk when `more` was false); call it
  // before the next part. With `*send` 0 file() has appended everything
  // itself and file_end() appends nothing, so calling it always is safe.
  // A part with `more` false completes the response at once (the app is
  // done), even while its file bytes and file_end() are still owed.
  const char* file(std::string& out, int64_t count, bool more, std::string_view date,
                   int64_t* send);
  void file_end(std::string& out);

  // The server will close the connection after this response (it is
  // draining): a head not yet written says "connection: close".
  void close_after() noexcept;

  State state() const noexcept { return state_; }
  // Nothing of this response has been written: the server may answer instead.
  bool replaceable() const noexcept { return state_ == State::Idle || state_ == State::Started; }
  bool complete() const noexcept { return state_ == State::Complete; }
  int status() const noexcept { return head_.status(); }
  Framing framing() const noexcept { return framing_; }
  // After Complete: may the connection carry another request?
  bool keep_alive() const noexcept { return keep_alive_; }
  int64_t body_bytes() const noexcept { return body_bytes_; }  // body bytes the app gave

 private:
  // What must follow the file bytes of the last file() part.
  enum class FileTail { Nothing, ChunkEnd, ChunkEndThenLast };

  void forget_response();
  const char* take_header(std::string_view name, std::string_view value);
  Framing choose_framing(bool more) const;
  const char* take_part(std::string& out, int64_t size, bool more, std::string_view date);
  void write_head(std::string& out, Framing framing, int64_t first_size, bool more,
                  std::string_view date);
  bool carries_body() const;
  void finish();

  const ResponseDefaults* defaults_;
  Request request_;
  State state_ = State::Idle;
  Framing framing_ = Framing::None;
  bool keep_alive_ = true;
  int64_t body_bytes_ = 0;
  std::string app_headers_;     // the app's header lines, until the head is written
  AppResponseHead head_;        // the app's status and fields, checked (the shared rules)
  uint64_t defaults_set_ = 0;   // the default fields the app set itself (ResponseDefaults::bit_of)
  int64_t content_length_ = -1; // the app's, or the one computed from a whole body
  FileTail file_tail_ = FileTail::Nothing;
};

}  // namespace subcorn::http
