// Parsing HTTP dates (http/http_date.h): the three forms RFC 9110 5.6.7 has
// recipients accept, and everything else refused.
#include <gtest/gtest.h>

#include <string>

#include "exact_bytes.h"
#include "http/http_date.h"

namespace subcorn::http {
namespace {

using test::ExactBytes;

constexpr long long NOV_6_1994 = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT

std::optional<long long> parse(std::string_view text) { return parse_http_date(ExactBytes(text).view()); }

TEST(HttpDate, TheThreeFormsOfOneInstant) {
  EXPECT_EQ(parse("Sun, 06 Nov 1994 08:49:37 GMT"), NOV_6_1994);
  EXPECT_EQ(parse("Sunday, 06-Nov-94 08:49:37 GMT"), NOV_6_1994);
  EXPECT_EQ(parse("Sun Nov  6 08:49:37 1994"), NOV_6_1994);
}

TEST(HttpDate, RoundTripsWhatTheServerFormats) {
  for (long long t : {0LL, 1LL, 951782400LL /* 2000-02-29 */, 1709164800LL /* 2024-02-29 */,
                      4102444799LL /* 2099-12-31 23:59:59 */, 253402300799LL /* 9999-12-31 */}) {
    char text[IMF_FIXDATE_LEN];
    format_imf_fixdate(t, text);
    EXPECT_EQ(parse(std::string_view(text, IMF_FIXDATE_LEN)), t) << std::string_view(text, IMF_FIXDATE_LEN);
  }
}

TEST(HttpDate, TwoDigitYearsOfRfc850) {
  EXPECT_EQ(parse("Thursday, 01-Jan-70 00:00:00 GMT"), 0);
  EXPECT_EQ(parse("Saturday, 01-Jan-00 00:00:00 GMT"), 946684800);  // 2000, not 1900
  EXPECT_EQ(parse("Friday, 31-Dec-99 23:59:59 GMT"), 946684799);    // 1999
}

TEST(HttpDate, LeapDaysAndLeapSeconds) {
  EXPECT_TRUE(parse("Tue, 29 Feb 2000 00:00:00 GMT"));   // divisible by 400
  EXPECT_FALSE(parse("Thu, 29 Feb 1900 00:00:00 GMT"));  // by 100 only
  EXPECT_FALSE(parse("Fri, 29 Feb 2019 00:00:00 GMT"));
  EXPECT_FALSE(parse("Mon, 31 Apr 2024 00:00:00 GMT"));
  // RFC 9110 allows second 60; it reads as the next second.
  EXPECT_EQ(parse("Sat, 31 Dec 2016 23:59:60 GMT"), parse("Sun, 01 Jan 2017 00:00:00 GMT"));
}

TEST(HttpDate, RefusesWhatIsNoHttpDate) {
  const char* refused[] = {
      "",
      "Sun, 06 Nov 1994 08:49:37 UTC",    // GMT only
      "sun, 06 Nov 1994 08:49:37 GMT",    // names are case-sensitive
      "Sun, 06 nov 1994 08:49:37 GMT",
      "Sun, 6 Nov 1994 08:49:37 GMT",     // two digits
      "Sun,06 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 8:49:37 GMT",
      "Sun, 06 Nov 1994 24:00:00 GMT",
      "Sun, 06 Nov 1994 08:60:00 GMT",
      "Sun, 00 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 94 08:49:37 GMT",
      "Sun, 06 Xyz 1994 08:49:37 GMT",
      "Funday, 06-Nov-94 08:49:37 GMT",
      "Sun Nov 6 08:49:37 1994",          // asctime pads with a space
      "1994-11-06T08:49:37Z",
      "784111777",
      " Sun, 06 Nov 1994 08:49:37 GMT",
  };
  for (const char* text : refused) EXPECT_FALSE(parse(text)) << text;
}

TEST(HttpDate, NoPrefixOfADateIsOneAndTrailingBytesAreRefused) {
  for (std::string_view date : {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                                "Sun Nov  6 08:49:37 1994"}) {
    test::for_each_prefix(date, [&](std::string_view prefix) {
      EXPECT_FALSE(parse_http_date(prefix)) << prefix;
    });
    EXPECT_FALSE(parse(std::string(date) + " ")) << date;
    EXPECT_FALSE(parse(std::string(date) + "x")) << date;
    EXPECT_FALSE(parse(std::string(date) + ", Mon, 07 Nov 1994 08:49:37 GMT")) << date;
  }
}

}  // namespace
}  // namespace subcorn::http
