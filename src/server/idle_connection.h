// IdleConnection: a keep-alive connection between two requests, on its way
// from one shard to another (server/balance.h says when one moves). A file
// descriptor belongs to the process, not to a thread, so what moves is the
// socket with its TLS session (io::Transport) and what the connection knew
// of its peer, as plain values: the Python objects it held (the scope's
// client and server tuples, the TLS extension's dict) belong to the source
// shard's interpreter, were dropped there, and are made again in the target's.
// Nothing else of an idle connection carries state: its session is Idle,
// nothing is buffered in or out, no stream or app task is in flight.
#pragma once

#include <string>

#include "io/transport.h"
#include "py/asgi_scope.h"

namespace subcorn::server {

struct IdleConnection {
  io::Transport transport;        // the socket, and its TLS session when it has one
  py::ConnectionAddresses addresses;  // the scope's client and server (after any PROXY header)
  std::string peer;               // "host:port" for the access log
  bool peer_trusted = false;      // in --forwarded-allow-ips
  bool proxy_trusted = false;     // its proxy headers are read (--proxy-headers)
  bool http1 = false;             // it has spoken HTTP/1.1 (else nothing yet)
  double last_activity = 0;       // the keep-alive timeout goes on counting
  double moved_at = 0;            // when it last moved: it stays a while (no ping-pong)
};

}  // namespace subcorn::server
