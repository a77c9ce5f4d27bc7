// Stream: one request's exchange with the app, as py::Exchange. It keeps what
// belongs to the request and not to the connection: the body the app has
// not taken (io::BodySpool), the app's progress, the ASGI cycle or the paused
// WSGI call, the --limit-concurrency slot, and the wake-up of a worker thread
// (--threads) that waits for the shard. What concerns the response on the
// wire (framing, output buffer, keep-alive) it asks its StreamHost, the
// protocol connection that carries it: one stream per HTTP/1.1 connection,
// reused request after request; several at once for HTTP/2.
//
// App states (explicit, one at a time):
//   None      no request
//   Waiting   the head is parsed, the app has not started (its body may
//             still be arriving: a WSGI app on the shard thread gets it whole)
//   Starting  inside the call that starts the app: an app that finishes
//             there is reported once that call returns, not from inside it
//   Running   the app runs (an ASGI task, a paused WSGI iterable, a job on a
//             worker thread)
//   Finished  the app is done with this request; its response may still be
//             going out, its body may still be arriving (and is dropped)
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "http/request_parser.h"
#include "http/response_writer.h"
#include "io/body_spool.h"
#include "py/exchange.h"
#include "server/access_log.h"
#include "py/asgi_scope.h"
#include "py/ref.h"
#include "py/wsgi.h"
#include "server/access_log.h"
#include "server/forwarded_info.h"
#include "server/request_slot.h"

namespace subcorn::server {

class Shard;
class Stream;

// What a stream needs from the connection that carries it.
class StreamHost {
 public:
  virtual const char* stream_start_response(Stream& s, int status) = 0;
  virtual const char* stream_add_header(Stream& s, std::string_view name, std::string_view value) = 0;
  virtual py::Exchange::Sent stream_send_body(Stream& s, std::string_view data, bool more,
                                              const char** error) = 0;
  virtual py::Exchange::Sent stream_send_file(Stream& s, io::UniqueFd file, long long offset,
                                              long long count, const char** error) = 0;
  virtual size_t stream_output_buffered(const Stream& s) const = 0;
  virtual http::ResponseWriter::State stream_response_state(const Stream& s) const = 0;
  // The app waits for the body: the moment for "100 Continue".
  virtual void stream_body_wanted(Stream& s) = 0;
  // The app took body bytes: reading may resume.
  virtual void stream_body_taken(Stream& s) = 0;
  // The app finished (`failed`: it raised, already logged). `later`: from
  // the event loop, not from inside the call that started it.
  virtual void stream_app_finished(Stream& s, bool failed, bool later) = 0;
  // The client's address as log lines show it ("host:port").
  virtual std::string_view stream_client() const = 0;
  // Trailers and 103 Early Hints (py/exchange.h): HTTP/1.1 drops them.
  virtual void stream_expect_trailers(Stream&) {}
  virtual const char* stream_send_trailers(Stream&, const py::Fields&, bool) { return nullptr; }
  virtual const char* stream_send_early_hints(Stream&, const py::Fields&) { return nullptr; }

 protected:
  ~StreamHost() = default;
};

class Stream final : public py::Exchange {
 public:
  enum class AppState { None, Waiting, Starting, Running, Finished };
  // A request body kept in memory up to this much, then in a temporary file.
  static constexpr size_t BODY_MEMORY_LIMIT = 1024 * 1024;

  Stream(Shard& shard, StreamHost& host) : shard_(shard), host_(host) {}
  ~Stream() override = default;

  // --- for the host ---
  // A new request's head was parsed.
  void begin();
  // Its body: kept for the app (false and `error` when it could not be
  // kept); the end of it.
  bool wants_body() const noexcept { return app_ != AppState::None && app_ != AppState::Finished && !gone_; }
  bool add_body(std::string_view data, std::string* error) { return body_.append(data, error); }
  void body_ended() noexcept { body_input_ = BodyInput::Complete; }
  bool body_complete() const noexcept { return body_input_ != BodyInput::Arriving; }
  size_t body_buffered() const noexcept { return body_.size(); }
  // Wake whoever waits for body bytes (a receive(), a worker thread).
  void notify_body();
  // The output drained: wake a send() or a worker thread waiting to write.
  void notify_output();
  // Counts the request and takes a --limit-concurrency slot; false when the
  // limit is reached (the host answers 503).
  bool admit();
  // --metrics: how long since admit(), once (-1 when not measured, or
  // taken already).
  int64_t take_duration_ns();
  // Runs the app for `head` (see AppAdapter); it may finish before this
  // returns. `head` stays valid until end().
  void start(const http::RequestHead& head, const py::ConnectionInfo& info);
  // The client for the access log: a trusted proxy's forwarded client, else
  // `connection_peer`.
  std::string_view peer_for_log(std::string_view connection_peer) const {
    return forwarded_.peer_for_log(connection_peer);
  }
  // A WSGI response paused for a slow reader: go on (or end it, once gone).
  bool paused() const noexcept { return static_cast<bool>(wsgi_call_); }
  void resume();
  // The request is over for the app: receive() says disconnect from now on.
  void end();
  // The client left (or the server gave up on it): ends a paused WSGI call,
  // wakes a worker thread, gives the slot back, and hands a still-running
  // ASGI task to the shard (cancelled after --timeout-after-disconnect).
  void peer_left();
  // Cancels the app's ASGI task (--timeout-request, shutdown).
  void cancel();
  AppState app_state() const noexcept { return app_; }
  bool app_active() const noexcept { return app_ == AppState::Starting || app_ == AppState::Running; }
  // A worker thread runs the app: the stream must outlive that job.
  bool busy() const noexcept { return busy_.load(); }
  // Between two requests: no app, no task, no body, no slot held (what a
  // connection may move to another shard in).
  bool idle() const noexcept {
    return app_ == AppState::None && !cycle_ && !wsgi_call_ && !busy_.load() && !slot_ &&
           body_.size() == 0;
  }

  // --- for the AppAdapter ---
  void set_cycle(py::Ref cycle) { cycle_ = std::move(cycle); }
  void set_paused(py::WsgiCallPtr call) { wsgi_call_ = std::move(call); }
  void set_busy() { busy_.store(true); }
  // CONTENT_LENGTH for a WSGI app: -1 for none.
  long long wsgi_length(const http::RequestHead& head) const;

  // --- py::Exchange ---
  BodyState peek_body(std::string_view& data, bool& more) override;
  void consume_body(size_t n) override;
  void body_wanted() override { host_.stream_body_wanted(*this); }
  void wait_for_body() override;
  const char* start_response(int status) override { return host_.stream_start_response(*this, status); }
  const char* add_header(std::string_view name, std::string_view value) override;
  Sent send_body(std::string_view data, bool more, const char** error) override;
  Sent send_file(io::UniqueFd file, long long offset, long long count, const char** error) override {
    if (count > 0) tally.body_bytes += static_cast<uint64_t>(count);
    return host_.stream_send_file(*this, std::move(file), offset, count, error);
  }
  RequestLabel request_label() const override;
  int worker_id() const override;
  size_t output_buffered() const override { return host_.stream_output_buffered(*this); }
  bool response_started() const override {
    return host_.stream_response_state(*this) != http::ResponseWriter::State::Idle;
  }
  bool response_complete() const override {
    return host_.stream_response_state(*this) == http::ResponseWriter::State::Complete;
  }
  void expect_trailers() override { host_.stream_expect_trailers(*this); }
  const char* send_trailers(const py::Fields& fields, bool more) override {
    return host_.stream_send_trailers(*this, fields, more);
  }
  const char* send_early_hints(const py::Fields& fields) override {
    return host_.stream_send_early_hints(*this, fields);
  }
  void app_finished(bool failed) override;

  // The host's name for this stream (HTTP/2's stream id; 0 over HTTP/1.1).
  int32_t id = 0;
  // What the access log line needs: begun with the request (begin()).
  AccessTally tally;

  // The host's output is above its high-water mark: a worker thread waits
  // here (without the GIL) until it drains or the client leaves.
  void wait_while_output_full(size_t high_water);

 private:
  void wait_for_shard();
  void detach_cycle();

  Shard& shard_;
  StreamHost& host_;
  const http::RequestHead* head_ = nullptr;  // while the app runs (start() to end())
  AppState app_ = AppState::None;
  RequestSlot slot_;          // counted in --limit-concurrency while the app runs
  int64_t admitted_at_ns_ = 0;  // --metrics: when the app was let in
  bool failed_ = false;       // how the app ended, when it ended while Starting
  bool gone_ = false;         // the client left: no more body, no more output
  // Arriving, then Complete (all of it is here), then Delivered (receive()
  // has said more_body=False).
  enum class BodyInput { Arriving, Complete, Delivered };
  BodyInput body_input_ = BodyInput::Arriving;
  // The body the app has not taken yet. A WSGI app on the shard thread gets
  // it whole, so above 1 MiB it goes to an unlinked temporary file and
  // memory stays flat (io/body_spool.h).
  io::BodySpool body_{BODY_MEMORY_LIMIT};
  size_t body_peeked_ = 0;  // what the last peek_body() offered
  py::Ref cycle_;                // the ASGI cycle (receive/send, task)
  ForwardedInfo forwarded_;      // what a trusted proxy said of this request
  py::WsgiCallPtr wsgi_call_;    // a WSGI response paused until the client reads
  std::atomic<bool> busy_{false};
  // A worker thread waits here (without the GIL) for the shard.
  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  uint64_t wake_generation_ = 0;
};

}  // namespace subcorn::server
