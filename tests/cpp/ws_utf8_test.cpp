#include <gtest/gtest.h>

#include <string>

#include "ws/utf8.h"

namespace subcorn::ws {
namespace {

using Status = Utf8Validator::Status;

// A naive validator straight from Unicode Table 3-7, to compare with.
bool reference_valid(const std::string& s) {
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    unsigned char b = byte(i);
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (b <= 0x7F) n = 0;
    else if (b >= 0xC2 && b <= 0xDF) n = 1;
    else if (b == 0xE0) n = 2, lo = 0xA0;
    else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) n = 2;
    else if (b == 0xED) n = 2, hi = 0x9F;
    else if (b == 0xF0) n = 3, lo = 0x90;
    else if (b >= 0xF1 && b <= 0xF3) n = 3;
    else if (b == 0xF4) n = 3, hi = 0x8F;
    else return false;
    if (i + n >= s.size() && n > 0) return false;
    for (size_t k = 1; k <= n; ++k) {
      unsigned c = byte(i + k);
      unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
      if (c < l || c > h) return false;
    }
    i += n + 1;
  }
  return true;
}

TEST(Utf8, KnownGoodAndBad) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!"));
  EXPECT_TRUE(is_valid_utf8("\xf0\x9f\x98\x80"));        // U+1F600
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));        // U+10FFFF
  EXPECT_TRUE(is_valid_utf8("\xed\x9f\xbf\xee\x80\x80"));  // U+D7FF, U+E000
  EXPECT_TRUE(is_valid_utf8(std::string("\0", 1)));
  EXPECT_FALSE(is_valid_utf8("\xc0\x80"));    // overlong NUL
  EXPECT_FALSE(is_valid_utf8("\xe0\x9f\xbf"));  // overlong
  EXPECT_FALSE(is_valid_utf8("\xf0\x8f\xbf\xbf"));  // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // over U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));
  EXPECT_FALSE(is_valid_utf8("\xfe"));
}

TEST(Utf8, MatchesReferenceOnAllShortSequences) {
  // Every 1- and 2-byte string, and 3-byte strings over the interesting bytes.
  for (int a = 0; a < 256; ++a) {
    std::string s1(1, static_cast<char>(a));
    ASSERT_EQ(is_valid_utf8(s1), reference_valid(s1)) << a;
    for (int b = 0; b < 256; ++b) {
      std::string s2 = s1 + static_cast<char>(b);
      ASSERT_EQ(is_valid_utf8(s2), reference_valid(s2)) << a << " " << b;
    }
  }
  const int interesting[] = {0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0,
                             0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
  for (int a : interesting)
    for (int b : interesting)
      for (int c : interesting)
        for (int d : interesting) {
          std::string s{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)};
          ASSERT_EQ(is_valid_utf8(s), reference_valid(s)) << a << " " << b << " " << c << " " << d;
        }
}

TEST(Utf8, IncrementalAcrossEveryCut) {
  const std::string text = "ascii then \xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 and \xf0\x9f\x98\x80 end, long enough";
  for (size_t a = 0; a <= text.size(); ++a) {
    for (size_t b = a; b <= text.size(); ++b) {
      Utf8Validator v;
      v.feed(std::string_view(text).substr(0, a));
      EXPECT_NE(v.status(), Status::Invalid);
      v.feed(std::string_view(text).substr(a, b - a));
      ASSERT_NE(v.feed(std::string_view(text).substr(b)), Status::Invalid);
      EXPECT_EQ(v.status(), Status::Complete);
    }
  }
  Utf8Validator v;
  EXPECT_EQ(v.feed("caf\xc3"), Status::Incomplete);
  EXPECT_EQ(v.feed("\xa9"), Status::Complete);
}

TEST(Utf8, FailsAtTheFirstImpossibleByte) {
  Utf8Validator v;
  // Valid so far, then the byte that makes a surrogate: invalid at once,
  // however much valid text could follow.
  EXPECT_EQ(v.feed("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed"), Status::Incomplete);
  EXPECT_EQ(v.feed("\xa0"), Status::Invalid);
  EXPECT_EQ(v.feed("plain ascii"), Status::Invalid);  // stays invalid
  v.reset();
  EXPECT_EQ(v.feed("ok"), Status::Complete);
  // Invalid after a long ASCII run (the 8-byte fast path must stop at it).
  Utf8Validator w;
  EXPECT_EQ(w.feed(std::string(37, 'a') + "\xff" + std::string(20, 'b')), Status::Invalid);
}

TEST(Utf8, TruncateOnBoundary) {
  EXPECT_EQ(truncate_utf8("abc", 5), "abc");
  EXPECT_EQ(truncate_utf8("abc", 2), "ab");
  EXPECT_EQ(truncate_utf8("a\xc3\xa9", 2), "a");           // would cut é
  EXPECT_EQ(truncate_utf8("a\xc3\xa9", 3), "a\xc3\xa9");
  EXPECT_EQ(truncate_utf8("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 7), "\xf0\x9f\x98\x80");
  EXPECT_EQ(truncate_utf8("\xf0\x9f\x98\x80", 3), "");
}

}  // namespace
}  // namespace subcorn::ws
