// What one request's app sees of its connection when the peer is a trusted
// proxy (--proxy-headers, --forwarded-allow-ips): the client, scheme, server
// and Host its proxy headers say (http/forwarded.h), kept for as long as
// the request runs (a worker thread reads them). For any other peer the
// connection's own info is used as it is, and no header is looked at.
#pragma once

#include <string>
#include <string_view>

#include "http/address_set.h"
#include "http/request_parser.h"
#include "py/asgi_scope.h"

namespace subcorn::server {

class ForwardedInfo {
 public:
  // The info for the request `head`: `conn` itself, or the forwarded one
  // (kept here until the next resolve() or clear()) when `conn` is from a
  // trusted proxy and its headers say something usable.
  const py::ConnectionInfo& resolve(const http::RequestHead& head, const py::ConnectionInfo& conn,
                                    const http::AddressSet& trusted);
  // The client for the access log: "host:port" of the forwarded client, or
  // `connection_peer` when there is none.
  std::string_view peer_for_log(std::string_view connection_peer) const {
    return peer_.empty() ? connection_peer : std::string_view(peer_);
  }
  void clear();

 private:
  py::ConnectionInfo info_;
  std::string peer_;
};

}  // namespace subcorn::server
