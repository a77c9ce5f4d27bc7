// The StreamHost half of Connection: what the app says about its response
// goes through the session, whose writer frames it (http/response_writer.h);
// the connection moves the bytes, sends files with sendfile(), keeps the
// connection's own rules and writes the access log line.
#include <algorithm>

#include "server/connection.h"
#include "server/shard.h"

namespace subcorn::server {
namespace {

// A part sent while a file part before it is still going out would
// overtake it (the file's bytes go after everything buffered).
constexpr const char* FILE_IN_FLIGHT =
    "Body sent before the file part before it went out (await each send()).";

}  // namespace

const char* Connection::stream_start_response(Stream&, int status) { return session_.start(status); }

const char* Connection::stream_add_header(Stream&, std::string_view name, std::string_view value) {
  return session_.header(name, value);
}

// The app gave the last part: the access log gets its line, a receive()
// waiting learns it.
void Connection::response_finished() {
  response_sent(session_.writer().status(), &stream_.tally);
  stream_.notify_body();
}

void Connection::response_sent(int status, const AccessTally* tally) {
  if (metrics::ShardBlock* m = shard_.meter())
    metrics::count_response(*m, session_.head().method, status, stream_.take_duration_ns());
  if (shard_.access_log_enabled()) log_access(status, tally);
}

// The app accepted the WebSocket: the 101 goes out, and every byte after
// the upgrade request's head (some may be buffered already) is the
// WebSocket's from now on.
void Connection::ws_switch(const ws::HandshakeResult& handshake, const ws::Fields& fields) {
  out_.append(ws::switching_response(handshake, fields));
  session_.switch_protocols();
  meter_protocol(metrics::Protocol::WebSocket);
  if (shard_.access_log_enabled())
    shard_.log_access(ws_->peer_for_log(peer_), session_.head(), 101, nullptr, "websocket", true);
  if (!flush()) return;
  receive_websocket();
  update_interest();
}

void Connection::ws_input_resumed() {
  receive_websocket();
  update_interest();
}

void Connection::ws_http_finished(bool failed) {
  if (!failed && session_.writer().state() == http::ResponseWriter::State::Idle)
    shard_.log_error("ASGI callable returned without sending handshake.");
  complete_app(failed || session_.writer().state() == http::ResponseWriter::State::Idle);
}

// A body part, for an HTTP request's stream or a WebSocket's denial.
py::Exchange::Sent Connection::send_response_body(std::string_view data, bool more,
                                                  const char** error) {
  if (const char* mistake = session_.body(out_, data, more, shard_.date())) {
    *error = mistake;
    return py::Exchange::Sent::Done;
  }
  if (!more) response_finished();
  return flush() ? py::Exchange::Sent::Done : py::Exchange::Sent::Gone;
}

py::Exchange::Sent Connection::ws_http_body(std::string_view data, bool more, const char** error) {
  if (closed() || session_.state() == http::Http1Session::State::Done) return py::Exchange::Sent::Gone;
  const char* mistake = nullptr;
  py::Exchange::Sent sent = send_response_body(data, more, &mistake);
  if (mistake) {
    *error = mistake;
    return py::Exchange::Sent::Done;
  }
  if (sent == py::Exchange::Sent::Done && output_buffered() >= OUTPUT_HIGH_WATER)
    return py::Exchange::Sent::Blocked;
  return sent;
}

py::Exchange::Sent Connection::stream_send_body(Stream& s, std::string_view data, bool more,
                                                const char** error) {
  // Closed, or already answered by the server itself (408...): nobody listens.
  if (closed() || s.app_state() == Stream::AppState::None) return py::Exchange::Sent::Gone;
  if (file_) {
    *error = FILE_IN_FLIGHT;
    return py::Exchange::Sent::Done;
  }
  const char* mistake = nullptr;
  py::Exchange::Sent sent = send_response_body(data, more, &mistake);
  if (mistake) {
    *error = mistake;
    return py::Exchange::Sent::Done;
  }
  if (sent == py::Exchange::Sent::Gone) return sent;
  // A worker thread can wait for a slow client (the shard thread flushes);
  // the shard thread itself is told to pause instead.
  s.wait_while_output_full(OUTPUT_HIGH_WATER);
  if (closed()) return py::Exchange::Sent::Gone;
  if (output_buffered() >= OUTPUT_HIGH_WATER) return py::Exchange::Sent::Blocked;
  return py::Exchange::Sent::Done;
}

py::Exchange::Sent Connection::stream_send_file(Stream& s, io::UniqueFd file, long long offset,
                                                long long count, bool more, const char** error) {
  if (closed() || s.app_state() == Stream::AppState::None) return py::Exchange::Sent::Gone;
  if (file_) {
    *error = FILE_IN_FLIGHT;
    return py::Exchange::Sent::Done;
  }
  int64_t send = 0;
  if (const char* mistake = session_.file(out_, count, more, shard_.date(), &send)) {
    *error = mistake;
    return py::Exchange::Sent::Done;
  }
  if (send > 0) {
    file_ = std::move(file);
    file_offset_ = offset;
    file_left_ = send;
  } else {
    session_.file_end(out_);
  }
  if (!more) response_finished();
  if (!flush()) return py::Exchange::Sent::Gone;
  // More parts follow: the next may only be written once the file is out
  // (flush() wakes the sender then, through notify_output).
  return more && file_ ? py::Exchange::Sent::Blocked : py::Exchange::Sent::Done;
}

// Sends from the pending file; false when the socket is full or closed.
bool Connection::send_file_part() {
  while (file_left_ > 0) {
    long n = transport_.send_file(file_.get(), &file_offset_,
                                  static_cast<size_t>(std::min<int64_t>(file_left_, 1 << 20)));
    if (n > 0) {
      if (metrics::ShardBlock* m = shard_.meter()) m->add(metrics::counter::BYTES_OUT, static_cast<uint64_t>(n));
      file_left_ -= n;
      continue;
    }
    if (n == io::Transport::WOULD_BLOCK) {
      wait_writable();
      return false;
    }
    // The file shrank under us or the client left: the framing is broken.
    close();
    return false;
  }
  file_.reset();
  session_.file_end(out_);
  return true;
}

void Connection::log_access(int status, const AccessTally* tally) {
  std::string_view peer = ws_ ? ws_->peer_for_log(peer_) : stream_.peer_for_log(peer_);
  shard_.log_access(peer, session_.head(), status, tally, http1_protocol(session_.head()));
}

}  // namespace subcorn::server
