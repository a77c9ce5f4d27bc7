// The shared HTTP text rules (http/tokens.h).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/tokens.h"

namespace subcorn::http {
namespace {

TEST(Tokens, IequalsFoldsAsciiOnly) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_TRUE(iequals("CLOSE", "close"));
  EXPECT_TRUE(iequals("close", "CLOSE"));  // either side may hold capitals
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("close", "closed"));
  EXPECT_FALSE(iequals("clos", "close"));
  EXPECT_FALSE(iequals("c-lose", "c_lose"));
  EXPECT_FALSE(iequals("\xc3\x89", "\xc3\xa9"));  // no locale folding of UTF-8
  EXPECT_FALSE(iequals("[", "{"));               // '[' is 'Z' + 1, not a letter
}

TEST(Tokens, TrimOws) {
  EXPECT_EQ(trim_ows(" \t close \t"), "close");
  EXPECT_EQ(trim_ows("a b"), "a b");
  EXPECT_EQ(trim_ows(" \t "), "");
  EXPECT_EQ(trim_ows("\r\nx"), "\r\nx");  // CR and LF are not OWS
}

TEST(Tokens, ListElementsAreTrimmedAndEmptyOnesSkipped) {
  std::vector<std::string> seen;
  bool found = any_list_element(" a ,, b\t,c ,", [&seen](std::string_view e) {
    seen.emplace_back(e);
    return false;
  });
  EXPECT_FALSE(found);
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c"}));
  seen.clear();
  EXPECT_TRUE(any_list_element("x, stop, never", [&seen](std::string_view e) {
    seen.emplace_back(e);
    return e == "stop";
  }));
  EXPECT_EQ(seen, (std::vector<std::string>{"x", "stop"}));
  EXPECT_FALSE(any_list_element("", [](std::string_view) { return true; }));
  EXPECT_FALSE(any_list_element(" , ,", [](std::string_view) { return true; }));
}

TEST(Tokens, ContainsToken) {
  struct Case {
    std::string_view value;
    bool close;
  };
  const Case cases[] = {
      {"close", true},           {"Close", true},        {"keep-alive, CLOSE", true},
      {"upgrade,close", true},   {" close ", true},      {"keep-alive", false},
      {"closed", false},         {"close-ish", false},   {"", false},
      {"not close", false},      {"x,,close,,", true},   {"\tclose\t,te", true},
  };
  for (const Case& c : cases) EXPECT_EQ(contains_token(c.value, "close"), c.close) << c.value;
}

}  // namespace
}  // namespace subcorn::http
