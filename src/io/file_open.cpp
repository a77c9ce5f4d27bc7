#include "io/file_open.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace subcorn::io {
namespace {

// How the last file of a path is opened: for reading, without blocking on a
// FIFO, and never becoming a controlling terminal.
constexpr int READ_FLAGS = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;

// Whether openat2() works here: Unknown until the first call says.
enum class Openat2 { Unknown, Available, Missing };
std::atomic<Openat2> openat2_support{Openat2::Unknown};

OpenStatus status_of_errno(int error) noexcept {
  switch (error) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
      return OpenStatus::NotFound;
    case EXDEV:   // RESOLVE_BENEATH: the path would leave the directory
    case ELOOP:   // O_NOFOLLOW met a symlink, or too many of them
    case EACCES:
    case EPERM:
    case EAGAIN:  // RESOLVE_* raced a rename; a client may ask again
      return OpenStatus::Refused;
    default:
      return OpenStatus::Failed;
  }
}

// fstat() on what was opened: its facts, and Refused for anything but a
// regular file or a directory.
OpenStatus describe(UniqueFd fd, OpenedFile* out) {
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return OpenStatus::Failed;
  if (S_ISREG(st.st_mode)) out->type = OpenedFile::Type::Regular;
  else if (S_ISDIR(st.st_mode)) out->type = OpenedFile::Type::Directory;
  else {
    errno = EINVAL;  // a FIFO, a socket, a device
    return OpenStatus::Refused;
  }
  out->inode = static_cast<uint64_t>(st.st_ino);
  out->size = static_cast<int64_t>(st.st_size);
  out->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  out->fd = std::move(fd);
  return OpenStatus::Opened;
}

// openat2() with RESOLVE_BENEATH; ENOSYS when the kernel has none.
int open_resolved_beneath(int dir, const std::string& path) noexcept {
  open_how how{};
  how.flags = READ_FLAGS;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = ::syscall(SYS_openat2, dir, path.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EINTR) return static_cast<int>(fd);
  }
}

int open_at(int dir, const std::string& name, int flags) noexcept {
  for (;;) {
    int fd = ::openat(dir, name.c_str(), flags);
    if (fd >= 0 || errno != EINTR) return fd;
  }
}

// Without openat2(): one segment at a time, none of them a symlink, none of
// them "." or "..".
OpenStatus walk_beneath(int dir, std::string_view relative, OpenedFile* out) {
  UniqueFd current;
  int at = dir;
  std::string segment;
  for (;;) {
    size_t slash = relative.find('/');
    segment.assign(relative.substr(0, slash));
    if (segment.empty() || segment == "." || segment == "..") return OpenStatus::Refused;
    bool last = slash == std::string_view::npos;
    int flags = last ? READ_FLAGS | O_NOFOLLOW : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    UniqueFd next(open_at(at, segment, flags));
    if (!next) return status_of_errno(errno);
    if (last) return describe(std::move(next), out);
    current = std::move(next);
    at = current.get();
    relative.remove_prefix(slash + 1);
  }
}

}  // namespace

OpenStatus open_beneath(int dir, std::string_view relative, OpenedFile* out, Resolution resolution) {
  if (relative.empty()) {
    UniqueFd self(open_at(dir, ".", READ_FLAGS | O_DIRECTORY));
    if (!self) return status_of_errno(errno);
    return describe(std::move(self), out);
  }
  if (resolution == Resolution::Auto && openat2_support.load(std::memory_order_relaxed) != Openat2::Missing) {
    std::string path(relative);
    int fd = open_resolved_beneath(dir, path);
    if (fd >= 0 || errno != ENOSYS) {
      openat2_support.store(Openat2::Available, std::memory_order_relaxed);
      if (fd < 0) return status_of_errno(errno);
      return describe(UniqueFd(fd), out);
    }
    openat2_support.store(Openat2::Missing, std::memory_order_relaxed);
  }
  return walk_beneath(dir, relative, out);
}

OpenStatus open_regular(const std::string& path, OpenedFile* out) {
  UniqueFd fd;
  for (;;) {
    fd.reset(::open(path.c_str(), READ_FLAGS));
    if (fd || errno != EINTR) break;
  }
  if (!fd) return status_of_errno(errno);
  OpenedFile opened;
  OpenStatus status = describe(std::move(fd), &opened);
  if (status != OpenStatus::Opened) return status;
  if (opened.type != OpenedFile::Type::Regular) {
    errno = EISDIR;
    return OpenStatus::Refused;
  }
  *out = std::move(opened);
  return OpenStatus::Opened;
}

UniqueFd open_directory(const std::string& path, std::string* error) {
  UniqueFd fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) *error = path + ": " + std::strerror(errno);
  return fd;
}

}  // namespace subcorn::io
