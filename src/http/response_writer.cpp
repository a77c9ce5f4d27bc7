#include "http/response_writer.h"

#include <charconv>

#include "http/response.h"
#include "http/tokens.h"

namespace subcorn::http {
namespace {

// The app's mistakes, worded for the app's traceback and the server's log.
constexpr const char* NOT_STARTED = "Response header or body sent before the response was started.";
constexpr const char* ALREADY_STARTED = "Response already started.";
constexpr const char* HEAD_ALREADY_SENT = "Response header sent after the response head was sent.";
constexpr const char* ALREADY_COMPLETE = "Response body sent after the response already completed.";
constexpr const char* BAD_STATUS = "Response status is not a valid final status (200..599).";
constexpr const char* BAD_NAME = "Invalid HTTP header name in response.";
constexpr const char* BAD_VALUE =
    "Invalid HTTP header value in response: CR, LF and NUL are not allowed.";
constexpr const char* BAD_LENGTH = "Invalid Content-Length value in response.";
constexpr const char* TWO_LENGTHS = "Two different Content-Length values in response.";
constexpr const char* LENGTH_ON_204 =
    "Content-Length is not allowed on a 204 (No Content) response.";
constexpr const char* TOO_LONG = "Response content longer than Content-Length.";
constexpr const char* NEGATIVE_FILE = "File part of negative length in response.";

constexpr std::string_view SERVER_NAME = "subcorn";

// 204 and 304 never have a body (RFC 9110 6.4.1); 1xx are refused by start().
constexpr bool status_has_body(int status) { return status != 204 && status != 304; }

// A Content-Length value: digits only (OWS around them is not part of a
// field value); -1 when it is not one.
int64_t parse_length(std::string_view value) {
  value = trim_ows(value);
  int64_t n = -1;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || n < 0) return -1;
  return n;
}

void append_length(std::string& out, int64_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  (void)ec;  // an int64_t always fits in 24 digits
  append_header(out, "content-length", std::string_view(digits, end - digits));
}

}  // namespace

void ResponseWriter::begin(const Request& request) {
  request_ = request;
  forget_response();
}

// Back to Idle for the same request: nothing of the app's response is kept.
void ResponseWriter::forget_response() {
  state_ = State::Idle;
  framing_ = Framing::None;
  status_ = 0;
  keep_alive_ = request_.keep_alive;
  body_bytes_ = 0;
  app_headers_.clear();  // keeps its capacity for the next response
  content_length_ = -1;
  app_set_ = {};
  file_tail_ = FileTail::Nothing;
}

const char* ResponseWriter::start(int status) {
  if (state_ != State::Idle) return ALREADY_STARTED;
  if (status < 200 || status > 599) return BAD_STATUS;
  status_ = status;
  state_ = State::Started;
  return nullptr;
}

const char* ResponseWriter::header(std::string_view name, std::string_view value) {
  if (state_ == State::Idle) return NOT_STARTED;
  if (state_ != State::Started) return HEAD_ALREADY_SENT;
  const char* mistake = take_header(name, value);
  // A refused header leaves no half-taken head behind: the app (or the
  // server, with its own 500) starts over from Idle.
  if (mistake) forget_response();
  return mistake;
}

const char* ResponseWriter::take_header(std::string_view name, std::string_view value) {
  if (!valid_header_name(name)) return BAD_NAME;
  if (!valid_header_value(value)) return BAD_VALUE;
  if (iequals(name, "content-length")) return take_content_length(name, value);
  // The writer frames the body and speaks for the connection itself.
  if (iequals(name, "transfer-encoding")) return nullptr;
  if (iequals(name, "connection")) {
    if (contains_token(value, "close")) app_set_.connection_close = true;
    return nullptr;
  }
  if (iequals(name, "date")) app_set_.date = true;
  if (iequals(name, "server")) app_set_.server = true;
  append_header(app_headers_, name, value);
  return nullptr;
}

const char* ResponseWriter::take_content_length(std::string_view name, std::string_view value) {
  int64_t n = parse_length(value);
  if (n < 0) return BAD_LENGTH;
  if (content_length_ >= 0) {
    // RFC 9110 8.6: the same value twice is one Content-Length; two values
    // leave the client to guess where the body ends.
    return n == content_length_ ? nullptr : TWO_LENGTHS;
  }
  if (status_ == 204) {
    // RFC 9110 8.6 forbids it on a 204. "0" is what frameworks add to every
    // response (Django's CommonMiddleware does), and it is true: drop it.
    if (n != 0) return LENGTH_ON_204;
    content_length_ = 0;
    return nullptr;
  }
  // A 304 keeps it: it states the length a 200 would have (RFC 9110 8.6).
  content_length_ = n;
  append_header(app_headers_, name, value);
  return nullptr;
}

// The body's framing, decided once with the first part.
ResponseWriter::Framing ResponseWriter::choose_framing(bool more) const {
  if (!status_has_body(status_)) return Framing::None;
  if (content_length_ >= 0 || !more) return Framing::Length;
  return request_.http10 ? Framing::UntilClose : Framing::Chunked;
}

// What every part does first: refuse what cannot be sent, append the head
// with the first part, count the part. Nothing is appended on a refusal.
const char* ResponseWriter::take_part(std::string& out, int64_t size, bool more,
                                      std::string_view date) {
  if (state_ == State::Idle) return NOT_STARTED;
  if (state_ == State::Complete) return ALREADY_COMPLETE;
  bool first = state_ == State::Started;
  Framing framing = first ? choose_framing(more) : framing_;
  if (framing == Framing::Length && content_length_ >= 0 && body_bytes_ + size > content_length_)
    return TOO_LONG;
  if (first) write_head(out, framing, size, more, date);
  body_bytes_ += size;
  return nullptr;
}

void ResponseWriter::write_head(std::string& out, Framing framing, int64_t first_size, bool more,
                                std::string_view date) {
  framing_ = framing;
  bool length_computed = framing == Framing::Length && content_length_ < 0;
  if (length_computed) content_length_ = first_size;
  // Known short already (the only part is shorter than declared): say so now.
  bool ends_short = !more && framing == Framing::Length && first_size < content_length_ &&
                    !request_.head;
  keep_alive_ = request_.keep_alive && !app_set_.connection_close &&
                framing != Framing::UntilClose && !ends_short;

  append_status_line(out, status_, request_.http10);
  out.append(app_headers_);
  // HEAD gets the framing line a GET would get (RFC 9110 9.3.2); no body follows.
  if (length_computed) append_length(out, first_size);
  if (framing == Framing::Chunked) append_header(out, "transfer-encoding", "chunked");
  if (!app_set_.date) append_header(out, "date", date);
  if (!app_set_.server) append_header(out, "server", SERVER_NAME);
  if (!keep_alive_) {
    append_header(out, "connection", "close");
  } else if (request_.http10) {
    append_header(out, "connection", "keep-alive");
  }
  out.append("\r\n");
  state_ = State::Streaming;
}

// Body bytes go out: not for HEAD, 204 and 304.
bool ResponseWriter::carries_body() const {
  return !request_.head && framing_ != Framing::None;
}

void ResponseWriter::finish() {
  if (framing_ == Framing::Length && body_bytes_ < content_length_ && !request_.head)
    keep_alive_ = false;
  state_ = State::Complete;
}

const char* ResponseWriter::body(std::string& out, std::string_view data, bool more,
                                 std::string_view date) {
  if (const char* mistake = take_part(out, static_cast<int64_t>(data.size()), more, date))
    return mistake;
  if (carries_body()) {
    if (framing_ == Framing::Chunked) {
      append_chunk(out, data);  // nothing for empty data
      if (!more) out.append(last_chunk());
    } else {
      out.append(data);
    }
  }
  if (!more) finish();
  return nullptr;
}

const char* ResponseWriter::file(std::string& out, int64_t count, bool more,
                                 std::string_view date, int64_t* send) {
  *send = 0;
  if (count < 0) return NEGATIVE_FILE;
  if (const char* mistake = take_part(out, count, more, date)) return mistake;
  if (carries_body() && count > 0) {
    *send = count;
    if (framing_ == Framing::Chunked) {
      append_chunk_size(out, static_cast<uint64_t>(count));
      file_tail_ = more ? FileTail::ChunkEnd : FileTail::ChunkEndThenLast;
    }
  } else if (carries_body() && framing_ == Framing::Chunked && !more) {
    // An empty file is no chunk: only the end of the body.
    out.append(last_chunk());
  }
  if (!more) finish();
  return nullptr;
}

void ResponseWriter::close_after() noexcept {
  request_.keep_alive = false;
  keep_alive_ = false;
}

void ResponseWriter::file_end(std::string& out) {
  if (file_tail_ == FileTail::Nothing) return;
  out.append("\r\n");
  if (file_tail_ == FileTail::ChunkEndThenLast) out.append(last_chunk());
  file_tail_ = FileTail::Nothing;
}

}  // namespace subcorn::http
