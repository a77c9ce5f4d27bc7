// BodySpool: every byte appended comes back once, in order, whatever the
// sizes of the appends and reads and wherever the spill point falls; memory
// stays under the limit once the bytes go to the file; failures to create or
// write the file are errors, not crashes.
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "io/body_spool.h"

namespace subcorn::io {
namespace {

constexpr size_t KIB = 1024;
constexpr size_t MIB = 1024 * KIB;

// Bytes that differ from their neighbours, so a byte read twice, skipped or
// out of order shows.
std::string pattern(size_t n, uint32_t seed = 1) {
  std::string out(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : out) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

// A small deterministic generator for sizes (the same sequence every run).
struct Sizes {
  uint64_t state;
  size_t next(size_t max) {  // 1..max
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return 1 + static_cast<size_t>((state >> 33) % max);
  }
};

void append_all(BodySpool& spool, std::string_view data, size_t piece) {
  std::string error;
  for (size_t at = 0; at < data.size(); at += piece)
    ASSERT_TRUE(spool.append(data.substr(at, piece), &error)) << error;
}

// Reads the spool empty with peeks of at most `max`, checking each peek.
std::string drain(BodySpool& spool, size_t max, size_t memory_cap = SIZE_MAX) {
  std::string out;
  std::string error;
  while (!spool.empty()) {
    size_t before = spool.size();
    std::string_view piece = spool.peek(max, &error);
    EXPECT_GE(piece.size(), 1u) << error;
    EXPECT_LE(piece.size(), max);
    EXPECT_LE(spool.memory_bytes(), memory_cap);
    if (piece.empty()) break;
    out.append(piece);
    spool.consume(piece.size());
    EXPECT_EQ(spool.size(), before - piece.size());
  }
  return out;
}

// A directory of its own under the build's temporary directory, removed after.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    path_ = std::string(base && *base ? base : "/tmp") + "/body-spool-test-XXXXXX";
    if (!::mkdtemp(path_.data())) path_.clear();
  }
  ~TempDir() {
    if (!path_.empty()) ::rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  // Names in the directory other than . and ..
  size_t entries() const {
    size_t n = 0;
    DIR* dir = ::opendir(path_.c_str());
    if (!dir) return SIZE_MAX;
    while (dirent* e = ::readdir(dir))
      if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") ++n;
    ::closedir(dir);
    return n;
  }

 private:
  std::string path_;
};

// ---- bytes back in order, for every size of append and read ---------------------

struct RoundTrip {
  size_t limit;
  size_t total;
  size_t append_piece;
  size_t read_piece;
};

std::string size_name(size_t n) { return n == SIZE_MAX ? "all" : std::to_string(n); }

// "limit4096_total4097_append1_read1": which case failed, readable in ctest.
std::string round_trip_name(const testing::TestParamInfo<RoundTrip>& info) {
  const RoundTrip& p = info.param;
  return "limit" + size_name(p.limit) + "_total" + size_name(p.total) + "_append" +
         size_name(p.append_piece) + "_read" + size_name(p.read_piece);
}

class BodySpoolRoundTrip : public testing::TestWithParam<RoundTrip> {};

TEST_P(BodySpoolRoundTrip, BytesComeBackInOrder) {
  const RoundTrip& p = GetParam();
  TempDir dir;
  BodySpool spool(p.limit, dir.path());
  std::string data = pattern(p.total);
  append_all(spool, data, p.append_piece);
  EXPECT_EQ(spool.size(), p.total);
  EXPECT_EQ(spool.spilled(), p.total > p.limit);
  EXPECT_EQ(dir.entries(), 0u);  // the file, if any, has no name
  EXPECT_EQ(drain(spool, p.read_piece), data);
  EXPECT_TRUE(spool.empty());
  std::string error;
  EXPECT_EQ(spool.peek(p.read_piece, &error), "");
}

constexpr size_t L = 4 * KIB;  // a limit small enough to cross many times

INSTANTIATE_TEST_SUITE_P(
    Sizes, BodySpoolRoundTrip,
    testing::Values(
        // Byte by byte, all in memory and across the spill point.
        RoundTrip{L, L, 1, 1}, RoundTrip{L, L + 1, 1, 1}, RoundTrip{L, 3 * L + 7, 1, 1},
        // Pieces around the limit.
        RoundTrip{L, 10 * L, L - 1, L - 1}, RoundTrip{L, 10 * L, L, L},
        RoundTrip{L, 10 * L, L + 1, L + 1}, RoundTrip{L, 10 * L + 5, L + 1, 3},
        // One append much larger than the limit; reads smaller and larger.
        RoundTrip{L, 37 * L + 11, 37 * L + 11, 100},
        RoundTrip{L, 37 * L + 11, 37 * L + 11, SIZE_MAX},
        // A limit of 0 (everything in the file), and one larger than the body.
        RoundTrip{0, 5 * L + 3, 777, 512}, RoundTrip{MIB, 10 * L, 999, 1000},
        // A limit under MIN_FILE_READ with reads larger than it.
        RoundTrip{100, 300 * KIB, 4096, SIZE_MAX}),
    round_trip_name);

// ---- interleaved appends and reads -----------------------------------------------

// Appends and reads of varying sizes, interleaved, checked against a plain
// string as the model: the order survives spilling, reading the file back,
// the file draining and memory taking appends again.
TEST(BodySpool, InterleavedAppendsAndReadsMatchAModel) {
  for (size_t limit : {size_t{0}, size_t{1}, size_t{64}, 5 * KIB, 64 * KIB}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    TempDir dir;
    BodySpool spool(limit, dir.path());
    std::string model;   // what the spool should hold
    std::string source = pattern(4 * MIB, static_cast<uint32_t>(limit));
    size_t appended = 0;
    Sizes sizes{limit + 7};
    std::string error;
    bool saw_spill = false;
    for (int step = 0; step < 4000 && appended < source.size(); ++step) {
      // Phases of 50 steps: appends larger than reads, so the backlog grows
      // and spills, then reads larger than appends, so the file drains and
      // memory takes the appends again.
      bool filling = (step / 50) % 2 == 0;
      size_t n = std::min(sizes.next(filling ? 3 * limit + 100 : limit / 2 + 10),
                          source.size() - appended);
      ASSERT_TRUE(spool.append(std::string_view(source).substr(appended, n), &error)) << error;
      model.append(source, appended, n);
      appended += n;
      saw_spill |= spool.spilled();
      for (int reads = static_cast<int>(sizes.next(filling ? 2 : 6)); reads > 0 && !model.empty();
           --reads) {
        std::string_view got = spool.peek(sizes.next(2 * limit + 50), &error);
        ASSERT_FALSE(got.empty()) << error;
        ASSERT_EQ(got, std::string_view(model).substr(0, got.size()));
        size_t take = sizes.next(got.size());  // consume part of a peek too
        spool.consume(take);
        model.erase(0, take);
        ASSERT_EQ(spool.size(), model.size());
      }
      ASSERT_LE(spool.memory_bytes(), std::max(limit, BodySpool::MIN_FILE_READ));
    }
    if (limit < 64 * KIB) EXPECT_TRUE(saw_spill);
    EXPECT_EQ(drain(spool, 1000), model);
  }
}

// A buffer whose bytes were mostly read makes room by moving the few unread
// ones to its front; one whose bytes were mostly not read sends new bytes to
// the file instead of moving many bytes for a few (which, repeated, would cost
// time quadratic in the body).
TEST(BodySpool, MemoryIsReusedWhenCheapAndTheFileTakesOverWhenNot) {
  TempDir dir;
  BodySpool spool(100, dir.path());
  std::string source = pattern(100 + 1000 * 90);
  std::string error;
  ASSERT_TRUE(spool.append(std::string_view(source).substr(0, 100), &error));
  std::string out;
  for (size_t at = 100; at < source.size(); at += 90) {
    std::string_view got = spool.peek(90, &error);
    ASSERT_EQ(got.size(), 90u);
    out.append(got);
    spool.consume(90);
    ASSERT_TRUE(spool.append(std::string_view(source).substr(at, 90), &error));
  }
  EXPECT_FALSE(spool.spilled());
  EXPECT_EQ(spool.memory_bytes(), 100u);
  out += drain(spool, 1000);
  EXPECT_EQ(out, source);

  ASSERT_TRUE(spool.append(std::string_view(source).substr(0, 100), &error));
  spool.consume(spool.peek(10, &error).size());
  ASSERT_TRUE(spool.append(std::string_view(source).substr(100, 10), &error));
  EXPECT_TRUE(spool.spilled());
  EXPECT_EQ(drain(spool, 1000), source.substr(10, 100));
}

// ---- peek --------------------------------------------------------------------------

TEST(BodySpool, PeekReturnsAtMostMaxAndAtLeastOneByte) {
  TempDir dir;
  BodySpool spool(16, dir.path());
  std::string error;
  EXPECT_EQ(spool.peek(10, &error), "");  // empty
  std::string data = pattern(100);
  ASSERT_TRUE(spool.append(data, &error)) << error;  // all in the file
  EXPECT_EQ(spool.peek(0, &error), "");
  EXPECT_EQ(spool.peek(1, &error), data.substr(0, 1));
  // Memory holds one byte from the file now: a larger peek returns that byte,
  // not nothing and not more than it holds.
  EXPECT_EQ(spool.peek(50, &error), data.substr(0, 1));
  spool.consume(1);
  EXPECT_EQ(spool.peek(50, &error), data.substr(1, 50));
  // Peeking again without consuming gives the same bytes.
  EXPECT_EQ(spool.peek(50, &error), data.substr(1, 50));
  spool.consume(20);
  EXPECT_EQ(spool.peek(5, &error), data.substr(21, 5));
  EXPECT_EQ(spool.size(), 79u);
}

TEST(BodySpool, AppendOfNothingChangesNothing) {
  BodySpool spool(0, "/nonexistent-spool-dir");
  std::string error;
  EXPECT_TRUE(spool.append({}, &error));
  EXPECT_TRUE(spool.empty());
  EXPECT_FALSE(spool.spilled());
}

// ---- clear() ----------------------------------------------------------------------

TEST(BodySpool, ClearDropsEverythingAndTheSpoolIsReusable) {
  TempDir dir;
  BodySpool spool(1 * KIB, dir.path());
  std::string first = pattern(50 * KIB, 1);
  append_all(spool, first, 3000);
  ASSERT_TRUE(spool.spilled());
  std::string error;
  std::string_view some = spool.peek(100, &error);
  ASSERT_EQ(some, first.substr(0, 100));
  spool.consume(40);

  spool.clear();
  EXPECT_TRUE(spool.empty());
  EXPECT_FALSE(spool.spilled());
  EXPECT_EQ(spool.memory_bytes(), 0u);
  EXPECT_EQ(spool.peek(100, &error), "");

  // A second body: nothing of the first comes back.
  std::string second = pattern(20 * KIB, 2);
  append_all(spool, second, 700);
  EXPECT_TRUE(spool.spilled());
  EXPECT_EQ(drain(spool, 512), second);
  spool.clear();
  std::string small = pattern(100, 3);
  append_all(spool, small, 100);
  EXPECT_FALSE(spool.spilled());  // fits in memory: no file
  EXPECT_EQ(drain(spool, 512), small);
}

// ---- memory stays flat -----------------------------------------------------------

TEST(BodySpool, MemoryStaysUnderTheLimitHoweverLargeTheBody) {
  // A large body arriving in socket-sized pieces, then read in 64 KiB pieces
  // as wsgi.input does.
  // Not a power-of-two multiple of the pieces: growth must stop at the limit.
  constexpr size_t limit = 200 * KIB + 3;
  TempDir dir;
  BodySpool spool(limit, dir.path());
  std::string piece = pattern(64 * KIB);
  std::string error;
  constexpr size_t pieces = 1024;  // 64 MiB
  for (size_t i = 0; i < pieces; ++i) {
    piece[0] = static_cast<char>(i);  // each piece tells where it belongs
    piece[1] = static_cast<char>(i >> 8);
    ASSERT_TRUE(spool.append(piece, &error)) << error;
    ASSERT_LE(spool.memory_bytes(), limit);
  }
  EXPECT_TRUE(spool.spilled());
  EXPECT_EQ(spool.size(), pieces * piece.size());
  EXPECT_EQ(dir.entries(), 0u);
  for (size_t i = 0; i < pieces; ++i) {
    std::string got;
    while (got.size() < piece.size()) {
      std::string_view part = spool.peek(piece.size() - got.size(), &error);
      ASSERT_FALSE(part.empty()) << error;
      got.append(part);
      spool.consume(part.size());
      ASSERT_LE(spool.memory_bytes(), limit);
    }
    piece[0] = static_cast<char>(i);
    piece[1] = static_cast<char>(i >> 8);
    ASSERT_EQ(got, piece) << "piece " << i;
  }
  EXPECT_TRUE(spool.empty());
}

// ---- failures are errors ---------------------------------------------------------

TEST(BodySpool, SpillIntoAMissingDirectoryIsAnError) {
  BodySpool spool(16, "/nonexistent-spool-dir/sub");
  std::string error;
  ASSERT_TRUE(spool.append("0123456789", &error));  // fits in memory: no file yet
  EXPECT_FALSE(spool.append("abcdefghij", &error));
  EXPECT_NE(error.find("/nonexistent-spool-dir/sub"), std::string::npos) << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
  // Nothing of the failed append was added; what was there is still there.
  EXPECT_FALSE(spool.spilled());
  EXPECT_EQ(spool.size(), 10u);
  EXPECT_EQ(drain(spool, 100), "0123456789");
}

TEST(BodySpool, DefaultDirectoryIsTmpdir) {
  const char* old = std::getenv("TMPDIR");
  std::string saved = old ? old : "";
  ::setenv("TMPDIR", "/nonexistent-tmpdir-for-spool", 1);
  BodySpool spool(0);
  std::string error;
  EXPECT_FALSE(spool.append("x", &error));
  EXPECT_NE(error.find("/nonexistent-tmpdir-for-spool"), std::string::npos) << error;
  if (old) ::setenv("TMPDIR", saved.c_str(), 1); else ::unsetenv("TMPDIR");

  TempDir dir;
  ::setenv("TMPDIR", dir.path().c_str(), 1);
  BodySpool in_tmpdir(0);
  EXPECT_TRUE(in_tmpdir.append("x", &error)) << error;
  EXPECT_TRUE(in_tmpdir.spilled());
  if (old) ::setenv("TMPDIR", saved.c_str(), 1); else ::unsetenv("TMPDIR");
}

TEST(BodySpool, AFailedWriteLeavesTheSpoolAsItWas) {
  // A file size limit makes writes past it fail (EFBIG) the way a full disk
  // (ENOSPC) does: the append is refused whole, with the reason.
  TempDir dir;
  BodySpool spool(0, dir.path());
  std::string error;
  std::string first = pattern(3000, 1);
  ASSERT_TRUE(spool.append(first, &error)) << error;

  rlimit old;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);  // the error, not the signal
  rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  bool appended = spool.append(pattern(5000, 2), &error);
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, old_handler);

  EXPECT_FALSE(appended);
  EXPECT_NE(error.find("File too large"), std::string::npos) << error;
  EXPECT_EQ(spool.size(), first.size());
  // The spool goes on: later bytes follow the first ones, with nothing of the
  // failed append between them.
  std::string later = pattern(2000, 3);
  ASSERT_TRUE(spool.append(later, &error)) << error;
  EXPECT_EQ(drain(spool, 700), first + later);
}

}  // namespace
}  // namespace subcorn::io
