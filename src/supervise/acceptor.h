// Acceptor: the supervisor's accept loop in processes mode. One thread of
// the supervisor process (no Python, no GIL) accepts on every listening
// socket and hands each connection to a worker process over that worker's
// SOCK_SEQPACKET channel, one message per connection with the fd in
// SCM_RIGHTS (the engine's Server::receive_handed_over takes it).
//
// Which workers may get connections is the supervisor's decision
// (set_targets); which of them gets the next one is decided here: the one
// holding the fewest connections, ties round-robin. A worker's count goes
// up at the hand-over and down by the count in each "closed N" report it
// writes on its channel (io::send_closed_report),
// which this thread reads. Beyond --limit-max-connections (all workers
// together, draining ones too) a connection is answered with `refusal` and
// closed; so is one no target can take (every channel full), after which
// accepting pauses for a moment. Out of descriptors, accepting pauses too.
// What was refused or deferred is counted for the supervisor to log
// (take_report), and attention_fd() becomes readable when there is some.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "io/poller.h"
#include "io/unique_fd.h"

namespace subcorn::supervise {

struct AcceptorOptions {
  std::vector<int> listen_fds;     // listening already; not owned
  std::string refusal;             // what a refused connection is told (empty: nothing, over TLS)
  long limit_max_connections = 0;  // 0: no limit
};

// What happened since the last take_report().
struct AcceptorReport {
  long over_limit = 0;      // refused: --limit-max-connections reached
  long unplaced = 0;        // refused: no target could take it
  long deferred = 0;        // accept() failed for want of resources: paused
  int deferred_errno = 0;   // the last such error
  long handed_over = 0;
};

class Acceptor {
 public:
  // Starts the thread; null and `error` when an fd cannot be polled.
  static std::unique_ptr<Acceptor> start(AcceptorOptions options, std::string* error);
  ~Acceptor();  // stops and joins the thread; closes every channel
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  // Takes worker `id`'s channel. It is read (for "closed N") until the worker
  // closes its end; it gets connections only once it is a target.
  void add_worker(int id, io::UniqueFd channel);
  // The workers that get new connections from now on, replacing the last
  // set. Once this returns no connection goes to a worker not in `ids`.
  void set_targets(const std::vector<int>& ids);
  // The connections a worker holds (handed over, not reported closed); -1
  // for an unknown worker.
  long connections(int id);
  AcceptorReport take_report();
  int attention_fd() const noexcept { return attention_fd_.get(); }

 private:
  struct Worker {
    int id = 0;
    io::UniqueFd channel;
    long connections = 0;
    bool target = false;
  };
  using WorkerMap = std::map<uint64_t, std::unique_ptr<Worker>>;
  enum class Accepting { Off, Polling, BackingOff };

  explicit Acceptor(AcceptorOptions options);
  void run();
  void accept_from(size_t listener);  // an index in options_.listen_fds
  // Passes `fd` to the least-loaded target that can take it; false when
  // none can (every channel full, or no target). Under mutex_.
  bool hand_over(int fd);
  void read_reports(uint64_t key);
  // Polls the listening sockets or not, as the targets and a back-off say.
  // The thread's alone, as is accepting_.
  void update_accepting(double now);
  // Out of descriptors, or no target could take a connection: the
  // listeners are not polled for ACCEPT_BACKOFF (polled, they would wake
  // this loop again at once and spin).
  void pause_for_a_moment(double now);
  void count(long AcceptorReport::*counter);  // under mutex_
  long total_connections() const;             // under mutex_

  AcceptorOptions options_;
  std::vector<bool> unix_listener_;  // by listener: a unix socket (no TCP_NODELAY)
  io::Poller poller_;
  io::UniqueFd stop_fd_;       // eventfd: the destructor wakes the thread
  io::UniqueFd wake_fd_;       // eventfd: the targets changed
  io::UniqueFd attention_fd_;  // eventfd: something to report

  std::mutex mutex_;  // guards everything below, taken by both threads
  WorkerMap workers_;          // by a serial of their own (the epoll token), never reused
  uint64_t next_key_ = 0;
  std::vector<Worker*> targets_;
  size_t next_target_ = 0;     // where the round-robin for ties starts
  AcceptorReport report_;

  Accepting accepting_ = Accepting::Off;  // the thread's alone
  double resume_at_ = 0;                  // BackingOff: when accepting resumes

  std::thread thread_;
};

}  // namespace subcorn::supervise
