#include "http/response_writer.h"

#include <charconv>

#include "http/response.h"
#include "http/tokens.h"

namespace subcorn::http {
using namespace app_mistake;

namespace {

constexpr const char* NEGATIVE_FILE = "File part of negative length in response.";

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
  keep_alive_ = request_.keep_alive;
  body_bytes_ = 0;
  app_headers_.clear();  // keeps its capacity for the next response
  content_length_ = -1;
  head_.reset();
  defaults_set_ = 0;
  file_tail_ = FileTail::Nothing;
}

const char* ResponseWriter::start(int status) {
  if (state_ != State::Idle) return ALREADY_STARTED;
  if (const char* mistake = head_.start(status)) return mistake;
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
  bool forward = false;
  if (const char* mistake = head_.take(name, value, &forward)) return mistake;
  if (forward) {
    append_header(app_headers_, name, value);
    defaults_set_ |= defaults_->bit_of(name);
  }
  content_length_ = head_.content_length();
  return nullptr;
}

// The body's framing, decided once with the first part.
ResponseWriter::Framing ResponseWriter::choose_framing(bool more) const {
  if (!status_has_body(head_.status())) return Framing::None;
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
  if (framing == Framing::Length) {
    if (const char* mistake = head_.too_long(body_bytes_, size)) return mistake;
  }
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
  keep_alive_ = request_.keep_alive && !head_.wants_close() &&
                framing != Framing::UntilClose && !ends_short;

  append_status_line(out, head_.status(), request_.http10);
  out.append(app_headers_);
  // HEAD gets the framing line a GET would get (RFC 9110 9.3.2); no body follows.
  if (length_computed) append_length(out, first_size);
  if (framing == Framing::Chunked) append_header(out, "transfer-encoding", "chunked");
  defaults_->append_lines(out, date, defaults_set_);
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
