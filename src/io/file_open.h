// Opening files to send (static files, ASGI pathsend): under a directory
// without ever leaving it, or by an absolute path; and what fstat() says of
// the file opened. A FIFO or a device is never opened for reading in a way
// that could block (O_NONBLOCK), and is refused: only regular files and
// directories are reported.
//
// Under a directory, where the kernel has openat2() (Linux 5.6), the path is
// resolved with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS: no "..", absolute
// symlink or /proc magic link can lead out of the directory, and a symlink
// that stays inside it is followed. Without openat2() each segment is
// opened in turn with O_NOFOLLOW, so no symlink is followed at all.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "io/unique_fd.h"

namespace subcorn::io {

struct OpenedFile {
  enum class Type { Regular, Directory };
  UniqueFd fd;
  Type type = Type::Regular;
  uint64_t inode = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;  // nanoseconds since the epoch
};

enum class OpenStatus {
  Opened,
  NotFound,  // nothing by that name (or a file where a directory was needed)
  Refused,   // a way out of the directory, a symlink where none may be
             // followed, no permission, or neither a regular file nor a directory
  Failed,    // the system could not (out of descriptors, an I/O error): errno says
};

// How a path under a directory is resolved: openat2() where the kernel has
// it, else the segment walk (Walk forces the walk, for tests).
enum class Resolution { Auto, Walk };

// Opens `relative` ("css/site.css", "" for the directory itself: a
// '/'-separated path without "." or ".." segments, which are refused
// anyway) under the directory `dir` for reading. `*out` is filled when Opened.
OpenStatus open_beneath(int dir, std::string_view relative, OpenedFile* out,
                        Resolution resolution = Resolution::Auto);

// Opens a path for reading: Opened only for a regular file (Refused with
// errno EISDIR for a directory, EINVAL for a FIFO, socket or device; the
// other statuses with the open's own errno).
OpenStatus open_regular(const std::string& path, OpenedFile* out);

// A directory to open files beneath (O_PATH): empty, and `error` (one line
// naming `path`), when it cannot be opened or is not a directory.
UniqueFd open_directory(const std::string& path, std::string* error);

}  // namespace subcorn::io
