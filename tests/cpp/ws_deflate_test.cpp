#include <gtest/gtest.h>

#include <zlib.h>

#include <random>
#include <string>

#include "ws/deflate.h"
#include "ws_peer.h"

namespace subcorn::ws {
namespace {

std::string sample_text(size_t n) {
  std::string s;
  const char* words[] = {"permessage ", "deflate ", "window ", "takeover ", "subcorn ", "frame "};
  std::mt19937 rng(7);
  while (s.size() < n) s += words[rng() % 6];
  s.resize(n);
  return s;
}

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// RFC 7692 7.2.3.1 and 7.2.3.2: "Hello", then "Hello" again sharing the window.
TEST(Deflate, Rfc7692ExamplesByteExact) {
  Deflater d(DeflateSettings{});
  std::string out;
  ASSERT_TRUE(d.compress("Hello", out));
  EXPECT_EQ(out, std::string("\xf2\x48\xcd\xc9\xc9\x07\x00", 7));
  out.clear();
  ASSERT_TRUE(d.compress("Hello", out));
  EXPECT_EQ(out, std::string("\xf2\x00\x11\x00\x00", 5));

  // Without context takeover the second is like the first.
  Deflater fresh(DeflateSettings{.no_context_takeover = true});
  for (int i = 0; i < 2; ++i) {
    out.clear();
    ASSERT_TRUE(fresh.compress("Hello", out));
    EXPECT_EQ(out, std::string("\xf2\x48\xcd\xc9\xc9\x07\x00", 7));
  }
}

TEST(Deflate, RoundTripEveryWindowAndTakeover) {
  for (int bits = 8; bits <= 15; ++bits) {
    for (bool reset : {false, true}) {
      DeflateSettings s{.window_bits = bits, .no_context_takeover = reset};
      Deflater d(s);
      Inflater i(s);
      for (size_t n : {0ul, 1ul, 100ul, 5000ul, 70000ul}) {
        std::string msg = n == 5000 ? random_bytes(n, static_cast<unsigned>(bits)) : sample_text(n);
        std::string z, back;
        ASSERT_TRUE(d.compress(msg, z));
        ASSERT_EQ(i.feed(z, back, SIZE_MAX), Inflater::Result::Ok);
        ASSERT_EQ(i.finish(back, SIZE_MAX), Inflater::Result::Ok);
        ASSERT_EQ(back, msg) << bits << " " << reset << " " << n;
      }
    }
  }
}

// A window of 8 is compressed with zlib's 9: no distance may exceed 256, so a
// 256-byte inflater (zlib accepts 8 for inflating) reads everything. Output
// one byte at a time makes zlib check every distance against its window
// (with a large output buffer it would copy from the output instead).
TEST(Deflate, WindowEightStaysWithin256Bytes) {
  Deflater d(DeflateSettings{.window_bits = 8});
  z_stream z{};
  ASSERT_EQ(inflateInit2(&z, -8), Z_OK);
  for (int round = 0; round < 20; ++round) {
    std::string msg = sample_text(3000 + round * 17);
    std::string c;
    ASSERT_TRUE(d.compress(msg, c));
    c += std::string("\0\0\xff\xff", 4);
    std::string back;
    z.next_in = reinterpret_cast<Bytef*>(c.data());
    z.avail_in = static_cast<uInt>(c.size());
    for (;;) {
      char byte;
      z.next_out = reinterpret_cast<Bytef*>(&byte);
      z.avail_out = 1;
      int rc = inflate(&z, Z_SYNC_FLUSH);
      ASSERT_TRUE(rc == Z_OK || rc == Z_BUF_ERROR) << (z.msg ? z.msg : "");
      if (z.avail_out == 0) back.push_back(byte);
      else break;
    }
    ASSERT_EQ(back, msg);
  }
  inflateEnd(&z);
}

TEST(Deflate, InflateInPiecesEqualsWhole) {
  test::ClientCompressor c(DeflateParams{});
  std::string msg = sample_text(20000);
  std::string z = c.compress(msg);
  for (size_t piece : {1ul, 7ul, 1000ul}) {
    Inflater i(DeflateSettings{.no_context_takeover = true});
    std::string back;
    for (size_t at = 0; at < z.size(); at += piece) {
      ASSERT_EQ(i.feed(std::string_view(z).substr(at, piece), back, SIZE_MAX), Inflater::Result::Ok);
    }
    ASSERT_EQ(i.finish(back, SIZE_MAX), Inflater::Result::Ok);
    EXPECT_EQ(back, msg);
  }
}

// A zip bomb: 64 MiB of zeros compress to about 64 KiB; with a 1 MiB limit
// inflating stops just past the limit.
TEST(Deflate, InflateIsBounded) {
  test::RawStream bomb_maker(true, 15, 9);
  std::string zeros(1 << 20, '\0');
  std::string bomb;
  for (int i = 0; i < 64; ++i) bomb += bomb_maker.run(zeros, Z_NO_FLUSH);
  bomb += bomb_maker.run("", Z_SYNC_FLUSH);
  Inflater i(DeflateSettings{});
  std::string out;
  const size_t limit = 1 << 20;
  EXPECT_EQ(i.feed(bomb, out, limit), Inflater::Result::TooBig);
  EXPECT_LE(out.size(), limit + 1);
  EXPECT_LE(out.capacity(), 2 * limit + 64 * 1024);

  // Exactly at the limit is fine.
  Deflater d(DeflateSettings{});
  std::string z;
  ASSERT_TRUE(d.compress(std::string(1000, 'a'), z));
  Inflater j(DeflateSettings{});
  std::string back;
  EXPECT_EQ(j.feed(z, back, 1000), Inflater::Result::Ok);
  EXPECT_EQ(j.finish(back, 1000), Inflater::Result::Ok);
  EXPECT_EQ(back.size(), 1000u);
  Inflater k(DeflateSettings{});
  back.clear();
  Inflater::Result r = k.feed(z, back, 999);
  if (r == Inflater::Result::Ok) r = k.finish(back, 999);
  EXPECT_EQ(r, Inflater::Result::TooBig);
}

TEST(Deflate, CorruptDataIsRefused) {
  Inflater i(DeflateSettings{});
  std::string out;
  Inflater::Result r = i.feed(std::string("\xff\xff\xff\xff\xff", 5), out, SIZE_MAX);
  if (r == Inflater::Result::Ok) r = i.finish(out, SIZE_MAX);
  EXPECT_EQ(r, Inflater::Result::Corrupt);
}

}  // namespace
}  // namespace subcorn::ws
