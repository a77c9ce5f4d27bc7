// Connection: one client socket of a shard. Glue between the sans-IO parser,
// the socket and the app adapter: it reads, parses one request at a time
// (pipelined requests wait, unparsed, until the response before them is
// done), frames the response (content-length, chunked or close-delimited)
// and writes it, and keeps the keep-alive and timeout rules.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "http/request_parser.h"
#include "http/response_writer.h"
#include "io/body_spool.h"
#include "io/socket.h"
#include "io/unique_fd.h"
#include "py/asgi_scope.h"
#include "py/exchange.h"
#include "py/ref.h"
#include "py/wsgi.h"

namespace subcorn::server {

class Shard;

class Connection final : public py::Exchange {
 public:
  // Above this much unsent output, the app is asked to wait (an ASGI send()
  // returns a pending awaitable, a WSGI iterable is paused) and pipelined
  // requests are not started.
  static constexpr size_t OUTPUT_HIGH_WATER = 64 * 1024;
  // A request body kept in memory up to this much, then in a temporary file.
  static constexpr size_t BODY_MEMORY_LIMIT = 1024 * 1024;

  Connection(Shard& shard, int fd);
  ~Connection() override;

  int fd() const noexcept { return fd_.get(); }
  bool closed() const noexcept { return !fd_; }
  // A worker thread is running the app for this connection.
  bool busy() const noexcept { return busy_.load(); }
  size_t slot = 0;  // index in the shard's table

  void on_events(uint32_t events);
  // Once a second: enforce the keep-alive, header and shutdown timeouts.
  void on_tick(double now);
  // Graceful shutdown: close now if idle, else after the current response.
  void drain();
  // Shutdown ran out of time: cancel the app and close.
  void abort();

  // --- py::Exchange ---
  BodyState peek_body(std::string_view& data, bool& more) override;
  void consume_body(size_t n) override;
  void body_wanted() override;
  void wait_for_body() override;
  const char* start_response(int status) override;
  const char* add_header(std::string_view name, std::string_view value) override;
  Sent send_body(std::string_view data, bool more, const char** error) override;
  Sent send_file(io::UniqueFd file, long long offset, long long count, const char** error) override;
  size_t output_buffered() const override { return out_.size() - out_pos_; }
  bool response_started() const override { return writer_.state() != http::ResponseWriter::State::Idle; }
  bool response_complete() const override { return writer_.complete(); }
  void app_finished(bool failed) override;

 private:
  void on_readable();
  void process_input();
  void parse_buffered();
  void prepare_request();
  void start_app();
  void complete_app(bool failed);
  void end_request();
  void response_finished();
  bool flush();  // false when the connection closed
  bool send_file_part();
  void wait_writable();
  bool output_pending() const noexcept { return out_pos_ < out_.size() || file_; }
  void update_interest();
  void send_error_and_close(int status);
  void close_gracefully();
  void close();
  void log_access(int status);
  void run_wsgi_app(long long length);
  void resume_wsgi_app();
  py::Ref detach_cycle();
  void time_out(int status);
  long long wsgi_length() const;
  void wait_for_shard();  // a worker thread waits for the shard (body, drain)
  void wake_worker();

  Shard& shard_;
  io::UniqueFd fd_;
  http::RequestParser parser_;
  py::ConnectionInfo info_;
  std::string peer_;  // "host:port" for the access log

  std::string in_;      // bytes read but not parsed yet, from in_pos_
  size_t in_pos_ = 0;
  std::string out_;     // bytes to write, from out_pos_
  size_t out_pos_ = 0;
  io::UniqueFd file_;           // a file being sent after out_ (wsgi.file_wrapper)
  long long file_offset_ = 0;
  long long file_left_ = 0;
  bool want_write_ = false;
  bool reading_paused_ = false;
  uint32_t interest_ = 0;

  // The request in flight (request_active_), one at a time.
  py::Ref cycle_;
  py::WsgiCallPtr wsgi_call_;  // a WSGI response paused until the client reads
  bool request_active_ = false;
  bool app_running_ = false;
  bool start_pending_ = false;   // head parsed, app not started yet
  bool in_dispatch_ = false;     // inside start_app: defer the end
  bool body_complete_ = false;
  bool client_gone_ = false;
  bool expect_continue_ = false; // 100 Continue not sent yet
  // The request body the app has not taken yet. A WSGI app on the shard
  // thread gets it whole, so above 1 MiB it goes to an unlinked temporary
  // file and memory stays flat (io/body_spool.h).
  io::BodySpool body_{BODY_MEMORY_LIMIT};
  size_t body_peeked_ = 0;       // what the last peek_body() offered
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool http10_ = false;
  bool counted_in_flight_ = false;
  bool app_failed_ = false;        // how the app ended, when it ended inside start_app
  bool body_delivered_end_ = false; // receive() has returned more_body=False

  // The response of that request.
  http::ResponseWriter writer_;  // frames it (http/response_writer.h)

  double last_activity_ = 0;     // for the keep-alive timeout
  double request_began_ = 0;     // first byte of a head, for the header timeout
  double app_started_at_ = 0;    // for --timeout-request
  bool draining_ = false;
  std::atomic<bool> busy_{false};
  // A worker thread waits here (without the GIL) for a slow client to read.
  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  uint64_t wake_generation_ = 0;
  double drain_deadline_ = 0;    // draining: an idle connection closes after this
  bool linger_ = false;          // close with a lingering close (after an error)
  bool lingering_ = false;       // writing is shut; input is read and dropped
  double linger_began_ = 0;
};

}  // namespace subcorn::server
