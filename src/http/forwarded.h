// What a trusted proxy says about the request it passed on: the client's
// address, the scheme and the Host the client used. Sans-IO: it reads the
// parsed head; whether the peer is a trusted proxy at all is the caller's
// decision (nothing here is looked at for an untrusted peer).
//
// Headers read (names as the parser gives them, lowercase):
//   X-Forwarded-For    a list of addresses, each proxy appending the peer it
//                      saw. Walking from the right, the first address that
//                      is not itself a trusted proxy is the client; the
//                      left-most, which the client wrote, counts only when
//                      every hop is trusted.
//   X-Forwarded-Proto  http, https, ws or wss
//   X-Forwarded-Host   host[:port]
//   X-Forwarded-Port   port
//   Forwarded          RFC 7239: for=, proto=, host= (by= is ignored),
//                      quoted or not; elements walked as X-Forwarded-For is.
// When any X-Forwarded-* field is present, Forwarded is not read at all:
// nginx, HAProxy's forwardfor, AWS ALB and Kubernetes ingresses set the
// X-Forwarded-* family and pass a client's own Forwarded field on untouched.
#pragma once

#include <optional>
#include <string>

#include "http/address_set.h"
#include "http/request_parser.h"

namespace subcorn::http {

enum class ForwardedScheme { Unknown, Http, Https };

struct ForwardedClient {
  // An address in canonical text ("192.0.2.1", "2001:db8::1"), or what a
  // proxy wrote in its place: "unknown", or an RFC 7239 obfuscated
  // identifier ("_hidden").
  std::string host;
  int port = 0;  // 0: not told (or obfuscated)
  bool operator==(const ForwardedClient&) const = default;
};

struct ForwardedRequest {
  std::optional<ForwardedClient> client;
  ForwardedScheme scheme = ForwardedScheme::Unknown;
  // The Host the client asked for, as it would write it ("example.com",
  // "example.com:8443", "[2001:db8::1]:8443"); "" when not told.
  std::string host;
  // The host part of `host` (without brackets for IPv6) and the port: of
  // X-Forwarded-Port, else of `host`; 0 when neither says.
  std::string server_name;
  int server_port = 0;

  // Nothing usable was found: the request stays as the connection says.
  bool empty() const noexcept {
    return !client && scheme == ForwardedScheme::Unknown && host.empty() && server_port == 0;
  }
};

// Reads the proxy headers of `head`, which came from a trusted proxy;
// `trusted` decides which addresses in the chain are proxies too. A field
// that is malformed (or, for X-Forwarded-For, whose walk reaches a malformed
// entry) tells nothing; the rest still counts.
ForwardedRequest read_forwarded(const RequestHead& head, const AddressSet& trusted);

// "host[:port]" as in a Host field: an IPv6 literal in brackets, a name or
// IPv4 address of RFC 3986 reg-name characters, a port of 1-5 digits up to
// 65535. Splits it into `name` (brackets removed) and `port` (0 when none);
// false when it is not one.
bool split_host(std::string_view host, std::string* name, int* port);

}  // namespace subcorn::http
