// The PROXY protocol header (http/proxy_protocol.h), v1 and v2: fed whole,
// byte by byte and with the stream's first bytes behind it; LOCAL, UNKNOWN,
// TLVs; the spec's limits and every malformed shape closing the connection.
#include <gtest/gtest.h>

#include <string>

#include "http/proxy_protocol.h"

namespace subcorn::http {
namespace {

using namespace std::string_literals;

const std::string V2_SIG = "\r\n\r\n\0\r\nQUIT\n"s;

// What a connection does: offer what arrived so far, then more, until the
// parser decides. Returns its last answer; `*offered` is how many bytes the
// decision took to come.
ProxyParse feed(const std::string& stream, size_t step, ProxyHeader* header, std::string* error,
                size_t* offered = nullptr) {
  ProxyParse result = ProxyParse::NeedMore;
  size_t n = 0;
  while (result == ProxyParse::NeedMore && n < stream.size()) {
    n = std::min(stream.size(), n + step);
    result = parse_proxy_header(std::string_view(stream).substr(0, n), header, error);
  }
  if (offered) *offered = n;
  return result;
}

// Parses `header` whole, byte by byte and followed by an HTTP request; all
// three must agree, and the length must stop before the request.
ProxyHeader parse_ok(const std::string& header) {
  ProxyHeader whole, bytewise, trailing;
  std::string error;
  EXPECT_EQ(feed(header, header.size(), &whole, &error), ProxyParse::Done) << error;
  size_t offered = 0;
  EXPECT_EQ(feed(header, 1, &bytewise, &error, &offered), ProxyParse::Done) << error;
  EXPECT_EQ(offered, header.size());  // decided at its last byte, not before
  std::string request = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(feed(header + request, header.size() + request.size(), &trailing, &error),
            ProxyParse::Done)
      << error;
  EXPECT_EQ(whole.length, header.size());
  EXPECT_EQ(bytewise.length, header.size());
  EXPECT_EQ(trailing.length, header.size());
  EXPECT_EQ(bytewise.source_host, whole.source_host);
  EXPECT_EQ(trailing.source_host, whole.source_host);
  EXPECT_EQ(trailing.source_port, whole.source_port);
  return whole;
}

// Refused whole and byte by byte, with or without bytes behind it.
std::string parse_invalid(const std::string& stream) {
  ProxyHeader header;
  std::string error, bytewise_error;
  EXPECT_EQ(feed(stream, stream.size(), &header, &error), ProxyParse::Invalid) << stream;
  EXPECT_EQ(feed(stream, 1, &header, &bytewise_error), ProxyParse::Invalid) << stream;
  EXPECT_EQ(feed(stream + "GET / HTTP/1.1\r\n\r\n", stream.size() + 18, &header, &error),
            ProxyParse::Invalid)
      << stream;
  EXPECT_FALSE(error.empty());
  return bytewise_error;
}

std::string be16(int v) { return {static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)}; }

std::string v2(int ver_cmd, int family, const std::string& body) {
  return V2_SIG + static_cast<char>(ver_cmd) + static_cast<char>(family) + be16(static_cast<int>(body.size())) + body;
}

std::string v2_tcp4(const std::string& extra = "") {
  return v2(0x21, 0x11, "\xc0\x00\x02\x01"s + "\x0a\x00\x00\x05"s + be16(56324) + be16(443) + extra);
}

// ---- v1 ---------------------------------------------------------------------------------

TEST(ProxyV1, Tcp4) {
  ProxyHeader h = parse_ok("PROXY TCP4 192.0.2.1 10.0.0.5 56324 443\r\n");
  EXPECT_EQ(h.kind, ProxyHeader::Kind::Proxied);
  EXPECT_EQ(h.source_host, "192.0.2.1");
  EXPECT_EQ(h.source_port, 56324);
  EXPECT_EQ(h.destination_host, "10.0.0.5");
  EXPECT_EQ(h.destination_port, 443);
}

TEST(ProxyV1, Tcp6IsWrittenCanonically) {
  ProxyHeader h = parse_ok("PROXY TCP6 2001:DB8:0::1 ::1 0 65535\r\n");
  EXPECT_EQ(h.source_host, "2001:db8::1");
  EXPECT_EQ(h.source_port, 0);
  EXPECT_EQ(h.destination_host, "::1");
  EXPECT_EQ(h.destination_port, 65535);
}

TEST(ProxyV1, LongestLinesAreAccepted) {
  std::string all_ones = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  std::string tcp6 = "PROXY TCP6 " + all_ones + " " + all_ones + " 65535 65535\r\n";
  EXPECT_EQ(parse_ok(tcp6).source_port, 65535);
  // The spec's worst case is UNKNOWN followed by the longest TCP6 fields.
  std::string longest = "PROXY UNKNOWN " + all_ones + " " + all_ones + " 65535 65535\r\n";
  ASSERT_EQ(longest.size(), PROXY_V1_MAX);
  EXPECT_EQ(parse_ok(longest).kind, ProxyHeader::Kind::KeepPeer);
}

TEST(ProxyV1, UnknownKeepsThePeer) {
  EXPECT_EQ(parse_ok("PROXY UNKNOWN\r\n").kind, ProxyHeader::Kind::KeepPeer);
  ProxyHeader h = parse_ok("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n");
  EXPECT_EQ(h.kind, ProxyHeader::Kind::KeepPeer);
  EXPECT_EQ(h.source_host, "");
}

TEST(ProxyV1, Malformed) {
  for (const char* line : {
           "PROXY TCP4 192.0.2.1 10.0.0.5 56324 443\n",       // LF without CR
           "PROXY TCP4 192.0.2.1 10.0.0.5 56324 443\r\r\n",   // CR in the line
           "PROXY TCP4  192.0.2.1 10.0.0.5 56324 443\r\n",    // two spaces
           "PROXY TCP4 192.0.2.1 10.0.0.5 56324\r\n",         // a field short
           "PROXY TCP4 192.0.2.1 10.0.0.5 56324 443 1\r\n",   // a field more
           "PROXY TCP4 192.0.2.1 10.0.0.5 56324 443 \r\n",    // trailing space
           "PROXY TCP4 2001:db8::1 10.0.0.5 56324 443\r\n",   // IPv6 on a TCP4 line
           "PROXY TCP6 192.0.2.1 ::1 56324 443\r\n",          // IPv4 on a TCP6 line
           "PROXY TCP4 192.0.2.1 10.0.0.5 65536 443\r\n",     // port out of range
           "PROXY TCP4 192.0.2.1 10.0.0.5 056324 443\r\n",    // leading zero
           "PROXY TCP4 192.0.2.1 10.0.0.5 -1 443\r\n",        // sign
           "PROXY TCP4 192.0.2 10.0.0.5 1 443\r\n",           // short address
           "PROXY UDP4 192.0.2.1 10.0.0.5 56324 443\r\n",     // not TCP
           "PROXY tcp4 192.0.2.1 10.0.0.5 56324 443\r\n",     // case matters
           "PROXY \r\n",
           "PROXY UNKNOWNX\r\n",
       })
    parse_invalid(line);
}

TEST(ProxyV1, NoLineEndWithin107BytesIsRefused) {
  std::string too_long = "PROXY UNKNOWN " + std::string(200, 'x') + "\r\n";
  ProxyHeader h;
  std::string error;
  size_t offered = 0;
  EXPECT_EQ(feed(too_long, 1, &h, &error, &offered), ProxyParse::Invalid);
  EXPECT_EQ(offered, PROXY_V1_MAX);  // refused as soon as the limit passed
  EXPECT_NE(error.find("107"), std::string::npos);
  // 106 bytes without CRLF: still waiting.
  EXPECT_EQ(parse_proxy_header(too_long.substr(0, PROXY_V1_MAX - 1), &h, &error), ProxyParse::NeedMore);
}

// ---- v2 ---------------------------------------------------------------------------------

TEST(ProxyV2, Tcp4) {
  ProxyHeader h = parse_ok(v2_tcp4());
  EXPECT_EQ(h.kind, ProxyHeader::Kind::Proxied);
  EXPECT_EQ(h.source_host, "192.0.2.1");
  EXPECT_EQ(h.source_port, 56324);
  EXPECT_EQ(h.destination_host, "10.0.0.5");
  EXPECT_EQ(h.destination_port, 443);
  EXPECT_EQ(h.length, 28u);
}

TEST(ProxyV2, Tcp6) {
  std::string source = "\x20\x01\x0d\xb8"s + std::string(11, '\0') + "\x07"s;
  std::string destination = std::string(15, '\0') + "\x01"s;
  ProxyHeader h = parse_ok(v2(0x21, 0x21, source + destination + be16(4711) + be16(8443)));
  EXPECT_EQ(h.source_host, "2001:db8::7");
  EXPECT_EQ(h.source_port, 4711);
  EXPECT_EQ(h.destination_host, "::1");
  EXPECT_EQ(h.destination_port, 8443);
}

TEST(ProxyV2, TlvsAreSkipped) {
  // PP2_TYPE_ALPN "h2" and PP2_TYPE_AUTHORITY "example.com", then padding (NOOP).
  std::string tlvs = "\x01"s + be16(2) + "h2" + "\x02"s + be16(11) + "example.com" + "\x04"s + be16(3) + "\0\0\0"s;
  ProxyHeader h = parse_ok(v2_tcp4(tlvs));
  EXPECT_EQ(h.source_host, "192.0.2.1");
  EXPECT_EQ(h.length, 28u + tlvs.size());
}

TEST(ProxyV2, LargestLengthIsAccepted) {
  ProxyHeader h = parse_ok(v2_tcp4(std::string(65535 - 12, '\x04')));
  EXPECT_EQ(h.length, 16u + 65535u);
}

TEST(ProxyV2, LocalKeepsThePeerWhateverItCarries) {
  EXPECT_EQ(parse_ok(v2(0x20, 0x00, "")).kind, ProxyHeader::Kind::KeepPeer);
  ProxyHeader h = parse_ok(v2(0x20, 0x11, "\xc0\x00\x02\x01\x0a\x00\x00\x05\x00\x01\x00\x02"s));
  EXPECT_EQ(h.kind, ProxyHeader::Kind::KeepPeer);
  EXPECT_EQ(h.length, 28u);
}

TEST(ProxyV2, OtherFamiliesKeepThePeer) {
  EXPECT_EQ(parse_ok(v2(0x21, 0x00, "")).kind, ProxyHeader::Kind::KeepPeer);               // UNSPEC
  EXPECT_EQ(parse_ok(v2(0x21, 0x31, std::string(216, 'p'))).kind, ProxyHeader::Kind::KeepPeer);  // UNIX
  EXPECT_EQ(parse_ok(v2(0x21, 0x12, std::string(12, '\1'))).kind, ProxyHeader::Kind::KeepPeer);  // UDP
}

TEST(ProxyV2, MappedIpv4IsWrittenAsIpv4) {
  std::string mapped = std::string(10, '\0') + "\xff\xff\xc0\x00\x02\x01"s;
  ProxyHeader h = parse_ok(v2(0x21, 0x21, mapped + mapped + be16(1) + be16(2)));
  EXPECT_EQ(h.source_host, "192.0.2.1");
}

TEST(ProxyV2, Malformed) {
  parse_invalid(v2(0x11, 0x11, std::string(12, '\0')));       // version 1 in a v2 header
  parse_invalid(v2(0x31, 0x11, std::string(12, '\0')));       // version 3
  parse_invalid(v2(0x22, 0x11, std::string(12, '\0')));       // command 2
  parse_invalid(v2(0x21, 0x11, std::string(11, '\0')));       // too short for TCP4
  parse_invalid(v2(0x21, 0x21, std::string(35, '\0')));       // too short for TCP6
  // The length says more is coming: not refused, waiting.
  std::string cut = v2_tcp4().substr(0, 20);
  ProxyHeader h;
  std::string error;
  EXPECT_EQ(parse_proxy_header(cut, &h, &error), ProxyParse::NeedMore);
}

// ---- neither ------------------------------------------------------------------------------

TEST(ProxyHeader, AnythingElseIsRefusedAtItsFirstWrongByte) {
  for (const std::string& stream : {"GET / HTTP/1.1\r\n\r\n"s, "\x16\x03\x01\x02\x00\x01"s,
                                    "PRI * HTTP/2.0\r\n"s, "proxy TCP4\r\n"s, "PROXYTCP4\r\n"s,
                                    "\r\n\r\n\0\r\nQUIT\r"s, "\r\n\r\nX"s})
    parse_invalid(stream);
  ProxyHeader h;
  std::string error;
  size_t offered = 0;
  EXPECT_EQ(feed("GET / HTTP/1.1\r\n", 1, &h, &error, &offered), ProxyParse::Invalid);
  EXPECT_EQ(offered, 1u);
  EXPECT_EQ(feed("PROXZ", 1, &h, &error, &offered), ProxyParse::Invalid);
  EXPECT_EQ(offered, 5u);
}

TEST(ProxyHeader, NothingYetIsNeedMore) {
  ProxyHeader h;
  std::string error;
  EXPECT_EQ(parse_proxy_header("", &h, &error), ProxyParse::NeedMore);
  EXPECT_EQ(parse_proxy_header("PRO", &h, &error), ProxyParse::NeedMore);
  EXPECT_EQ(parse_proxy_header("\r\n\r\n\0"s, &h, &error), ProxyParse::NeedMore);
  EXPECT_EQ(parse_proxy_header("\r\n", &h, &error), ProxyParse::NeedMore);  // either, still
}

}  // namespace
}  // namespace subcorn::http
