// Http2Session: the server side of one HTTP/2 connection, sans-IO, on
// nghttp2's frame layer (nghttp2_session_mem_recv2 / mem_send2: bytes in,
// bytes out, no sockets). It owns nghttp2's session and what belongs to each
// stream on the wire: the request head (HPACK-decoded into a RequestHead,
// the same shape HTTP/1.1 gives), the response queue that flow control
// drains, the response's state, trailers, 103 Early Hints, resets. No
// sockets, no Python, no clock: the connection (server/) keeps the timeouts
// and calls ping() when its keep-alive interval says so.
//
// Many streams at once. What happens on a stream is reported to an
// Http2Handler from inside receive() (and h2_stream_closed / h2_output_drained
// also from inside produce()); the handler may call the response methods
// from inside those callbacks.
//
// Rules it owns (nowhere else decides them):
// - Request heads: pseudo-headers checked (RFC 9113 8.3: :method, :scheme,
//   :path once each and first; :protocol only with enable_connect_protocol
//   and only on CONNECT, RFC 8441), header names lowercase, no
//   connection-specific fields (connection, keep-alive, proxy-connection,
//   transfer-encoding, upgrade; te other than "trailers"), a host field that
//   agrees with :authority. A bad head resets that stream (PROTOCOL_ERROR),
//   it never reaches the handler. A plain CONNECT gets 501 (not a proxy, as
//   over HTTP/1.1), also without reaching the handler.
// - The RequestHead: method, target and path are :path ("*" for OPTIONS *),
//   authority is :authority (else the host field), version 2.0; headers are
//   the regular fields in order; when there is no host field, a "host"
//   entry with the authority is added at the end, so apps (WSGI HTTP_HOST,
//   Django) see a Host as they do over HTTP/1.1. Cookie fields (HTTP/2 sends
//   one per cookie) are one entry joined with "; " (RFC 9113 8.2.3), where
//   the first was. content_length from the
//   field (-1 without one); keep_alive true, chunked/expect_continue/upgrade
//   false. protocol is :protocol of an extended CONNECT ("websocket").
// - Limits: the head against Limits (max_headers, max_field_bytes,
//   max_head_bytes counting names and values) and max_header_list_size
//   (name + value + 32 a field, RFC 9113 6.5.2; nghttp2 does not enforce it
//   on what it receives, the session counts as the block is decoded and
//   keeps nothing once over): 431 on that stream, never reported. A declared
//   content-length over Limits::max_body_bytes: 413, never reported. A body
//   that goes over it: 413 while no response has begun, else RST_STREAM
//   CANCEL; either way the handler gets h2_stream_reset (NO_ERROR, CANCEL).
//   A DATA total that contradicts content-length: reset, PROTOCOL_ERROR.
// - Floods that cost the server and not the client end the connection with
//   GOAWAY ENHANCE_YOUR_CALM (see Http2Settings and the .cpp for the limits):
//   CONTINUATION floods (more than 8 in a block), SETTINGS / PING floods
//   (1000 ACKs unsent), SETTINGS of more than 32 entries, empty DATA frames
//   and other "glitches" (a token bucket). Rapid reset: nghttp2's reset rate
//   limit sends GOAWAY (nghttp2 says INTERNAL_ERROR), no new stream is taken
//   and the connection finishes once the streams are gone. Streams above
//   max_concurrent_streams: REFUSED_STREAM while the client has not
//   acknowledged our SETTINGS (each one a glitch), a connection error
//   (GOAWAY PROTOCOL_ERROR) once it has.
// - Responses: the same mistakes as ResponseWriter refuses (status outside
//   200..599, bad names or values, two Content-Lengths, more body than
//   declared) with the same messages; connection-specific fields from the
//   app are not sent (HTTP/2 forbids them); names are lowercased; date and
//   server added unless the app set them. HEAD, 204 and 304 send no DATA.
//   A response's state uses ResponseWriter::State's words. A body shorter
//   than its Content-Length ends with RST_STREAM (INTERNAL_ERROR), not
//   END_STREAM. A response that ends while the request body still comes
//   is followed by RST_STREAM NO_ERROR (RFC 9113 8.1: stop sending).
// - Calls about a stream after h2_stream_reset or h2_stream_closed (or for
//   an id the session does not know) do nothing and return nullptr (false
//   for write_error): the app's late words go nowhere, as writes to a client
//   that left do over HTTP/1.1.
// - Request body flow control is manual: a stream's window reopens only as
//   the app takes the body (consume()), so a slow app is backpressure on
//   its client and the server buffers at most the initial window per stream.
//
// Stream ids are the client's (odd, > 0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/limits.h"
#include "http/request_parser.h"
#include "http/response_defaults.h"
#include "http/response_writer.h"

namespace subcorn::http {

struct Http2Settings {
  // SETTINGS_MAX_CONCURRENT_STREAMS (--http2-max-concurrent-streams). A
  // client that opens more before it has acknowledged the limit gets its
  // extra streams refused (REFUSED_STREAM); one that keeps doing so is told
  // to calm down (GOAWAY ENHANCE_YOUR_CALM); once it has acknowledged, one
  // more stream is a connection error (GOAWAY PROTOCOL_ERROR).
  uint32_t max_concurrent_streams = 100;
  // SETTINGS_INITIAL_WINDOW_SIZE (--http2-initial-window-size): how much
  // request body one stream may send before its app takes some. The
  // connection's window is this times max_concurrent_streams, capped at
  // 2^31-1.
  uint32_t initial_window_size = 1024 * 1024;
  // SETTINGS_MAX_HEADER_LIST_SIZE (--http2-max-header-list-size): decoded
  // header bytes one request may have (HPACK bomb: a small block that
  // decodes to a large list is refused, 431 on the stream).
  uint32_t max_header_list_size = 64 * 1024;
  // SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): extended CONNECT for
  // WebSocket over HTTP/2. On when the server serves WebSocket.
  bool enable_connect_protocol = false;
  // The fields every response gets unless its app set them (Date, Server,
  // --header); it outlives the session.
  const ResponseDefaults* defaults = &ResponseDefaults::standard();
};

// What the session tells the server about its streams.
class Http2Handler {
 public:
  // A request's head is complete. `head` (and its views) stays valid until
  // h2_stream_closed for the same id. `end_stream`: no body follows (also
  // reported as h2_body_end right after, so a handler may ignore it).
  virtual void h2_request(int32_t id, const RequestHead& head, bool end_stream) = 0;
  // Request body bytes; they count against the stream's window until the
  // handler gives them back with consume().
  virtual void h2_body(int32_t id, std::string_view data) = 0;
  virtual void h2_body_end(int32_t id) = 0;
  // The client reset the stream (RST_STREAM with `error_code`), or the
  // session did (a protocol error of that stream, a limit). No response
  // goes out for it any more; h2_stream_closed follows.
  virtual void h2_stream_reset(int32_t id, uint32_t error_code) = 0;
  // The stream left the session (request read and response sent whole, or
  // reset, or the connection ended). Its head is released after this
  // returns. Called for every stream that had an h2_request.
  virtual void h2_stream_closed(int32_t id) = 0;
  // produce() framed some of this stream's queued response: the app may be
  // given room to write more.
  virtual void h2_output_drained(int32_t id) = 0;

 protected:
  ~Http2Handler() = default;
};

class Http2Session {
 public:
  // The states of the connection (the streams' states are nghttp2's).
  //   Open       serving
  //   Draining   GOAWAY sent (shutdown()): streams in flight finish, new
  //              ones are refused
  //   Failed     a connection error: GOAWAY with its code is queued; once
  //              produced, the connection closes. (A GOAWAY nghttp2 queues
  //              on its own shows once produce() has written it.)
  //   Finished   nothing more to read or write: close the connection
  enum class State { Open, Draining, Failed, Finished };

  Http2Session(const Http2Settings& settings, const Limits& limits, Http2Handler& handler);
  // Streams still open end with it: h2_stream_reset (CANCEL) and
  // h2_stream_closed for each reported one, from inside the destructor, so
  // destroy the session while its handler can take them.
  ~Http2Session();
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;

  // Begins the connection: queues the server's SETTINGS. The client's
  // preface is read by receive(). Call one of the two, once.
  void start();
  // Cleartext upgrade (RFC 9113 does not have it, RFC 7540 3.2 did, and
  // curl --http2 uses it): `head` was an HTTP/1.1 request without a body
  // carrying "Upgrade: h2c" and `http2_settings` (its HTTP2-Settings field,
  // base64url). The caller has written "101 Switching Protocols"; stream 1
  // is that request (version 2.0, without the fields of its connection:
  // connection, upgrade, http2-settings...), reported through h2_request
  // (and h2_body_end) from inside this call, answered through the same
  // calls as any stream. False
  // when HTTP2-Settings is not valid (nothing queued: answer 400 over
  // HTTP/1.1 instead of switching).
  bool start_upgraded(const RequestHead& head, std::string_view http2_settings);

  // Input. Consumes all of `input` unless the connection failed; false once
  // it has (Failed: produce() the GOAWAY, then close).
  bool receive(std::string_view input);
  // Output: appends frames to `out` until about `budget` more bytes were
  // appended or nothing is ready (response data waits for flow control).
  void produce(std::string& out, size_t budget);
  // Frames are waiting to be produced (without a window to send into,
  // queued response data does not count).
  bool wants_output() const;
  State state() const noexcept;
  size_t open_streams() const;

  // --- one stream's response ---
  // Each returns nullptr or the app's mistake (a string literal), as
  // ResponseWriter does; nothing is queued for a refused call.
  const char* start_response(int32_t id, int status);
  const char* header(int32_t id, std::string_view name, std::string_view value);
  // The app announced trailers (ASGI "trailers": True): the body's end does
  // not end the stream; trailers() does.
  void expect_trailers(int32_t id);
  // Body bytes, copied into the stream's queue; !more ends the body. The
  // first call sends the HEADERS. Bytes go out in produce() as the
  // stream's and the connection's windows allow.
  const char* body(int32_t id, std::string_view data, bool more);
  const char* trailers(int32_t id, const std::vector<std::pair<std::string, std::string>>& fields);
  // 103 Early Hints (an interim HEADERS frame), before the response starts.
  const char* early_hints(int32_t id, const std::vector<std::pair<std::string, std::string>>& fields);
  // Response bytes queued on this stream and not yet framed.
  size_t buffered(int32_t id) const;
  ResponseWriter::State response_state(int32_t id) const;

  // The server answers a stream on its own (413, 431, 500, 503...): a
  // prebuilt response, ending the stream. False when the app's response has
  // begun (then reset_stream() is what is left).
  bool write_error(int32_t id, int status);
  // Ends a stream from the server's side (RST_STREAM): an app that failed
  // after its response began, a request the server gives up on.
  void reset_stream(int32_t id, uint32_t error_code);
  // The app took `n` body bytes of this stream: its window reopens by that
  // much (WINDOW_UPDATE when it is worth one).
  void consume(int32_t id, size_t n);

  // --- the connection ---
  // Graceful shutdown (SIGTERM, reload): GOAWAY naming the last stream
  // taken; streams in flight finish, new ones are refused. Draining.
  void shutdown();
  // A keep-alive PING (--http2-keep-alive-interval); ping_outstanding() until
  // its ACK comes back.
  void ping();
  bool ping_outstanding() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The HTTP/2 connection preface a client sends first (RFC 9113 3.4):
// cleartext "prior knowledge" connections are told from HTTP/1.1 by it.
inline constexpr std::string_view HTTP2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

}  // namespace subcorn::http
