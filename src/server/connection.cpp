#include "server/connection.h"

#include <sys/epoll.h>

#include "http/response.h"
#include "http/tokens.h"
#include "io/socket.h"
#include "server/shard.h"

namespace subcorn::server {
namespace {

// Above this much unread request body, or unparsed pipelined input, stop
// reading from the socket until the app catches up (backpressure).
constexpr size_t INPUT_HIGH_WATER = 256 * 1024;
// How long a lingering close drains input before it gives up.
constexpr double LINGER_SECONDS = 2.0;
// At shutdown, how long an idle connection may still bring a request.
constexpr double DRAIN_IDLE_GRACE = 0.5;
// An idle connection keeps buffers up to this size for its next request and
// gives larger ones back (after a big body or response).
constexpr size_t IDLE_BUFFER_KEEP = 1024;

void release_if_large(std::string& buffer) {
  if (buffer.empty() && buffer.capacity() > IDLE_BUFFER_KEEP) std::string().swap(buffer);
}

}  // namespace

Connection::Connection(Shard& shard, io::UniqueFd socket)
    : shard_(shard), transport_(std::move(socket)), session_(shard.limits()), stream_(shard, *this) {
  int fd = transport_.fd();
  io::Peer peer = io::peer_address(fd);
  io::Peer local = io::local_address(fd);
  bool unix_socket = io::is_unix_socket(fd);
  if (unix_socket) local.host = io::unix_socket_path(fd);
  info_ = py::make_connection_info(peer.host, peer.port, local.host, local.port, unix_socket);
  if (!info_.client || !info_.server) PyErr_Clear();
  peer_ = unix_socket ? std::string("unix") : peer.host + ":" + std::to_string(peer.port);
  const Settings& s = shard.settings();
  peer_trusted_ = unix_socket ? s.forwarded_allow_ips.contains_unix()
                              : s.forwarded_allow_ips.contains(std::string_view(peer.host));
  info_.proxy_trusted = s.proxy_headers && peer_trusted_;
  last_activity_ = shard.now();
  interest_ = EPOLLIN | EPOLLRDHUP;
  if (s.proxy_protocol) {
    phase_ = Phase::ProxyHeader;
    // The header timeout covers the PROXY header too.
    request_began_ = shard.now();
    // An untrusted peer is closed at its first event; a new socket is
    // writable, so asking for EPOLLOUT makes that event come at once
    // rather than when (or if) the peer speaks.
    if (!peer_trusted_) interest_ |= EPOLLOUT;
  } else {
    begin_serving();
  }
  shard.poller().add(fd, interest_, reinterpret_cast<uint64_t>(this));
  if (metrics::ShardBlock* m = shard.meter()) m->change(metrics::gauge::CONNECTIONS, 1);
}

Connection::Connection(Shard& shard, IdleConnection&& moved)
    : shard_(shard),
      transport_(std::move(moved.transport)),
      session_(shard.limits()),
      stream_(shard, *this) {
  // The Python objects are made again in this shard's interpreter.
  info_ = py::make_connection_info(moved.addresses);
  if (!info_.client || !info_.server) PyErr_Clear();
  info_.proxy_trusted = moved.proxy_trusted;
  if (io::TlsChannel* tls = transport_.tls()) {
    info_.secure = true;
    info_.tls = py::make_tls_extension(tls->session_info());
    if (!info_.tls) PyErr_Clear();
  }
  peer_ = std::move(moved.peer);
  peer_trusted_ = moved.peer_trusted;
  protocol_ = moved.http1 ? Protocol::Http1 : Protocol::Undecided;
  last_activity_ = moved.last_activity;
  moved_at_ = moved.moved_at;
  interest_ = EPOLLIN | EPOLLRDHUP;
  shard.poller().add(transport_.fd(), interest_, reinterpret_cast<uint64_t>(this));
  if (metrics::ShardBlock* m = shard.meter()) m->change(metrics::gauge::CONNECTIONS, 1);
}

bool Connection::movable(double now, double cooldown) const {
  bool tls_open = !transport_.tls() || transport_.tls()->state() == io::TlsChannel::State::Open;
  return phase_ == Phase::Serving && tls_open && protocol_ != Protocol::Http2 && !h2_ && !ws_ &&
         session_.state() == http::Http1Session::State::Idle && stream_.idle() &&
         in_pos_ == in_.size() && !output_pending() && !want_write_ && !reading_paused_ &&
         !linger_on_close_ && request_began_ == 0 && drain_deadline_ == 0 &&
         (moved_at_ == 0 || now - moved_at_ >= cooldown);
}

IdleConnection Connection::move_out() {
  shard_.poller().remove(transport_.fd());
  IdleConnection moved;
  moved.addresses = py::connection_addresses(info_);
  moved.peer = peer_;
  moved.peer_trusted = peer_trusted_;
  moved.proxy_trusted = info_.proxy_trusted;
  moved.http1 = protocol_ == Protocol::Http1;
  moved.last_activity = last_activity_;
  moved.moved_at = shard_.now();
  moved.transport = std::move(transport_);
  phase_ = Phase::Closed;  // nothing to close: the socket went with it
  if (metrics::ShardBlock* m = shard_.meter())
    m->change(metrics::gauge::CONNECTIONS + static_cast<int>(metered_as_), -1);
  return moved;
}

void Connection::resume_after_move() {
  if (transport_.tls()) on_readable();
}

void Connection::meter_protocol(metrics::Protocol protocol) {
  metrics::ShardBlock* m = shard_.meter();
  if (!m || protocol == metered_as_) return;
  m->change(metrics::gauge::CONNECTIONS + static_cast<int>(metered_as_), -1);
  m->change(metrics::gauge::CONNECTIONS + static_cast<int>(protocol), 1);
  metered_as_ = protocol;
}

// What comes first on the wire, once any PROXY header is out of the way:
// the TLS handshake, or HTTP.
void Connection::begin_serving() {
  phase_ = Phase::Serving;
  if (io::TlsContext tls = shard_.tls_context()) {
    transport_.start_tls(tls);
    handshake_deadline_ = shard_.now() + shard_.settings().ssl_handshake_timeout;
  }
}

Connection::~Connection() { close(); }

// ---- reading and parsing ----------------------------------------------------

void Connection::on_events(uint32_t events) {
  if (events & (EPOLLERR)) {
    close();
    return;
  }
  if (phase_ == Phase::ProxyHeader) {
    read_proxy_header();
    return;
  }
  if (transport_.handshaking()) {
    continue_handshake();
    return;
  }
  // A TLS read that had to write first (OpenSSL answering the peer) goes on
  // once the socket is writable.
  if ((events & EPOLLOUT) && transport_.tls()) events |= EPOLLIN;
  if (events & EPOLLOUT) {
    if (!flush()) return;
    if (h2_) {
      h2_->pump();
      if (closed()) return;
      h2_->collect();
    }
    if (stream_.paused() && output_buffered() < OUTPUT_HIGH_WATER) stream_.resume();
    if (closed()) return;
    // Pipelined requests waited for this response's output to drain.
    if (!session_.in_request() && in_pos_ < in_.size() && !(events & EPOLLIN)) process_input();
    if (closed()) return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) on_readable();
}

void Connection::continue_handshake() {
  switch (transport_.handshake()) {
    case io::TlsChannel::State::Handshaking:
      update_interest();  // EPOLLOUT when OpenSSL has a flight to write
      return;
    case io::TlsChannel::State::Open: {
      info_.secure = true;
      info_.tls = py::make_tls_extension(transport_.tls()->session_info());
      if (!info_.tls) PyErr_Clear();
      handshake_deadline_ = 0;
      last_activity_ = shard_.now();
      // ALPN chose HTTP/2: no preface sniffing, the session starts now.
      if (transport_.alpn() == "h2") start_http2();
      if (closed()) return;
      update_interest();
      // The first request may have come right behind the handshake.
      on_readable();
      return;
    }
    default:
      close();  // a bad handshake: OpenSSL has sent its alert
      return;
  }
}

void Connection::on_readable() {
  char* scratch = shard_.read_buffer();
  constexpr size_t size = Shard::READ_BUFFER_SIZE;
  if (phase_ == Phase::Lingering) {
    long n;
    while ((n = transport_.read(scratch, size)) > 0) {}
    if (n == io::Transport::GONE) close();
    else update_interest();  // TLS may have asked for EPOLLOUT
    return;
  }
  if (reading_paused_) return;
  for (;;) {
    if (in_pos_ > 0 && in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    }
    // Read into the shard's buffer; the connection keeps a copy of only the
    // bytes it holds on to (a partial head, a pipelined request, body the
    // app has not taken), so an idle connection owns no read buffer.
    long n = transport_.read(scratch, size);
    if (n > 0) {
      if (metrics::ShardBlock* m = shard_.meter()) m->add(metrics::counter::BYTES_IN, static_cast<uint64_t>(n));
      last_activity_ = shard_.now();
      in_.append(scratch, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < size) break;
      // More is waiting: use what came before reading on, so a large body
      // passes through a small buffer (and the cache) rather than piling up.
      process_input();
      if (phase_ != Phase::Serving || reading_paused_) return;
      continue;
    }
    if (n == io::Transport::WOULD_BLOCK) break;
    // EOF or a reset: the client is gone. Answer nothing more; an app still
    // running learns it from receive().
    close();
    return;
  }
  process_input();
}

void Connection::process_input() {
  if (protocol_ == Protocol::Undecided && !decide_protocol()) return;
  if (h2_) {
    // HTTP/2 takes every byte; its windows bound what a client may send.
    if (in_pos_ < in_.size()) h2_->receive(std::string_view(in_).substr(in_pos_));
    if (closed()) return;
    in_.clear();
    in_pos_ = 0;
    h2_->collect();
    update_interest();
    return;
  }
  if (ws_ && session_.state() == http::Http1Session::State::Switched) {
    receive_websocket();
    update_interest();
    return;
  }
  for (;;) {
    parse_buffered();
    if (closed()) break;
    if (h2_) {
      // Upgraded to h2c: what followed the request is HTTP/2's.
      process_input();
      return;
    }
    if (ws_) {
      // A WebSocket's app starts once its upgrade request is whole.
      if (ws_->app_state() == WsStream::AppState::Waiting && session_.request_received()) {
        if (!ws_->admit()) {
          send_error_and_close(503);
          break;
        }
        ws_->start(session_.head(), info_);
      }
      break;
    }
    if (stream_.app_state() != Stream::AppState::Waiting) break;
    if (!shard_.adapter().may_start(session_.head(), stream_.body_complete())) break;
    // The head and whatever of the body had already arrived are parsed: a
    // request that is malformed further on is refused before the app sees it,
    // and a small body reaches the app's first receive() whole.
    if (!stream_.admit()) {
      send_error_and_close(503);
      break;
    }
    app_started_at_ = shard_.now();
    stream_.start(session_.head(), info_);
    // An app that answered at once ends its request here; go on with the
    // pipelined requests behind it without recursing.
    if (closed() || session_.in_request()) break;
  }
  if (closed()) return;
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
    if (!session_.in_request()) release_if_large(in_);
  }
  update_interest();
}

void Connection::parse_buffered() {
  bool body_arrived = false;
  while (phase_ == Phase::Serving) {
    // One request at a time: pipelined bytes wait until this one is answered,
    // and its output has mostly gone out (a client that sends and never
    // reads must not make the server buffer all the answers).
    if (session_.request_received()) break;
    if (!session_.in_request() && output_buffered() >= OUTPUT_HIGH_WATER) break;
    if (stream_.app_active() && stream_.body_buffered() >= INPUT_HIGH_WATER) break;
    // With the input used up, a request in its body still gets one more call:
    // the end of a body can be known without another byte.
    if (in_pos_ == in_.size() && !session_.in_message()) break;
    if (!session_.in_request() && request_began_ == 0) request_began_ = shard_.now();
    size_t consumed = 0;
    http::Event ev = session_.next(std::string_view(in_).substr(in_pos_), &consumed);
    in_pos_ += consumed;
    switch (ev.type) {
      case http::EventType::NeedMore:
        break;
      case http::EventType::Head:
        request_head();
        continue;
      case http::EventType::Body:
        // Kept for the app; dropped once the app has finished without it.
        if (stream_.wants_body()) {
          std::string error;
          if (!stream_.add_body(ev.body, &error)) {
            shard_.log_error("Could not keep the request body: " + error, &session_.head(), peer_);
            send_error_and_close(503);
            return;
          }
          body_arrived = true;  // wake receive() once, after this batch
        }
        continue;
      case http::EventType::MessageComplete:
        stream_.body_ended();
        request_began_ = 0;
        body_arrived = true;
        if (stream_.app_state() == Stream::AppState::Finished && session_.writer().complete())
          end_request();
        continue;
      case http::EventType::Error:
        if (stream_.app_active() || (ws_ && ws_->app_state() != WsStream::AppState::Waiting) ||
            (stream_.app_state() == Stream::AppState::Finished && !session_.writer().complete())) {
          // The body went bad under a running app: it sees a disconnect.
          close();
        } else {
          send_error_and_close(ev.status);
        }
        return;
    }
    break;
  }
  if (body_arrived && !closed()) stream_.notify_body();
}

void Connection::update_interest() {
  if (closed()) return;
  // Stop reading while a request's unread body or the pipelined backlog is
  // large; resume once the app has taken it.
  // (A request whose app has not started yet, such as a WSGI request read
  // whole first, is never paused.)
  bool backlog = phase_ == Phase::Serving &&
                 ((in_.size() - in_pos_) >= INPUT_HIGH_WATER ||
                  (stream_.app_active() && stream_.body_buffered() >= INPUT_HIGH_WATER) ||
                  (ws_ && ws_->input_blocked()));
  bool resumed = reading_paused_ && !backlog;
  reading_paused_ = backlog;
  // EPOLLOUT: our output waits, or TLS must write before it can read on
  // (only while reading: a paused read would not retry, and EPOLLOUT would spin).
  bool writable_wanted = want_write_ || (!backlog && transport_.wants_write());
  uint32_t want = (backlog ? 0u : static_cast<uint32_t>(EPOLLIN | EPOLLRDHUP)) |
                  (writable_wanted ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  if (want != interest_) {
    interest_ = want;
    shard_.poller().modify(transport_.fd(), want, reinterpret_cast<uint64_t>(this));
  }
  // TLS reads stop at a full buffer, so what OpenSSL already decrypted may
  // wait in it, where epoll does not see it: read it now.
  if (resumed && transport_.tls()) on_readable();
}

// The first bytes tell HTTP/2 with prior knowledge (its preface) from
// HTTP/1.1. False while they could still be either.
bool Connection::decide_protocol() {
  const Settings& s = shard_.settings();
  std::string_view input = std::string_view(in_).substr(in_pos_);
  std::string_view preface = http::HTTP2_PREFACE;
  if (s.http2 && preface.starts_with(input.substr(0, preface.size()))) {
    if (input.size() < preface.size()) return false;
    start_http2();
    return !closed();
  }
  protocol_ = Protocol::Http1;
  if (!s.http1) {
    // --http 2: HTTP/2 only, and this client speaks something else.
    send_error_and_close(505);
    return false;
  }
  return true;
}

void Connection::start_http2() {
  protocol_ = Protocol::Http2;
  meter_protocol(metrics::Protocol::Http2);
  h2_ = std::make_unique<Http2Streams>(shard_, *this);
  h2_->start();
}

// "Upgrade: h2c" (RFC 7540 3.2, what curl --http2 sends in cleartext) on a
// request without a body: 101, and the request becomes HTTP/2's stream 1.
// False when the upgrade is not taken (the request is served as HTTP/1.1,
// which the client must accept).
bool Connection::upgrade_to_h2c() {
  const http::RequestHead& head = session_.head();
  // Over TLS, HTTP/2 is ALPN's to choose (h2c is cleartext's).
  if (!shard_.settings().http2 || transport_.tls() || !head.upgrade || head.chunked ||
      head.content_length > 0)
    return false;
  std::string_view upgrade, settings;
  int settings_fields = 0;
  for (const http::Header& h : head.headers) {
    if (h.name == "upgrade") upgrade = h.value;
    if (h.name == "http2-settings") {
      settings = h.value;
      ++settings_fields;
    }
  }
  if (settings_fields != 1 || !http::contains_token(upgrade, "h2c")) return false;
  auto h2 = std::make_unique<Http2Streams>(shard_, *this);
  size_t before_switch = out_.size();
  out_.append("HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n");
  session_.switch_protocols();
  protocol_ = Protocol::Http2;
  meter_protocol(metrics::Protocol::Http2);
  h2_ = std::move(h2);
  if (!h2_->start_upgraded(head, settings)) {
    // Not valid: the 101 is not out yet, so answer 400 in its place.
    out_.resize(before_switch);
    h2_.reset();
    send_error_and_close(400);
  }
  return true;
}

// ---- one request --------------------------------------------------------------

void Connection::request_head() {
  if (upgrade_to_h2c()) return;
  if (shard_.adapter().takes_websocket(session_.head())) {
    start_websocket();
    return;
  }
  stream_.begin();
  // WSGI reads the body before the app runs: ask for it now.
  if (shard_.adapter().wants_body_first()) stream_body_wanted(stream_);
}

// An upgrade request for the app's WebSocket: a handshake that is not valid
// is refused here (400, or 426 for another version); a valid one waits for
// the app's decision (accept, close, or an HTTP answer). Whatever HTTP
// answer it gets, the connection closes after it.
void Connection::start_websocket() {
  ws::HandshakeResult handshake =
      ws::check_handshake(session_.head(), WsStream::deflate_config(shard_.settings()));
  session_.close_after_response();
  if (handshake.status != 0) {
    std::string refusal = ws::handshake_error_response(handshake);
    response_sent(handshake.status);
    if (metrics::ShardBlock* m = shard_.meter()) metrics::count_rejection(*m, handshake.status);
    session_.write_refusal(refusal, out_);
    linger_on_close_ = true;
    flush();
    return;
  }
  ws_ = std::make_unique<WsStream>(shard_, *this, std::move(handshake));
}

// Bytes for the open WebSocket: what it takes is consumed (it stops early
// while its app has --ws-max-queue messages to take), and what the
// protocol answers by itself (pongs, the close reply) goes out.
void Connection::receive_websocket() {
  if (closed() || !ws_ || session_.state() != http::Http1Session::State::Switched) return;
  if (in_pos_ < in_.size()) {
    size_t consumed = 0;
    ws_->receive(in_.data() + in_pos_, in_.size() - in_pos_, &consumed);
    in_pos_ += consumed;
    if (in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    }
  }
  // Pongs and close replies go out; a finished close handshake closes TCP
  // (flush() does, once nothing is left to send).
  if (output_pending() || ws_->transport_done()) flush();
}

void Connection::stream_app_finished(Stream&, bool failed, bool later) {
  complete_app(failed);
  // Finished later, from the asyncio loop: serve what is pipelined behind.
  if (later && !closed() && !session_.in_request()) process_input();
}

void Connection::complete_app(bool failed) {
  if (closed()) return;
  using State = http::ResponseWriter::State;
  const http::ResponseWriter& writer = session_.writer();
  if (writer.replaceable()) {
    if (!failed)
      shard_.log_error(writer.state() == State::Idle
                           ? "ASGI callable returned without starting response."
                           : "ASGI callable returned without completing response.",
                       &session_.head(), peer_);
    // Nothing was written: answer 500 and close (the body may be unread).
    send_error_and_close(500);
    return;
  }
  if (!writer.complete()) {
    if (!failed)
      shard_.log_error("ASGI callable returned without completing response.", &session_.head(), peer_);
    close();
    return;
  }
  // Otherwise the rest of the request body is read and dropped first.
  if (stream_.body_complete()) end_request();
}

void Connection::end_request() {
  stream_.end();
  request_began_ = 0;
  ++requests_finished_;
  // Without keep-alive, flush() closes once the response is out.
  if (!session_.finish_request() && !output_pending()) close();
}

void Connection::stream_body_taken(Stream&) {
  if (reading_paused_) process_input();
}

void Connection::stream_body_wanted(Stream&) {
  if (!session_.continue_owed()) return;
  session_.write_continue(out_);
  flush();
}

// ---- writing and closing -----------------------------------------------------------

bool Connection::flush() {
  for (;;) {
    if (out_pos_ == out_.size() && file_) {
      if (!send_file_part()) return !closed();
      continue;
    }
    if (out_pos_ >= out_.size()) break;
    long n = transport_.write(out_.data() + out_pos_, out_.size() - out_pos_);
    if (n > 0) {
      if (metrics::ShardBlock* m = shard_.meter()) m->add(metrics::counter::BYTES_OUT, static_cast<uint64_t>(n));
      out_pos_ += static_cast<size_t>(n);
      continue;
    }
    if (n == io::Transport::WOULD_BLOCK) {
      wait_writable();
      return true;
    }
    close();
    return false;
  }
  out_.clear();
  out_pos_ = 0;
  // Between two requests a large buffer is given back; a WebSocket keeps
  // its own, which every message reuses.
  if (!h2_ && (session_.state() == http::Http1Session::State::Idle ||
                session_.state() == http::Http1Session::State::Done))
    release_if_large(out_);
  if (want_write_) {
    want_write_ = false;
    update_interest();
  }
  if (h2_) return true;  // its streams hear of it through Http2Streams::pump
  if (ws_ && session_.state() == http::Http1Session::State::Switched) {
    // The close handshake is over and its last frame is out: close TCP (the
    // server closes first, RFC 6455 7.1.1).
    if (ws_->transport_done()) {
      close();
      return false;
    }
    ws_->notify_output();
    return true;
  }
  stream_.notify_output();
  if (session_.state() == http::Http1Session::State::Done) {
    close_gracefully();
    return !closed();
  }
  return true;
}

// The socket is full: come back when epoll says it is writable.
void Connection::wait_writable() {
  if (want_write_) return;
  want_write_ = true;
  update_interest();
}

void Connection::close_gracefully() {
  // Closing with unread input makes the kernel send a reset, which can destroy
  // the response before the client reads it. Stop writing, then read and drop
  // what still comes for a moment (a "lingering close", as nginx does).
  bool unread = in_pos_ < in_.size() || (session_.in_message() && !stream_.body_complete()) ||
                linger_on_close_;
  if (!unread) {
    close();
    return;
  }
  if (phase_ == Phase::Lingering) return;
  phase_ = Phase::Lingering;
  linger_began_ = shard_.now();
  transport_.shutdown_write();
  in_.clear();
  in_pos_ = 0;
  reading_paused_ = false;
  update_interest();
}

void Connection::send_error_and_close(int status) {
  bool in_request = session_.in_request();
  if (!session_.write_error(status, out_)) {
    close();
    return;
  }
  if (in_request) response_sent(status);
  if (metrics::ShardBlock* m = shard_.meter()) metrics::count_rejection(*m, status);
  stream_.end();
  // What the client sends next is not answered, only drained (see close_gracefully).
  linger_on_close_ = true;
  flush();
}

void Connection::drain() {
  if (h2_) {
    h2_->drain();
    return;
  }
  session_.drain();
  if (ws_) ws_->going_away(shard_.going_away_code());
  // Kept alive after a response, with nothing of a next request read: that
  // next request is for whoever serves from now on (after a reload, the new
  // generation), so the connection closes at once. A client that sent one
  // just now sees the close and sends it again on a new connection, as HTTP
  // clients do on a reused connection (RFC 9112 section 9.3.1).
  if (requests_finished_ > 0 && phase_ == Phase::Serving && !ws_ &&
      session_.state() == http::Http1Session::State::Idle && request_began_ == 0 &&
      in_pos_ == in_.size() && !output_pending()) {
    close();
    return;
  }
  // A connection that has carried no request yet is not closed at once: its
  // first request may be on its way (always so for a connection accepted a
  // moment ago), and closing would lose it. It gets a moment; a request that
  // arrives is answered with "connection: close".
  drain_deadline_ = shard_.now() + DRAIN_IDLE_GRACE;
}

// --timeout-request (504: the app is cancelled) or --timeout-request-body
// (408: an ASGI app waiting in receive() gets http.disconnect; a WSGI app's
// read ends short). The client gets the status unless the response began.
void Connection::time_out(int status) {
  shard_.log_error(status == 504 ? "Request took longer than --timeout-request"
                                  : "Request body stalled for longer than --timeout-request-body",
                   &session_.head(), peer_);
  if (status == 504) stream_.cancel();
  send_error_and_close(status);
}

void Connection::abort() {
  if (h2_) h2_->cancel_all();
  stream_.cancel();
  if (ws_) ws_->cancel();
  close();
}

void Connection::on_tick(double now) {
  if (closed()) return;
  const Settings& s = shard_.settings();
  if (phase_ == Phase::Lingering) {
    if (now - linger_began_ > LINGER_SECONDS) close();
    return;
  }
  if (phase_ == Phase::ProxyHeader) {
    // No PROXY header within --timeout-request-header (or by shutdown's
    // grace): nothing is answered, there is no protocol yet to answer in.
    if (now - request_began_ > s.timeout_request_header ||
        (drain_deadline_ > 0 && now >= drain_deadline_))
      close();
    return;
  }
  if (transport_.handshaking()) {
    // A slow or half-open TLS client does not hold the connection (or,
    // at shutdown, the shard) past --ssl-handshake-timeout.
    if (now >= handshake_deadline_ || (drain_deadline_ > 0 && now >= drain_deadline_)) close();
    return;
  }
  if (h2_) {
    h2_->on_tick(now);
    return;
  }
  if (ws_) {
    // A WebSocket's time is its own: pings once open; while its app decides
    // on the handshake, no request timeout (its request is whole already).
    if (session_.state() == http::Http1Session::State::Switched) ws_->on_tick(now);
    return;
  }
  if (session_.in_request()) {
    if (s.timeout_request > 0 && stream_.app_active() && now - app_started_at_ > s.timeout_request) {
      time_out(504);
      return;
    }
    // The client owes body bytes (reading is not paused for the app's sake)
    // and has sent none for too long.
    if (s.timeout_request_body > 0 && !stream_.body_complete() && !reading_paused_ &&
        now - last_activity_ > s.timeout_request_body)
      time_out(408);
    return;  // otherwise the app's time is the app's business
  }
  if (request_began_ > 0 && now - request_began_ > s.timeout_request_header) {
    send_error_and_close(408);
    return;
  }
  if (drain_deadline_ > 0 && request_began_ == 0 && !output_pending() && now >= drain_deadline_) {
    close();
    return;
  }
  if (request_began_ == 0 && now - last_activity_ > s.timeout_keep_alive) close();
}

void Connection::close() {
  file_.reset();
  if (phase_ == Phase::Closed) return;
  phase_ = Phase::Closed;
  shard_.poller().remove(transport_.fd());
  transport_.close();
  if (metrics::ShardBlock* m = shard_.meter())
    m->change(metrics::gauge::CONNECTIONS + static_cast<int>(metered_as_), -1);
  stream_.peer_left();
  if (ws_) ws_->peer_left();
  if (h2_) h2_->peer_left();
  shard_.connection_closed(this);
}

}  // namespace subcorn::server
