// The response half of Connection (py::Exchange's send side): status and
// headers from the app, framing (content-length, chunked, close-delimited),
// files with sendfile(), and the access log line.
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>

#include "http/response.h"
#include "py/http_cycle.h"
#include "server/connection.h"
#include "server/shard.h"

namespace subcorn::server {
namespace {

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
  while (busy_.load() && !closed() && out_.size() - out_pos_ >= OUTPUT_HIGH_WATER) wait_for_shard();
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
      wait_writable();
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

}  // namespace subcorn::server
