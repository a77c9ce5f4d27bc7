// Http2Streams: the HTTP/2 side of one connection. It hosts many Streams at
// once (each its own ASGI cycle or WSGI call, server/stream.h) on one
// http::Http2Session, and is their StreamHost: what an app says about its
// response goes to the session, which frames it as flow control allows.
// The Connection (server/connection.h) stays the pump: it reads, hands the
// bytes here, and writes what the session produced; this side never
// touches the socket.
//
//   Connection -> Http2Streams -> http::Http2Session (nghttp2)
//                              \-> Stream, Stream, ... -> AppAdapter -> app
//                              \-> WsStream (RFC 8441, extended CONNECT) -> app
//
// Request bodies: the session opens a stream's window only as bytes are
// given back (consume), so a running app that reads slowly holds its client
// back and the server keeps at most a window per stream. Bytes that nobody
// will read (an app that has not started yet and wants the whole body, a
// finished app) are given back as they arrive.
//
// A stream that the session has closed while a worker thread still runs its
// app (--threads) is kept, as the shard keeps such connections, until that
// job ends; nothing is freed from inside a callback whose caller is the
// stream itself (collect() frees, from the connection's top level).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/http2_session.h"
#include "io/unique_fd.h"
#include "py/asgi_scope.h"
#include "server/stream.h"
#include "server/ws_stream.h"

namespace subcorn::server {

class Shard;

// What the HTTP/2 side needs from the connection that carries it.
class Http2Carrier {
 public:
  // The connection's output buffer (frames are appended) and its flush:
  // false when the connection closed while writing.
  virtual std::string& h2_output() = 0;
  virtual bool h2_flush() = 0;
  virtual size_t h2_output_buffered() const = 0;
  virtual void h2_close() = 0;
  virtual const py::ConnectionInfo& h2_info() const = 0;
  // "host:port" of the client, for log lines.
  virtual const std::string& h2_peer() const = 0;

 protected:
  ~Http2Carrier() = default;
};

class Http2Streams final : public StreamHost, public http::Http2Handler {
 public:
  Http2Streams(Shard& shard, Http2Carrier& carrier);
  ~Http2Streams();

  // Begins the connection (prior knowledge or ALPN h2): the server's SETTINGS.
  void start();
  // Cleartext upgrade: the caller wrote the 101; `head` (an HTTP/1.1
  // request without a body) becomes stream 1. False when its HTTP2-Settings
  // is not valid (nothing was changed: the caller answers 400).
  bool start_upgraded(const http::RequestHead& head, std::string_view http2_settings);

  // Every byte of `input` is taken (the session keeps what it must).
  void receive(std::string_view input);
  // Produces frames into the connection's output and flushes it, until the
  // output holds about a high-water mark or nothing is ready. Then closes
  // the connection when the session is over.
  void pump();
  // Frees the streams that are over (see the header comment).
  void collect();

  // The connection's timers, once a second.
  void on_tick(double now);
  // Graceful shutdown: GOAWAY; streams in flight finish; the connection
  // closes once none is left.
  void drain();
  // The client left or the server gave up: every stream's app learns it.
  void peer_left();
  // Shutdown ran out of time: cancel every stream's app.
  void cancel_all();
  // A worker thread runs an app of one of these streams.
  bool busy() const;
  // Idle: no stream open (for the keep-alive timeout).
  bool idle() const;

  // --- StreamHost ---
  const char* stream_start_response(Stream& s, int status) override;
  const char* stream_add_header(Stream& s, std::string_view name, std::string_view value) override;
  py::Exchange::Sent stream_send_body(Stream& s, std::string_view data, bool more,
                                      const char** error) override;
  py::Exchange::Sent stream_send_file(Stream& s, io::UniqueFd file, long long offset,
                                      long long count, bool more, const char** error) override;
  size_t stream_output_buffered(const Stream& s) const override;
  http::ResponseWriter::State stream_response_state(const Stream& s) const override;
  void stream_body_wanted(Stream&) override {}  // HTTP/2 clients do not wait for 100
  void stream_body_taken(Stream& s) override;
  void stream_app_finished(Stream& s, bool failed, bool later) override;
  std::string_view stream_client() const override { return carrier_.h2_peer(); }
  void stream_expect_trailers(Stream& s) override;
  const char* stream_send_trailers(Stream& s, const py::Fields& fields, bool more) override;
  const char* stream_send_early_hints(Stream& s, const py::Fields& fields) override;

  // --- http::Http2Handler ---
  void h2_request(int32_t id, const http::RequestHead& head, bool end_stream) override;
  void h2_body(int32_t id, std::string_view data) override;
  void h2_body_end(int32_t id) override;
  void h2_stream_reset(int32_t id, uint32_t error_code) override;
  void h2_stream_closed(int32_t id) override;
  void h2_output_drained(int32_t id) override;

 private:
  struct Entry;
  class WsBridge;
  Entry* find(int32_t id);
  void start_websocket(Entry& e);
  template <typename Fn>
  void for_each_open(Fn fn);
  Entry& entry_of(const Stream& s) const;
  void try_start(Entry& e);
  void give_back_unread(Entry& e);
  void send_file_part(Entry& e);
  void answer_error(Entry& e, int status);
  void response_sent(Entry& e, int status);
  void log_access(const Entry& e, int status);

  Shard& shard_;
  Http2Carrier& carrier_;
  std::unordered_map<int32_t, std::unique_ptr<Entry>> streams_;
  // Closed by the session, to be freed by collect() (once no worker thread
  // runs their app).
  std::vector<std::unique_ptr<Entry>> closed_;
  // After the streams: a session ending reports its streams closed, so it
  // goes first when this is destroyed.
  http::Http2Session session_;
  bool pumping_ = false;                 // pump() is on the stack
  bool receiving_ = false;               // receive() is on the stack: pump() at its end
  double last_ping_ = 0;
  double idle_since_ = 0;
  double now_ = 0;
};

}  // namespace subcorn::server
