// The event backend: a thin, level-triggered epoll wrapper. One per shard and
// one in the acceptor. Its fd is itself pollable, which is what lets a shard's
// asyncio loop wait on all of the shard's sockets with one add_reader().
#pragma once

#include <sys/epoll.h>

#include <cstdint>

#include "io/unique_fd.h"

namespace subcorn::io {

class Poller {
 public:
  Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  bool ok() const noexcept { return static_cast<bool>(fd_); }
  int fd() const noexcept { return fd_.get(); }

  // `token` comes back in epoll_event.data.u64. Return 0 or -errno.
  int add(int fd, uint32_t events, uint64_t token);
  int modify(int fd, uint32_t events, uint64_t token);
  int remove(int fd);

  // Waits up to timeout_ms (0: poll, -1: forever); returns the number of
  // events or -errno (EINTR is retried).
  int wait(epoll_event* events, int max_events, int timeout_ms);

 private:
  UniqueFd fd_;
};

}  // namespace subcorn::io
