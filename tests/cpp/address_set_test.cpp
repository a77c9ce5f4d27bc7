// --forwarded-allow-ips (http/address_set.h): parsing the list, matching
// IPv4 and IPv6 addresses and networks, "*" and "unix:".
#include <gtest/gtest.h>

#include <string>

#include "http/address_set.h"

namespace subcorn::http {
namespace {

AddressSet parse_ok(std::string_view list) {
  std::string error;
  std::optional<AddressSet> set = AddressSet::parse(list, &error);
  EXPECT_TRUE(set.has_value()) << list << ": " << error;
  return set.value_or(AddressSet{});
}

std::string parse_error(std::string_view list) {
  std::string error;
  EXPECT_FALSE(AddressSet::parse(list, &error).has_value()) << list;
  return error;
}

TEST(IpAddress, ParsesBothFamiliesAndFoldsMappedIpv4) {
  EXPECT_EQ(IpAddress::parse("192.0.2.1")->text(), "192.0.2.1");
  EXPECT_EQ(IpAddress::parse("2001:DB8:0:0::1")->text(), "2001:db8::1");
  std::optional<IpAddress> mapped = IpAddress::parse("::ffff:127.0.0.1");
  ASSERT_TRUE(mapped);
  EXPECT_EQ(mapped->family, IpAddress::Family::V4);
  EXPECT_EQ(mapped->text(), "127.0.0.1");
  EXPECT_EQ(*mapped, *IpAddress::parse("127.0.0.1"));
}

TEST(IpAddress, RefusesWhatIsNotOneAddress) {
  for (const char* text : {"", "localhost", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.4:80",
                           "[::1]", "::1%eth0", "2001:db8::1/64", " 1.2.3.4", "1.2.3.4 ",
                           "2001:db8:::1", "0x7f.0.0.1", "unknown",
                           "1111:2222:3333:4444:5555:6666:7777:8888:9999"})
    EXPECT_FALSE(IpAddress::parse(text).has_value()) << text;
}

TEST(AddressSet, DefaultIsLoopbackIpv4Only) {
  AddressSet set = parse_ok("127.0.0.1");
  EXPECT_TRUE(set.contains("127.0.0.1"));
  EXPECT_TRUE(set.contains("::ffff:127.0.0.1"));  // a dual-stack socket's IPv4 peer
  EXPECT_FALSE(set.contains("127.0.0.2"));
  EXPECT_FALSE(set.contains("::1"));
  EXPECT_FALSE(set.contains_unix());
  EXPECT_FALSE(set.contains("not an address"));
}

TEST(AddressSet, EmptyTrustsNothing) {
  AddressSet set = parse_ok("");
  EXPECT_FALSE(set.contains("127.0.0.1"));
  EXPECT_FALSE(set.contains_unix());
  EXPECT_FALSE(AddressSet{}.contains("127.0.0.1"));
}

TEST(AddressSet, Ipv4Networks) {
  AddressSet set = parse_ok("10.0.0.0/8, 192.168.1.0/24,172.16.5.4/32");
  EXPECT_TRUE(set.contains("10.255.1.2"));
  EXPECT_FALSE(set.contains("11.0.0.1"));
  EXPECT_TRUE(set.contains("192.168.1.255"));
  EXPECT_FALSE(set.contains("192.168.2.1"));
  EXPECT_TRUE(set.contains("172.16.5.4"));
  EXPECT_FALSE(set.contains("172.16.5.5"));
  // An IPv6 address never matches an IPv4 network, even with the same bits.
  EXPECT_FALSE(set.contains("a00::1"));
}

TEST(AddressSet, Ipv6NetworksAndOddPrefixes) {
  AddressSet set = parse_ok("fd00::/8,2001:db8:1::/48, ::1, 10.1.2.3/23");
  EXPECT_TRUE(set.contains("fdab::1"));
  EXPECT_FALSE(set.contains("fe00::1"));
  EXPECT_TRUE(set.contains("2001:db8:1:ffff::9"));
  EXPECT_FALSE(set.contains("2001:db8:2::9"));
  EXPECT_TRUE(set.contains("::1"));
  EXPECT_FALSE(set.contains("::2"));
  // Host bits are ignored: 10.1.2.3/23 is 10.1.2.0/23.
  EXPECT_TRUE(set.contains("10.1.3.255"));
  EXPECT_FALSE(set.contains("10.1.4.0"));
}

TEST(AddressSet, ZeroPrefixMatchesItsWholeFamily) {
  AddressSet v4 = parse_ok("0.0.0.0/0");
  EXPECT_TRUE(v4.contains("203.0.113.9"));
  EXPECT_FALSE(v4.contains("2001:db8::1"));
  AddressSet v6 = parse_ok("::/0");
  EXPECT_TRUE(v6.contains("2001:db8::1"));
  EXPECT_FALSE(v6.contains("203.0.113.9"));
}

TEST(AddressSet, MappedNetworkIsIpv4) {
  AddressSet set = parse_ok("::ffff:10.0.0.0/104");
  EXPECT_TRUE(set.contains("10.9.9.9"));
  EXPECT_FALSE(set.contains("11.0.0.0"));
}

TEST(AddressSet, StarTrustsEveryPeerAndUnixSockets) {
  AddressSet set = parse_ok("*");
  EXPECT_TRUE(set.contains("203.0.113.9"));
  EXPECT_TRUE(set.contains("2001:db8::1"));
  EXPECT_TRUE(set.contains_unix());
}

TEST(AddressSet, UnixTrustsOnlyUnixSockets) {
  AddressSet set = parse_ok("unix:");
  EXPECT_TRUE(set.contains_unix());
  EXPECT_FALSE(set.contains("127.0.0.1"));
  AddressSet both = parse_ok("unix:,127.0.0.1");
  EXPECT_TRUE(both.contains_unix());
  EXPECT_TRUE(both.contains("127.0.0.1"));
}

TEST(AddressSet, EmptyItemsAreSkipped) {
  AddressSet set = parse_ok(" , 127.0.0.1 ,,\t::1,");
  EXPECT_TRUE(set.contains("127.0.0.1"));
  EXPECT_TRUE(set.contains("::1"));
}

TEST(AddressSet, BadItemsAreNamedInTheError) {
  EXPECT_NE(parse_error("127.0.0.1, localhost").find("\"localhost\""), std::string::npos);
  for (const char* list : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8",
                           "10.0.0.0/ 8", "10.0.0.0/x", "unix", "unix:/tmp/sock", "**", "1.2.3.4:80",
                           "[::1]", "::ffff:10.0.0.0/64", "1.2.3.4 5.6.7.8"})
    EXPECT_FALSE(parse_error(list).empty()) << list;
}

}  // namespace
}  // namespace subcorn::http
