#include "client.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <ctime>
#include <memory>

#include "connection.h"

namespace wsload {

namespace {

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// After the window: how long the closing handshakes may take.
constexpr uint64_t CLOSE_GRACE_NS = 2000000000ULL;

class EpollFd {
 public:
  EpollFd() : fd_(epoll_create1(EPOLL_CLOEXEC)) {}
  ~EpollFd() {
    if (fd_ >= 0) close(fd_);
  }
  EpollFd(const EpollFd&) = delete;
  EpollFd& operator=(const EpollFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Results run(const Options& options) {
  Run state(options);
  EpollFd epoll;
  state.epoll_fd = epoll.get();
  if (state.epoll_fd < 0) {
    state.results.fatal = "epoll_create1 failed";
    return std::move(state.results);
  }

  // Every connection is open before the first message: the window measures
  // messages only, and in broadcast every receiver is there from the start.
  std::vector<std::unique_ptr<Connection>> connections;
  for (uint32_t id = 0; id < options.connections; ++id) {
    connections.push_back(std::make_unique<Connection>(state, id));
    std::string error = connections.back()->open();
    if (!error.empty()) {
      state.results.fatal = "connection " + std::to_string(id + 1) + ": " + error;
      return std::move(state.results);
    }
  }
  state.results.extensions = connections.front()->negotiated().extensions;
  state.results.latencies_us.reserve(1 << 20);

  state.now_ns = monotonic_ns();
  const uint64_t start = state.now_ns;
  const uint64_t end = start + static_cast<uint64_t>(options.duration * 1e9);
  state.measuring = true;
  for (auto& connection : connections) {
    connection->join_loop();
    connection->send_next();
    connection->flush();
  }

  uint64_t close_deadline = 0;
  epoll_event events[256];
  while (true) {
    int ready = epoll_wait(state.epoll_fd, events, 256, 20);
    state.now_ns = monotonic_ns();
    for (int i = 0; i < ready; ++i) {
      Connection& connection = *connections[events[i].data.u32];
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) connection.on_readable();
      if (events[i].events & EPOLLOUT) connection.flush();
    }
    size_t open = 0;
    for (auto& connection : connections) open += connection->state() != Connection::State::Closed;
    if (state.measuring) {
      bool all_answered = options.messages && state.finished == options.connections;
      if (state.now_ns < end && !all_answered && open > 0) continue;
      state.measuring = false;
      state.results.seconds = static_cast<double>(state.now_ns - start) / 1e9;
      if (open == 0) {
        state.results.fatal = "every connection was lost: " + state.results.lost_reason;
      } else if (options.messages && !all_answered) {
        state.results.fatal = "not every message came back within " + std::to_string(options.duration) +
                              " s (" + std::to_string(state.finished) + " of " +
                              std::to_string(options.connections) + " connections done)";
      }
      for (auto& connection : connections) connection->start_close();
      close_deadline = state.now_ns + CLOSE_GRACE_NS;
    }
    if (open == 0 || state.now_ns >= close_deadline) break;
  }
  for (auto& connection : connections) connection->force_close();
  return std::move(state.results);
}

}  // namespace wsload
