// Content-Type by file name (http/media_types.h).
#include <gtest/gtest.h>

#include "exact_bytes.h"
#include "http/media_types.h"

namespace subcorn::http {
namespace {

MediaType type(std::string_view name) { return media_type_for(test::ExactBytes(name).view()); }

TEST(MediaTypes, CommonTypes) {
  EXPECT_EQ(type("index.html").content_type, "text/html; charset=utf-8");
  EXPECT_EQ(type("site.css").content_type, "text/css; charset=utf-8");
  EXPECT_EQ(type("app.js").content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(type("data.json").content_type, "application/json");
  EXPECT_EQ(type("logo.svg").content_type, "image/svg+xml");
  EXPECT_EQ(type("photo.JPG").content_type, "image/jpeg");  // case-insensitive
  EXPECT_EQ(type("font.woff2").content_type, "font/woff2");
  EXPECT_EQ(type("module.wasm").content_type, "application/wasm");
}

TEST(MediaTypes, TheLastExtensionOfTheLastSegment) {
  EXPECT_EQ(type("archive.tar.gz").content_type, "application/gzip");
  EXPECT_EQ(type("css.d/README").content_type, "application/octet-stream");
  EXPECT_EQ(type("a.css/b").content_type, "application/octet-stream");
  EXPECT_EQ(type("dir/x.txt").content_type, "text/plain; charset=utf-8");
}

TEST(MediaTypes, UnknownIsOctetStream) {
  for (std::string_view name : {"", "noext", "file.", "file.unknownext", ".", "x.htmlx", "x.ht"})
    EXPECT_EQ(type(name).content_type, "application/octet-stream") << name;
}

TEST(MediaTypes, CompressibleOnlyWhereItPays) {
  EXPECT_TRUE(type("a.html").compressible);
  EXPECT_TRUE(type("a.js").compressible);
  EXPECT_TRUE(type("a.svg").compressible);
  EXPECT_FALSE(type("a.png").compressible);
  EXPECT_FALSE(type("a.woff2").compressible);
  EXPECT_FALSE(type("a.gz").compressible);
  EXPECT_FALSE(type("a.unknown").compressible);
}

TEST(MediaTypes, Prefixes) {
  // "app.js" grows byte by byte: no prefix reads past itself, and "app.j"
  // is no JavaScript.
  test::for_each_prefix("app.js", [](std::string_view prefix) {
    EXPECT_EQ(media_type_for(prefix).content_type, "application/octet-stream") << prefix;
  });
  EXPECT_EQ(type("app.jsx").content_type, "application/octet-stream");
}

}  // namespace
}  // namespace subcorn::http
