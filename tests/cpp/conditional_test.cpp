// Conditional requests for static files (http/conditional.h): entity tags,
// the preconditions in RFC 9110 13.2.2's order, If-Range.
#include <gtest/gtest.h>

#include <string>

#include "exact_bytes.h"
#include "http/conditional.h"

namespace subcorn::http {
namespace {

constexpr std::string_view ETAG = "\"a1-5f-10\"";
constexpr int64_t MODIFIED = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
constexpr const char* AT_MODIFIED = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr const char* BEFORE = "Sun, 06 Nov 1994 08:49:36 GMT";
constexpr const char* AFTER = "Sun, 06 Nov 1994 08:49:38 GMT";

const Validators CURRENT{ETAG, MODIFIED};

TagMatch match(std::string_view list, bool weak) {
  return match_entity_tags(test::ExactBytes(list).view(), ETAG, weak);
}

TEST(EntityTags, FileTagsAreStrongAndSayWhatChanged) {
  std::string tag = file_entity_tag(0xa1, 0x5f, 0x10, "");
  EXPECT_EQ(tag, ETAG);
  EXPECT_EQ(file_entity_tag(0xa1, 0x5f, 0x10, "br"), "\"a1-5f-10-br\"");
  EXPECT_NE(file_entity_tag(0xa2, 0x5f, 0x10, ""), tag);  // another file, same time and size
  EXPECT_NE(file_entity_tag(0xa1, 0x60, 0x10, ""), tag);
  EXPECT_NE(file_entity_tag(0xa1, 0x5f, 0x11, ""), tag);
}

TEST(EntityTags, Lists) {
  EXPECT_EQ(match("\"a1-5f-10\"", false), TagMatch::Match);
  EXPECT_EQ(match("*", false), TagMatch::Match);
  EXPECT_EQ(match(" * ", true), TagMatch::Match);
  EXPECT_EQ(match("\"x\", \"a1-5f-10\"", false), TagMatch::Match);
  EXPECT_EQ(match("\"x\",\"y\"", true), TagMatch::NoMatch);
  EXPECT_EQ(match("\"a,b\", \"a1-5f-10\"", true), TagMatch::Match);  // a comma inside quotes
  EXPECT_EQ(match("\"x\",,  ,\"a1-5f-10\"", true), TagMatch::Match);  // empty elements
  // Weak comparison ignores W/ (If-None-Match); strong never matches a weak tag (If-Match).
  EXPECT_EQ(match("W/\"a1-5f-10\"", true), TagMatch::Match);
  EXPECT_EQ(match("W/\"a1-5f-10\"", false), TagMatch::NoMatch);
  EXPECT_EQ(match("\"A1-5F-10\"", true), TagMatch::NoMatch);  // opaque: case matters
}

TEST(EntityTags, MalformedListsAreInvalid) {
  for (const char* list : {"", "a1-5f-10", "\"a1-5f-10", "\"x\" \"a1-5f-10\"", "w/\"a1-5f-10\"",
                           "\"x\";\"y\"", "*, \"x\"", "\"a b\"", "\"x\"junk"})
    EXPECT_EQ(match(list, true), TagMatch::Invalid) << list;
}

TEST(EntityTags, PrefixesAndTrailingBytes) {
  std::string_view list = "\"x\", W/\"a1-5f-10\"";
  test::for_each_prefix(list, [](std::string_view prefix) {
    TagMatch m = match_entity_tags(prefix, ETAG, true);
    // No prefix holds the whole tag: it can only fail to match or be cut off.
    EXPECT_NE(m, TagMatch::Match) << prefix;
  });
  EXPECT_EQ(match(list, true), TagMatch::Match);
  EXPECT_EQ(match(std::string(list) + "x", true), TagMatch::Invalid);
  EXPECT_EQ(match(std::string(list) + ", ", true), TagMatch::Match);
}

Precondition evaluate(Conditions c) { return evaluate_preconditions(c, CURRENT); }

TEST(Preconditions, IfNoneMatch) {
  EXPECT_EQ(evaluate({.if_none_match = ETAG}), Precondition::NotModified);
  EXPECT_EQ(evaluate({.if_none_match = "*"}), Precondition::NotModified);
  EXPECT_EQ(evaluate({.if_none_match = "\"old\""}), Precondition::Proceed);
  EXPECT_EQ(evaluate({.if_none_match = "junk"}), Precondition::Proceed);  // ignored
}

TEST(Preconditions, IfModifiedSinceOnlyWithoutIfNoneMatch) {
  EXPECT_EQ(evaluate({.if_modified_since = AT_MODIFIED}), Precondition::NotModified);
  EXPECT_EQ(evaluate({.if_modified_since = AFTER}), Precondition::NotModified);
  EXPECT_EQ(evaluate({.if_modified_since = BEFORE}), Precondition::Proceed);
  EXPECT_EQ(evaluate({.if_modified_since = "yesterday"}), Precondition::Proceed);
  // RFC 9110 13.1.3: If-None-Match present, If-Modified-Since is not looked at.
  EXPECT_EQ(evaluate({.if_none_match = "\"old\"", .if_modified_since = AFTER}), Precondition::Proceed);
  EXPECT_EQ(evaluate({.if_none_match = ETAG, .if_modified_since = BEFORE}), Precondition::NotModified);
}

TEST(Preconditions, IfMatchAndIfUnmodifiedSinceComeFirst) {
  EXPECT_EQ(evaluate({.if_match = "\"old\""}), Precondition::Failed);
  EXPECT_EQ(evaluate({.if_match = ETAG}), Precondition::Proceed);
  EXPECT_EQ(evaluate({.if_match = "W/\"a1-5f-10\""}), Precondition::Failed);  // strong comparison
  EXPECT_EQ(evaluate({.if_unmodified_since = BEFORE}), Precondition::Failed);
  EXPECT_EQ(evaluate({.if_unmodified_since = AT_MODIFIED}), Precondition::Proceed);
  // If-Match decides; If-Unmodified-Since is then not looked at.
  EXPECT_EQ(evaluate({.if_match = ETAG, .if_unmodified_since = BEFORE}), Precondition::Proceed);
  // 412 before 304.
  EXPECT_EQ(evaluate({.if_match = "\"old\"", .if_none_match = ETAG}), Precondition::Failed);
}

TEST(IfRange, TagOrExactDate) {
  EXPECT_TRUE(if_range_holds({}, CURRENT));
  EXPECT_TRUE(if_range_holds({.if_range = ETAG}, CURRENT));
  EXPECT_FALSE(if_range_holds({.if_range = "\"old\""}, CURRENT));
  EXPECT_FALSE(if_range_holds({.if_range = "W/\"a1-5f-10\""}, CURRENT));  // weak never
  EXPECT_TRUE(if_range_holds({.if_range = AT_MODIFIED}, CURRENT));
  EXPECT_FALSE(if_range_holds({.if_range = AFTER}, CURRENT));  // exactly, not "since"
  EXPECT_FALSE(if_range_holds({.if_range = "junk"}, CURRENT));
  EXPECT_FALSE(if_range_holds({.if_range = std::string(ETAG) + "x"}, CURRENT));
}

}  // namespace
}  // namespace subcorn::http
