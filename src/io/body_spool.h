// BodySpool: a FIFO of request-body bytes whose memory stays flat however
// large the body is. Up to `memory_limit` unread bytes are kept in memory;
// once more would not fit, the bytes go to an unlinked temporary file
// (O_TMPFILE, so no name is ever visible and the kernel frees it when the fd
// closes, even if the process dies) and are read back from it in pieces.
//
// The in-memory part is always the front of the FIFO: while the file holds
// unread bytes every append goes to the file, and when memory runs dry the
// next piece is read from the file into it. Every byte is copied in once and
// out once (plus at most one cheap compaction), so appends and reads cost time
// linear in the bytes moved.
//
// Not thread-safe: one thread at a time (the connection's callers are
// serialised by the interpreter's GIL).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "io/unique_fd.h"

namespace subcorn::io {

class BodySpool {
 public:
  // The largest read from the file into memory when memory_limit is smaller:
  // a tiny limit must not mean reading the file a few bytes per syscall.
  static constexpr size_t MIN_FILE_READ = 64 * 1024;

  // temp_dir: where the file goes once needed; empty: $TMPDIR, or /tmp.
  explicit BodySpool(size_t memory_limit, std::string temp_dir = {});

  // Adds `data` at the end. False when the temporary file could not be
  // created or written (ENOSPC, a missing directory...): `error` says why and
  // the spool is unchanged (none of `data` was added).
  bool append(std::string_view data, std::string* error);

  // The next unread bytes: at most `max`, at least one unless the spool is
  // empty or max is 0. When memory holds none, up to `max` bytes (and at most
  // max(memory_limit, MIN_FILE_READ)) are read from the file first; if that
  // read fails the view is empty and `error` says why. The view is valid until
  // the next non-const call.
  std::string_view peek(size_t max, std::string* error);
  // Drops the first `n` unread bytes; n <= the size of the last peek().
  void consume(size_t n);

  // Unread bytes, in memory and in the file.
  size_t size() const {
    return (mem_end_ - mem_begin_) + static_cast<size_t>(file_end_ - file_begin_);
  }
  bool empty() const { return size() == 0; }
  // A temporary file is open (from the first spill until clear()).
  bool spilled() const { return static_cast<bool>(file_); }
  // Bytes of memory held for the buffer: at most max(memory_limit,
  // MIN_FILE_READ), however much was appended.
  size_t memory_bytes() const { return mem_capacity_; }

  // Drops every byte, closes (and so frees) the file and gives the memory back.
  void clear();

 private:
  bool append_to_memory(std::string_view data);  // false: no cheap room for it
  bool append_to_file(std::string_view data, std::string* error);
  bool open_file(std::string* error);
  bool read_from_file(size_t max, std::string* error);  // memory is empty
  void reallocate(size_t capacity);                     // keeps the unread bytes

  size_t memory_limit_;
  std::string temp_dir_;

  // Memory: unread bytes are [mem_begin_, mem_end_) of a buffer of mem_capacity_.
  std::unique_ptr<char[]> mem_;
  size_t mem_capacity_ = 0;
  size_t mem_begin_ = 0;
  size_t mem_end_ = 0;

  // File: unread bytes are at offsets [file_begin_, file_end_).
  UniqueFd file_;
  uint64_t file_begin_ = 0;
  uint64_t file_end_ = 0;
};

}  // namespace subcorn::io
