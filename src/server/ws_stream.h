// WsStream: one WebSocket, from its upgrade request to its close, between the
// connection that carries it and the app. It owns the protocol session
// (ws::Session, sans-IO: frames, fragments, UTF-8, permessage-deflate, the
// close handshake) once the app accepts, the messages received and not yet
// taken by the app (at most --ws-max-queue; beyond that the connection stops
// reading), the liveness pings, and it implements py::WsExchange for the
// ASGI adapter (py/ws_cycle.h). Bytes move through its WsHost: the HTTP/1.1
// connection today; an HTTP/2 stream (RFC 8441) could carry it the same way.
//
// Phases (py::WsExchange::Phase): Connecting (the handshake request is
// parsed, the app decides), Open (accepted: 101 written, frames both ways),
// Denied (the app answers with HTTP instead: a denial response, or 403 for a
// close before accept), Closed (the close handshake is done, or the
// connection dropped: the app's receive() says websocket.disconnect).
// App states as a Stream's: Waiting, Starting, Running, Finished.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/request_parser.h"
#include "http/response_writer.h"
#include "py/asgi_scope.h"
#include "py/ref.h"
#include "py/ws_exchange.h"
#include "server/forwarded_info.h"
#include "server/request_slot.h"
#include "server/settings.h"
#include "ws/handshake.h"
#include "ws/session.h"

namespace subcorn::server {

class Shard;

// What a WebSocket stream needs from the connection that carries it.
class WsHost {
 public:
  // Frames go here; ws_flush() writes them (false: the connection closed).
  virtual std::string& ws_output() = 0;
  virtual bool ws_flush() = 0;
  virtual size_t ws_output_buffered() const = 0;
  // Above the high-water mark: the app's send() waits for the output to drain.
  virtual bool ws_output_full() const = 0;
  // Before accept, the answer is HTTP: framed and checked like any response.
  virtual const char* ws_http_start(int status) = 0;
  virtual const char* ws_http_header(std::string_view name, std::string_view value) = 0;
  virtual py::Exchange::Sent ws_http_body(std::string_view data, bool more, const char** error) = 0;
  virtual http::ResponseWriter::State ws_http_state() const = 0;
  // The app accepted with these fields (ws::accept_fields): answer (a 101
  // over HTTP/1.1, a 200 on an HTTP/2 stream) and hand every later byte to
  // the stream.
  virtual void ws_switch(const ws::HandshakeResult& handshake, const ws::Fields& fields) = 0;
  // The app took queued messages: reading may resume.
  virtual void ws_input_resumed() = 0;
  // The app is done and never accepted: its HTTP answer (a denial, a 403)
  // ends as an HTTP response does; without one, the host answers 500.
  virtual void ws_http_finished(bool failed) = 0;
  // The socket must close now (the close handshake is over, or the peer
  // stopped answering pings).
  virtual void ws_close_transport() = 0;
  // The peer, "host:port", for log lines (a proxy's forwarded client is
  // applied by the stream).
  virtual std::string_view ws_client() const = 0;

 protected:
  ~WsHost() = default;
};

class WsStream final : public py::WsExchange {
 public:
  enum class AppState { Waiting, Starting, Running, Finished };
  // How long the server waits for the client's Close after sending its own.
  static constexpr double CLOSE_TIMEOUT = 5.0;

  WsStream(Shard& shard, WsHost& host, ws::HandshakeResult handshake);

  // What the server accepts of permessage-deflate: 4 KiB windows both ways
  // (asked of a client that offers client_max_window_bits) and zlib's
  // memLevel 5, as the websockets library does. Against 32 KiB windows and
  // memLevel 8 it compresses a 16 KiB message faster, and a connection's two
  // zlib streams take about 40 KiB instead of about 400 KiB.
  static ws::DeflateConfig deflate_config(const Settings& settings);
  ~WsStream() override;

  // --- for the host ---
  bool admit();  // --limit-concurrency, as for a request
  void start(const http::RequestHead& head, const py::ConnectionInfo& info);
  // The client for the access log: a trusted proxy's forwarded client, else
  // `connection_peer`.
  std::string_view peer_for_log(std::string_view connection_peer) const {
    return forwarded_.peer_for_log(connection_peer);
  }
  AppState app_state() const noexcept { return app_; }
  // Open: feeds client bytes to the protocol; `*consumed` is what it took
  // (it stops early while the app's queue is full).
  void receive(char* data, size_t size, size_t* consumed);
  // The app has not taken --ws-max-queue messages: stop reading the socket.
  bool input_blocked() const noexcept;
  // The protocol is over: once the output is out, close the socket.
  bool transport_done() const noexcept;
  // The output drained: a send() waiting can go on.
  void notify_output();
  // Once a second: pings, the ping timeout, the close timeout.
  void on_tick(double now);
  // Graceful shutdown: an open socket gets a Close with `code` (1001, or
  // 1012 when a newer generation takes over: Shard::going_away_code).
  void going_away(uint16_t code);
  // The connection dropped (or the server closed it).
  void peer_left();
  void cancel();

  // --- for the AppAdapter ---
  void set_cycle(py::Ref cycle) { cycle_ = std::move(cycle); }

  // --- py::WsExchange ---
  Phase ws_phase() const override { return phase_; }
  const char* ws_accept(std::string_view subprotocol,
                        const std::vector<std::pair<std::string, std::string>>& headers) override;
  const char* ws_close(int code, std::string_view reason) override;
  Sent ws_send(bool text, std::string_view data, const char** error) override;
  Next ws_next(bool* text, std::string_view* data, int* code, std::string_view* reason) override;
  void ws_consume() override;

  // --- py::Exchange (the HTTP answer before accept; the app's end) ---
  BodyState peek_body(std::string_view&, bool&) override { return BodyState::Gone; }
  void consume_body(size_t) override {}
  void body_wanted() override {}
  void wait_for_body() override {}
  const char* start_response(int status) override;
  const char* add_header(std::string_view name, std::string_view value) override {
    return host_.ws_http_header(name, value);
  }
  Sent send_body(std::string_view data, bool more, const char** error) override;
  Sent send_file(io::UniqueFd, long long, long long, const char** error) override;
  size_t output_buffered() const override { return host_.ws_output_buffered(); }
  bool response_started() const override;
  bool response_complete() const override;
  void app_finished(bool failed) override;
  int worker_id() const override;
  RequestLabel request_label() const override;

 private:
  struct Message {
    bool text;
    std::string data;
  };
  void report_finished();
  void closed(uint16_t code, std::string_view reason);
  const char* send_close(uint16_t code, std::string_view reason);
  void wake_receive();
  void detach_cycle();
  double now() const;

  Shard& shard_;
  WsHost& host_;
  ws::HandshakeResult handshake_;
  std::unique_ptr<ws::Session> session_;  // once accepted
  Phase phase_ = Phase::Connecting;
  AppState app_ = AppState::Waiting;
  bool failed_ = false;        // how the app ended, when it ended while Starting
  RequestSlot slot_;           // counted in --limit-concurrency while the app runs
  py::Ref cycle_;
  ForwardedInfo forwarded_;  // what a trusted proxy said of the upgrade request
  // The upgrade request's method and target, for error lines
  // (request_label): the head is not kept once the app started.
  std::string method_;
  std::string target_;

  // Received, not yet taken by the app: the queue, and the message just
  // parsed, offered first as a view into the connection's input (no copy
  // when a receive() is already waiting for it).
  std::deque<Message> queue_;
  bool offering_ = false;
  bool offered_text_ = false;
  std::string_view offered_view_;
  uint16_t close_code_ = 0;    // the client's (1005: none; 1006: the connection dropped)
  std::string close_reason_;

  double last_ping_ = 0;       // when the last ping went out (or the socket opened)
  bool awaiting_pong_ = false;
  double close_sent_at_ = 0;   // our Close is out; the client's is awaited
};

}  // namespace subcorn::server
