#include "server/connection.h"

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "http/response.h"
#include "py/http_cycle.h"
#include "py/wsgi.h"
#include "server/shard.h"

namespace subcorn::server {
namespace {

constexpr size_t READ_CHUNK = 64 * 1024;
// Above this much unread request body, or unparsed pipelined input, stop
// reading from the socket until the app catches up (backpressure).
constexpr size_t INPUT_HIGH_WATER = 256 * 1024;
// A send() waits for the client to read once this much is unsent.
constexpr size_t OUTPUT_HIGH_WATER = 64 * 1024;
// How long a lingering close drains input before it gives up.
constexpr double LINGER_SECONDS = 2.0;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x += 32;
    if (y >= 'A' && y <= 'Z') y += 32;
    if (x != y) return false;
  }
  return true;
}

bool contains_token(std::string_view value, std::string_view token) {
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t comma = value.find(',', pos);
    std::string_view part = value.substr(pos, comma == std::string_view::npos ? value.npos : comma - pos);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    if (iequals(part, token)) return true;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return false;
}

}  // namespace

Connection::Connection(Shard& shard, int fd) : shard_(shard), fd_(fd), parser_(shard.limits()) {
  io::Peer peer = io::peer_address(fd);
  io::Peer local = io::local_address(fd);
  bool unix_socket = shard.listener_is_unix();
  if (unix_socket) local.host = shard.listener_path();
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
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) on_readable();
}

void Connection::on_readable() {
  if (lingering_) {
    char sink[16384];
    ssize_t n;
    while ((n = ::recv(fd_, sink, sizeof sink, 0)) > 0) {}
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) close();
    return;
  }
  if (reading_paused_) return;
  for (;;) {
    if (in_pos_ > 0 && in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    }
    size_t old = in_.size();
    in_.resize(old + READ_CHUNK);
    ssize_t n = ::recv(fd_, in_.data() + old, READ_CHUNK, 0);
    in_.resize(old + (n > 0 ? n : 0));
    if (n > 0) {
      last_activity_ = shard_.now();
      if (static_cast<size_t>(n) < READ_CHUNK) break;
      if (in_.size() - in_pos_ >= INPUT_HIGH_WATER) break;
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
    // A WSGI app runs synchronously and reads wsgi.input from memory: it
    // starts once the whole body is here.
    if (shard_.app().wsgi && !body_complete_) break;
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
  }
  update_interest();
}

void Connection::parse_buffered() {
  bool body_arrived = false;
  while (!closed()) {
    // One request at a time: pipelined bytes wait until this one is answered.
    if (request_active_ && body_complete_) break;
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
          body_.append(ev.body);
          body_arrived = true;  // wake receive() once, after this batch
        }
        continue;
      case http::EventType::MessageComplete:
        body_complete_ = true;
        request_began_ = 0;
        body_arrived = true;
        if (!start_pending_ && !app_running_ && response_complete_) end_request();
        continue;
      case http::EventType::Error:
        if (request_active_ && !start_pending_ && (app_running_ || !response_complete_)) {
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
}

void Connection::update_interest() {
  if (closed()) return;
  // Stop reading while a request's unread body or the pipelined backlog is
  // large; resume once the app has taken it.
  // (A WSGI request's body is read whole before its app starts: no pause.)
  bool backlog = !lingering_ && ((in_.size() - in_pos_) >= INPUT_HIGH_WATER ||
                                 (app_running_ && body_.size() >= INPUT_HIGH_WATER));
  reading_paused_ = backlog;
  uint32_t want = (backlog ? 0u : static_cast<uint32_t>(EPOLLIN | EPOLLRDHUP)) |
                  (want_write_ ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  if (want != interest_) {
    interest_ = want;
    shard_.poller().modify(fd_, want, reinterpret_cast<uint64_t>(this));
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
  response_started_ = response_head_sent_ = response_complete_ = false;
  status_ = 0;
  declared_length_ = -1;
  body_sent_ = 0;
  chunked_ = no_body_status_ = app_set_connection_close_ = false;
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
  in_dispatch_ = true;
  if (shard_.app().wsgi && shard_.workers().running()) {
    busy_.store(true);
    shard_.workers().submit([this] { run_wsgi_job(); });
  } else if (shard_.app().wsgi) {
    py::run_wsgi(shard_.app(), shard_.scope_template(), this, parser_.head(), body_, info_);
  } else {
    cycle_ = py::start_http_cycle(shard_.app(), shard_.scope_template(), this, parser_.head(), info_);
  }
  in_dispatch_ = false;
  if (!app_running_) complete_app(app_failed_);  // it finished inside the call
}

// On a worker thread, with the interpreter's GIL held. Connections are only
// touched with that GIL held (the shard thread holds it in on_poll and runs no
// Python code on a WSGI connection's path), so the GIL is what serialises the
// worker and the shard here.
void Connection::run_wsgi_job() {
  py::run_wsgi(shard_.app(), shard_.scope_template(), this, parser_.head(), body_, info_);
  // Nothing of this connection is touched after app_finished(), which
  // cleared busy_: the shard may free it once this thread lets go of the GIL.
}

void Connection::release_drain_waiter() {
  if (!busy_.load()) return;
  {
    std::lock_guard lock(drain_mutex_);
    waiting_for_drain_ = false;
  }
  drain_cv_.notify_all();
}

void Connection::wait_drained() {
  {
    std::lock_guard lock(drain_mutex_);
    waiting_for_drain_ = true;
  }
  Py_BEGIN_ALLOW_THREADS
  std::unique_lock lock(drain_mutex_);
  drain_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return !waiting_for_drain_; });
  Py_END_ALLOW_THREADS
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
  if (!response_started_ || (!response_head_sent_ && failed)) {
    if (!failed) shard_.log_error("ASGI callable returned without starting response.");
    // Nothing was written: answer 500 and close (the body may be unread).
    send_error_and_close(500);
    return;
  }
  if (!response_complete_) {
    if (!failed) shard_.log_error("ASGI callable returned without completing response.");
    close();
    return;
  }
  // Otherwise the rest of the request body is read and dropped first.
  if (body_complete_) end_request();
}

void Connection::end_request() {
  if (cycle_) {
    py::Ref cycle = std::move(cycle_);
    py::cycle_detach(cycle.get());
  }
  request_active_ = false;
  request_began_ = 0;
  body_.clear();
  if (!keep_alive_ || draining_) {
    if (!output_pending()) close();
    // else: flush() closes once the response is out.
    return;
  }
}

// ---- py::Exchange: the request body ---------------------------------------------

py::Exchange::BodyState Connection::peek_body(std::string_view& data, bool& more) {
  if (closed() || client_gone_ || response_complete_) return BodyState::Gone;
  if (body_.empty() && !body_complete_) return BodyState::Wait;
  if (body_.empty() && body_complete_ && body_delivered_end_) return BodyState::Wait;
  data = body_;
  more = !body_complete_;
  return BodyState::Data;
}

void Connection::consume_body() {
  if (body_complete_) body_delivered_end_ = true;
  body_.clear();
  if (reading_paused_) {
    process_input();
  }
}

void Connection::body_wanted() {
  if (expect_continue_ && !response_started_) {
    expect_continue_ = false;
    std::string_view cont = http::continue_response();
    out_.append(cont);
    flush();
  }
}

// ---- py::Exchange: the response ---------------------------------------------------

const char* Connection::start_response(int status) {
  if (response_started_) return "Unexpected ASGI message 'http.response.start' sent, after response already started.";
  response_started_ = true;
  expect_continue_ = false;  // the app answers without reading the body
  status_ = status;
  no_body_status_ = status < 200 || status == 204 || status == 304;
  head_.clear();
  http::append_status_line(head_, status, http10_);
  return nullptr;
}

const char* Connection::add_header(std::string_view name, std::string_view value) {
  if (!http::valid_header_name(name) || !http::valid_header_value(value)) {
    response_started_ = false;  // nothing usable was started
    return "Invalid HTTP header name or value in response.";
  }
  if (iequals(name, "content-length")) {
    int64_t n = -1;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || p != value.data() + value.size() || n < 0) {
      response_started_ = false;
      return "Invalid Content-Length header in response.";
    }
    declared_length_ = n;
  } else if (iequals(name, "connection")) {
    if (contains_token(value, "close")) app_set_connection_close_ = true;
    return nullptr;  // the server decides what to say about the connection
  } else if (iequals(name, "transfer-encoding")) {
    return nullptr;  // the server frames the body itself
  }
  http::append_header(head_, name, value);
  return nullptr;
}

void Connection::finish_head(size_t first_body_size, bool more) {
  if (app_set_connection_close_) keep_alive_ = false;
  if (!no_body_status_ && declared_length_ < 0) {
    if (!more) {
      // The whole body is in this one message: say its length.
      declared_length_ = static_cast<int64_t>(first_body_size);
      char digits[24];
      auto [end, ec] = std::to_chars(digits, digits + sizeof digits, declared_length_);
      (void)ec;
      http::append_header(head_, "content-length", std::string_view(digits, end - digits));
    } else if (!http10_) {
      chunked_ = true;
      http::append_header(head_, "transfer-encoding", "chunked");
    } else {
      keep_alive_ = false;  // HTTP/1.0: the end of the body is the close
    }
  }
  http::append_header(head_, "date", shard_.date());
  http::append_header(head_, "server", "subcorn");
  if (!keep_alive_) {
    http::append_header(head_, "connection", "close");
  } else if (http10_) {
    http::append_header(head_, "connection", "keep-alive");
  }
  head_.append("\r\n");
  out_.append(head_);
  response_head_sent_ = true;
}

py::Exchange::Sent Connection::send_body(std::string_view data, bool more, const char** error) {
  if (closed()) {
    if (!more) response_complete_ = true;
    return Sent::Gone;
  }
  if (!response_head_sent_) finish_head(data.size(), more);
  if (declared_length_ >= 0 && !no_body_status_ &&
      body_sent_ + static_cast<int64_t>(data.size()) > declared_length_) {
    *error = "Response content longer than Content-Length";
    return Sent::Done;
  }
  body_sent_ += static_cast<int64_t>(data.size());
  if (!head_request_ && !no_body_status_) {
    if (chunked_) {
      http::append_chunk(out_, data);
      if (!more) out_.append(http::last_chunk());
    } else {
      out_.append(data);
    }
  }
  if (!more) {
    response_complete_ = true;
    if (declared_length_ >= 0 && body_sent_ < declared_length_ && !head_request_ &&
        !no_body_status_) {
      keep_alive_ = false;  // short body: the client can only tell by the close
      out_.clear();
      out_pos_ = 0;
    }
    if (shard_.access_log_enabled()) log_access();
    if (cycle_) py::cycle_wake_receive(cycle_.get());
  }
  if (!flush()) return Sent::Gone;
  // A worker thread can wait for a slow client (the shard thread flushes);
  // the shard thread itself buffers instead.
  while (busy_.load() && !closed() && out_.size() - out_pos_ >= OUTPUT_HIGH_WATER) wait_drained();
  if (closed()) return Sent::Gone;
  if (out_.size() - out_pos_ >= OUTPUT_HIGH_WATER) return Sent::Blocked;
  return Sent::Done;
}

void Connection::log_access() {
  const http::RequestHead& head = parser_.head();
  std::string line;
  line.reserve(96);
  line.append("INFO:     ").append(peer_).append(" - \"");
  line.append(head.method).append(" ").append(head.target);
  line.append(http10_ ? " HTTP/1.0\" " : " HTTP/1.1\" ");
  line.append(std::to_string(status_)).append("\n");
  shard_.write_access_log(line);
}

// ---- writing and closing -----------------------------------------------------------

bool Connection::flush() {
  for (;;) {
    if (out_pos_ == out_.size() && file_fd_ >= 0) {
      if (!send_file_part()) return !closed();
      continue;
    }
    if (out_pos_ >= out_.size()) break;
    ssize_t n = ::send(fd_, out_.data() + out_pos_, out_.size() - out_pos_, MSG_NOSIGNAL);
    if (n > 0) {
      out_pos_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (!want_write_) {
        want_write_ = true;
        update_interest();
      }
      return true;
    }
    close();
    return false;
  }
  out_.clear();
  out_pos_ = 0;
  release_drain_waiter();
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
  ::shutdown(fd_, SHUT_WR);
  in_.clear();
  in_pos_ = 0;
  reading_paused_ = false;
  update_interest();
}

// Sends from the pending file; false when the socket is full or closed.
bool Connection::send_file_part() {
  while (file_left_ > 0) {
    off_t offset = static_cast<off_t>(file_offset_);
    ssize_t n = ::sendfile(fd_, file_fd_, &offset, static_cast<size_t>(std::min<long long>(file_left_, 1 << 20)));
    if (n > 0) {
      file_offset_ += n;
      file_left_ -= n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (!want_write_) {
        want_write_ = true;
        update_interest();
      }
      return false;
    }
    // The file shrank under us or the client left: the framing is broken.
    close();
    return false;
  }
  ::close(file_fd_);
  file_fd_ = -1;
  if (chunked_) out_.append("\r\n").append(http::last_chunk());
  return true;
}

py::Exchange::Sent Connection::send_file(int fd, long long offset, long long count,
                                         const char** error) {
  if (closed() || count < 0) {
    ::close(fd);
    response_complete_ = true;
    return Sent::Gone;
  }
  if (!response_head_sent_) {
    finish_head(static_cast<size_t>(count), false);
  } else if (chunked_) {
    // Already streaming chunks: the file is one more chunk.
    char size_line[32];
    int len = std::snprintf(size_line, sizeof size_line, "%llx\r\n", count);
    out_.append(size_line, static_cast<size_t>(len));
  }
  (void)error;
  response_complete_ = true;
  if (head_request_ || no_body_status_ || count == 0) {
    ::close(fd);
    if (chunked_) out_.append(http::last_chunk());
  } else {
    file_fd_ = fd;
    file_offset_ = offset;
    file_left_ = count;
    body_sent_ += count;
  }
  if (shard_.access_log_enabled()) log_access();
  return flush() ? Sent::Done : Sent::Gone;
}

void Connection::send_error_and_close(int status) {
  keep_alive_ = false;
  if (response_head_sent_) {
    close();
    return;
  }
  out_.append(http::error_response(status));
  response_started_ = response_head_sent_ = response_complete_ = true;
  status_ = status;
  if (request_active_ && shard_.access_log_enabled()) log_access();
  request_active_ = false;
  if (cycle_) {
    py::Ref cycle = std::move(cycle_);
    py::cycle_detach(cycle.get());
  }
  // What the client sends next is not answered, only drained (see close_gracefully).
  linger_ = true;
  flush();
}

void Connection::drain() {
  draining_ = true;
  keep_alive_ = false;
  if (!request_active_ && !output_pending()) close();
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
  if (request_active_) return;  // the app's time is the app's business
  if (request_began_ > 0 && now - request_began_ > s.timeout_request_header) {
    send_error_and_close(408);
    return;
  }
  if (request_began_ == 0 && now - last_activity_ > s.timeout_keep_alive) close();
}

void Connection::close() {
  if (file_fd_ >= 0) {
    ::close(file_fd_);
    file_fd_ = -1;
  }
  if (fd_ < 0) return;
  shard_.poller().remove(fd_);
  ::close(fd_);
  fd_ = -1;
  client_gone_ = true;
  release_drain_waiter();
  if (counted_in_flight_) {
    counted_in_flight_ = false;
    shard_.release_request_slot();
  }
  if (cycle_) {
    py::Ref cycle = std::move(cycle_);
    py::cycle_detach(cycle.get());
  }
  shard_.connection_closed(this);
}

}  // namespace subcorn::server
