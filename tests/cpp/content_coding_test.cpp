// Accept-Encoding for precompressed static files (http/content_coding.h).
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "exact_bytes.h"
#include "http/content_coding.h"

namespace subcorn::http {
namespace {

// "br gzip identity": the acceptable codings, best first.
std::string order(std::optional<std::string_view> value) {
  std::optional<test::ExactBytes> bytes;
  if (value) bytes.emplace(*value);
  CodingPreference p = accepted_codings(bytes ? std::optional(bytes->view()) : std::nullopt);
  std::string out;
  for (int i = 0; i < p.count; ++i) {
    if (!out.empty()) out += ' ';
    out += p.order[i] == Coding::Identity ? "identity" : std::string(coding_name(p.order[i]));
  }
  return out;
}

TEST(ContentCoding, NothingSaidMeansTheFileAsItIs) {
  EXPECT_EQ(order(std::nullopt), "identity");
  EXPECT_EQ(order(""), "identity");
  EXPECT_EQ(order("  "), "identity");
}

TEST(ContentCoding, WhatBrowsersSend) {
  EXPECT_EQ(order("gzip, deflate, br, zstd"), "br gzip identity");
  EXPECT_EQ(order("gzip, deflate"), "gzip identity");
  EXPECT_EQ(order("br"), "br identity");
  EXPECT_EQ(order("deflate"), "identity");
}

TEST(ContentCoding, QValuesOrder) {
  EXPECT_EQ(order("br;q=0.5, gzip"), "gzip br identity");
  EXPECT_EQ(order("br;q=0.5, gzip;q=0.5"), "br gzip identity");  // a tie: smaller first
  EXPECT_EQ(order("gzip;q=0.2, identity"), "identity gzip");
  EXPECT_EQ(order("GZIP;Q=1.0"), "gzip identity");
  EXPECT_EQ(order("x-gzip"), "gzip identity");
  EXPECT_EQ(order("br;q=0, gzip"), "gzip identity");
  EXPECT_EQ(order("br ; q=0.001"), "br identity");
}

TEST(ContentCoding, IdentityRefused) {
  EXPECT_EQ(order("identity;q=0"), "");
  EXPECT_EQ(order("br, identity;q=0"), "br");
  EXPECT_EQ(order("*;q=0"), "");
  EXPECT_EQ(order("gzip, *;q=0"), "gzip");
  EXPECT_EQ(order("*;q=0, identity"), "identity");  // named: more specific than *
  EXPECT_EQ(order("*"), "br gzip identity");
  EXPECT_EQ(order("*;q=0.5, gzip"), "gzip br identity");
}

TEST(ContentCoding, BadQValuesSkipTheirElement) {
  EXPECT_EQ(order("br;q=2, gzip"), "gzip identity");
  EXPECT_EQ(order("br;q=1.5"), "identity");
  EXPECT_EQ(order("br;q=0.1234"), "identity");
  EXPECT_EQ(order("br;q=, gzip;q=x"), "identity");
  EXPECT_EQ(order("identity;q=-1"), "identity");  // skipped: identity stays acceptable
  EXPECT_EQ(order(";q=1, br"), "br identity");
}

TEST(ContentCoding, PrefixesAndTrailingBytes) {
  // Each prefix of the value is read within its bytes; a coding cut short
  // ("b", "gzi") is not taken for a whole one.
  test::for_each_prefix("gzip;q=0.5, br", [](std::string_view prefix) {
    CodingPreference p = accepted_codings(prefix);
    EXPECT_EQ(p.accepts(Coding::Brotli), false) << prefix;
    EXPECT_TRUE(p.accepts(Coding::Identity)) << prefix;
  });
  EXPECT_EQ(order("gzip;q=0.5, br"), "br gzip identity");
  EXPECT_EQ(order("gzip;q=0.5, brx"), "gzip identity");
  EXPECT_EQ(order("gzip;q=0.5x, br"), "br identity");
}

TEST(ContentCoding, Suffixes) {
  EXPECT_EQ(coding_suffix(Coding::Brotli), ".br");
  EXPECT_EQ(coding_suffix(Coding::Gzip), ".gz");
  EXPECT_EQ(coding_suffix(Coding::Identity), "");
}

}  // namespace
}  // namespace subcorn::http
