// The response half of Connection (py::Exchange's send side): what the app
// says goes through the response writer (http/response_writer.h), which
// frames it; files go out with sendfile(); the access log line.
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "http/response.h"
#include "py/http_cycle.h"
#include "server/connection.h"
#include "server/shard.h"

namespace subcorn::server {

// ---- py::Exchange: the response ---------------------------------------------------
// The framing rules and the app's mistakes are the writer's (one place);
// the connection moves the bytes and keeps the connection's own rules.

const char* Connection::start_response(int status) {
  expect_continue_ = false;  // the app answers without reading the body
  return writer_.start(status);
}

const char* Connection::add_header(std::string_view name, std::string_view value) {
  return writer_.header(name, value);
}

// The app gave the last part: the connection's keep-alive follows the
// response's, the access log gets its line, a receive() waiting learns it.
void Connection::response_finished() {
  if (!writer_.keep_alive()) keep_alive_ = false;
  if (shard_.access_log_enabled()) log_access(writer_.status());
  if (cycle_) py::cycle_wake_receive(cycle_.get());
}

py::Exchange::Sent Connection::send_body(std::string_view data, bool more, const char** error) {
  // Closed, or already answered by the server itself (408...): nobody listens.
  if (closed() || !request_active_) return Sent::Gone;
  if (const char* mistake = writer_.body(out_, data, more, shard_.date())) {
    *error = mistake;
    return Sent::Done;
  }
  if (!more) response_finished();
  if (!flush()) return Sent::Gone;
  // A worker thread can wait for a slow client (the shard thread flushes);
  // the shard thread itself is told to pause instead.
  while (busy_.load() && !closed() && output_buffered() >= OUTPUT_HIGH_WATER) wait_for_shard();
  if (closed()) return Sent::Gone;
  if (output_buffered() >= OUTPUT_HIGH_WATER) return Sent::Blocked;
  return Sent::Done;
}

py::Exchange::Sent Connection::send_file(io::UniqueFd file, long long offset, long long count,
                                         const char** error) {
  if (closed() || !request_active_) return Sent::Gone;
  int64_t send = 0;
  if (const char* mistake = writer_.file(out_, count, false, shard_.date(), &send)) {
    *error = mistake;
    return Sent::Done;
  }
  if (send > 0) {
    file_ = std::move(file);
    file_offset_ = offset;
    file_left_ = send;
  } else {
    writer_.file_end(out_);
  }
  response_finished();
  return flush() ? Sent::Done : Sent::Gone;
}

// Sends from the pending file; false when the socket is full or closed.
bool Connection::send_file_part() {
  while (file_left_ > 0) {
    off_t offset = static_cast<off_t>(file_offset_);
    ssize_t n = ::sendfile(fd_.get(), file_.get(), &offset, static_cast<size_t>(std::min<long long>(file_left_, 1 << 20)));
    if (n > 0) {
      file_offset_ += n;
      file_left_ -= n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      wait_writable();
      return false;
    }
    // The file shrank under us or the client left: the framing is broken.
    close();
    return false;
  }
  file_.reset();
  writer_.file_end(out_);
  return true;
}

void Connection::log_access(int status) {
  const http::RequestHead& head = parser_.head();
  std::string line;
  line.reserve(96);
  line.append("INFO:     ").append(peer_).append(" - \"");
  line.append(head.method).append(" ").append(head.target);
  line.append(http10_ ? " HTTP/1.0\" " : " HTTP/1.1\" ");
  line.append(std::to_string(status)).append("\n");
  shard_.write_access_log(line);
}

}  // namespace subcorn::server
