// Proxy headers (http/forwarded.h): X-Forwarded-For walked from the right,
// -Proto/-Host/-Port, RFC 7239 Forwarded with its quoting, which family wins,
// and what malformed, obfuscated and "unknown" entries do. Requests go
// through the real parser, so names and values are as a connection sees them.
#include <gtest/gtest.h>

#include <string>

#include "http/forwarded.h"
#include "http/request_parser.h"

namespace subcorn::http {
namespace {

AddressSet trusting(std::string_view list) {
  std::optional<AddressSet> set = AddressSet::parse(list, nullptr);
  EXPECT_TRUE(set.has_value()) << list;
  return set.value_or(AddressSet{});
}

// The request "GET / HTTP/1.1" with Host: backend:8000 and `fields` (each
// "Name: value\r\n"), parsed; then read as from a trusted peer.
ForwardedRequest read(const std::string& fields, const AddressSet& trusted = trusting("127.0.0.1")) {
  std::string request = "GET / HTTP/1.1\r\nHost: backend:8000\r\n" + fields + "\r\n";
  RequestParser parser;
  size_t consumed = 0;
  Event event = parser.next(request, &consumed);
  EXPECT_EQ(event.type, EventType::Head) << fields;
  return read_forwarded(parser.head(), trusted);
}

std::optional<ForwardedClient> client(const std::string& fields,
                                      const AddressSet& trusted = trusting("127.0.0.1")) {
  return read(fields, trusted).client;
}

ForwardedClient at(std::string host, int port = 0) { return {std::move(host), port}; }

// ---- nothing to read ----------------------------------------------------------------------

TEST(Forwarded, NoProxyHeadersSayNothing) {
  EXPECT_TRUE(read("").empty());
  EXPECT_TRUE(read("X-Forwarded-Something: 1.2.3.4\r\nX-Real-IP: 1.2.3.4\r\n").empty());
}

// ---- X-Forwarded-For ------------------------------------------------------------------

TEST(XForwardedFor, OneAddressIsTheClient) {
  EXPECT_EQ(client("X-Forwarded-For: 203.0.113.7\r\n"), at("203.0.113.7"));
  EXPECT_EQ(client("x-forwarded-for:   203.0.113.7  \r\n"), at("203.0.113.7"));
}

TEST(XForwardedFor, RightMostUntrustedWinsNotTheForgedLeftMost) {
  // The client wrote "6.6.6.6"; the proxy appended the peer it saw.
  EXPECT_EQ(client("X-Forwarded-For: 6.6.6.6, 203.0.113.7\r\n"), at("203.0.113.7"));
  // Two proxies, both trusted: the walk passes them.
  EXPECT_EQ(client("X-Forwarded-For: 6.6.6.6, 203.0.113.7, 10.0.0.2, 10.0.0.3\r\n",
                   trusting("127.0.0.1, 10.0.0.0/8")),
            at("203.0.113.7"));
  // Only one of them trusted: the walk stops at the other.
  EXPECT_EQ(client("X-Forwarded-For: 203.0.113.7, 10.0.0.2, 10.0.0.3\r\n", trusting("10.0.0.3")),
            at("10.0.0.2"));
}

TEST(XForwardedFor, EveryHopTrustedGivesTheLeftMost) {
  EXPECT_EQ(client("X-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n", trusting("10.0.0.0/8")), at("10.0.0.1"));
  EXPECT_EQ(client("X-Forwarded-For: 6.6.6.6, 203.0.113.7\r\n", trusting("*")), at("6.6.6.6"));
}

TEST(XForwardedFor, RepeatedFieldsAreOneList) {
  EXPECT_EQ(client("X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 203.0.113.7\r\n"), at("203.0.113.7"));
  EXPECT_EQ(client("X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 10.0.0.9\r\n",
                   trusting("10.0.0.9")),
            at("203.0.113.7"));
}

TEST(XForwardedFor, Ipv6BareOrBracketedWithPort) {
  EXPECT_EQ(client("X-Forwarded-For: 2001:DB8::7\r\n"), at("2001:db8::7"));
  EXPECT_EQ(client("X-Forwarded-For: [2001:db8::7]:4711\r\n"), at("2001:db8::7", 4711));
  EXPECT_EQ(client("X-Forwarded-For: [2001:db8::7]\r\n"), at("2001:db8::7"));
  EXPECT_EQ(client("X-Forwarded-For: 203.0.113.7:4711\r\n"), at("203.0.113.7", 4711));
  // A mapped IPv4 address is written as IPv4, and is trusted as one.
  EXPECT_EQ(client("X-Forwarded-For: 203.0.113.7, ::ffff:127.0.0.1\r\n"), at("203.0.113.7"));
  EXPECT_EQ(client("X-Forwarded-For: 203.0.113.7, ::1\r\n", trusting("::1")), at("203.0.113.7"));
}

TEST(XForwardedFor, UnknownAndObfuscatedAreTheClient) {
  EXPECT_EQ(client("X-Forwarded-For: unknown\r\n"), at("unknown"));
  EXPECT_EQ(client("X-Forwarded-For: 6.6.6.6, UNKNOWN\r\n"), at("UNKNOWN"));
  EXPECT_EQ(client("X-Forwarded-For: _hidden.client-1\r\n"), at("_hidden.client-1"));
  EXPECT_EQ(client("X-Forwarded-For: 203.0.113.7:_port\r\n"), at("203.0.113.7", 0));
}

TEST(XForwardedFor, MalformedEntryReachedGivesNoClient) {
  for (const char* value : {"not-an-address", "1.2.3", "300.1.1.1", "1.2.3.4:0", "1.2.3.4:65536",
                            "1.2.3.4:", "1.2.3.4:80:80", "[1.2.3.4]", "[2001:db8::1", "_",
                            "[2001:db8::1]x", "2001:db8::1:80x", "1.2.3.4 5.6.7.8",
                            "\"1.2.3.4\"", "1.2.3.4;x"}) {
    std::string field = "X-Forwarded-For: " + std::string(value) + "\r\n";
    EXPECT_FALSE(client(field).has_value()) << value;
  }
}

TEST(XForwardedFor, MalformedEntryBeyondTheClientIsNeverRead) {
  EXPECT_EQ(client("X-Forwarded-For: <script>, 203.0.113.7\r\n"), at("203.0.113.7"));
  // ...but one the walk reaches stops it: no client (the peer stays).
  EXPECT_FALSE(client("X-Forwarded-For: 203.0.113.7, garbage, 10.0.0.1\r\n",
                      trusting("10.0.0.0/8")).has_value());
}

TEST(XForwardedFor, EmptyListElementsAreSkipped) {
  EXPECT_EQ(client("X-Forwarded-For: , 203.0.113.7 ,,\r\n"), at("203.0.113.7"));
  EXPECT_FALSE(client("X-Forwarded-For: \r\n").has_value());
  EXPECT_FALSE(client("X-Forwarded-For: ,, ,\r\n").has_value());
}

TEST(XForwardedFor, NonAsciiBytesAreMalformed) {
  EXPECT_FALSE(client("X-Forwarded-For: 203.0.113.\xb7\r\n").has_value());
  EXPECT_FALSE(client("X-Forwarded-For: _caf\xc3\xa9\r\n").has_value());
}

// ---- X-Forwarded-Proto, -Host, -Port ----------------------------------------------------

TEST(XForwardedProto, KnownSchemesOnly) {
  EXPECT_EQ(read("X-Forwarded-Proto: https\r\n").scheme, ForwardedScheme::Https);
  EXPECT_EQ(read("X-Forwarded-Proto: HTTPS\r\n").scheme, ForwardedScheme::Https);
  EXPECT_EQ(read("X-Forwarded-Proto: wss\r\n").scheme, ForwardedScheme::Https);
  EXPECT_EQ(read("X-Forwarded-Proto: http\r\n").scheme, ForwardedScheme::Http);
  EXPECT_EQ(read("X-Forwarded-Proto: ws\r\n").scheme, ForwardedScheme::Http);
  EXPECT_EQ(read("X-Forwarded-Proto: ftp\r\n").scheme, ForwardedScheme::Unknown);
  EXPECT_EQ(read("X-Forwarded-Proto: https x\r\n").scheme, ForwardedScheme::Unknown);
}

TEST(XForwardedProto, AListIsAlignedWithXForwardedFor) {
  // The outer proxy (10.0.0.1) saw https from the client; the inner one
  // appended what it saw from the outer one.
  ForwardedRequest r = read("X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\nX-Forwarded-Proto: https, http\r\n",
                            trusting("10.0.0.1"));
  EXPECT_EQ(r.client, at("203.0.113.7"));
  EXPECT_EQ(r.scheme, ForwardedScheme::Https);
  // A single value stands for every hop.
  r = read("X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\nX-Forwarded-Proto: https\r\n", trusting("10.0.0.1"));
  EXPECT_EQ(r.scheme, ForwardedScheme::Https);
  // A list too short to reach the chosen hop says nothing.
  r = read("X-Forwarded-For: 203.0.113.7, 10.0.0.1, 10.0.0.2\r\nX-Forwarded-Proto: https, http\r\n",
           trusting("10.0.0.0/8"));
  EXPECT_EQ(r.scheme, ForwardedScheme::Unknown);
  // Without X-Forwarded-For the right-most entry counts.
  EXPECT_EQ(read("X-Forwarded-Proto: http, https\r\n").scheme, ForwardedScheme::Https);
}

TEST(XForwardedHost, HostAndPort) {
  ForwardedRequest r = read("X-Forwarded-Host: example.com\r\n");
  EXPECT_EQ(r.host, "example.com");
  EXPECT_EQ(r.server_name, "example.com");
  EXPECT_EQ(r.server_port, 0);
  r = read("X-Forwarded-Host: example.com:8443\r\n");
  EXPECT_EQ(r.host, "example.com:8443");
  EXPECT_EQ(r.server_name, "example.com");
  EXPECT_EQ(r.server_port, 8443);
  r = read("X-Forwarded-Host: [2001:db8::1]:8443\r\n");
  EXPECT_EQ(r.server_name, "2001:db8::1");
  EXPECT_EQ(r.server_port, 8443);
  // X-Forwarded-Port wins over the host's port.
  r = read("X-Forwarded-Host: example.com:8443\r\nX-Forwarded-Port: 443\r\n");
  EXPECT_EQ(r.host, "example.com:8443");
  EXPECT_EQ(r.server_port, 443);
  r = read("X-Forwarded-Port: 8080\r\n");
  EXPECT_EQ(r.host, "");
  EXPECT_EQ(r.server_port, 8080);
}

TEST(XForwardedHost, MalformedHostsAndPortsAreIgnored) {
  for (const char* value : {"exa mple.com", "example.com:", "example.com:99999", "example.com:x",
                            ":80", "[2001:db8::1", "[example.com]", "a/b", "a@b", "[::1]80",
                            "example.com\xc3\xa9"}) {
    ForwardedRequest r = read("X-Forwarded-Host: " + std::string(value) + "\r\n");
    EXPECT_EQ(r.host, "") << value;
    EXPECT_EQ(r.server_port, 0) << value;
  }
  EXPECT_EQ(read("X-Forwarded-Port: 0\r\n").server_port, 0);
  EXPECT_EQ(read("X-Forwarded-Port: 65536\r\n").server_port, 0);
  EXPECT_EQ(read("X-Forwarded-Port: 443x\r\n").server_port, 0);
}

// ---- Forwarded (RFC 7239) -------------------------------------------------------------------

TEST(Rfc7239, ForProtoHost) {
  ForwardedRequest r = read("Forwarded: for=203.0.113.7;proto=https;host=example.com\r\n");
  EXPECT_EQ(r.client, at("203.0.113.7"));
  EXPECT_EQ(r.scheme, ForwardedScheme::Https);
  EXPECT_EQ(r.host, "example.com");
  EXPECT_EQ(r.server_name, "example.com");
}

TEST(Rfc7239, QuotedIpv6AndPorts) {
  EXPECT_EQ(client("Forwarded: for=\"[2001:db8:cafe::17]:4711\"\r\n"), at("2001:db8:cafe::17", 4711));
  EXPECT_EQ(client("Forwarded: for=\"[2001:db8:cafe::17]\"\r\n"), at("2001:db8:cafe::17"));
  EXPECT_EQ(client("Forwarded: for=\"192.0.2.60:8080\"\r\n"), at("192.0.2.60", 8080));
  EXPECT_EQ(client("Forwarded: for=\"192.0.2.60\"\r\n"), at("192.0.2.60"));
  // quoted-pair: a backslash quotes the next character.
  EXPECT_EQ(client("Forwarded: for=\"\\[2001:db8::1\\]:80\"\r\n"), at("2001:db8::1", 80));
  ForwardedRequest r = read("Forwarded: for=192.0.2.60;host=\"[2001:db8::1]:8443\"\r\n");
  EXPECT_EQ(r.server_name, "2001:db8::1");
  EXPECT_EQ(r.server_port, 8443);
}

TEST(Rfc7239, CaseAndSpacing) {
  ForwardedRequest r = read("Forwarded: For=203.0.113.7; PROTO=https ;Host=example.com\r\n");
  EXPECT_EQ(r.client, at("203.0.113.7"));
  EXPECT_EQ(r.scheme, ForwardedScheme::Https);
  EXPECT_EQ(r.host, "example.com");
}

TEST(Rfc7239, ElementsWalkedFromTheRight) {
  ForwardedRequest r = read(
      "Forwarded: for=6.6.6.6;proto=http;host=evil, for=203.0.113.7;proto=https;host=example.com, "
      "for=10.0.0.1;proto=http;host=inner\r\n",
      trusting("10.0.0.0/8"));
  // The element that named the client is the one the first trusted proxy
  // wrote: its proto and host are what the client used.
  EXPECT_EQ(r.client, at("203.0.113.7"));
  EXPECT_EQ(r.scheme, ForwardedScheme::Https);
  EXPECT_EQ(r.host, "example.com");
  // Repeated fields are one list.
  EXPECT_EQ(client("Forwarded: for=6.6.6.6\r\nForwarded: for=203.0.113.7\r\n"), at("203.0.113.7"));
}

TEST(Rfc7239, ElementWithoutForStopsTheWalk) {
  ForwardedRequest r = read("Forwarded: for=203.0.113.7, proto=https;by=10.0.0.1\r\n");
  EXPECT_FALSE(r.client.has_value());
  EXPECT_EQ(r.scheme, ForwardedScheme::Https);
}

TEST(Rfc7239, UnknownAndObfuscatedIdentifiers) {
  EXPECT_EQ(client("Forwarded: for=unknown\r\n"), at("unknown"));
  EXPECT_EQ(client("Forwarded: for=_gazonk\r\n"), at("_gazonk"));
  EXPECT_EQ(client("Forwarded: for=\"_gazonk:_port\"\r\n"), at("_gazonk", 0));
  EXPECT_EQ(client("Forwarded: for=\"192.0.2.43:_abc\"\r\n"), at("192.0.2.43", 0));
  // An obfuscated proxy is no trusted one: the walk stops at it.
  EXPECT_EQ(client("Forwarded: for=203.0.113.7, for=_proxy\r\n"), at("_proxy"));
}

TEST(Rfc7239, MalformedFieldSaysNothing) {
  for (const char* value : {
           "for=192.0.2.60:80",             // a port needs quotes
           "for=[2001:db8::1]",             // brackets need quotes
           "for=\"2001:db8::1\"",           // IPv6 needs brackets
           "for=\"192.0.2.60",              // unterminated quote
           "for=\"192.0.2.60\\",            // a backslash at the very end
           "for=",                          // no value
           "=1.2.3.4",                      // no name
           "for 1.2.3.4",                   // no '='
           "for=1.2.3.4;for=5.6.7.8",       // a parameter twice in one element
           "for=1.2.3.4 proto=https",       // no ';'
           "for=\"1.2.3.4\"x",              // junk after the quote
           "for=not-an-address",            // neither a node nor an identifier
           "for=\"[2001:db8::1]:99999\"",   // a port out of range
       }) {
    ForwardedRequest r = read("Forwarded: " + std::string(value) + "\r\n");
    EXPECT_TRUE(r.empty()) << value;
  }
  // One bad element spoils the field: its walk cannot be trusted.
  EXPECT_TRUE(read("Forwarded: for=203.0.113.7, for=\"oops\r\n").empty());
  EXPECT_TRUE(read("Forwarded: for=203.0.113.7\r\nForwarded: for=;\r\n").empty());
}

TEST(Rfc7239, ControlsInAQuotedStringAreMalformed) {
  // The parser refuses controls in a field value before this could see
  // them; the rule here holds for any head all the same.
  for (std::string_view value : {std::string_view("for=\"1.2.3.4\x01\""), std::string_view("for=\"1.2.3.4\x7f\""),
                                 std::string_view("for=\"1.2.3.4\0\"", 16)}) {
    RequestHead head;
    head.headers.push_back({"forwarded", value});
    EXPECT_TRUE(read_forwarded(head, trusting("127.0.0.1")).empty()) << value;
  }
  RequestHead tab;
  tab.headers.push_back({"forwarded", "for=\"_a\tb\""});
  EXPECT_TRUE(read_forwarded(tab, trusting("127.0.0.1")).empty());  // a tab is no obfnode char
}

TEST(Rfc7239, OtherParametersAndEmptyElementsAreFine) {
  ForwardedRequest r = read("Forwarded: , for=203.0.113.7;by=\"[::1]:80\";ext=\"a,b;c\" ,,\r\n");
  EXPECT_EQ(r.client, at("203.0.113.7"));
  EXPECT_EQ(read("Forwarded: for=203.0.113.7;proto=gopher\r\n").scheme, ForwardedScheme::Unknown);
  r = read("Forwarded: for=203.0.113.7;host=\"bad host\"\r\n");
  EXPECT_EQ(r.client, at("203.0.113.7"));
  EXPECT_EQ(r.host, "");
}

// ---- which family wins ------------------------------------------------------------------------

TEST(ForwardedPrecedence, AnyXForwardedFieldWinsOverForwarded) {
  // nginx sets X-Forwarded-* and passes a client's own Forwarded on: that
  // one must not count.
  ForwardedRequest r = read(
      "Forwarded: for=6.6.6.6;proto=http;host=evil.example\r\n"
      "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n");
  EXPECT_EQ(r.client, at("203.0.113.7"));
  EXPECT_EQ(r.scheme, ForwardedScheme::Https);
  EXPECT_EQ(r.host, "");  // not taken from Forwarded either
  r = read("Forwarded: for=6.6.6.6\r\nX-Forwarded-Proto: https\r\n");
  EXPECT_FALSE(r.client.has_value());
  EXPECT_EQ(r.scheme, ForwardedScheme::Https);
}

}  // namespace
}  // namespace subcorn::http
