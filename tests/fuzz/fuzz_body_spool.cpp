// Fuzzes io::BodySpool, the FIFO a request body waits in until the app reads
// it (WSGI's wsgi.input, ASGI's receive): memory up to a limit, then an
// unlinked temporary file. The input is a program of appends of fuzzer-chosen
// pieces (repeated, to cross the 64 KiB file-read size) and reads of
// fuzzer-chosen sizes (read(n): take what peek gives, or part of it;
// readline(): take through the first newline), checked after every step
// against a plain string holding what was appended and not yet read:
// - every byte appended comes back once, in order, whatever the sizes;
// - peek gives at most what was asked, and something whenever bytes are unread;
// - memory stays under max(limit, MIN_FILE_READ), and no file is opened while
//   everything appended since clear() fits in the limit;
// - no file descriptor outlives the spool.
#include <dirent.h>
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "io/body_spool.h"

namespace {

using subcorn::io::BodySpool;

// Bytes appended by one input, so that it stays fast.
constexpr size_t MAX_APPENDED = 8 * 1024 * 1024;

enum class Op { Append, AppendRepeated, Read, ReadPart, ReadLine, Clear, kMaxValue = Clear };

size_t open_fds() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++n;
    closedir(d);
  }
  return n;
}

// Limits at the edges the code cares about: none, tiny, and around the
// file-read size.
size_t choose_memory_limit(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 2)) {
    case 0:
      return in.ConsumeIntegralInRange<size_t>(0, 64);
    case 1:
      return in.ConsumeIntegralInRange<size_t>(0, 8192);
    default:
      return BodySpool::MIN_FILE_READ - 64 + in.ConsumeIntegralInRange<size_t>(0, 128);
  }
}

size_t choose_read_size(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 2)) {
    case 0:
      return in.ConsumeIntegralInRange<size_t>(0, 16);
    case 1:
      return in.ConsumeIntegralInRange<size_t>(0, 8192);
    default:
      return in.ConsumeIntegralInRange<size_t>(0, 3 * BodySpool::MIN_FILE_READ);
  }
}

class Checked {
 public:
  explicit Checked(size_t memory_limit) : limit_(memory_limit), spool_(memory_limit) {}

  // False (and nothing appended) once the input has appended MAX_APPENDED.
  bool append(std::string_view data) {
    if (appended_ + data.size() > MAX_APPENDED) return false;
    appended_ += data.size();
    std::string error;
    FUZZ_CHECK(spool_.append(data, &error));
    FUZZ_CHECK(error.empty());
    unread_.append(data);
    appended_since_clear_ += data.size();
    return true;
  }

  // Peeks up to `max` and takes `take(view)` bytes of what it saw.
  template <typename Take>
  void read(size_t max, Take take) {
    std::string error;
    std::string_view view = spool_.peek(max, &error);
    FUZZ_CHECK(error.empty());
    FUZZ_CHECK(view.size() <= max);
    FUZZ_CHECK(view.empty() == (max == 0 || unread_.empty()));
    FUZZ_CHECK(std::string_view(unread_).starts_with(view));
    size_t n = take(view);
    FUZZ_CHECK(n <= view.size());
    spool_.consume(n);
    unread_.erase(0, n);
  }

  void clear() {
    spool_.clear();
    unread_.clear();
    appended_since_clear_ = 0;
  }

  void check() const {
    FUZZ_CHECK(spool_.size() == unread_.size());
    FUZZ_CHECK(spool_.empty() == unread_.empty());
    FUZZ_CHECK(spool_.memory_bytes() <= std::max(limit_, BodySpool::MIN_FILE_READ));
    if (appended_since_clear_ <= limit_) FUZZ_CHECK(!spool_.spilled());
  }

  size_t unread() const { return unread_.size(); }

 private:
  size_t limit_;
  BodySpool spool_;
  std::string unread_;  // what the spool must give back, in order
  size_t appended_since_clear_ = 0;
  size_t appended_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  size_t fds_before = open_fds();
  {
    Checked spool(choose_memory_limit(in));
    while (in.remaining_bytes() > 0) {
      switch (in.ConsumeEnum<Op>()) {
        case Op::Append: {
          std::string piece = in.ConsumeBytesAsString(in.ConsumeIntegralInRange<size_t>(0, 1024));
          spool.append(piece);
          break;
        }
        case Op::AppendRepeated: {
          std::string piece = in.ConsumeBytesAsString(in.ConsumeIntegralInRange<size_t>(1, 64));
          for (size_t n = in.ConsumeIntegralInRange<size_t>(1, 4096); n > 0; --n) {
            if (!spool.append(piece)) break;
          }
          break;
        }
        case Op::Read:
          spool.read(choose_read_size(in), [](std::string_view v) { return v.size(); });
          break;
        case Op::ReadPart: {
          size_t fraction = in.ConsumeIntegral<uint8_t>();
          spool.read(choose_read_size(in), [&](std::string_view v) { return v.size() * fraction / 255; });
          break;
        }
        case Op::ReadLine:
          spool.read(choose_read_size(in), [](std::string_view v) {
            size_t nl = v.find('\n');
            return nl == std::string_view::npos ? v.size() : nl + 1;
          });
          break;
        case Op::Clear:
          spool.clear();
          break;
      }
      spool.check();
    }
    // Whatever is left comes back whole.
    while (spool.unread() > 0) spool.read(SIZE_MAX, [](std::string_view v) { return v.size(); });
    spool.check();
  }
  FUZZ_CHECK(open_fds() == fds_before);
  return 0;
}
