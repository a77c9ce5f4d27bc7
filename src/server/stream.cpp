#include "server/stream.h"

#include <algorithm>
#include <chrono>

#include "io/clock.h"
#include "io/engine_lock.h"
#include "py/gil.h"
#include "py/http_cycle.h"
#include "server/shard.h"

namespace subcorn::server {

void Stream::begin() {
  tally.begin(shard_.access_format());
  app_ = AppState::Waiting;
  admitted_at_ns_ = 0;
  failed_ = false;
  gone_ = false;
  body_input_ = BodyInput::Arriving;
  body_.clear();
  body_peeked_ = 0;
}

void Stream::notify_body() {
  if (cycle_) py::cycle_wake_receive(cycle_.get());
  if (busy_.load()) {
    {
      io::EngineLock lock(wake_mutex_);
      ++wake_generation_;
    }
    wake_cv_.notify_all();
  }
}

void Stream::notify_output() {
  if (busy_.load()) {
    {
      io::EngineLock lock(wake_mutex_);
      ++wake_generation_;
    }
    wake_cv_.notify_all();
  }
  if (cycle_) py::cycle_wake_send(cycle_.get());
}

bool Stream::admit() {
  slot_ = shard_.admit_request(true);
  // --metrics: the request's duration runs from here (a clock read only
  // when it is measured).
  if (slot_ && shard_.meter()) admitted_at_ns_ = io::monotonic_ns();
  return static_cast<bool>(slot_);
}

int64_t Stream::take_duration_ns() {
  if (admitted_at_ns_ == 0) return -1;
  return io::monotonic_ns() - std::exchange(admitted_at_ns_, 0);
}

void Stream::start(const http::RequestHead& head, const py::ConnectionInfo& info) {
  head_ = &head;
  app_ = AppState::Starting;
  const py::ConnectionInfo& resolved = forwarded_.resolve(head, info, shard_.settings().forwarded_allow_ips);
  // --static: a request under a prefix is the engine's to answer, whole,
  // before any app would start; it finishes here as an app that answered
  // at once would.
  if (const StaticFiles& files = shard_.static_files(); files.covers(head)) {
    std::string failure = files.answer(*this, head);
    if (!failure.empty()) shard_.log_error(failure, &head, host_.stream_client());
    app_finished(!failure.empty() && !response_complete());
  } else {
    shard_.adapter().start(*this, head, resolved);
  }
  if (app_ == AppState::Starting) {
    app_ = AppState::Running;
    return;
  }
  // It finished inside the call: the host hears of it now, once.
  slot_.release();
  host_.stream_app_finished(*this, failed_, false);
}

void Stream::resume() {
  py::WsgiCallPtr call = std::move(wsgi_call_);
  app_ = AppState::Starting;
  call = py::resume_wsgi(std::move(call));
  if (call) {
    wsgi_call_ = std::move(call);
    app_ = AppState::Running;
    return;
  }
  // Over: app_finished() has been called (resume_wsgi's promise).
  slot_.release();
  host_.stream_app_finished(*this, failed_, false);
}

void Stream::app_finished(bool failed) {
  busy_.store(false);
  bool while_starting = app_ == AppState::Starting;
  app_ = AppState::Finished;
  failed_ = failed;
  if (while_starting) return;  // start() or resume() reports it
  slot_.release();
  host_.stream_app_finished(*this, failed, true);
}

// CONTENT_LENGTH: the declared one, or that of a chunked body read whole;
// none for a request that declared no body (gunicorn leaves it out too, and
// an app such as httpbin would echo a "Content-Length: 0" never sent).
long long Stream::wsgi_length(const http::RequestHead& head) const {
  if (head.content_length >= 0) return head.content_length;
  return head.chunked && body_complete() ? static_cast<long long>(body_.size()) : -1;
}

void Stream::end() {
  detach_cycle();
  head_ = nullptr;
  app_ = AppState::None;
  forwarded_.clear();
  body_.clear();
  body_peeked_ = 0;
}

// An ASGI task still running has been told the client left (or that the
// server answered for it); if it does not end by itself, the shard cancels
// it after --timeout-after-disconnect.
void Stream::detach_cycle() {
  if (!cycle_) return;
  py::Ref cycle = std::move(cycle_);  // cycle_ is empty before Python runs
  py::cycle_detach(cycle.get());
  if (py::cycle_running(cycle.get())) shard_.watch_abandoned(std::move(cycle));
}

void Stream::peer_left() {
  gone_ = true;
  notify_output();  // a worker waiting to write or to read sees the client gone
  // A paused WSGI response ends now: its iterable is closed (PEP 3333).
  if (wsgi_call_) resume();
  slot_.release();
  detach_cycle();
}

void Stream::cancel() {
  if (cycle_) py::cycle_cancel(cycle_.get());
}

// ---- py::Exchange: the request body ---------------------------------------------

py::Exchange::BodyState Stream::peek_body(std::string_view& data, bool& more) {
  // Gone too once the server answered on its own (408, 413...).
  if (gone_ || app_ == AppState::None || response_complete()) return BodyState::Gone;
  if (body_.empty() && body_input_ != BodyInput::Complete) return BodyState::Wait;
  std::string error;
  data = body_.peek(BODY_MEMORY_LIMIT, &error);
  if (!error.empty()) {
    shard_.log_error(("Could not read the request body back: " + error).c_str());
    return BodyState::Gone;
  }
  body_peeked_ = data.size();
  more = body_input_ == BodyInput::Arriving || body_peeked_ < body_.size();
  return BodyState::Data;
}

void Stream::consume_body(size_t n) {
  body_.consume(std::min(n, std::exchange(body_peeked_, 0)));
  if (body_input_ == BodyInput::Complete && body_.empty()) body_input_ = BodyInput::Delivered;
  host_.stream_body_taken(*this);
}

void Stream::wait_for_body() {
  if (busy_.load()) wait_for_shard();
}

const char* Stream::add_header(std::string_view name, std::string_view value) {
  const char* mistake = host_.stream_add_header(*this, name, value);
  if (!mistake && !shard_.access_format().response_header_names().empty())
    tally.header(shard_.access_format(), name, value);
  return mistake;
}

py::Exchange::Sent Stream::send_body(std::string_view data, bool more, const char** error) {
  tally.body_bytes += data.size();  // before the host writes the line at the last part
  return host_.stream_send_body(*this, data, more, error);
}

int Stream::worker_id() const { return shard_.worker_id(); }

py::Exchange::RequestLabel Stream::request_label() const {
  if (!head_) return {};
  return {head_->method, head_->target, host_.stream_client()};
}

void Stream::wait_while_output_full(size_t high_water) {
  while (busy_.load() && !gone_ && output_buffered() >= high_water) wait_for_shard();
}

// Called with the GIL held, after the caller saw it must wait: the shard
// changes what it waits for only with the GIL held, and wakes it after, so a
// generation taken here cannot miss that wake-up.
void Stream::wait_for_shard() {
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

}  // namespace subcorn::server
