// --proxy-protocol: the PROXY header (http/proxy_protocol.h) a load balancer
// writes first on every connection. It is read before the TLS handshake and
// before HTTP, to its last byte and no further (what follows may be TLS,
// which OpenSSL reads from the socket itself), and its addresses replace the
// socket's for the scope, the access log and the trust of X-Forwarded-*.
// A peer not in --forwarded-allow-ips, a missing or a malformed header
// closes the connection without an answer: there is no protocol yet to
// answer in.
#include "server/connection.h"

#include <sys/epoll.h>

#include "server/shard.h"

namespace subcorn::server {

void Connection::read_proxy_header() {
  if (!peer_trusted_) {
    shard_.log_proxy_refusal("the peer is not in --forwarded-allow-ips", peer_);
    close();
    return;
  }
  // The header bytes seen so far are kept in in_ (each is the header's: the
  // parser asks for more only while every byte it was given belongs to it),
  // so that the socket is left empty and epoll does not wake us again for
  // bytes already looked at.
  char* scratch = shard_.read_buffer();
  long n = transport_.peek(scratch, Shard::READ_BUFFER_SIZE);
  if (n == io::Transport::WOULD_BLOCK) return;
  if (n == io::Transport::GONE) {
    close();
    return;
  }
  size_t before = in_.size();
  in_.append(scratch, static_cast<size_t>(n));
  http::ProxyHeader header;
  std::string error;
  switch (http::parse_proxy_header(in_, &header, &error)) {
    case http::ProxyParse::NeedMore:
      // All of it is header: take it off the socket.
      if (transport_.read(scratch, static_cast<size_t>(n)) != n) close();
      return;
    case http::ProxyParse::Invalid:
      shard_.log_proxy_refusal(error.empty() ? "no valid PROXY protocol header" : error, peer_);
      close();
      return;
    case http::ProxyParse::Done:
      break;
  }
  // Take exactly the rest of the header; what follows stays in the socket.
  size_t rest = header.length - before;
  if (transport_.read(scratch, rest) != static_cast<long>(rest)) {
    close();
    return;
  }
  in_.clear();
  take_proxy_header(header);
  request_began_ = 0;
  last_activity_ = shard_.now();
  begin_serving();
  update_interest();
  // Whatever came behind the header is read now (epoll would say so too).
  if (transport_.handshaking()) continue_handshake();
  else on_readable();
}

// The client the header names is the connection's peer from now on: the
// scope's client and server, the access log, and whether its own proxy
// headers are trusted. LOCAL and UNKNOWN keep the socket's.
void Connection::take_proxy_header(const http::ProxyHeader& header) {
  if (header.kind != http::ProxyHeader::Kind::Proxied) return;
  const Settings& s = shard_.settings();
  py::ConnectionInfo info = py::make_connection_info(header.source_host, header.source_port,
                                                     header.destination_host,
                                                     header.destination_port, false);
  if (!info.client || !info.server) {
    PyErr_Clear();
    return;
  }
  peer_trusted_ = s.forwarded_allow_ips.contains(std::string_view(header.source_host));
  info.proxy_trusted = s.proxy_headers && peer_trusted_;
  info_ = std::move(info);
  peer_ = header.source_host + ":" + std::to_string(header.source_port);
}

}  // namespace subcorn::server
