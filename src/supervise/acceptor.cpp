#include "supervise/acceptor.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <string_view>

#include "io/clock.h"
#include "io/engine_lock.h"
#include "io/socket.h"

namespace subcorn::supervise {
namespace {

constexpr uint64_t TOKEN_STOP = 1;
constexpr uint64_t TOKEN_WAKE = 2;
constexpr uint64_t TOKEN_FIRST_LISTENER = 16;
// Worker channels: their key plus this, above any listener's token.
constexpr uint64_t TOKEN_FIRST_WORKER = uint64_t{1} << 32;
constexpr int ACCEPTS_PER_WAKE = 128;
// How long accepting pauses when the process is out of descriptors or
// memory, or no worker can take a connection: long enough not to spin,
// short enough that room is used almost at once (as the engine does).
constexpr double ACCEPT_BACKOFF = 0.1;

void signal_eventfd(int fd) {
  uint64_t one = 1;
  (void)!::write(fd, &one, sizeof one);
}

double now_seconds() { return static_cast<double>(io::monotonic_ns()) / 1e9; }

void drain_eventfd(int fd) {
  uint64_t count;
  (void)!::read(fd, &count, sizeof count);
}

}  // namespace

Acceptor::Acceptor(AcceptorOptions options)
    : options_(std::move(options)),
      stop_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      attention_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

std::unique_ptr<Acceptor> Acceptor::start(AcceptorOptions options, std::string* error) {
  std::unique_ptr<Acceptor> a(new Acceptor(std::move(options)));
  if (!a->poller_.ok() || !a->stop_fd_ || !a->wake_fd_ || !a->attention_fd_ ||
      a->poller_.add(a->stop_fd_.get(), EPOLLIN, TOKEN_STOP) < 0 ||
      a->poller_.add(a->wake_fd_.get(), EPOLLIN, TOKEN_WAKE) < 0) {
    *error = std::string("cannot start the acceptor: ") + std::strerror(errno);
    return nullptr;
  }
  // accept4() must not block once the backlog is empty.
  for (int fd : a->options_.listen_fds) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
      *error = "cannot use listening socket " + std::to_string(fd) + ": " + std::strerror(errno);
      return nullptr;
    }
    a->unix_listener_.push_back(io::is_unix_socket(fd));
  }
  // Signals are the supervisor's main thread's business (its wakeup fd):
  // the thread starts with every signal blocked.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  a->thread_ = std::thread([raw = a.get()] { raw->run(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return a;
}

Acceptor::~Acceptor() {
  if (thread_.joinable()) {
    signal_eventfd(stop_fd_.get());
    thread_.join();
  }
}

void Acceptor::add_worker(int id, io::UniqueFd channel) {
  io::EngineLock lock(mutex_);
  uint64_t key = next_key_++;
  auto worker = std::make_unique<Worker>();
  worker->id = id;
  worker->channel = std::move(channel);
  poller_.add(worker->channel.get(), EPOLLIN, TOKEN_FIRST_WORKER + key);
  workers_.emplace(key, std::move(worker));
}

void Acceptor::set_targets(const std::vector<int>& ids) {
  {
    io::EngineLock lock(mutex_);
    targets_.clear();
    for (auto& [key, worker] : workers_) {
      worker->target = std::find(ids.begin(), ids.end(), worker->id) != ids.end();
      if (worker->target) targets_.push_back(worker.get());
    }
    next_target_ = 0;
  }
  signal_eventfd(wake_fd_.get());  // the thread starts or stops polling the listeners
}

long Acceptor::connections(int id) {
  io::EngineLock lock(mutex_);
  for (auto& [key, worker] : workers_)
    if (worker->id == id) return worker->connections;
  return -1;
}

AcceptorReport Acceptor::take_report() {
  drain_eventfd(attention_fd_.get());
  io::EngineLock lock(mutex_);
  return std::exchange(report_, AcceptorReport{});
}

void Acceptor::count(long AcceptorReport::*counter) {
  bool quiet = report_.over_limit == 0 && report_.unplaced == 0 && report_.deferred == 0;
  ++(report_.*counter);
  if (quiet) signal_eventfd(attention_fd_.get());
}

long Acceptor::total_connections() const {
  long total = 0;
  for (auto& [key, worker] : workers_) total += worker->connections;
  return total;
}

void Acceptor::run() {
  epoll_event events[32];
  for (;;) {
    double now = now_seconds();
    update_accepting(now);
    int timeout = -1;
    if (accepting_ == Accepting::BackingOff)
      timeout = static_cast<int>(std::ceil(std::max(0.0, resume_at_ - now) * 1000));
    int n = poller_.wait(events, 32, timeout);
    for (int i = 0; i < n; ++i) {
      uint64_t token = events[i].data.u64;
      if (token == TOKEN_STOP) return;
      if (token == TOKEN_WAKE) {
        drain_eventfd(wake_fd_.get());
      } else if (token >= TOKEN_FIRST_WORKER) {
        read_reports(token - TOKEN_FIRST_WORKER);
      } else if (accepting_ == Accepting::Polling) {
        accept_from(token - TOKEN_FIRST_LISTENER);
      }
    }
  }
}

void Acceptor::update_accepting(double now) {
  bool has_targets;
  {
    io::EngineLock lock(mutex_);
    has_targets = !targets_.empty();
  }
  Accepting wanted = accepting_ == Accepting::BackingOff && now < resume_at_ ? Accepting::BackingOff
                     : has_targets                                         ? Accepting::Polling
                                                                           : Accepting::Off;
  if (wanted == accepting_) return;
  // Connections wait in the listen backlog meanwhile; level-triggered
  // polling wakes this loop at once for those that waited.
  for (size_t i = 0; i < options_.listen_fds.size(); ++i) {
    if (wanted == Accepting::Polling)
      poller_.add(options_.listen_fds[i], EPOLLIN, TOKEN_FIRST_LISTENER + i);
    else if (accepting_ == Accepting::Polling)
      poller_.remove(options_.listen_fds[i]);
  }
  accepting_ = wanted;
}

void Acceptor::pause_for_a_moment(double now) {
  if (accepting_ == Accepting::Polling)
    for (int fd : options_.listen_fds) poller_.remove(fd);
  accepting_ = Accepting::BackingOff;
  resume_at_ = now + ACCEPT_BACKOFF;
}

void Acceptor::accept_from(size_t listener) {
  int listen_fd = options_.listen_fds[listener];
  for (int i = 0; i < ACCEPTS_PER_WAKE; ++i) {
    {
      // The targets were just taken away: what waits stays in the backlog.
      io::EngineLock lock(mutex_);
      if (targets_.empty()) return;
    }
    // Nonblocking and TCP_NODELAY, as the worker serves it (io::send_fd).
    int accepted = io::accept_connection(listen_fd, unix_listener_[listener]);
    io::UniqueFd conn(accepted >= 0 ? accepted : -1);
    if (!conn) {
      int err = -accepted;
      if (err == EAGAIN || err == EINTR) return;
      if (io::is_connection_error(err)) continue;
      // EMFILE, ENFILE, ENOBUFS, ENOMEM: the connection waits in the
      // backlog until there is room for it.
      {
        io::EngineLock lock(mutex_);
        report_.deferred_errno = err;
        count(&AcceptorReport::deferred);
      }
      pause_for_a_moment(now_seconds());
      return;
    }
    bool over_limit = false;
    {
      io::EngineLock lock(mutex_);
      long limit = options_.limit_max_connections;
      if (limit > 0 && total_connections() >= limit) {
        over_limit = true;
        count(&AcceptorReport::over_limit);
      } else if (hand_over(conn.get())) {
        ++report_.handed_over;
        continue;  // closing our copy: the worker has its own
      } else {
        count(&AcceptorReport::unplaced);
      }
    }
    io::refuse_connection(std::move(conn), options_.refusal);
    if (over_limit) continue;
    // No target could take it (every channel full: a worker out of
    // descriptors takes none until one closes; or the targets were taken
    // away between the check and the accept): the next ones wait in the
    // backlog for a moment.
    pause_for_a_moment(now_seconds());
    return;
  }
}

bool Acceptor::hand_over(int fd) {
  // The fewest connections first; among equals, round-robin from next_target_.
  size_t n = targets_.size();
  std::vector<size_t> order(n);
  for (size_t k = 0; k < n; ++k) order[k] = (next_target_ + k) % n;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return targets_[a]->connections < targets_[b]->connections;
  });
  for (size_t at : order) {
    Worker* w = targets_[at];
    if (!w->channel) continue;
    if (io::send_fd(w->channel.get(), fd) < 0) continue;  // full, or the worker is gone
    ++w->connections;
    next_target_ = (at + 1) % n;
    return true;
  }
  return false;
}

void Acceptor::read_reports(uint64_t key) {
  io::EngineLock lock(mutex_);
  auto it = workers_.find(key);
  if (it == workers_.end()) return;
  Worker& w = *it->second;
  char message[64];
  for (;;) {
    ssize_t n = recv(w.channel.get(), message, sizeof message, MSG_DONTWAIT);
    if (n > 0) {
      long closed = io::closed_report_count(std::string_view(message, static_cast<size_t>(n)));
      w.connections = std::max(0L, w.connections - closed);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    // The worker exited: its connections went with it.
    poller_.remove(w.channel.get());
    std::erase(targets_, &w);
    next_target_ = 0;
    workers_.erase(it);
    return;
  }
}

}  // namespace subcorn::supervise
