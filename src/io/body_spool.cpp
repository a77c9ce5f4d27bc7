#include "io/body_spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace subcorn::io {
namespace {

std::string default_temp_dir() {
  const char* dir = std::getenv("TMPDIR");
  return dir && *dir ? dir : "/tmp";
}

// An unlinked file in `dir`, or -1 with errno set.
int open_unlinked_file(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, S_IRUSR | S_IWUSR);
  if (fd >= 0) return fd;
  // The filesystem (or an old kernel, which reports EISDIR) has no O_TMPFILE:
  // create a named file and unlink it at once. Other errors (a missing
  // directory, no permission) would fail the same way again: report them.
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return -1;
  std::string path = dir + "/subcorn-body-XXXXXX";
  fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd >= 0) ::unlink(path.c_str());
  return fd;
}

}  // namespace

BodySpool::BodySpool(size_t memory_limit, std::string temp_dir)
    : memory_limit_(memory_limit), temp_dir_(std::move(temp_dir)) {}

bool BodySpool::append(std::string_view data, std::string* error) {
  if (data.empty()) return true;
  // While the file holds unread bytes they come before anything appended now.
  if (file_end_ == file_begin_ && append_to_memory(data)) return true;
  return append_to_file(data, error);
}

bool BodySpool::append_to_memory(std::string_view data) {
  size_t unread = mem_end_ - mem_begin_;
  if (unread + data.size() > memory_limit_) return false;
  if (mem_end_ + data.size() > mem_capacity_) {
    if (unread + data.size() <= mem_capacity_ && mem_begin_ >= unread) {
      // Compact: cheap, since at least as many bytes were consumed from this
      // buffer since the last compaction as are moved now.
      std::memmove(mem_.get(), mem_.get() + mem_begin_, unread);
      mem_begin_ = 0;
      mem_end_ = unread;
    } else if (mem_capacity_ < memory_limit_) {
      // Grow geometrically, never past the limit.
      reallocate(std::min(memory_limit_, std::max(unread + data.size(), 2 * mem_capacity_)));
    } else {
      // Making room would mean moving many unread bytes for a few new ones,
      // again and again: the file is the cheaper place.
      return false;
    }
  }
  std::memcpy(mem_.get() + mem_end_, data.data(), data.size());
  mem_end_ += data.size();
  return true;
}

void BodySpool::reallocate(size_t capacity) {
  size_t unread = mem_end_ - mem_begin_;
  // new char[] leaves the bytes uninitialised: they are written before read.
  std::unique_ptr<char[]> bigger(new char[capacity]);
  if (unread) std::memcpy(bigger.get(), mem_.get() + mem_begin_, unread);
  mem_ = std::move(bigger);
  mem_capacity_ = capacity;
  mem_begin_ = 0;
  mem_end_ = unread;
}

bool BodySpool::open_file(std::string* error) {
  if (temp_dir_.empty()) temp_dir_ = default_temp_dir();
  int fd = open_unlinked_file(temp_dir_);
  if (fd < 0) {
    *error = "could not create a temporary file in " + temp_dir_ + ": " + std::strerror(errno);
    return false;
  }
  file_.reset(fd);
  return true;
}

bool BodySpool::append_to_file(std::string_view data, std::string* error) {
  if (!file_ && !open_file(error)) return false;
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = ::pwrite(file_.get(), data.data() + written, data.size() - written,
                         static_cast<off_t>(file_end_ + written));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // file_end_ has not moved: the bytes written so far are not part of the
      // spool and the next append writes over them.
      *error = "could not write to a temporary file in " + temp_dir_ + ": " +
               std::strerror(n < 0 ? errno : ENOSPC);
      return false;
    }
    written += static_cast<size_t>(n);
  }
  file_end_ += written;
  return true;
}

std::string_view BodySpool::peek(size_t max, std::string* error) {
  if (max == 0) return {};
  if (mem_end_ == mem_begin_) {
    if (file_end_ == file_begin_) return {};
    if (!read_from_file(max, error)) return {};
  }
  return {mem_.get() + mem_begin_, std::min(max, mem_end_ - mem_begin_)};
}

bool BodySpool::read_from_file(size_t max, std::string* error) {
  size_t want = std::min({max, static_cast<size_t>(file_end_ - file_begin_),
                          std::max(memory_limit_, MIN_FILE_READ)});
  mem_begin_ = mem_end_ = 0;
  if (mem_capacity_ < want) reallocate(want);
  size_t got = 0;
  while (got < want) {
    ssize_t n = ::pread(file_.get(), mem_.get() + got, want - got,
                        static_cast<off_t>(file_begin_ + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = "could not read back a temporary file in " + temp_dir_ + ": " +
               (n < 0 ? std::strerror(errno) : "it is shorter than what was written");
      return false;
    }
    got += static_cast<size_t>(n);
  }
  mem_end_ = got;
  file_begin_ += got;
  // Read to the end: the file is reused from its start, so a body that is
  // read as it arrives needs no more disk than its largest backlog.
  if (file_begin_ == file_end_) file_begin_ = file_end_ = 0;
  return true;
}

void BodySpool::consume(size_t n) {
  mem_begin_ += std::min(n, mem_end_ - mem_begin_);
  if (mem_begin_ == mem_end_) mem_begin_ = mem_end_ = 0;
}

void BodySpool::clear() {
  mem_.reset();
  mem_capacity_ = mem_begin_ = mem_end_ = 0;
  file_.reset();
  file_begin_ = file_end_ = 0;
}

}  // namespace subcorn::io
