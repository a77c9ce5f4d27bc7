#include "http/proxy_protocol.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>

#include "http/address_set.h"

namespace subcorn::http {
namespace {

constexpr std::string_view V1_PREFIX = "PROXY ";
constexpr std::string_view V2_SIGNATURE{"\r\n\r\n\0\r\nQUIT\n", 12};

// v2 byte 13: version in the high nibble, command in the low one.
constexpr uint8_t V2_VERSION = 0x20;
constexpr uint8_t V2_LOCAL = 0x0;
constexpr uint8_t V2_PROXY = 0x1;
// v2 byte 14: address family (high nibble) and transport (low nibble).
constexpr uint8_t V2_TCP4 = 0x11;
constexpr uint8_t V2_TCP6 = 0x21;
constexpr size_t V2_TCP4_ADDRESSES = 12;
constexpr size_t V2_TCP6_ADDRESSES = 36;

ProxyParse invalid(std::string* error, const char* why) {
  if (error) *error = why;
  return ProxyParse::Invalid;
}

// "0".."65535", no sign, no leading zero (the spec's decimal port).
bool v1_port(std::string_view s, int* port) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *port);
  return ec == std::errc() && end == s.data() + s.size() && *port <= 65535;
}

// An address of the family the line named, as inet_pton reads it, and
// written back canonically.
bool v1_address(std::string_view s, bool v6, std::string* out) {
  std::optional<IpAddress> a = IpAddress::parse(s);
  // An IPv4-mapped IPv6 address in a TCP6 line is folded to IPv4: fine.
  if (!a || (!v6 && (a->family != IpAddress::Family::V4 || s.find(':') != std::string_view::npos)) ||
      (v6 && s.find(':') == std::string_view::npos))
    return false;
  *out = a->text();
  return true;
}

ProxyParse parse_v1(std::string_view input, ProxyHeader* header, std::string* error) {
  size_t lf = input.substr(0, PROXY_V1_MAX).find('\n');
  if (lf == std::string_view::npos) {
    if (input.size() >= PROXY_V1_MAX) return invalid(error, "PROXY v1 line longer than 107 bytes");
    return ProxyParse::NeedMore;
  }
  if (lf == 0 || input[lf - 1] != '\r') return invalid(error, "PROXY v1 line not ended by CRLF");
  std::string_view line = input.substr(V1_PREFIX.size(), lf - 1 - V1_PREFIX.size());
  ProxyHeader h;
  h.length = lf + 1;
  // UNKNOWN: the receiver ignores whatever follows on the line.
  if (line == "UNKNOWN" || line.starts_with("UNKNOWN ")) {
    *header = h;
    return ProxyParse::Done;
  }
  // Exactly five fields, each after a single space: "TCP4 src dst sport dport".
  std::string_view fields[5];
  size_t count = 0;
  for (;;) {
    size_t space = line.find(' ');
    if (count == 5) return invalid(error, "PROXY v1 line without exactly 5 fields");
    fields[count++] = line.substr(0, space);
    if (space == std::string_view::npos) break;
    line.remove_prefix(space + 1);
  }
  if (count != 5) return invalid(error, "PROXY v1 line without exactly 5 fields");
  bool v6 = fields[0] == "TCP6";
  if (!v6 && fields[0] != "TCP4") return invalid(error, "PROXY v1 protocol not TCP4, TCP6 or UNKNOWN");
  if (!v1_address(fields[1], v6, &h.source_host) || !v1_address(fields[2], v6, &h.destination_host))
    return invalid(error, "PROXY v1 address not valid for its protocol");
  if (!v1_port(fields[3], &h.source_port) || !v1_port(fields[4], &h.destination_port))
    return invalid(error, "PROXY v1 port not valid");
  h.kind = ProxyHeader::Kind::Proxied;
  *header = h;
  return ProxyParse::Done;
}

int port_at(const unsigned char* p) { return (p[0] << 8) | p[1]; }

std::string address_text(const unsigned char* p, bool v6) {
  IpAddress a;
  a.family = v6 ? IpAddress::Family::V6 : IpAddress::Family::V4;
  std::copy(p, p + (v6 ? 16 : 4), a.bytes.begin());
  // A mapped IPv4 address reads as IPv4, as everywhere else.
  if (std::optional<IpAddress> folded = IpAddress::parse(a.text())) a = *folded;
  return a.text();
}

ProxyParse parse_v2(std::string_view input, ProxyHeader* header, std::string* error) {
  if (input.size() < PROXY_V2_FIXED) return ProxyParse::NeedMore;
  auto* bytes = reinterpret_cast<const unsigned char*>(input.data());
  uint8_t version = bytes[12] & 0xf0;
  uint8_t command = bytes[12] & 0x0f;
  uint8_t family = bytes[13];
  size_t length = static_cast<size_t>(port_at(bytes + 14));
  if (version != V2_VERSION) return invalid(error, "PROXY v2 header of another version");
  if (command != V2_LOCAL && command != V2_PROXY) return invalid(error, "PROXY v2 command unknown");
  size_t needed = command == V2_PROXY && family == V2_TCP4   ? V2_TCP4_ADDRESSES
                  : command == V2_PROXY && family == V2_TCP6 ? V2_TCP6_ADDRESSES
                                                              : 0;
  if (length < needed) return invalid(error, "PROXY v2 header too short for its addresses");
  if (input.size() < PROXY_V2_FIXED + length) return ProxyParse::NeedMore;
  ProxyHeader h;
  h.length = PROXY_V2_FIXED + length;
  if (needed > 0) {
    bool v6 = family == V2_TCP6;
    const unsigned char* a = bytes + PROXY_V2_FIXED;
    size_t size = v6 ? 16 : 4;
    h.kind = ProxyHeader::Kind::Proxied;
    h.source_host = address_text(a, v6);
    h.destination_host = address_text(a + size, v6);
    h.source_port = port_at(a + 2 * size);
    h.destination_port = port_at(a + 2 * size + 2);
  }
  // The TLVs after the addresses (ALPN, authority, CRC, SSL...) are skipped.
  *header = h;
  return ProxyParse::Done;
}

}  // namespace

ProxyParse parse_proxy_header(std::string_view input, ProxyHeader* header, std::string* error) {
  // Until the first bytes tell v1 from v2, each must still match one.
  std::string_view v1 = V1_PREFIX.substr(0, std::min(input.size(), V1_PREFIX.size()));
  std::string_view v2 = V2_SIGNATURE.substr(0, std::min(input.size(), V2_SIGNATURE.size()));
  bool may_be_v1 = input.substr(0, v1.size()) == v1;
  bool may_be_v2 = input.substr(0, v2.size()) == v2;
  if (!may_be_v1 && !may_be_v2) return invalid(error, "no PROXY protocol header");
  if (may_be_v1 && input.size() >= V1_PREFIX.size()) return parse_v1(input, header, error);
  if (may_be_v2 && input.size() >= V2_SIGNATURE.size()) return parse_v2(input, header, error);
  return ProxyParse::NeedMore;
}

}  // namespace subcorn::http
