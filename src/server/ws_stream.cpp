#include "server/ws_stream.h"

#include "py/ws_cycle.h"
#include "server/shard.h"

namespace subcorn::server {
namespace {

constexpr uint16_t CLOSE_ABNORMAL = 1006;  // never on the wire: the connection dropped
constexpr uint16_t CLOSE_INTERNAL_ERROR = 1011;

}  // namespace

WsStream::WsStream(Shard& shard, WsHost& host, ws::HandshakeResult handshake)
    : shard_(shard), host_(host), handshake_(std::move(handshake)) {}

WsStream::~WsStream() { detach_cycle(); }

double WsStream::now() const { return shard_.now(); }

ws::DeflateConfig WsStream::deflate_config(const Settings& settings) {
  ws::DeflateConfig config;
  config.enabled = settings.ws_per_message_deflate;
  config.server_max_window_bits = 12;
  config.client_max_window_bits = 12;
  config.memory_level = 5;
  return config;
}

bool WsStream::admit() {
  slot_ = shard_.admit_request(false);
  return static_cast<bool>(slot_);
}

void WsStream::detach_cycle() {
  if (!cycle_) return;
  py::Ref cycle = std::move(cycle_);
  py::ws_cycle_detach(cycle.get());
  if (py::ws_cycle_running(cycle.get())) shard_.watch_abandoned(std::move(cycle));
}

void WsStream::start(const http::RequestHead& head, const py::ConnectionInfo& info) {
  app_ = AppState::Starting;
  method_ = head.method;
  target_ = head.target;
  shard_.adapter().start_websocket(*this, head,
                                   forwarded_.resolve(head, info, shard_.settings().forwarded_allow_ips));
  if (app_ == AppState::Starting) {
    app_ = AppState::Running;
    return;
  }
  report_finished();  // it finished inside the call
}

void WsStream::app_finished(bool failed) {
  bool while_starting = app_ == AppState::Starting;
  app_ = AppState::Finished;
  failed_ = failed;
  if (!while_starting) report_finished();
}

// What the app's end means depends on how far the handshake got: before
// accept it is an HTTP answer (500 when there is none); once open, the
// socket is closed for it, 1011 when it raised (the spec's rule), 1000 when
// it just returned.
void WsStream::report_finished() {
  slot_.release();
  switch (phase_) {
    case Phase::Connecting:
    case Phase::Denied:
      host_.ws_http_finished(failed_);
      return;
    case Phase::Open:
      if (session_->state() == ws::State::Open)
        send_close(failed_ ? CLOSE_INTERNAL_ERROR : ws::CLOSE_NORMAL, "");
      return;
    case Phase::Closed:
      return;
  }
}

// ---- the handshake ---------------------------------------------------------------

const char* WsStream::ws_accept(std::string_view subprotocol,
                                const std::vector<std::pair<std::string, std::string>>& headers) {
  if (phase_ != Phase::Connecting) return "websocket.accept after the handshake was decided";
  const char* error = nullptr;
  ws::Fields fields = ws::accept_fields(handshake_, subprotocol, headers, &error);
  if (error) return error;
  const Settings& s = shard_.settings();
  ws::SessionConfig config;
  config.max_message_size = static_cast<size_t>(s.ws_max_size);
  config.deflate = handshake_.deflate;
  session_ = std::make_unique<ws::Session>(config);
  phase_ = Phase::Open;
  last_ping_ = now();
  host_.ws_switch(handshake_, fields);
  return nullptr;
}

const char* WsStream::start_response(int status) {
  if (phase_ == Phase::Open || phase_ == Phase::Closed)
    return "websocket.http.response.start after the WebSocket was accepted";
  phase_ = Phase::Denied;
  return host_.ws_http_start(status);
}

py::Exchange::Sent WsStream::send_body(std::string_view data, bool more, const char** error) {
  if (phase_ != Phase::Denied) {
    *error = "websocket.http.response.body without websocket.http.response.start";
    return Sent::Done;
  }
  return host_.ws_http_body(data, more, error);
}

py::Exchange::Sent WsStream::send_file(io::UniqueFd, long long, long long, const char** error) {
  *error = "a WebSocket denial response cannot send a file";
  return Sent::Done;
}

bool WsStream::response_started() const {
  return phase_ == Phase::Denied && host_.ws_http_state() != http::ResponseWriter::State::Idle;
}

bool WsStream::response_complete() const {
  return phase_ == Phase::Denied && host_.ws_http_state() == http::ResponseWriter::State::Complete;
}

// ---- messages ----------------------------------------------------------------------

const char* WsStream::ws_close(int code, std::string_view reason) {
  switch (phase_) {
    case Phase::Connecting: {
      // Closing before accept refuses the handshake with 403 (ASGI spec).
      phase_ = Phase::Denied;
      const char* error = host_.ws_http_start(403);
      if (!error) host_.ws_http_body("", false, &error);
      return error;
    }
    case Phase::Denied:
      return "websocket.close after an HTTP response was begun";
    case Phase::Open:
      if (session_->state() != ws::State::Open) return nullptr;  // closing already
      if (code < 1000 || code > 4999) return "websocket.close code must be between 1000 and 4999";
      return send_close(static_cast<uint16_t>(code), reason);
    case Phase::Closed:
      return nullptr;
  }
  return nullptr;
}

// Our Close goes out (when the socket is still open both ways) and the
// client's is awaited. nullptr, or the session's refusal of `code`/`reason`.
const char* WsStream::send_close(uint16_t code, std::string_view reason) {
  if (!session_ || session_->state() != ws::State::Open) return nullptr;
  if (const char* error = session_->send_close(code, reason, host_.ws_output())) return error;
  close_sent_at_ = now();
  host_.ws_flush();
  return nullptr;
}

py::Exchange::Sent WsStream::ws_send(bool text, std::string_view data, const char** error) {
  if (phase_ == Phase::Closed || (session_ && session_->state() != ws::State::Open))
    return Sent::Gone;
  if (phase_ != Phase::Open) {
    *error = "websocket.send before websocket.accept";
    return Sent::Done;
  }
  if (const char* mistake = session_->send_message(text, data, host_.ws_output())) {
    *error = mistake;
    return Sent::Done;
  }
  if (!host_.ws_flush()) return Sent::Gone;
  return host_.ws_output_full() ? Sent::Blocked : Sent::Done;
}

void WsStream::receive(char* data, size_t size, size_t* consumed) {
  size_t used = 0;
  const size_t max_queue = static_cast<size_t>(shard_.settings().ws_max_queue);
  while (phase_ == Phase::Open && queue_.size() < max_queue) {
    size_t n = 0;
    ws::Event ev = session_->next(data + used, size - used, &n, host_.ws_output());
    used += n;
    switch (ev.type) {
      case ws::EventType::NeedMore:
        break;
      case ws::EventType::Message:
        // Offered as a view first: a receive() already waiting takes it
        // without a copy; otherwise it is queued.
        offering_ = true;
        offered_text_ = ev.text;
        offered_view_ = ev.payload;
        wake_receive();
        if (offering_) {
          queue_.push_back(Message{ev.text, std::string(ev.payload)});
          offering_ = false;
        }
        continue;
      case ws::EventType::Ping:
        continue;  // the Pong is in the output already
      case ws::EventType::Pong:
        awaiting_pong_ = false;
        continue;
      case ws::EventType::Close:
      case ws::EventType::Error:
        // The client closed (its code), or broke the protocol (ours: 1002,
        // 1007, 1009, whose Close is in the output).
        closed(ev.code, ev.type == ws::EventType::Close ? ev.reason : std::string_view());
        break;
    }
    break;
  }
  *consumed = used;
}

bool WsStream::input_blocked() const noexcept {
  return queue_.size() >= static_cast<size_t>(shard_.settings().ws_max_queue);
}

bool WsStream::transport_done() const noexcept {
  if (!session_) return false;
  ws::State state = session_->state();
  return state == ws::State::CloseReceived || state == ws::State::Closed;
}

py::WsExchange::Next WsStream::ws_next(bool* text, std::string_view* data, int* code,
                                       std::string_view* reason) {
  if (!queue_.empty()) {
    *text = queue_.front().text;
    *data = queue_.front().data;
    return Next::Message;
  }
  if (offering_) {
    *text = offered_text_;
    *data = offered_view_;
    return Next::Message;
  }
  if (phase_ == Phase::Closed) {
    *code = close_code_;
    *reason = close_reason_;
    return Next::Closed;
  }
  return Next::Wait;
}

void WsStream::ws_consume() {
  if (!queue_.empty()) {
    bool was_full = input_blocked();
    queue_.pop_front();
    if (was_full && !input_blocked()) host_.ws_input_resumed();
    return;
  }
  offering_ = false;
}

void WsStream::wake_receive() {
  if (cycle_) py::ws_cycle_wake_receive(cycle_.get());
}

void WsStream::notify_output() {
  if (cycle_) py::ws_cycle_wake_send(cycle_.get());
}

void WsStream::closed(uint16_t code, std::string_view reason) {
  if (phase_ == Phase::Closed) return;
  phase_ = Phase::Closed;
  close_code_ = code;
  close_reason_ = reason;
  wake_receive();
}

// ---- liveness and the end ------------------------------------------------------------

void WsStream::on_tick(double now) {
  if (phase_ != Phase::Open) return;
  if (session_->state() == ws::State::CloseSent) {
    if (now - close_sent_at_ > CLOSE_TIMEOUT) {
      closed(CLOSE_ABNORMAL, "");
      host_.ws_close_transport();
    }
    return;
  }
  const Settings& s = shard_.settings();
  if (awaiting_pong_ && s.ws_ping_timeout > 0 && now - last_ping_ > s.ws_ping_timeout) {
    // The client stopped answering: it is closed for it (as websockets does).
    send_close(CLOSE_INTERNAL_ERROR, "keepalive ping timeout");
    closed(CLOSE_INTERNAL_ERROR, "keepalive ping timeout");
    host_.ws_close_transport();
    return;
  }
  if (!awaiting_pong_ && s.ws_ping_interval > 0 && now - last_ping_ >= s.ws_ping_interval) {
    if (session_->send_ping("", host_.ws_output())) return;
    last_ping_ = now;
    awaiting_pong_ = true;
    host_.ws_flush();
  }
}

void WsStream::going_away(uint16_t code) {
  if (phase_ == Phase::Open) send_close(code, "");
}

void WsStream::peer_left() {
  closed(CLOSE_ABNORMAL, "");
  slot_.release();
  detach_cycle();
}

void WsStream::cancel() {
  if (cycle_) py::ws_cycle_cancel(cycle_.get());
}

int WsStream::worker_id() const { return shard_.worker_id(); }

py::Exchange::RequestLabel WsStream::request_label() const {
  if (method_.empty()) return {};
  return {method_, target_, peer_for_log(host_.ws_client())};
}

}  // namespace subcorn::server
