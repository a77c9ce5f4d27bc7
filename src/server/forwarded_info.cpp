#include "server/forwarded_info.h"

#include "http/forwarded.h"

namespace subcorn::server {

const py::ConnectionInfo& ForwardedInfo::resolve(const http::RequestHead& head,
                                                 const py::ConnectionInfo& conn,
                                                 const http::AddressSet& trusted) {
  clear();
  if (!conn.proxy_trusted) return conn;
  http::ForwardedRequest forwarded = http::read_forwarded(head, trusted);
  if (forwarded.empty()) return conn;
  py::ConnectionInfo info = py::forwarded_connection_info(conn, forwarded);
  if (!info.client || !info.server) {
    PyErr_Clear();  // out of memory: the connection's own addresses will do
    return conn;
  }
  info_ = std::move(info);
  if (forwarded.client)
    peer_ = forwarded.client->host + ":" + std::to_string(forwarded.client->port);
  return info_;
}

void ForwardedInfo::clear() {
  info_ = py::ConnectionInfo{};
  peer_.clear();
}

}  // namespace subcorn::server
