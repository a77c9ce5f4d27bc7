#include "io/fd_limit.h"

#include <fcntl.h>
#include <sys/resource.h>

#include <cerrno>
#include <limits>

namespace subcorn::io {
namespace {

long as_long(rlim_t value) {
  if (value == RLIM_INFINITY || value > static_cast<rlim_t>(std::numeric_limits<long>::max()))
    return std::numeric_limits<long>::max();
  return static_cast<long>(value);
}

}  // namespace

long raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised{limit.rlim_max, limit.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return as_long(limit.rlim_cur);
}

long open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  return as_long(limit.rlim_cur);
}

int ReservedFd::hold() {
  if (fd_) return 0;
  fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  return fd_ ? 0 : -errno;
}

}  // namespace subcorn::io
