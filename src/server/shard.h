// Shard: one OS thread that owns one own-GIL sub-interpreter, one epoll loop
// and the connections the acceptor hands it. The app's asyncio loop waits on
// the shard's epoll fd (loop.add_reader), so one wait serves both the app's
// asyncio work and the shard's sockets, and no request crosses a thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/limits.h"
#include "http/response.h"
#include "io/poller.h"
#include "io/tls.h"
#include "io/unique_fd.h"
#include "metrics/table.h"
#include "py/app_context.h"
#include "py/worker_threads.h"
#include "server/access_log.h"
#include "server/app_adapter.h"
#include "server/balance.h"
#include "server/idle_connection.h"
#include "server/request_slot.h"
#include "server/settings.h"
#include "server/static_files.h"
#include "server/throttled_report.h"

namespace subcorn::server {

class Connection;
class Server;

class Shard {
 public:
  enum class State { Starting, Ready, Failed, Finished };

  // `slot`: the worker it is (a recycled shard's replacement is the same
  // worker), for the metrics.
  Shard(Server& server, int index, int slot);
  ~Shard();

  // --- from the acceptor thread (thread-safe) ---
  void start();
  void join();
  void hand_over(int fd);
  // An idle connection another shard gave away (counted here from now on).
  void hand_over(IdleConnection&& moved);
  // Asks the shard to give up to `count` idle connections back to the
  // server, which places them on less loaded shards (server/balance.h).
  void give_away(int count);
  // Drain and stop. `replaced`: a fresh interpreter or process takes over
  // (a recycle, a reload), which open WebSockets are told with close 1012
  // ("service restart") rather than 1001 ("going away"). `move_idle`: other
  // shards of this process go on serving (a --max-requests recycle), so its
  // idle keep-alive connections move to them instead of being closed.
  void request_stop(bool replaced = false, bool move_idle = false);
  // Asked to stop with `move_idle`, its idle connections not handed to the
  // server yet: they are about to arrive on the other shards.
  bool idle_leaving() const noexcept { return move_idle_on_stop_.load(); }
  // The close code for open WebSockets when this shard drains.
  uint16_t going_away_code() const noexcept { return replaced_.load() ? 1012 : 1001; }
  State state() const noexcept { return state_.load(); }
  int connection_count() const noexcept { return connections_.load(std::memory_order_relaxed); }
  // Apps running now: HTTP requests (either version) and WebSockets.
  int running() const noexcept { return running_.load(std::memory_order_relaxed); }
  // The shard thread's CPU time so far (any thread may ask); -1 when its
  // thread is not running.
  double cpu_seconds() const;
  // Its thread has been inside one wake-up for more than
  // balance::HELD_AFTER_NS: it cannot take a connection now.
  bool held(int64_t now_ns) const noexcept {
    int64_t began = poll_began_ns_.load(std::memory_order_relaxed);
    return began != 0 && now_ns - began > balance::HELD_AFTER_NS;
  }
  int index() const noexcept { return index_; }
  int slot() const noexcept { return slot_; }
  std::string failure() const;          // the message when state() == Failed
  bool interpreter_left_alive() const noexcept { return interpreter_left_alive_; }
  bool finished() const noexcept { return finished_.load(); }
  // --max-requests in interpreters mode: this shard asked to be replaced.
  bool retire_requested() const noexcept { return retire_requested_.load(); }
  // Set by the acceptor thread only.
  Shard* replacement = nullptr;  // the fresh shard starting in its place
  bool is_replacement = false;
  bool retire_failed = false;    // its replacement could not start: it stays (until a reload)
  // A reload (SIGHUP) wants it replaced by an interpreter that imports the
  // code anew; cleared when that is given up.
  bool reload_wanted = false;
  // A fresh interpreter that serves but has not taken over yet (a reload
  // swaps all at once): it gets no connections, so the old and the new code
  // never answer side by side.
  bool awaiting_swap = false;
  bool joined = false;           // seen Ready by the acceptor
  bool logged_join = false;      // its "serving" line was logged
  balance::LoadTracker load;     // sampled by the acceptor thread

  // --- from the shard's own interpreter (subcorn._native._shard_*) ---
  // Serves until a stop request has drained every connection.
  PyObject* serve(PyObject* module, PyObject* app, PyObject* loop, PyObject* state,
                  PyObject* log_exception, PyObject* root_path, bool wsgi);
  void fail(std::string message);
  bool stop_requested() const noexcept { return stop_requested_.load(); }

  // --- for connections (shard thread) ---
  io::Poller& poller() noexcept { return poller_; }
  py::AppContext& app() noexcept { return app_; }
  py::WorkerThreads& workers() noexcept { return workers_; }
  // How the app runs for a request (ASGI, WSGI, --threads).
  const AppAdapter& adapter() const noexcept { return adapter_; }
  // --static: the requests the engine answers from files (the server's).
  const StaticFiles& static_files() const noexcept;
  // The ASGI scope's template, or the WSGI environ's.
  PyObject* scope_template() const noexcept { return scope_template_.get(); }
  PyObject* ws_scope_template() const noexcept { return ws_scope_template_.get(); }
  std::string_view date() { return date_.now(); }
  double now() const noexcept { return now_; }
  // One read buffer for all of the shard's connections: a connection reads
  // into it and keeps only what it could not use yet, so an idle connection
  // holds no read buffer of its own.
  static constexpr size_t READ_BUFFER_SIZE = 64 * 1024;
  char* read_buffer() noexcept { return read_buffer_.get(); }
  const Settings& settings() const noexcept;
  // What a new connection starts TLS with (empty: plain); the server's, which
  // a certificate reload replaces.
  io::TlsContext tls_context() const;
  const http::Limits& limits() const noexcept { return limits_; }
  const http::ResponseDefaults& response_defaults() const noexcept { return settings().response_defaults; }
  // A request (or a WebSocket) is about to run: counts it (--max-requests)
  // and takes its --limit-concurrency slot; an empty slot when the limit is
  // reached (the caller answers 503).
  // `http_request`: a request (counted in flight) rather than a WebSocket.
  RequestSlot admit_request(bool http_request);
  void connection_closed(Connection* conn);
  // An ASGI request whose client left while its task still runs: the task is
  // cancelled if it has not ended after --timeout-after-disconnect.
  void watch_abandoned(py::Ref cycle);
  // The access log (server/access_log.h): whether it is on, its format,
  // and the one call that writes a line (batched: flushed once per poll).
  bool access_log_enabled() const noexcept;
  const http::AccessLogFormat& access_format() const noexcept;
  void log_access(std::string_view client, const http::RequestHead& head, int status,
                  const AccessTally* tally, std::string_view protocol, bool websocket = false);
  // An engine error line naming this worker, and the request when given.
  void log_error(std::string_view message, const http::RequestHead* head = nullptr,
                 std::string_view client = {});
  // A request the server refused as malformed or over a limit (400, 408,
  // 413, 414, 431, 501, 505), at warning level, as uvicorn logs "Invalid
  // HTTP request received.": the first of each PROTOCOL_ERROR_INTERVAL with
  // its client and reason, the rest counted into one line when the
  // interval is up, so a flood of bad requests cannot flood the log.
  void log_protocol_error(int status, std::string_view reason, std::string_view client);
  static constexpr double PROTOCOL_ERROR_INTERVAL = 10.0;
  // --proxy-protocol: a connection closed without an answer (its peer is not
  // trusted, its PROXY header is malformed), throttled the same way.
  void log_proxy_refusal(std::string_view why, std::string_view client);
  // This worker's number in log lines: the shard's index, plus the worker
  // process's number in processes mode.
  int worker_id() const noexcept;
  // This shard's counters (--metrics), null without; any thread of this
  // shard's interpreter (metrics/counters.h).
  metrics::ShardBlock* meter() const noexcept { return meter_.get(); }

  void on_poll();  // the asyncio reader callback

 private:
  void thread_main();
  void wake();  // the shard's eventfd: look at the inbox and the requests
  bool adopt_handed_over();  // whether there was any
  // Gives up to `count` movable connections to the server (cooldown: how
  // long since a connection's last move it must stay; 0 when draining).
  void move_idle_out(int count, double cooldown);
  // Takes a connection out of the table (to the graveyard, freed after the poll).
  void forget(Connection* conn);
  void begin_drain();
  void tick();
  void flush_access_log();
  void count_request();
  friend class RequestSlot;  // gives its slot back
  void release_request_slot(bool http_request);
  void set_state(State s);

  Server& server_;
  const int index_;
  const int slot_;
  std::thread thread_;
  std::atomic<State> state_{State::Starting};
  mutable std::mutex mutex_;            // guards inbox_ and failure_
  std::vector<io::UniqueFd> inbox_;  // connections handed over, not adopted yet
  std::vector<IdleConnection> arrivals_;  // idle connections from other shards, not adopted yet
  std::string failure_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> replaced_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> running_{0};
  std::atomic<int64_t> poll_began_ns_{0};  // in on_poll since (0: waiting)
  std::atomic<int> give_away_{0};       // idle connections asked for, from the acceptor
  // Asked to move its idle connections out when it stops, and not done yet
  // (cleared once they are in the server's hands: see idle_leaving()).
  std::atomic<bool> move_idle_on_stop_{false};
  std::atomic<long> requests_{0};
  long max_requests_ = 0;  // with its share of the jitter
  std::atomic<bool> retire_requested_{false};
  std::atomic<bool> finished_{false};
  bool interpreter_left_alive_ = false;

  io::Poller poller_;
  io::UniqueFd wake_fd_;   // eventfd: handed-over connections, stop requests
  io::UniqueFd timer_fd_;  // timerfd: once a second, timeouts
  std::unique_ptr<char[]> read_buffer_{new char[READ_BUFFER_SIZE]};
  http::Limits limits_;
  http::DateCache date_;
  ThrottledReport protocol_errors_{PROTOCOL_ERROR_INTERVAL};
  ThrottledReport proxy_refusals_{PROTOCOL_ERROR_INTERVAL};
  void report_protocol_errors();  // the tick's count of those not told one by one
  void warn(const std::string& message);
  double now_ = 0;
  py::AppContext app_;
  py::Ref scope_template_;
  py::Ref ws_scope_template_;  // ASGI with --ws auto
  py::WorkerThreads workers_;  // WSGI with --threads > 1
  AppAdapter adapter_{*this};
  std::vector<std::unique_ptr<Connection>> table_;
  std::vector<std::unique_ptr<Connection>> graveyard_;  // freed after the poll
  int closed_since_trim_ = 0;
  struct Abandoned {
    py::Ref cycle;
    double cancel_at;
    bool cancelled = false;
  };
  std::vector<Abandoned> abandoned_;
  void check_abandoned();
  void cancel_abandoned();
  bool abandoned_running();  // forgets the tasks that have ended
  std::string access_log_;
  http::AccessLogClock access_clock_;
  bool draining_ = false;
  double drain_deadline_ = 0;
  bool loop_stopped_ = false;
  // --metrics: the block this shard counts in, and its tick's schedule
  // (how late the loop runs it is the loop's lag).
  metrics::BlockLease meter_;
  double tick_due_ = 0;
  void start_metering();
  void meter_tick(uint64_t expirations);
};

double monotonic_seconds();

}  // namespace subcorn::server
