// The open-file limit (RLIMIT_NOFILE), which bounds how many connections a
// process can hold: every connection is a file descriptor.
#pragma once

#include "io/unique_fd.h"

namespace subcorn::io {

// Raises the soft limit to the hard one (many systems start processes at a
// soft 1024 under a hard limit far above it, as nginx's worker_rlimit_nofile
// and Go's runtime know). Returns the soft limit in force afterwards, or -1
// when it cannot be read; "unlimited" reads as the largest long.
long raise_open_file_limit();

// The soft limit in force, as above.
long open_file_limit();

// One file descriptor held in reserve. A connection another process sends
// over a unix socket is lost when the receiver has no free descriptor (the
// kernel closes it, unanswered), so the receiver frees this one just before
// receiving and takes it back after: when it cannot, the process is at its
// limit and must stop receiving until a descriptor is free again.
class ReservedFd {
 public:
  // Holds the reserve (again); 0, or -errno when no descriptor is free.
  int hold();
  // Frees it for the receive that follows.
  void release() noexcept { fd_.reset(); }

 private:
  UniqueFd fd_;
};

}  // namespace subcorn::io
