#include "io/poller.h"

#include <cerrno>
#include <unistd.h>

namespace subcorn::io {

Poller::Poller() : fd_(epoll_create1(EPOLL_CLOEXEC)) {}

int Poller::add(int fd, uint32_t events, uint64_t token) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = token;
  return epoll_ctl(fd_.get(), EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

int Poller::modify(int fd, uint32_t events, uint64_t token) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = token;
  return epoll_ctl(fd_.get(), EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -errno;
}

int Poller::remove(int fd) {
  return epoll_ctl(fd_.get(), EPOLL_CTL_DEL, fd, nullptr) == 0 ? 0 : -errno;
}

int Poller::wait(epoll_event* events, int max_events, int timeout_ms) {
  for (;;) {
    int n = epoll_wait(fd_.get(), events, max_events, timeout_ms);
    if (n >= 0) return n;
    if (errno != EINTR) return -errno;
  }
}

}  // namespace subcorn::io
