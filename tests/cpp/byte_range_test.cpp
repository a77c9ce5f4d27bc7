// The Range field for a static file (http/byte_range.h).
#include <gtest/gtest.h>

#include <string>

#include "exact_bytes.h"
#include "http/byte_range.h"

namespace subcorn::http {
namespace {

using Kind = ByteRange::Kind;

// "206 first+length", "416" or "200", for short expectations.
std::string outcome(const ByteRange& r) {
  switch (r.kind) {
    case Kind::Partial: return "206 " + std::to_string(r.first) + "+" + std::to_string(r.length);
    case Kind::Unsatisfiable: return "416";
    case Kind::Whole: return "200";
  }
  return "?";
}

std::string range(std::string_view value, int64_t size) {
  return outcome(parse_byte_range(test::ExactBytes(value).view(), size));
}

TEST(ByteRange, OneRangeInEachForm) {
  EXPECT_EQ(range("bytes=0-499", 10000), "206 0+500");
  EXPECT_EQ(range("bytes=500-999", 10000), "206 500+500");
  EXPECT_EQ(range("bytes=9500-", 10000), "206 9500+500");
  EXPECT_EQ(range("bytes=-500", 10000), "206 9500+500");
  EXPECT_EQ(range("bytes=0-0", 1), "206 0+1");
  EXPECT_EQ(range("Bytes=0-0", 10), "206 0+1");  // the unit is case-insensitive
  EXPECT_EQ(range("bytes= 1-2 ", 10), "206 1+2");  // OWS around an element
}

TEST(ByteRange, ClippedToTheRepresentation) {
  EXPECT_EQ(range("bytes=5-100", 10), "206 5+5");
  EXPECT_EQ(range("bytes=-100", 10), "206 0+10");
  EXPECT_EQ(range("bytes=0-9223372036854775807", 10), "206 0+10");
}

TEST(ByteRange, Unsatisfiable) {
  EXPECT_EQ(range("bytes=10-", 10), "416");
  EXPECT_EQ(range("bytes=10-20", 10), "416");
  EXPECT_EQ(range("bytes=-0", 10), "416");
  EXPECT_EQ(range("bytes=0-", 0), "416");   // nothing of an empty file can be had
  EXPECT_EQ(range("bytes=-5", 0), "416");
  EXPECT_EQ(range("bytes=20-30, 40-", 10), "416");  // none of several
}

TEST(ByteRange, SeveralRangesGetTheWholeFile) {
  EXPECT_EQ(range("bytes=0-1,5-6", 10), "200");
  EXPECT_EQ(range("bytes=0-1, 20-30", 10), "200");  // one satisfiable is enough
  EXPECT_EQ(range("bytes=0-1,,", 10), "206 0+2");  // empty elements do not count
}

TEST(ByteRange, WhatDoesNotParseIsIgnored) {
  const char* ignored[] = {
      "", "bytes", "bytes=", "bytes=,", "items=0-1", "bytes 0-1", "bytes=a-b", "bytes=1",
      "bytes=5-4",  // last before first: the whole field is invalid
      "bytes=0-1,5-4", "bytes=+1-2", "bytes=-", "bytes=0x1-2", "bytes=1 - 2",
      "bytes=99999999999999999999-", "bytes=-99999999999999999999",
  };
  for (const char* value : ignored) EXPECT_EQ(range(value, 10), "200") << value;
}

TEST(ByteRange, PrefixesAndTrailingBytes) {
  // Every prefix of a valid value is read within its bytes (exact-size
  // blocks) and is either ignored or a range that the bytes so far say.
  test::for_each_prefix("bytes=100-199", [](std::string_view prefix) {
    std::string got = outcome(parse_byte_range(prefix, 1000));
    if (prefix.size() < 10) EXPECT_EQ(got, "200") << prefix;  // up to "bytes=100-"
    else if (prefix.size() == 10) EXPECT_EQ(got, "206 100+900") << prefix;
    else EXPECT_TRUE(got == "200" || got.starts_with("206 100+")) << prefix;
  });
  EXPECT_EQ(range("bytes=100-199", 1000), "206 100+100");
  EXPECT_EQ(range("bytes=100-199x", 1000), "200");
  EXPECT_EQ(range("bytes=100-199;q=1", 1000), "200");
  EXPECT_EQ(range("bytes=100-199, 300-", 1000), "200");
}

}  // namespace
}  // namespace subcorn::http
