// The PROXY protocol header (HAProxy's spec, versions 1 and 2), which a load
// balancer (HAProxy send-proxy, AWS NLB, nginx stream proxy_protocol) writes
// first on a connection to say whom it stands for. Sans-IO: given the bytes
// received so far, it says whether they begin with a whole header, how long
// it is, and what it says. Nothing after the header is looked at: TLS or
// HTTP follows.
//
// Limits, as the spec sets them:
//   v1  "PROXY TCP4|TCP6|UNKNOWN ...\r\n", at most 107 bytes with the CRLF;
//       TCP4/TCP6 carry exactly: source address, destination address,
//       source port, destination port, separated by single spaces.
//   v2  the 12-byte signature, version 2, command LOCAL or PROXY, family and
//       transport, a length of at most 65535; AF_INET/AF_INET6 over STREAM
//       carry the addresses in the first 12 or 36 bytes, the TLVs after them
//       are skipped.
// LOCAL (a health check from the balancer itself), UNKNOWN and families
// other than TCP over IPv4/IPv6 keep the connection's real peer.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace subcorn::http {

// The longest v1 header, CRLF included; the v2 header's fixed part.
inline constexpr size_t PROXY_V1_MAX = 107;
inline constexpr size_t PROXY_V2_FIXED = 16;

struct ProxyHeader {
  // Proxied: the addresses below are the client's and the address it
  // connected to. KeepPeer: LOCAL, UNKNOWN or an address family that is not
  // TCP over IPv4/IPv6: the connection's own addresses stand.
  enum class Kind { Proxied, KeepPeer };
  Kind kind = Kind::KeepPeer;
  std::string source_host;  // canonical text, "192.0.2.1", "2001:db8::1"
  int source_port = 0;
  std::string destination_host;
  int destination_port = 0;
  size_t length = 0;  // bytes of the header: what follows is the stream's
};

enum class ProxyParse {
  NeedMore,  // a header may still come: read more
  Done,      // `header` is filled; header.length bytes are the header
  Invalid,   // not a valid PROXY header: close the connection
};

// `input` is everything received so far. `error`, on Invalid, says why (for
// the log).
ProxyParse parse_proxy_header(std::string_view input, ProxyHeader* header, std::string* error);

}  // namespace subcorn::http
