// Request paths to static files (http/static_path.h): prefixes, decoding,
// and every way of naming something outside DIR or hidden in it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "exact_bytes.h"
#include "http/static_path.h"

namespace subcorn::http {
namespace {

// "file REL", "dir REL", "404" or "400".
std::string decode(std::string_view rest) {
  StaticPath p = decode_static_path(test::ExactBytes(rest).view());
  switch (p.kind) {
    case StaticPath::Kind::Found: return (p.directory ? "dir " : "file ") + p.relative;
    case StaticPath::Kind::NotFound: return "404";
    case StaticPath::Kind::BadRequest: return "400";
  }
  return "?";
}

TEST(StaticPrefix, Normalized) {
  EXPECT_EQ(normalize_static_prefix("/static"), "/static");
  EXPECT_EQ(normalize_static_prefix("/static/"), "/static");
  EXPECT_EQ(normalize_static_prefix("/"), "");
  EXPECT_EQ(normalize_static_prefix("/a/b//"), "/a/b");
  for (std::string_view bad : {"", "static", "/a b", "/a?b", "/a#b", "/a\tb", "/a\x7f"})
    EXPECT_FALSE(normalize_static_prefix(bad)) << bad;
}

TEST(StaticPrefix, TheLongestCoveringPrefixWins) {
  std::vector<std::string> prefixes = {"/static", "/static/deep", ""};
  EXPECT_EQ(covering_prefix(prefixes, "/static/a.css"), 0);
  EXPECT_EQ(covering_prefix(prefixes, "/static"), 0);
  EXPECT_EQ(covering_prefix(prefixes, "/static/deep/x"), 1);
  EXPECT_EQ(covering_prefix(prefixes, "/static/deeper"), 0);
  EXPECT_EQ(covering_prefix(prefixes, "/statics"), 2);  // only "/" covers it
  EXPECT_EQ(covering_prefix(prefixes, "/static?x=1"), 0);
  std::vector<std::string> one = {"/static"};
  EXPECT_EQ(covering_prefix(one, "/statics"), -1);
  EXPECT_EQ(covering_prefix(one, "/"), -1);
  EXPECT_EQ(covering_prefix(one, "/static%2fa"), -1);  // compared as sent
  EXPECT_EQ(covering_prefix(one, "/Static/a"), -1);
}

TEST(StaticPath, FilesAndDirectories) {
  EXPECT_EQ(decode("/a.css"), "file a.css");
  EXPECT_EQ(decode("/css/site.css"), "file css/site.css");
  EXPECT_EQ(decode("/docs/"), "dir docs");
  EXPECT_EQ(decode("/"), "dir ");
  EXPECT_EQ(decode(""), "file ");  // the prefix itself: a directory to redirect
  EXPECT_EQ(decode("/a%20b.txt"), "file a b.txt");
  EXPECT_EQ(decode("/%E2%82%AC.txt"), "file \xE2\x82\xAC.txt");
  EXPECT_EQ(decode("/a..b"), "file a..b");  // dots inside a name are fine
  EXPECT_EQ(decode("/x./y"), "file x./y");
}

TEST(StaticPath, TraversalAndHiddenNamesAreNotFound) {
  const char* refused[] = {
      "/..", "/../secret", "/a/../../secret", "/./a", "/.",
      "/%2e%2e/secret", "/%2E%2E/secret", "/.%2e/secret", "/%2e./secret",
      "/a%2fb", "/a%2F..%2Fsecret", "/..%2fsecret",
      "/a\\b", "/..\\secret", "/a%5cb", "/%5c..%5csecret",
      "/a%00.txt", "/%00",
      "/.env", "/.git/config", "/sub/.hidden/x", "/%2eenv",
      "/a//b", "//a",
      "noslash",
  };
  for (const char* path : refused) EXPECT_EQ(decode(path), "404") << path;
}

TEST(StaticPath, MalformedEscapesAreBadRequests) {
  for (const char* path : {"/a%", "/a%2", "/a%zz", "/%g0", "/a%2 b", "/ok/%"})
    EXPECT_EQ(decode(path), "400") << path;
}

TEST(StaticPath, PrefixesAndTrailingBytes) {
  // Every prefix of an escaped path is read within its bytes: a cut escape
  // is malformed, never read past.
  std::string_view path = "/dir/a%20b.txt";
  test::for_each_prefix(path, [](std::string_view prefix) {
    StaticPath p = decode_static_path(prefix);
    if (prefix.ends_with('%') || prefix.ends_with("%2")) EXPECT_EQ(p.kind, StaticPath::Kind::BadRequest) << prefix;
    else EXPECT_EQ(p.kind, StaticPath::Kind::Found) << prefix;
  });
  EXPECT_EQ(decode(path), "file dir/a b.txt");
  EXPECT_EQ(decode(std::string(path) + "/.."), "404");
  EXPECT_EQ(decode(std::string(path) + "%"), "400");
  EXPECT_EQ(path_without_query("/a/b?x=1?y"), "/a/b");
  EXPECT_EQ(path_without_query("/a/b"), "/a/b");
}

}  // namespace
}  // namespace subcorn::http
