#include "server/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "http/response.h"
#include "io/engine_lock.h"
#include "py/gil.h"
#include "py/http_cycle.h"
#include "py/wsgi.h"
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

Connection::Connection(Shard& shard, int fd) : shard_(shard), fd_(fd), parser_(shard.limits()) {
  io::Peer peer = io::peer_address(fd);
  io::Peer local = io::local_address(fd);
  bool unix_socket = io::is_unix_socket(fd);
  if (unix_socket) local.host = io::unix_socket_path(fd);
  info_ = py::make_connection_info(peer.host, peer.port, local.host, local.port, unix_socket);
  if (!info_.client || !info_.server) PyErr_Clear();
  peer_ = unix_socket ? std::string("unix") : peer.host + ":" + std::to_string(peer.port);
  last_activity_ = shard.now();
  interest_ = EPOLLIN | EPOLLRDHUP;
  shard.poller().add(fd, interest_, reinterpret_cast<uint64_t>(this));
}

Connection::~Connection() { close(); }

// ---- reading and parsing ----------------------------------------------------

void Connection::on_events(uint32_t events) {
  if (events & (EPOLLERR)) {
    close();
    return;
  }
  if (events & EPOLLOUT) {
    if (!flush()) return;
    if (wsgi_call_ && output_buffered() < OUTPUT_HIGH_WATER) resume_wsgi_app();
    if (closed()) return;
    // Pipelined requests waited for this response's output to drain.
    if (!request_active_ && in_pos_ < in_.size() && !(events & EPOLLIN)) process_input();
    if (closed()) return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) on_readable();
}

void Connection::on_readable() {
  char* scratch = shard_.read_buffer();
  constexpr size_t size = Shard::READ_BUFFER_SIZE;
  if (lingering_) {
    ssize_t n;
    while ((n = ::recv(fd_.get(), scratch, size, 0)) > 0) {}
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) close();
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
    ssize_t n = ::recv(fd_.get(), scratch, size, 0);
    if (n > 0) {
      last_activity_ = shard_.now();
      in_.append(scratch, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < size) break;
      // More is waiting: use what came before reading on, so a large body
      // passes through a small buffer (and the cache) rather than piling up.
      process_input();
      if (closed() || reading_paused_ || lingering_) return;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    // EOF or a reset: the client is gone. Answer nothing more; an app still
    // running learns it from receive().
    close();
    return;
  }
  process_input();
}

void Connection::process_input() {
  for (;;) {
    parse_buffered();
    if (closed() || !start_pending_) break;
    // A WSGI app on the shard thread must never wait for the body: it starts
    // once the whole body is here. On a worker thread it streams the body, if
    // its length is declared (WSGI apps such as Django read CONTENT_LENGTH).
    if (shard_.app().wsgi && !body_complete_ &&
        !(shard_.workers().running() && parser_.head().content_length >= 0))
      break;
    // The head and whatever of the body had already arrived are parsed: a
    // request that is malformed further on is refused before the app sees it,
    // and a small body reaches the app's first receive() whole.
    start_pending_ = false;
    start_app();
    // An app that answered at once ends its request here; go on with the
    // pipelined requests behind it without recursing.
    if (closed() || request_active_) break;
  }
  if (closed()) return;
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
    if (!request_active_) release_if_large(in_);
  }
  update_interest();
}

void Connection::parse_buffered() {
  bool body_arrived = false;
  while (!closed()) {
    // One request at a time: pipelined bytes wait until this one is answered,
    // and its output has mostly gone out (a client that sends and never
    // reads must not make the server buffer all the answers).
    if (request_active_ && body_complete_) break;
    if (!request_active_ && output_buffered() >= OUTPUT_HIGH_WATER) break;
    if (request_active_ && app_running_ && body_.size() >= INPUT_HIGH_WATER) break;
    // With the input used up, a request in its body still gets one more call:
    // the end of a body can be known without another byte.
    if (in_pos_ == in_.size() && !parser_.in_message()) break;
    if (!request_active_ && !parser_.in_message() && request_began_ == 0)
      request_began_ = shard_.now();
    size_t consumed = 0;
    http::Event ev = parser_.next(std::string_view(in_).substr(in_pos_), &consumed);
    in_pos_ += consumed;
    switch (ev.type) {
      case http::EventType::NeedMore:
        break;
      case http::EventType::Head:
        prepare_request();
        continue;
      case http::EventType::Body:
        // Kept for the app; dropped once the app has finished without it.
        if ((start_pending_ || app_running_) && !client_gone_) {
          std::string error;
          if (!body_.append(ev.body, &error)) {
            shard_.log_error(("Could not keep the request body: " + error).c_str());
            send_error_and_close(503);
            return;
          }
          body_arrived = true;  // wake receive() once, after this batch
        }
        continue;
      case http::EventType::MessageComplete:
        body_complete_ = true;
        request_began_ = 0;
        body_arrived = true;
        if (!start_pending_ && !app_running_ && writer_.complete()) end_request();
        continue;
      case http::EventType::Error:
        if (request_active_ && !start_pending_ && (app_running_ || !writer_.complete())) {
          // The body went bad under a running app: it sees a disconnect.
          close();
        } else {
          start_pending_ = false;
          send_error_and_close(ev.status);
        }
        return;
    }
    break;
  }
  if (body_arrived && cycle_ && !closed()) py::cycle_wake_receive(cycle_.get());
  if (body_arrived) wake_worker();
}

void Connection::update_interest() {
  if (closed()) return;
  // Stop reading while a request's unread body or the pipelined backlog is
  // large; resume once the app has taken it.
  // (A request whose app has not started yet, such as a WSGI request read
  // whole first, is never paused.)
  bool backlog = !lingering_ && ((in_.size() - in_pos_) >= INPUT_HIGH_WATER ||
                                 (app_running_ && body_.size() >= INPUT_HIGH_WATER));
  reading_paused_ = backlog;
  uint32_t want = (backlog ? 0u : static_cast<uint32_t>(EPOLLIN | EPOLLRDHUP)) |
                  (want_write_ ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  if (want != interest_) {
    interest_ = want;
    shard_.poller().modify(fd_.get(), want, reinterpret_cast<uint64_t>(this));
  }
}

// ---- one request --------------------------------------------------------------

void Connection::prepare_request() {
  const http::RequestHead& head = parser_.head();
  request_active_ = true;
  start_pending_ = true;
  app_running_ = false;
  body_complete_ = false;
  body_delivered_end_ = false;
  app_failed_ = false;
  body_.clear();
  expect_continue_ = head.expect_continue && (head.chunked || head.content_length > 0);
  keep_alive_ = head.keep_alive && !draining_;
  head_request_ = head.method == "HEAD";
  http10_ = head.version_major == 1 && head.version_minor == 0;
  writer_.begin({.head = head_request_, .http10 = http10_, .keep_alive = keep_alive_});
  // WSGI reads the body before the app runs: ask for it now.
  if (shard_.app().wsgi) body_wanted();
}

void Connection::start_app() {
  shard_.count_request();
  if (!shard_.acquire_request_slot()) {
    send_error_and_close(503);
    return;
  }
  counted_in_flight_ = true;
  app_running_ = true;
  app_started_at_ = shard_.now();
  in_dispatch_ = true;
  if (shard_.app().wsgi && shard_.workers().running()) {
    busy_.store(true);
    long long length = wsgi_length();
    shard_.workers().submit([this, length] { run_wsgi_app(length); });
  } else if (shard_.app().wsgi) {
    run_wsgi_app(wsgi_length());
  } else {
    cycle_ = py::start_http_cycle(shard_.app(), shard_.scope_template(), this, parser_.head(), info_);
  }
  in_dispatch_ = false;
  if (!app_running_) complete_app(app_failed_);  // it finished inside the call
}

// CONTENT_LENGTH: the declared one, or that of a chunked body read whole;
// none for a request that declared no body (gunicorn leaves it out too, and
// an app such as httpbin would echo a "Content-Length: 0" never sent).
long long Connection::wsgi_length() const {
  const http::RequestHead& head = parser_.head();
  if (head.content_length >= 0) return head.content_length;
  return head.chunked && body_complete_ ? static_cast<long long>(body_.size()) : -1;
}

// On the shard thread, or on a worker thread with the interpreter's GIL held.
// Connections are only touched with that GIL held (the shard thread holds it
// in on_poll and runs no Python code on a WSGI connection's path), so the GIL
// is what serialises a worker and the shard here.
void Connection::run_wsgi_app(long long length) {
  py::WsgiCallPtr paused =
      py::run_wsgi(shard_.app(), shard_.scope_template(), this, parser_.head(), length, info_);
  // On a worker thread nothing of this connection is touched after
  // app_finished(), which cleared busy_: the shard may free it once this
  // thread lets go of the GIL. (A worker's call never pauses.)
  if (paused) wsgi_call_ = std::move(paused);
}

// The output of a paused WSGI response drained (or the client left): the
// iterable goes on, as in start_app.
void Connection::resume_wsgi_app() {
  py::WsgiCallPtr call = std::move(wsgi_call_);
  in_dispatch_ = true;
  call = py::resume_wsgi(std::move(call));
  in_dispatch_ = false;
  if (call) {
    wsgi_call_ = std::move(call);
    return;
  }
  if (!app_running_) complete_app(app_failed_);
}

void Connection::wake_worker() {
  if (!busy_.load()) return;
  {
    io::EngineLock lock(wake_mutex_);
    ++wake_generation_;
  }
  wake_cv_.notify_all();
}

// Called with the GIL held, after the caller saw it must wait: the shard
// changes what it waits for only with the GIL held, and wakes it after, so a
// generation taken here cannot miss that wake-up.
void Connection::wait_for_shard() {
  uint64_t seen;
  {
    io::EngineLock lock(wake_mutex_);
    seen = wake_generation_;
  }
  py::GilReleased no_gil;
  {
    io::EngineLock lock(wake_mutex_);
    wake_cv_.wait_for(lock.unique_lock(), std::chrono::seconds(1),
                      [&] { return wake_generation_ != seen; });
  }  // the engine lock goes before the GIL comes back (io/engine_lock.h)
}

void Connection::wait_for_body() {
  if (busy_.load()) wait_for_shard();
}

void Connection::app_finished(bool failed) {
  busy_.store(false);
  app_running_ = false;
  if (in_dispatch_) {  // start_app finishes the job
    app_failed_ = failed;
    return;
  }
  complete_app(failed);
  // Finished later, from the asyncio loop: serve what is pipelined behind.
  if (!closed() && !request_active_) process_input();
}

void Connection::complete_app(bool failed) {
  if (counted_in_flight_) {
    counted_in_flight_ = false;
    shard_.release_request_slot();
  }
  if (closed()) return;
  using State = http::ResponseWriter::State;
  if (writer_.replaceable()) {
    if (!failed)
      shard_.log_error(writer_.state() == State::Idle
                           ? "ASGI callable returned without starting response."
                           : "ASGI callable returned without completing response.");
    // Nothing was written: answer 500 and close (the body may be unread).
    send_error_and_close(500);
    return;
  }
  if (!writer_.complete()) {
    if (!failed) shard_.log_error("ASGI callable returned without completing response.");
    close();
    return;
  }
  // Otherwise the rest of the request body is read and dropped first.
  if (body_complete_) end_request();
}

// The exchange is over for the app: receive() says disconnect from now on.
// Returns the cycle, for a caller that keeps watching its task.
py::Ref Connection::detach_cycle() {
  if (!cycle_) return {};
  py::Ref cycle = std::move(cycle_);  // cycle_ is empty before Python runs
  py::cycle_detach(cycle.get());
  return cycle;
}

void Connection::end_request() {
  detach_cycle();
  request_active_ = false;
  request_began_ = 0;
  body_.clear();
  // Without keep-alive, flush() closes once the response is out.
  if ((!keep_alive_ || draining_) && !output_pending()) close();
}

// ---- py::Exchange: the request body ---------------------------------------------

py::Exchange::BodyState Connection::peek_body(std::string_view& data, bool& more) {
  // Gone too once the server answered on its own (408, 413...).
  if (closed() || client_gone_ || !request_active_ || writer_.complete()) return BodyState::Gone;
  if (body_.empty() && !body_complete_) return BodyState::Wait;
  if (body_.empty() && body_complete_ && body_delivered_end_) return BodyState::Wait;
  std::string error;
  data = body_.peek(BODY_MEMORY_LIMIT, &error);
  if (!error.empty()) {
    shard_.log_error(("Could not read the request body back: " + error).c_str());
    return BodyState::Gone;
  }
  body_peeked_ = data.size();
  more = !body_complete_ || body_peeked_ < body_.size();
  return BodyState::Data;
}

void Connection::consume_body(size_t n) {
  body_.consume(std::min(n, std::exchange(body_peeked_, 0)));
  if (body_complete_ && body_.empty()) body_delivered_end_ = true;
  if (reading_paused_) {
    process_input();
  }
}

void Connection::body_wanted() {
  if (expect_continue_ && !response_started()) {
    expect_continue_ = false;
    std::string_view cont = http::continue_response();
    out_.append(cont);
    flush();
  }
}

// ---- writing and closing -----------------------------------------------------------

bool Connection::flush() {
  for (;;) {
    if (out_pos_ == out_.size() && file_) {
      if (!send_file_part()) return !closed();
      continue;
    }
    if (out_pos_ >= out_.size()) break;
    ssize_t n = ::send(fd_.get(), out_.data() + out_pos_, out_.size() - out_pos_, MSG_NOSIGNAL);
    if (n > 0) {
      out_pos_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      wait_writable();
      return true;
    }
    close();
    return false;
  }
  out_.clear();
  out_pos_ = 0;
  if (!request_active_) release_if_large(out_);
  wake_worker();
  if (want_write_) {
    want_write_ = false;
    update_interest();
  }
  if (cycle_) py::cycle_wake_send(cycle_.get());
  if (!request_active_ && (!keep_alive_ || draining_)) {
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
  bool unread = in_pos_ < in_.size() || (parser_.in_message() && !body_complete_) || linger_;
  if (!unread) {
    close();
    return;
  }
  if (lingering_) return;
  lingering_ = true;
  linger_began_ = shard_.now();
  ::shutdown(fd_.get(), SHUT_WR);
  in_.clear();
  in_pos_ = 0;
  reading_paused_ = false;
  update_interest();
}

void Connection::send_error_and_close(int status) {
  keep_alive_ = false;
  if (request_active_ && !writer_.replaceable()) {
    close();
    return;
  }
  out_.append(http::error_response(status));
  if (request_active_ && shard_.access_log_enabled()) log_access(status);
  request_active_ = false;
  detach_cycle();
  // What the client sends next is not answered, only drained (see close_gracefully).
  linger_ = true;
  flush();
}

void Connection::drain() {
  draining_ = true;
  keep_alive_ = false;
  writer_.close_after();
  // An idle connection is not closed at once: a client may have sent a request
  // that is still on its way (always so for a connection accepted a moment
  // ago), and closing would lose it. It gets a moment; a request that arrives
  // is answered with "connection: close".
  drain_deadline_ = shard_.now() + DRAIN_IDLE_GRACE;
}

// --timeout-request (504: the app is cancelled) or --timeout-request-body
// (408: an ASGI app waiting in receive() gets http.disconnect; a WSGI app's
// read ends short). The client gets the status unless the response began.
void Connection::time_out(int status) {
  const http::RequestHead& head = parser_.head();
  std::string message = std::string(status == 504 ? "Request took longer than --timeout-request"
                                                  : "Request body stalled for longer than "
                                                    "--timeout-request-body") +
                        ": " + std::string(head.method) + " " + std::string(head.target) +
                        " from " + peer_;
  shard_.log_error(message.c_str());
  if (status == 504 && cycle_) py::cycle_cancel(cycle_.get());
  send_error_and_close(status);
}

void Connection::abort() {
  if (cycle_) py::cycle_cancel(cycle_.get());
  close();
}

void Connection::on_tick(double now) {
  if (closed()) return;
  const Settings& s = shard_.settings();
  if (lingering_) {
    if (now - linger_began_ > LINGER_SECONDS) close();
    return;
  }
  if (request_active_) {
    if (s.timeout_request > 0 && app_running_ && now - app_started_at_ > s.timeout_request) {
      time_out(504);
      return;
    }
    // The client owes body bytes (reading is not paused for the app's sake)
    // and has sent none for too long.
    if (s.timeout_request_body > 0 && !body_complete_ && !reading_paused_ &&
        now - last_activity_ > s.timeout_request_body)
      time_out(408);
    return;  // otherwise the app's time is the app's business
  }
  if (request_began_ > 0 && now - request_began_ > s.timeout_request_header) {
    send_error_and_close(408);
    return;
  }
  if (draining_ && request_began_ == 0 && !output_pending() && now >= drain_deadline_) {
    close();
    return;
  }
  if (request_began_ == 0 && now - last_activity_ > s.timeout_keep_alive) close();
}

void Connection::close() {
  file_.reset();
  if (!fd_) return;
  shard_.poller().remove(fd_.get());
  fd_.reset();
  client_gone_ = true;
  wake_worker();
  // A paused WSGI response ends now: its iterable is closed (PEP 3333).
  if (wsgi_call_) resume_wsgi_app();
  if (counted_in_flight_) {
    counted_in_flight_ = false;
    shard_.release_request_slot();
  }
  // An ASGI task still running has been told the client left; if it does
  // not end by itself, the shard cancels it after --timeout-after-disconnect.
  py::Ref cycle = detach_cycle();
  if (cycle && py::cycle_running(cycle.get())) shard_.watch_abandoned(std::move(cycle));
  shard_.connection_closed(this);
}

}  // namespace subcorn::server
