// Connection: one client socket of a shard, and the pump between its
// transport and its protocol session. It owns the buffers (input kept only
// while it must be, output until the socket takes it, a file being sent),
// the epoll interest, backpressure, the timeouts and the lingering close.
// What the bytes mean is the session's (http/http1_session.h: parsing,
// framing, keep-alive); what the app does with a request is the stream's
// (server/stream.h) and the app adapter's (server/app_adapter.h).
//
//   fd -> io::Transport -> http::Http1Session -> Stream -> AppAdapter -> app
//                       \-> (after a 101) WsStream (ws::Session) -> AppAdapter -> app
//                       \-> (HTTP/2) Http2Streams (http::Http2Session) -> Stream, Stream...
//
// HTTP/1.1: one request at a time: pipelined requests wait, unparsed, until
// the response before them is done and has mostly gone out. HTTP/2 (told
// by the client's preface, or an h2c upgrade): every byte goes to
// Http2Streams, which runs many streams at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "http/http1_session.h"
#include "http/proxy_protocol.h"
#include "io/transport.h"
#include "io/unique_fd.h"
#include "metrics/counters.h"
#include "py/asgi_scope.h"
#include "server/http2_streams.h"
#include "server/idle_connection.h"
#include "server/stream.h"
#include "server/ws_stream.h"

namespace subcorn::server {

class Shard;

class Connection final : public StreamHost, public WsHost, public Http2Carrier {
 public:
  // Above this much unsent output, the app is asked to wait (an ASGI send()
  // returns a pending awaitable, a WSGI iterable is paused) and pipelined
  // requests are not started.
  static constexpr size_t OUTPUT_HIGH_WATER = 64 * 1024;

  Connection(Shard& shard, io::UniqueFd fd);
  // One that another shard gave away (see move_out), registered here.
  Connection(Shard& shard, IdleConnection&& moved);
  ~Connection();

  int fd() const noexcept { return transport_.fd(); }
  bool closed() const noexcept { return phase_ == Phase::Closed; }
  // A worker thread is running the app for this connection.
  bool busy() const noexcept { return stream_.busy() || (h2_ && h2_->busy()); }
  size_t slot = 0;  // index in the shard's table

  void on_events(uint32_t events);
  // Once a second: enforce the keep-alive, header and shutdown timeouts.
  void on_tick(double now);
  // Graceful shutdown: close now if idle, else after the current response.
  void drain();
  // Shutdown ran out of time: cancel the app and close.
  void abort();

  // --- moving to another shard (server/idle_connection.h) ---
  // Between two requests with nothing in flight and nothing buffered, and
  // it has not moved within `cooldown` seconds: HTTP/1.1 (or nothing said
  // yet) past any PROXY header and TLS handshake. HTTP/2 and WebSockets
  // stay where they are.
  bool movable(double now, double cooldown) const;
  // Takes it out of this shard's epoll first (so no event for it races the
  // move) and hands over its socket and peer; the connection is Closed
  // afterwards without closing anything, and drops its Python objects here.
  IdleConnection move_out();
  // After a move: input OpenSSL already took off the socket is read now
  // (epoll will not tell of it).
  void resume_after_move();

  // --- StreamHost ---
  const char* stream_start_response(Stream& s, int status) override;
  const char* stream_add_header(Stream& s, std::string_view name, std::string_view value) override;
  py::Exchange::Sent stream_send_body(Stream& s, std::string_view data, bool more,
                                      const char** error) override;
  py::Exchange::Sent stream_send_file(Stream& s, io::UniqueFd file, long long offset,
                                      long long count, const char** error) override;
  size_t stream_output_buffered(const Stream&) const override { return out_.size() - out_pos_; }
  http::ResponseWriter::State stream_response_state(const Stream&) const override {
    return session_.writer().state();
  }
  void stream_body_wanted(Stream& s) override;
  void stream_body_taken(Stream& s) override;
  void stream_app_finished(Stream& s, bool failed, bool later) override;
  std::string_view stream_client() const override { return peer_; }

  // --- WsHost ---
  std::string& ws_output() override { return out_; }
  bool ws_flush() override { return flush(); }
  size_t ws_output_buffered() const override { return output_buffered(); }
  bool ws_output_full() const override { return output_buffered() >= OUTPUT_HIGH_WATER; }
  const char* ws_http_start(int status) override { return session_.start(status); }
  const char* ws_http_header(std::string_view name, std::string_view value) override {
    return session_.header(name, value);
  }
  py::Exchange::Sent ws_http_body(std::string_view data, bool more, const char** error) override;
  http::ResponseWriter::State ws_http_state() const override { return session_.writer().state(); }
  void ws_switch(const ws::HandshakeResult& handshake, const ws::Fields& fields) override;
  void ws_input_resumed() override;
  void ws_http_finished(bool failed) override;
  void ws_close_transport() override { close(); }
  std::string_view ws_client() const override { return peer_; }

  // --- Http2Carrier ---
  std::string& h2_output() override { return out_; }
  bool h2_flush() override { return flush(); }
  size_t h2_output_buffered() const override { return output_buffered(); }
  void h2_close() override { close(); }
  const py::ConnectionInfo& h2_info() const override { return info_; }
  const std::string& h2_peer() const override { return peer_; }

 private:
  // ProxyHeader (--proxy-protocol): nothing but the PROXY header is read,
  // before TLS and HTTP. Serving: reading and writing. Lingering: writing is
  // shut, what still arrives is read and dropped for a moment (see
  // close_gracefully).
  enum class Phase { ProxyHeader, Serving, Lingering, Closed };
  // What the connection speaks: Undecided until its first bytes say (the
  // HTTP/2 preface, or anything else: HTTP/1.1); an h2c upgrade moves an
  // Http1 connection to Http2.
  enum class Protocol { Undecided, Http1, Http2 };

  bool decide_protocol();
  void start_http2();
  bool upgrade_to_h2c();
  void on_readable();
  // --proxy-protocol: the PROXY header comes before anything else
  // (server/connection_proxy.cpp).
  void read_proxy_header();
  void take_proxy_header(const http::ProxyHeader& header);
  void begin_serving();
  // TLS: the handshake comes first; the connection serves once it is done.
  void continue_handshake();
  void process_input();
  void parse_buffered();
  void request_head();
  void start_websocket();
  void receive_websocket();
  py::Exchange::Sent send_response_body(std::string_view data, bool more, const char** error);
  void complete_app(bool failed);
  void end_request();
  void response_finished();
  bool flush();  // false when the connection closed
  bool send_file_part();
  void wait_writable();
  size_t output_buffered() const noexcept { return out_.size() - out_pos_; }
  bool output_pending() const noexcept { return out_pos_ < out_.size() || file_; }
  void update_interest();
  void send_error_and_close(int status);
  void close_gracefully();
  void close();
  // The access line: `tally` is the app's response's (null for one the
  // server made itself).
  void log_access(int status, const AccessTally* tally);
  // A response went out for the current request (the app's or the
  // server's own): the access log and the metrics hear of it.
  // `tally`: the app's response's (null for one the server made itself).
  void response_sent(int status, const AccessTally* tally = nullptr);
  // --metrics: what this connection speaks now, in the connections gauge.
  void meter_protocol(metrics::Protocol protocol);
  void time_out(int status);

  Shard& shard_;
  io::Transport transport_;
  http::Http1Session session_;
  Stream stream_;
  // The WebSocket, from its upgrade request on (server/ws_stream.h).
  std::unique_ptr<WsStream> ws_;
  // HTTP/2, from the preface or the h2c upgrade on.
  std::unique_ptr<Http2Streams> h2_;
  Protocol protocol_ = Protocol::Undecided;
  py::ConnectionInfo info_;
  std::string peer_;  // "host:port" for the access log
  // The peer is in --forwarded-allow-ips (after a PROXY header: the client
  // it names is).
  bool peer_trusted_ = false;
  Phase phase_ = Phase::Serving;
  metrics::Protocol metered_as_ = metrics::Protocol::Http1;

  std::string in_;      // bytes read but not parsed yet, from in_pos_
  size_t in_pos_ = 0;
  std::string out_;     // bytes to write, from out_pos_
  size_t out_pos_ = 0;
  io::UniqueFd file_;           // a file being sent after out_ (wsgi.file_wrapper)
  int64_t file_offset_ = 0;
  int64_t file_left_ = 0;
  uint32_t interest_ = 0;       // the epoll events asked for
  bool want_write_ = false;     // the socket was full: waiting for EPOLLOUT
  bool reading_paused_ = false; // backpressure: EPOLLIN is off
  bool linger_on_close_ = false; // an error was answered: close with a lingering close

  double last_activity_ = 0;     // for the keep-alive timeout
  double request_began_ = 0;     // first byte of a head, for the header timeout
  double app_started_at_ = 0;    // for --timeout-request
  double drain_deadline_ = 0;    // draining: an idle connection closes after this
  long requests_finished_ = 0;   // HTTP/1.1 requests this connection carried
  double linger_began_ = 0;
  double handshake_deadline_ = 0; // TLS: --ssl-handshake-timeout
  double moved_at_ = 0;           // the last move between shards (0: never)
};

}  // namespace subcorn::server
