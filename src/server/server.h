// Server: the process-wide part, run by the main interpreter's thread with its
// GIL released. It listens on the sockets the supervisor bound (one per
// --bind, or systemd's), starts the shards, accepts every connection itself and hands each to the shard with the fewest
// (ties go round-robin), so load spreads evenly instead of by the kernel's
// hash; and it waits for SIGINT/SIGTERM, then drains the shards within the
// grace period, under a watchdog that bounds the whole shutdown.
//
// Out of file descriptors (or kernel memory), it stops accepting for
// ACCEPT_BACKOFF and tries again, as nginx and asyncio do: new connections
// wait in the backlog, the open ones are served. Beyond
// --limit-max-connections it answers 503 and closes.
#pragma once

#include <atomic>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "io/fd_limit.h"
#include "io/file_stamps.h"
#include "io/poller.h"
#include "io/socket.h"
#include "http/access_log_format.h"
#include "http/response.h"
#include "io/tls.h"
#include "io/unique_fd.h"
#include "server/engine_log.h"
#include "server/idle_connection.h"
#include "metrics/table.h"
#include "server/settings.h"
#include "server/static_files.h"
#include "server/throttled_report.h"

namespace subcorn::server {

class Shard;

struct RunResult {
  int exit_code = 0;
  std::string error;               // for the user, when exit_code != 0
  bool interpreters_left = false;  // the process must exit without finalizing
};

class Server {
 public:
  // Beyond --timeout-graceful-shutdown, what lifespan shutdown and atexit
  // hooks get before the watchdog ends the process (docs/limits.md).
  static constexpr double SHUTDOWN_WATCHDOG_MARGIN = 15.0;
  explicit Server(Settings settings);
  ~Server();

  // Loads the TLS context (with --ssl-certfile) and listens on every socket
  // in listen_fds; false (and `error`, one line) when either cannot be done.
  bool bind(std::string* error);
  // Serves until a signal has been handled and every shard finished.
  RunResult run();

  const Settings& settings() const noexcept { return settings_; }
  const std::vector<io::Listener>& listeners() const noexcept { return listeners_; }

  // From shard threads.
  void notify();          // a shard changed state
  // Idle connections a shard gave away (asked to, or recycled): placed on
  // the least loaded other shard by the acceptor thread.
  void place_idle(std::vector<IdleConnection> connections, Shard* from);
  void shard_finished();  // a shard thread is about to end
  std::atomic<long> in_flight{0};
  // Counts requests for --max-requests; tells the supervisor once to retire us.
  void count_request();
  // --max-requests plus a random share of --max-requests-jitter, so that
  // workers started together are not all recycled at once (as gunicorn does).
  long jittered_max_requests();
  // A connection closed: counted here for --limit-max-connections, and for
  // the supervisor that handed it over (report_closed tells it).
  void connection_closed();
  // Tells the supervisor how many handed-over connections ended since the
  // last report, in one "closed N" message. Called at the end of every
  // wake-up of a shard and of the main loop: a busy worker writes once per
  // wake-up instead of once per connection, and the acceptor wakes as
  // seldom (docs/supervisor.md).
  void report_closed();
  // What new connections start TLS with; empty for plain TCP. Any thread: a
  // reload may replace it meanwhile, and a connection keeps the one it got.
  io::TlsContext tls_context() const;
  // The access log's format, compiled once (throws std::invalid_argument
  // from the constructor when it does not compile: the CLI checks it first).
  const http::AccessLogFormat& access_format() const noexcept { return access_format_; }
  // Where access lines go: stdout, or --access-log-file. The descriptor's
  // number stays the same when the file is reopened (SIGUSR2), so a shard's
  // write never reaches a closed one.
  int access_log_fd() const noexcept { return access_log_file_ ? access_log_file_.get() : 1; }
  // An engine log line (text or JSON, as --log-format says).
  void log(LogLevel level, std::string_view message, const LogContext& context = {}) const {
    engine_log(settings_.log_json, level, message, context);
  }
  // --static: opened by bind(), read by every shard.
  const StaticFiles& static_files() const noexcept { return static_files_; }
  // --metrics: the supervisor's table, which the shards count in; null without.
  metrics::Table* metrics_table() noexcept { return metrics_ ? &metrics_ : nullptr; }

 private:
  // Whether the accepting sockets (every listener, or the supervisor's
  // hand-over channel) are polled: not before a shard serves nor after
  // shutdown began, and not while backing off for want of resources.
  enum class Accepting { Off, Polling, BackingOff };

  void accept_ready(const io::Listener& listener);
  void receive_handed_over();
  void take_connection(int fd);
  void start_accepting();
  void stop_polling_accepts();
  void back_off(int error);
  void on_time(double now);
  int wait_timeout_ms(double now) const;
  void report_refusals(double now);
  bool handoff() const noexcept { return settings_.handoff_fd >= 0; }
  // Handed-over connections ended and not yet reported (report_closed).
  std::atomic<long> closed_unreported_{0};
  // A supervised worker that accepts itself (interpreters mode) starts to
  // only when its supervisor says "accept" on the --ready-fd socket: during
  // a reload the old generation stops first (see docs/supervisor.md).
  bool awaits_supervisor_go() const noexcept { return settings_.ready_fd >= 0 && !handoff(); }
  void read_supervisor_command();
  // Where a connection goes: the serving shard with the lowest load level,
  // then the fewest connections, ties round-robin (server/balance.h);
  // never `exclude`. Null when no shard serves.
  Shard* least_loaded(const Shard* exclude = nullptr);
  // Every balance::INTERVAL: samples each serving shard's load, then
  // rebalances.
  void sample_loads(double now);
  // Asks shards to give idle connections away as balance::plan_moves says
  // (also at once when a shard joins).
  void rebalance();
  void place_moved();
  // Starts the shards that wait for the first ones to serve.
  void start_waiting_shards();
  void begin_shutdown(const char* why);
  bool replaced_ = false;  // SIGUSR1: a newer generation serves (WebSockets get 1012)
  void check_shards(RunResult& result);
  void recycle_shards();
  void start_shard(bool is_replacement, int slot);
  // SIGHUP (--reload): every shard's interpreter is replaced in place, as
  // recycle_shards() replaces one; the swap happens once all fresh ones serve.
  void reload_shards();
  // A fresh interpreter of a reload failed: the others are abandoned, the
  // old code keeps serving, and `failure` is logged once.
  void give_up_reload(const std::string& failure);
  bool reload_replacements_ready() const;
  // --ssl-reload: once a second, a changed certificate, key or CA file is
  // loaded; a broken set is refused (logged once per change).
  void check_certificate_files(double now);

  io::TlsConfig tls_config() const;
  // The 503 a connection that will not be served is told (main thread only:
  // it is rebuilt in refusal_ each time, with the default fields and Date).
  std::string_view refusal();
  std::string refusal_;
  http::DateCache refusal_date_;
  // --access-log-file: opened (appending) at start, reopened on SIGUSR2 after
  // a log rotation; false and `error` when it cannot be opened.
  bool open_access_log(std::string* error);
  void reopen_access_log();

  Settings settings_;
  http::AccessLogFormat access_format_;
  io::UniqueFd access_log_file_;  // empty: stdout
  std::vector<io::Listener> listeners_;  // empty when connections are handed over
  io::Poller poller_;
  io::UniqueFd notify_fd_;
  io::UniqueFd signal_fd_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<int> shards_running_{0};
  size_t next_shard_ = 0;
  int next_index_ = 0;
  // Start-up: the first shards (one per core) import the app alone; the
  // rest start once one of them serves, so the first is ready about as
  // fast as a lone one.
  int shards_waiting_ = 0;
  double next_balance_at_ = std::numeric_limits<double>::infinity();
  std::mutex moved_mutex_;  // guards moved_
  struct Moved {
    IdleConnection connection;
    const Shard* from;  // compared, never dereferenced: it may be gone
  };
  std::vector<Moved> moved_;
  long process_max_requests_ = 0;
  Accepting accepting_ = Accepting::Off;
  bool supervisor_go_ = false;  // awaits_supervisor_go(): the supervisor said "accept"
  double resume_accepting_at_ = 0;
  int accept_error_ = 0;        // why accepting backs off, for the log
  long open_file_limit_ = -1;   // RLIMIT_NOFILE, for the log
  io::ReservedFd reserved_fd_;  // keeps handed-over connections from being lost
  std::atomic<long> open_connections_{0};
  ThrottledReport deferred_accepts_;  // tries while out of descriptors or memory
  ThrottledReport lost_handovers_;    // handed over, but no descriptor to receive them
  ThrottledReport over_limit_;        // answered 503 for --limit-max-connections
  bool announced_ready_ = false;
  double reload_started_at_ = 0;  // the last SIGHUP, for "Reload complete (0.12 s)"
  bool stopping_ = false;
  double watchdog_deadline_ = 0;
  std::atomic<long> requests_{0};
  std::atomic<bool> retire_sent_{false};

  mutable std::mutex tls_mutex_;  // guards tls_: read by shard threads, replaced here
  io::TlsContext tls_;
  metrics::Table metrics_;
  StaticFiles static_files_;
  io::FileStamps certificate_files_;
  double next_certificate_check_ = std::numeric_limits<double>::infinity();
};

}  // namespace subcorn::server
