// ws::Session: the WebSocket protocol state machine of one server connection
// (RFC 6455 5-7, RFC 7692 6-7), sans-IO: client bytes in, one event out at a
// time; what the protocol answers by itself and what the app sends appended
// to a caller-owned buffer, which the caller writes to the socket.
//
// Rules:
// - Exactly one event per next() call, like http::RequestParser. NeedMore
//   consumes all input (a partial header or payload is kept or assembled in
//   the session); every other event consumes through the last byte of the
//   frame that produced it, never a byte further.
// - Messages are whole: fragments are joined, compressed messages inflated,
//   text validated as UTF-8. A single-frame uncompressed message that came
//   whole in one input is unmasked in place and returned as a view into the
//   input (`input` is mutable for that): no copy, no allocation. Others are
//   assembled in a session-owned buffer that never grows past
//   max_message_size (1009 "too big" as soon as a message would). Views in an
//   event stay valid until the next call.
// - Control frames may come between a message's fragments. A Ping is
//   answered with a Pong of the same payload (appended to `out`) while the
//   session is Open; Ping and Pong are reported either way.
// - Invalid input ends the session with an Error event and the close frame
//   for it in `out` (unless ours was sent already): 1002 for protocol errors
//   (frame.h lists the header rules; a continuation without a message, a new
//   message inside a fragmented one, RSV1 on a continuation, a 1-byte close
//   payload, a close code invalid on the wire), 1007 for text or a close
//   reason that is not UTF-8 (as soon as a byte makes it impossible, even in
//   a partial frame) and for compressed data zlib cannot inflate, 1009 for a
//   message over max_message_size. Nothing is parsed after it.
// - The peer's Close is reported with its code (1005 when it had none) and
//   reason; while Open the reply goes to `out`: its code and reason echoed, an empty
//   Close for 1005. Nothing is parsed after it.
// - Sending: data and pings only while Open; one Close. Server frames are
//   never masked and never fragmented. Messages of at least
//   compress_threshold bytes are compressed when deflate was negotiated.
//   The caller gives valid UTF-8 for text (a Python str always is).
//
// States (explicit, one at a time):
//   Open           both directions open
//   CloseSent      our Close is out (send_close); the peer's is awaited.
//                  Messages, pings and pongs are still reported (6455 1.4),
//                  but nothing is answered any more
//   CloseReceived  the peer closed first and the reply is in `out`: the
//                  closing handshake is done; flush `out`, then close TCP
//   Closed         we closed first and the peer answered, or the session
//                  failed (Error): flush `out`, then close TCP
// After CloseReceived and Closed every next() returns the final Close or
// Error again, consuming nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ws/deflate.h"
#include "ws/frame.h"
#include "ws/utf8.h"

namespace subcorn::ws {

struct SessionConfig {
  size_t max_message_size = 16 * 1024 * 1024;  // after decompression
  std::optional<DeflateParams> deflate;        // negotiated in the handshake
  size_t compress_threshold = 128;             // smaller messages go uncompressed
};

enum class State { Open, CloseSent, CloseReceived, Closed };

enum class EventType {
  NeedMore,  // all input consumed, no complete event yet
  Message,   // text, payload: a whole message
  Ping,      // payload (the Pong is already in `out` while Open)
  Pong,      // payload
  Close,     // code, reason: the peer's
  Error,     // code, reason: ours (the close frame is in `out`)
};

struct Event {
  EventType type = EventType::NeedMore;
  bool text = false;         // Message: text (valid UTF-8) or binary
  std::string_view payload;  // Message, Ping, Pong
  uint16_t code = 0;         // Close, Error
  std::string_view reason;   // Close: UTF-8 from the peer; Error: ours, for logs
};

class Session {
 public:
  explicit Session(const SessionConfig& config = SessionConfig{});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Parses from `input` until one event is produced or input runs out;
  // `*consumed` is set to the bytes used (feed the rest in the next call).
  // Payload bytes of `input` may be unmasked in place. Call it until
  // NeedMore, also with no input left: an event may need no more bytes.
  Event next(char* input, size_t size, size_t* consumed, std::string& out);

  // Each appends a frame to `out` and returns nullptr, or returns the
  // caller's mistake and appends nothing.
  // A message: refused unless Open.
  const char* send_message(bool text, std::string_view data, std::string& out);
  // A Close: refused unless Open or for a code an app may not send (1005,
  // CLOSE_NO_STATUS, sends an empty Close); the reason must be UTF-8 and is
  // cut to 123 bytes on a code point boundary.
  const char* send_close(uint16_t code, std::string_view reason, std::string& out);
  // A Ping of at most 125 bytes: refused unless Open.
  const char* send_ping(std::string_view payload, std::string& out);

  State state() const noexcept { return state_; }
  // The peer's close code once its Close came in (1005 for none); before
  // that ours (send_close, or the Error's); 0 while Open.
  uint16_t close_code() const noexcept { return close_code_; }
  // Bytes the session holds of a message still arriving (for backpressure).
  size_t buffered_bytes() const noexcept;

 private:
  enum class Phase { Header, Payload };
  enum class Assembly { None, Plain, Compressed };  // the message being assembled

  Event fail(uint16_t code, const char* reason, std::string& out);
  const char* check_sequence() const;
  Event on_control(const char* payload, size_t size, std::string& out);
  Event on_close(const char* payload, size_t size, std::string& out);
  const char* take_data(char* data, size_t size, uint16_t* code);
  const char* finish_message(uint16_t* code);
  const char* check_inflated(Inflater::Result result, size_t before, uint16_t* code);
  Event final_event() const;
  void release_message();

  SessionConfig config_;
  State state_ = State::Open;
  uint16_t close_code_ = 0;

  // The frame being read.
  Phase phase_ = Phase::Header;
  uint8_t header_[MAX_HEADER_SIZE] = {};
  size_t header_have_ = 0;  // header bytes staged from earlier inputs
  FrameHeader frame_;
  uint64_t remaining_ = 0;  // payload bytes of frame_ still to come
  size_t mask_offset_ = 0;
  char control_[MAX_CONTROL_PAYLOAD] = {};
  size_t control_have_ = 0;  // a control payload staged from earlier inputs

  // The message being assembled from fragments or inflated.
  Assembly assembly_ = Assembly::None;
  bool message_text_ = false;
  Utf8Validator utf8_;
  std::string message_;
  bool message_delivered_ = false;  // message_ is viewed by the last event

  // The final event, repeated by every later next().
  EventType final_type_ = EventType::NeedMore;
  const char* error_reason_ = "";
  char close_reason_[MAX_CLOSE_REASON] = {};
  size_t close_reason_size_ = 0;

  std::optional<Deflater> deflater_;
  std::optional<Inflater> inflater_;
  std::string compressed_;  // scratch for send_message
};

}  // namespace subcorn::ws
