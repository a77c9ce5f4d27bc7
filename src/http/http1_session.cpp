#include "http/http1_session.h"

#include "http/response.h"

namespace subcorn::http {

Http1Session::Http1Session(const Limits& limits, const ResponseDefaults& defaults)
    : defaults_(&defaults), parser_(limits), writer_(defaults) {}

Event Http1Session::next(std::string_view input, size_t* consumed) {
  if (state_ == State::Done || state_ == State::Switched) {
    *consumed = 0;
    return Event{};
  }
  Event ev = parser_.next(input, consumed);
  switch (ev.type) {
    case EventType::Head: {
      const RequestHead& h = parser_.head();
      state_ = State::Receiving;
      continue_ = h.expect_continue && (h.chunked || h.content_length > 0) ? Continue::Owed
                                                                          : Continue::NotOwed;
      keep_alive_ = h.keep_alive && !draining_;
      writer_.begin({.head = h.method == "HEAD",
                     .http10 = h.version_major == 1 && h.version_minor == 0,
                     .keep_alive = keep_alive_});
      break;
    }
    case EventType::MessageComplete:
      if (state_ == State::Receiving) state_ = State::Received;
      break;
    case EventType::Error:
      keep_alive_ = false;
      break;  // the caller answers (write_error) or closes
    case EventType::NeedMore:
    case EventType::Body:
      break;
  }
  return ev;
}

void Http1Session::write_continue(std::string& out) {
  if (continue_ != Continue::Owed) return;
  continue_ = Continue::NotOwed;
  if (writer_.state() == ResponseWriter::State::Idle) out.append(continue_response());
}

const char* Http1Session::start(int status) {
  continue_ = Continue::NotOwed;  // the app answers without reading the body
  return writer_.start(status);
}

const char* Http1Session::body(std::string& out, std::string_view data, bool more,
                               std::string_view date) {
  const char* mistake = writer_.body(out, data, more, date);
  if (!mistake && writer_.complete() && !writer_.keep_alive()) keep_alive_ = false;
  return mistake;
}

const char* Http1Session::file(std::string& out, int64_t count, bool more, std::string_view date,
                               int64_t* send) {
  const char* mistake = writer_.file(out, count, more, date, send);
  if (!mistake && writer_.complete() && !writer_.keep_alive()) keep_alive_ = false;
  return mistake;
}

bool Http1Session::write_error(int status, std::string& out, std::string_view date) {
  if (!refuse()) return false;
  defaults_->append_error(out, status, date);
  return true;
}

bool Http1Session::write_refusal(std::string_view response, std::string& out) {
  if (!refuse()) return false;
  out.append(response);
  return true;
}

// No request follows; true when an answer may still be written.
bool Http1Session::refuse() {
  keep_alive_ = false;
  bool can_answer = !in_request() || writer_.replaceable();
  state_ = State::Done;
  return can_answer;
}

bool Http1Session::finish_request() {
  state_ = keep_alive_ && !draining_ ? State::Idle : State::Done;
  return state_ == State::Idle;
}

void Http1Session::drain() {
  draining_ = true;
  close_after_response();
}

void Http1Session::close_after_response() {
  keep_alive_ = false;
  writer_.close_after();
}

}  // namespace subcorn::http
