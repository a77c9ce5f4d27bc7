#include "server/server.h"

#include <signal.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>

#include "http/response.h"
#include "io/clock.h"
#include "io/engine_lock.h"
#include "server/balance.h"
#include "server/shard.h"

namespace subcorn::server {
namespace {

constexpr uint64_t TOKEN_SIGNAL = 1;
constexpr uint64_t TOKEN_NOTIFY = 2;
constexpr uint64_t TOKEN_HANDOFF = 3;
constexpr uint64_t TOKEN_SUPERVISOR = 4;
// Listener i is polled with token TOKEN_LISTENER_FIRST + i.
constexpr uint64_t TOKEN_LISTENER_FIRST = 16;
constexpr int ACCEPTS_PER_WAKE = 128;
// How long accepting pauses when the process is out of file descriptors or
// memory: long enough not to spin, short enough that a freed descriptor is
// used almost at once.
constexpr double ACCEPT_BACKOFF = 0.1;
// --ssl-reload: how often the certificate files are looked at.
constexpr double CERTIFICATE_CHECK_INTERVAL = 1.0;


std::string address_text(const io::Listener& l, bool secure) {
  if (l.unix_socket) return "unix:" + l.host;
  std::string host = l.host.find(':') != std::string::npos ? "[" + l.host + "]" : l.host;
  return std::string(secure ? "https://" : "http://") + host + ":" + std::to_string(l.port);
}

std::string addresses_text(const std::vector<io::Listener>& listeners, bool secure) {
  std::string text;
  for (const io::Listener& l : listeners) text += (text.empty() ? "" : ", ") + address_text(l, secure);
  return text;
}

// To the supervisor, when there is one: one line per event.
void tell_supervisor(int fd, const char* line) {
  if (fd < 0) return;
  (void)!::write(fd, line, std::strlen(line));
}

// The cores this process may run on.
int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

std::string plural(long n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

namespace {

http::AccessLogFormat compile_access_format(const Settings& s) {
  auto output = s.log_json ? http::AccessLogFormat::Output::Json : http::AccessLogFormat::Output::Text;
  if (s.access_log_format.empty()) return http::AccessLogFormat::uvicorn(output);
  std::string error;
  auto format = http::AccessLogFormat::compile(s.access_log_format, output, getpid(), &error);
  if (!format) throw std::invalid_argument(error);
  return std::move(*format);
}

}  // namespace

Server::Server(Settings settings)
    : settings_(std::move(settings)),
      access_format_(compile_access_format(settings_)),
      notify_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

bool Server::open_access_log(std::string* error) {
  const std::string& path = settings_.access_log_file;
  if (path.empty() || path == "-") return true;
  access_log_file_.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (!access_log_file_) {
    *error = "Cannot open the access log file " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

// After logrotate moved the file away: a new file by the same name. dup3()
// swaps it in under the same descriptor number, so a shard writing at this
// moment finishes its line in the old file and the next goes to the new one.
void Server::reopen_access_log() {
  if (!access_log_file_) return;
  const std::string& path = settings_.access_log_file;
  io::UniqueFd fresh(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (!fresh || dup3(fresh.get(), access_log_file_.get(), O_CLOEXEC) < 0) {
    log(LogLevel::Error, "Cannot reopen the access log file " + path + ": " + std::strerror(errno) +
                             "; still writing to the old one");
    return;
  }
  if (settings_.log_info) log(LogLevel::Info, "Reopened the access log file " + path + " (SIGUSR2)");
}

Server::~Server() { shards_.clear(); }

io::TlsConfig Server::tls_config() const {
  io::TlsConfig config = settings_.tls;
  // ALPN: what --http serves, HTTP/2 first (a client that speaks it prefers it).
  config.alpn.clear();
  if (settings_.http2) config.alpn.emplace_back("h2");
  if (settings_.http1) config.alpn.emplace_back("http/1.1");
  return config;
}

io::TlsContext Server::tls_context() const {
  io::EngineLock lock(tls_mutex_);
  return tls_;
}

bool Server::bind(std::string* error) {
  if (!open_access_log(error)) return false;
  if (!static_files_.open(settings_.static_mounts, settings_.static_max_age, error)) return false;
  if (settings_.tls.enabled()) {
    io::TlsContext context = io::TlsContext::load(tls_config(), error);
    if (!context) return false;
    // Worker processes share the supervisor's ticket keys: a session one
    // process began resumes on any other, and after a reload.
    if (!settings_.tls_ticket_keys.empty() && !context.set_ticket_keys(settings_.tls_ticket_keys)) {
      *error = "cannot use the TLS session ticket keys the supervisor gave";
      return false;
    }
    tls_ = std::move(context);
    if (settings_.ssl_reload) {
      certificate_files_ = io::FileStamps(
          {settings_.tls.certfile, settings_.tls.keyfile, settings_.tls.ca_certs});
      next_certificate_check_ = monotonic_seconds() + CERTIFICATE_CHECK_INTERVAL;
    }
  }
  if (settings_.metrics_fd >= 0) {
    metrics_ = metrics::Table::attach(settings_.metrics_fd, error);
    if (!metrics_) return false;
  }
  // Handed connections by a supervisor: this process listens on nothing.
  if (handoff()) return true;
  // The supervisor bound every address (or took systemd's sockets); this
  // process listens on each.
  if (settings_.listen_fds.empty()) {
    *error = "no listening socket given (listen_fds is empty)";
    return false;
  }
  for (int fd : settings_.listen_fds) {
    io::Listener listener;
    if (!io::adopt_listener(fd, settings_.backlog, &listener, error)) return false;
    listeners_.push_back(std::move(listener));
  }
  return true;
}

void Server::notify() {
  uint64_t one = 1;
  (void)!::write(notify_fd_.get(), &one, sizeof one);
}

void Server::shard_finished() {
  shards_running_.fetch_sub(1);
  notify();
}

RunResult Server::run() {
  RunResult result;
  open_file_limit_ = io::raise_open_file_limit();
  // Signals are read from a signalfd by this thread alone; the shard threads
  // inherit the blocked mask, so none of them is interrupted by one.
  sigset_t mask, old_mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGUSR1);  // from a supervisor: drain, a new generation took over
  sigaddset(&mask, SIGUSR2);  // from a supervisor (its SIGUSR1): reopen the access log file
  sigaddset(&mask, SIGHUP);   // from a supervisor (--reload): fresh interpreters, new code
  pthread_sigmask(SIG_BLOCK, &mask, &old_mask);
  signal_fd_.reset(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  poller_.add(signal_fd_.get(), EPOLLIN, TOKEN_SIGNAL);
  poller_.add(notify_fd_.get(), EPOLLIN, TOKEN_NOTIFY);
  if (awaits_supervisor_go()) poller_.add(settings_.ready_fd, EPOLLIN, TOKEN_SUPERVISOR);

  int workers = settings_.workers < 1 ? 1 : settings_.workers;
  process_max_requests_ = jittered_max_requests();
  // Shards import the app at once only as far as there are cores to do it:
  // more would share them and make the first one ready later. The others
  // start as soon as one serves (start_waiting_shards).
  int first = std::min(workers, usable_cpus());
  for (int i = 0; i < first; ++i) start_shard(false, i);
  shards_waiting_ = workers - first;

  epoll_event events[16];
  while (shards_running_.load() > 0) {
    double now = monotonic_seconds();
    on_time(now);
    int n = poller_.wait(events, 16, wait_timeout_ms(now));
    for (int i = 0; i < n; ++i) {
      switch (events[i].data.u64) {
        case TOKEN_SIGNAL: {
          signalfd_siginfo info{};
          while (::read(signal_fd_.get(), &info, sizeof info) == sizeof info) {
            if (info.ssi_signo == SIGUSR2) {
              reopen_access_log();
              continue;
            }
            if (info.ssi_signo == SIGHUP) {
              reload_shards();
              continue;
            }
            // Under a supervisor a repeated signal is not a user's impatience
            // (systemd signals the whole group, the supervisor signals too):
            // keep draining; the supervisor escalates with SIGKILL if need be.
            if (stopping_ && settings_.ready_fd >= 0) continue;
            if (stopping_) {
              log(LogLevel::Warning, "Second signal: exiting at once.");
              fflush(nullptr);
              _exit(1);
            }
            if (info.ssi_signo == SIGUSR1) replaced_ = true;
            begin_shutdown(info.ssi_signo == SIGINT    ? "SIGINT"
                           : info.ssi_signo == SIGUSR1 ? "SIGUSR1: replaced"
                                                       : "SIGTERM");
          }
          break;
        }
        case TOKEN_NOTIFY: {
          uint64_t count;
          (void)!::read(notify_fd_.get(), &count, sizeof count);
          check_shards(result);
          place_moved();
          break;
        }
        case TOKEN_HANDOFF:
          receive_handed_over();
          break;
        case TOKEN_SUPERVISOR:
          read_supervisor_command();
          check_shards(result);
          break;
        default: {
          uint64_t index = events[i].data.u64 - TOKEN_LISTENER_FIRST;
          if (index < listeners_.size()) accept_ready(listeners_[index]);
          break;
        }
      }
    }
    report_closed();
  }
  report_refusals(std::numeric_limits<double>::infinity());  // what the last second counted
  {
    // Moved while everything stopped: nobody is left to serve them.
    io::EngineLock lock(moved_mutex_);
    for (Moved& m : moved_) m.connection.transport.close();
    moved_.clear();
  }
  for (auto& shard : shards_) {
    shard->join();
    if (shard->interpreter_left_alive()) result.interpreters_left = true;
  }
  check_shards(result);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return result;
}

// The watchdog, the end of a back-off, and the log lines that fell due.
void Server::on_time(double now) {
  if (stopping_ && now >= watchdog_deadline_) {
    log(LogLevel::Error, "Shutdown watchdog fired: " + std::to_string(shards_running_.load()) +
                               " worker(s) did not finish in time; exiting.");
    fflush(nullptr);
    _exit(1);
  }
  // Level-triggered: connections that waited meanwhile wake the loop at once.
  if (accepting_ == Accepting::BackingOff && now >= resume_accepting_at_) start_accepting();
  if (now >= next_certificate_check_) check_certificate_files(now);
  if (now >= next_balance_at_) sample_loads(now);
  report_refusals(now);
}

void Server::check_certificate_files(double now) {
  next_certificate_check_ = now + CERTIFICATE_CHECK_INTERVAL;
  if (!certificate_files_.changed()) return;
  std::string error;
  io::TlsContext fresh = io::TlsContext::load(tls_config(), &error);
  if (!fresh) {
    log(LogLevel::Error, "TLS certificate not reloaded: " + error +
                               " (new connections still get the previous certificate)");
    return;
  }
  io::EngineLock lock(tls_mutex_);
  // Tickets issued before the reload still resume.
  fresh.set_ticket_keys(tls_.ticket_keys());
  tls_ = std::move(fresh);
  if (settings_.log_info)
    log(LogLevel::Info, "TLS certificate reloaded from " + settings_.tls.certfile +
                               ": new connections get it");
}

int Server::wait_timeout_ms(double now) const {
  double until = std::min({deferred_accepts_.next_due(), lost_handovers_.next_due(),
                           over_limit_.next_due()});
  if (stopping_) until = std::min(until, watchdog_deadline_);
  else until = std::min({until, next_certificate_check_, next_balance_at_});
  if (accepting_ == Accepting::BackingOff) until = std::min(until, resume_accepting_at_);
  if (std::isinf(until)) return -1;
  double ms = std::ceil(std::max(0.0, until - now) * 1000);
  return static_cast<int>(std::min(ms, 1e9));
}

void Server::report_refusals(double now) {
  if (long n = deferred_accepts_.take_due(now)) {
    std::string why = std::strerror(accept_error_);
    if (accept_error_ == EMFILE && open_file_limit_ > 0)
      why += " (open-file limit " + std::to_string(open_file_limit_) + ")";
    log(LogLevel::Warning, "Cannot accept new connections: " + why + ", " +
                               plural(n, "time", "times") + " since the last report. They wait " +
                               (handoff() ? "in the supervisor's queue" : "in the listen backlog") +
                               ", retried every 0.1 s; open connections are still served.");
  }
  if (long n = lost_handovers_.take_due(now))
    log(LogLevel::Warning, "Out of file descriptors: " + plural(n, "connection", "connections") +
                               " handed over by the supervisor were closed unanswered since the "
                               "last report.");
  if (long n = over_limit_.take_due(now))
    log(LogLevel::Warning, "--limit-max-connections " +
                               std::to_string(settings_.limit_max_connections) + " reached: " +
                               plural(n, "new connection", "new connections") +
                               " answered 503 and closed since the last report.");
}

void Server::start_shard(bool is_replacement, int slot) {
  auto shard = std::make_unique<Shard>(*this, next_index_++, slot);
  shard->is_replacement = is_replacement;
  shards_running_.fetch_add(1);
  shard->start();
  shards_.push_back(std::move(shard));
}

long Server::jittered_max_requests() {
  if (settings_.max_requests <= 0) return 0;
  static thread_local std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<long> jitter(0, std::max(0L, settings_.max_requests_jitter));
  return settings_.max_requests + jitter(random);
}

// --max-requests in interpreters mode: a shard that served its share is
// replaced by a fresh interpreter in this process. The new one starts first;
// the old one stops taking connections once it serves, then drains and ends.
// A reload (SIGHUP) replaces every shard the same way, all of them at once
// when every fresh one serves, so that the old and the new code do not
// answer side by side for longer than that.
void Server::recycle_shards() {
  if (stopping_) return;
  bool reload_ready = reload_replacements_ready();
  int reloaded = 0;
  size_t count = shards_.size();  // replacements started here are looked at next time
  for (size_t i = 0; i < count; ++i) {
    Shard* old = shards_[i].get();
    bool wanted = old->retire_requested() || old->reload_wanted;
    if (!wanted || old->stop_requested() || old->retire_failed) continue;
    if (!old->replacement) {
      if (settings_.log_info && !old->reload_wanted)
        log(LogLevel::Info, "Interpreter of worker " + std::to_string(old->index()) +
                                   " served its --max-requests: starting a fresh one.");
      start_shard(true, old->slot());
      old->replacement = shards_.back().get();
      old->replacement->awaiting_swap = true;
      continue;
    }
    switch (old->replacement->state()) {
      case Shard::State::Ready:
        if (old->reload_wanted) {
          if (!reload_ready) break;
          ++reloaded;
        }
        old->replacement->awaiting_swap = false;
        old->request_stop(true, true);
        if (metrics_)
          metrics_.slot(settings_.metrics_slot + old->slot()).recycles.fetch_add(1, std::memory_order_relaxed);
        break;
      case Shard::State::Failed:
        if (old->reload_wanted) {
          give_up_reload(old->replacement->failure());
          break;
        }
        log(LogLevel::Error, "Could not start a fresh interpreter (" + old->replacement->failure() +
                                   "); the old one keeps serving.");
        old->replacement = nullptr;  // it is reaped below once its thread ends
        old->retire_failed = true;
        break;
      default:
        break;
    }
  }
  if (reloaded > 0 && settings_.log_info) {
    char took[32];
    std::snprintf(took, sizeof took, "%.2f s", monotonic_seconds() - reload_started_at_);
    log(LogLevel::Info, "Reload complete: " + plural(reloaded, "fresh interpreter", "fresh interpreters") +
                            " serving the new code (" + took + ").");
  }
  // Reap shards whose threads ended while the server goes on.
  for (size_t i = 0; i < shards_.size();) {
    Shard* s = shards_[i].get();
    bool retired = s->stop_requested() || (s->is_replacement && s->state() == Shard::State::Failed);
    if (!s->finished() || !retired) {
      ++i;
      continue;
    }
    s->join();
    if (s->interpreter_left_alive()) {
      // Its threads outlive it: this process is recycled whole instead.
      log(LogLevel::Warning, "A recycled interpreter left threads running; asking to replace this process.");
      if (!retire_sent_.exchange(true)) tell_supervisor(settings_.ready_fd, "retire\n");
    }
    for (auto& other : shards_)
      if (other->replacement == s) other->replacement = nullptr;
    shards_.erase(shards_.begin() + static_cast<long>(i));
    next_shard_ = 0;
  }
}

// Whether every shard a reload replaces has its fresh interpreter serving.
bool Server::reload_replacements_ready() const {
  for (const auto& shard : shards_) {
    if (!shard->reload_wanted || shard->stop_requested() || shard->retire_failed) continue;
    if (!shard->replacement || shard->replacement->state() != Shard::State::Ready) return false;
  }
  return true;
}

void Server::reload_shards() {
  if (stopping_) return;
  if (settings_.main_interpreter) {
    // A process's main interpreter cannot be replaced in place.
    log(LogLevel::Warning, "SIGHUP ignored: in processes mode the supervisor reloads by "
                           "replacing worker processes (send it SIGHUP).");
    return;
  }
  // Fresh interpreters still starting may have read the code before this
  // change: they are abandoned (they stop once started), and new ones start.
  for (auto& shard : shards_) {
    if (!shard->replacement || shard->stop_requested()) continue;
    shard->replacement->request_stop(true);
    shard->replacement = nullptr;
  }
  int count = 0;
  for (auto& shard : shards_) {
    if (shard->stop_requested()) continue;
    shard->reload_wanted = true;
    shard->retire_failed = false;  // a reload gives a failed recycle another try
    ++count;
  }
  reload_started_at_ = monotonic_seconds();
  if (settings_.log_info)
    log(LogLevel::Info, "Reloading in place (SIGHUP): starting " +
                            plural(count, "fresh interpreter", "fresh interpreters") + ".");
  recycle_shards();
}

// Every fresh interpreter imports the same code, so one that failed (an
// import error, a failed lifespan startup) says what all would: the others
// are stopped, and the error is logged once, not once per worker. The
// old interpreters are not retried until the next SIGHUP.
void Server::give_up_reload(const std::string& failure) {
  for (auto& shard : shards_) {
    if (!shard->reload_wanted) continue;
    if (shard->replacement) {
      shard->replacement->request_stop(true);
      shard->replacement = nullptr;
    }
    shard->reload_wanted = false;
    shard->retire_failed = true;
  }
  log(LogLevel::Error, "Reload failed: " + failure + "\nThe old code keeps serving; the next "
                       "change is tried anew.");
}

void Server::check_shards(RunResult& result) {
  recycle_shards();
  int ready = 0;
  bool joined = false;
  for (auto& shard : shards_) {
    if (shard->is_replacement && shard->state() == Shard::State::Failed) continue;
    if (shard->state() == Shard::State::Failed && result.exit_code == 0) {
      result.exit_code = 1;
      result.error = shard->failure();
      begin_shutdown(nullptr);
    }
    if (shard->state() == Shard::State::Ready) {
      ++ready;
      if (!shard->joined) joined = shard->joined = true;
    }
  }
  if (joined && !stopping_) {
    if (settings_.log_info && !settings_.main_interpreter) {
      // "k of W" counts the shards that serve on: not one that a recycle or
      // a reload replaces, which is still Ready while it stops or while its
      // replacement waits for the others (an in-place reload's swap).
      int serving = 0;
      for (auto& shard : shards_) {
        bool replaced = shard->replacement && shard->replacement->state() == Shard::State::Ready;
        if (shard->state() == Shard::State::Ready && !shard->stop_requested() && !replaced) ++serving;
      }
      for (auto& shard : shards_)
        if (shard->joined && shard->state() == Shard::State::Ready && !shard->stop_requested() &&
            !shard->logged_join) {
          shard->logged_join = true;
          log(LogLevel::Info, "shard " + std::to_string(shard->index()) + " serving (" +
                                  std::to_string(serving) + " of " + std::to_string(settings_.workers) + ")");
        }
    }
    if (ready > 0) start_waiting_shards();
    // A shard that joins takes its share of the open connections now.
    if (settings_.workers > 1 && std::isinf(next_balance_at_))
      next_balance_at_ = monotonic_seconds() + balance::INTERVAL;
    rebalance();
  }
  // Serve as soon as the first shard is ready; the others join as they come.
  bool may_accept = !awaits_supervisor_go() || supervisor_go_;
  if (ready > 0 && accepting_ == Accepting::Off && !stopping_ && may_accept) start_accepting();
  if (ready >= settings_.workers && !announced_ready_ && !stopping_) {
    announced_ready_ = true;
    tell_supervisor(settings_.ready_fd, "ready\n");
    if (settings_.log_info)
      log(LogLevel::Info, "Application startup complete (" + std::to_string(ready) +
                               (settings_.main_interpreter ? " worker" : " interpreter") +
                               (ready == 1 ? "" : "s") + ").");
    // Under a supervisor, the supervisor says where it serves, once.
    if (settings_.log_info && settings_.ready_fd < 0)
      log(LogLevel::Info, "subcorn running on " + addresses_text(listeners_, settings_.tls.enabled()) +
                                 " (Press CTRL+C to quit)");
  }
}

void Server::count_request() {
  if (process_max_requests_ <= 0) return;
  if (requests_.fetch_add(1) + 1 >= process_max_requests_ && !retire_sent_.exchange(true)) {
    if (settings_.log_info)
      log(LogLevel::Info, "Served " + std::to_string(process_max_requests_) +
                                 " requests (--max-requests): asking to be replaced.");
    tell_supervisor(settings_.ready_fd, "retire\n");
  }
}

void Server::begin_shutdown(const char* why) {
  if (stopping_) return;
  stopping_ = true;
  if (why && settings_.log_info)
    log(LogLevel::Info, std::string("Shutting down [") + std::to_string(getpid()) + "] (" + why + ")");
  // Stop accepting: new connections are refused from now on. Connections a
  // supervisor handed over before it asked us to stop are still taken.
  if (accepting_ != Accepting::Off && handoff()) receive_handed_over();
  stop_polling_accepts();
  accepting_ = Accepting::Off;
  listeners_.clear();
  watchdog_deadline_ = monotonic_seconds() + settings_.timeout_graceful_shutdown +
                       SHUTDOWN_WATCHDOG_MARGIN;
  for (auto& shard : shards_) shard->request_stop(replaced_);
  // Nothing is accepted here any more, and each shard sees its stop before
  // it reads another request (Shard::on_poll): the supervisor may let the
  // next generation accept.
  tell_supervisor(settings_.ready_fd, "draining\n");
}

// The supervisor's word on the --ready-fd socket: "accept" (once). At end of
// file the supervisor is gone (the parent-death signal stops this process).
void Server::read_supervisor_command() {
  char buf[64];
  ssize_t n = ::read(settings_.ready_fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n > 0 && std::string_view(buf, static_cast<size_t>(n)).find("accept") != std::string_view::npos)
    supervisor_go_ = true;
  if (n <= 0 || supervisor_go_) poller_.remove(settings_.ready_fd);
}

Shard* Server::least_loaded(const Shard* exclude) {
  Shard* best = nullptr;
  balance::ShardLoad best_load;
  size_t count = shards_.size();
  size_t best_at = 0;
  int64_t now_ns = io::monotonic_ns();
  for (size_t k = 0; k < count; ++k) {
    size_t at = (next_shard_ + k) % count;
    Shard* s = shards_[at].get();
    if (s == exclude || s->state() != Shard::State::Ready || s->stop_requested() ||
        s->awaiting_swap)
      continue;
    // The smoothed load, and what runs right now: a shard whose thread is
    // held by a slow request gets no new connection, however few it has.
    double now_load = s->load.load() + s->running() + (s->held(now_ns) ? balance::HELD_LOAD : 0);
    balance::ShardLoad load{balance::level(now_load), s->connection_count()};
    if (!best || balance::less_loaded(load, best_load)) {
      best = s;
      best_load = load;
      best_at = at;
    }
  }
  if (best) next_shard_ = (best_at + 1) % count;
  return best;
}

void Server::start_waiting_shards() {
  if (stopping_) return;
  int workers = settings_.workers < 1 ? 1 : settings_.workers;
  for (; shards_waiting_ > 0; --shards_waiting_) start_shard(false, workers - shards_waiting_);
}

void Server::sample_loads(double now) {
  next_balance_at_ = stopping_ ? std::numeric_limits<double>::infinity() : now + balance::INTERVAL;
  for (auto& s : shards_)
    if (s->state() == Shard::State::Ready && !s->stop_requested())
      s->load.sample(s->cpu_seconds(), s->running(), now);
  rebalance();
}

void Server::rebalance() {
  if (stopping_) return;
  std::vector<Shard*> serving;
  std::vector<balance::ShardLoad> loads;
  int arriving = 0;
  int64_t now_ns = io::monotonic_ns();
  for (auto& s : shards_) {
    // A recycled shard's idle connections are about to be placed on the
    // others. (All its connections are counted: a busy one, which stays, is
    // an overcount until it has handed the idle ones over; at worst a move
    // waits until then.)
    if (s->idle_leaving()) arriving += s->connection_count();
    // A fresh interpreter waiting for a reload's swap takes no part yet.
    if (s->state() != Shard::State::Ready || s->stop_requested() || s->awaiting_swap) continue;
    serving.push_back(s.get());
    double load = s->load.load() + (s->held(now_ns) ? balance::HELD_LOAD : 0);
    loads.push_back({balance::level(load), s->connection_count()});
  }
  {
    // Given away, not placed yet. Read after the shards: a connection that
    // leaves one meanwhile is counted twice, never not at all.
    io::EngineLock lock(moved_mutex_);
    arriving += static_cast<int>(moved_.size());
  }
  std::vector<int> give = balance::plan_moves(loads, arriving);
  for (size_t i = 0; i < serving.size(); ++i)
    if (give[i] > 0) serving[i]->give_away(give[i]);
}

void Server::place_idle(std::vector<IdleConnection> connections, Shard* from) {
  {
    io::EngineLock lock(moved_mutex_);
    for (IdleConnection& c : connections) moved_.push_back({std::move(c), from});
  }
  notify();
}

void Server::place_moved() {
  std::vector<Moved> moved;
  {
    io::EngineLock lock(moved_mutex_);
    moved.swap(moved_);
  }
  for (Moved& m : moved) {
    if (Shard* to = least_loaded(m.from)) {
      to->hand_over(std::move(m.connection));
    } else {
      // No other shard serves (everything stops): the connection ends here.
      m.connection.transport.close();
      connection_closed();
    }
  }
}

void Server::connection_closed() {
  open_connections_.fetch_sub(1, std::memory_order_relaxed);
  if (handoff()) closed_unreported_.fetch_add(1, std::memory_order_relaxed);
}

void Server::report_closed() {
  if (!handoff() || closed_unreported_.load(std::memory_order_relaxed) == 0) return;
  long count = closed_unreported_.exchange(0, std::memory_order_relaxed);
  // The channel is full only when the acceptor lags far behind: the count
  // goes out with the next report instead of being lost.
  if (count > 0 && io::send_closed_report(settings_.handoff_fd, count) == -EAGAIN)
    closed_unreported_.fetch_add(count, std::memory_order_relaxed);
}

void Server::start_accepting() {
  accepting_ = Accepting::Polling;
  if (handoff()) {
    poller_.add(settings_.handoff_fd, EPOLLIN, TOKEN_HANDOFF);
    return;
  }
  for (size_t i = 0; i < listeners_.size(); ++i)
    poller_.add(listeners_[i].fd.get(), EPOLLIN, TOKEN_LISTENER_FIRST + i);
}

void Server::stop_polling_accepts() {
  if (accepting_ != Accepting::Polling) return;
  if (handoff()) {
    poller_.remove(settings_.handoff_fd);
    return;
  }
  for (const io::Listener& l : listeners_) poller_.remove(l.fd.get());
}

// Out of file descriptors or memory: polling the socket now would wake this
// loop again at once (the connection is still waiting) and spin a core.
void Server::back_off(int error) {
  accept_error_ = error;
  deferred_accepts_.count();
  if (accepting_ != Accepting::Polling) return;
  stop_polling_accepts();
  accepting_ = Accepting::BackingOff;
  resume_accepting_at_ = monotonic_seconds() + ACCEPT_BACKOFF;
}

// What a connection that will not be served is told: 503, or over TLS
// nothing (plain text would be garbage to a TLS client, and a handshake
// only to refuse costs what serving would): it is closed.
std::string_view Server::refusal() {
  if (settings_.tls.enabled()) return {};
  refusal_.clear();
  settings_.response_defaults.append_error(refusal_, 503, refusal_date_.now());
  return refusal_;
}

void Server::take_connection(int fd) {
  // A supervisor that hands connections over applies the limit itself, to
  // all its worker processes together.
  long limit = settings_.limit_max_connections;
  if (!handoff() && limit > 0 && open_connections_.load(std::memory_order_relaxed) >= limit) {
    io::refuse_connection(io::UniqueFd(fd), refusal());
    over_limit_.count();
    if (metrics_) metrics_.count_rejection(503);
    return;
  }
  Shard* shard = least_loaded();
  if (!shard) {  // every shard is stopping or being replaced
    io::refuse_connection(io::UniqueFd(fd), refusal());
    if (metrics_) metrics_.count_rejection(503);
    // The supervisor counted it as ours: keep its count true.
    if (handoff()) closed_unreported_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  open_connections_.fetch_add(1, std::memory_order_relaxed);
  shard->hand_over(fd);
}

void Server::receive_handed_over() {
  int fds[16];
  for (int round = 0; round < ACCEPTS_PER_WAKE; ++round) {
    // A connection that arrives when no descriptor is free is lost, so one
    // is kept free for it: when it cannot be, this process is at its limit
    // and the connections wait in the channel.
    if (int held = reserved_fd_.hold(); held < 0) {
      back_off(-held);
      return;
    }
    reserved_fd_.release();
    int lost = 0;
    int n = io::receive_fds(settings_.handoff_fd, fds, 16, &lost);
    for (int i = 0; i < lost; ++i) {
      // Another thread took the free descriptor first.
      lost_handovers_.count();
      closed_unreported_.fetch_add(1, std::memory_order_relaxed);
    }
    if (n == -EAGAIN || n == -EINTR) return;
    if (n == -EMFILE || n == -ENFILE || n == -ENOBUFS || n == -ENOMEM) {
      back_off(-n);
      return;
    }
    if (n <= 0) {  // the supervisor is gone
      stop_polling_accepts();
      accepting_ = Accepting::Off;
      begin_shutdown("the supervisor is gone");
      return;
    }
    for (int i = 0; i < n; ++i) take_connection(fds[i]);
  }
}

void Server::accept_ready(const io::Listener& listener) {
  for (int i = 0; i < ACCEPTS_PER_WAKE; ++i) {
    int fd = io::accept_connection(listener.fd.get(), listener.unix_socket);
    if (fd >= 0) {
      take_connection(fd);
    } else if (fd == -EAGAIN || fd == -EINTR) {
      return;
    } else if (!io::is_connection_error(-fd)) {
      // EMFILE, ENFILE, ENOBUFS, ENOMEM: the connection stays in the
      // backlog until there is room for it. Anything unexpected backs off too.
      back_off(-fd);
      return;
    }
  }
}

}  // namespace subcorn::server
