// Building the ASGI `http` and `websocket` scopes in C++, from the parsed head and the
// connection's addresses, with names interned in module state.
#pragma once

#include <string>

#include "http/forwarded.h"
#include "http/request_parser.h"
#include "io/tls.h"
#include "py/app_context.h"
#include "py/ref.h"

namespace subcorn::py {

// Per-connection scope values, built once when the connection arrives.
struct ConnectionInfo {
  Ref client;  // (host, port), or None for a unix socket
  Ref server;  // (host, port), or (path, None) for a unix socket
  bool secure = false;  // TLS: scheme https (wss), wsgi.url_scheme https
  Ref tls;     // the ASGI `tls` extension's dict; null for plain connections
  // The Host the app sees instead of the request's (a trusted proxy's
  // X-Forwarded-Host or Forwarded host=): the ASGI "host" header and WSGI's
  // HTTP_HOST. Empty: the request's own.
  std::string host;
  // The peer is a trusted proxy (--forwarded-allow-ips) and --proxy-headers
  // is on: each request's proxy headers are read (server/forwarded_info.h).
  bool proxy_trusted = false;
};

ConnectionInfo make_connection_info(const std::string& peer_host, int peer_port,
                                    const std::string& local_host, int local_port,
                                    bool unix_socket);

// A ConnectionInfo's addresses as plain values. Its Python objects belong to
// one interpreter: a connection that moves to another shard carries these
// instead and has them made again there (make_connection_info).
struct ConnectionAddresses {
  std::string client_host;
  int client_port = 0;
  std::string server_host;  // the socket path for a unix socket
  int server_port = 0;
  bool unix_socket = false;
};
ConnectionAddresses connection_addresses(const ConnectionInfo& info);
ConnectionInfo make_connection_info(const ConnectionAddresses& addresses);

// `conn` as a trusted proxy's headers describe one request (what they do
// not say stays the connection's): client, scheme, and server and Host from
// the forwarded host and port (a host without a port gets the scheme's
// default). Client and server are null with a Python error set on failure.
ConnectionInfo forwarded_connection_info(const ConnectionInfo& conn,
                                         const http::ForwardedRequest& forwarded);

// The ASGI TLS extension (scope["extensions"]["tls"]) for a connection whose
// handshake ended: server_cert, client_cert_chain, client_cert_name,
// client_cert_error, tls_version, cipher_suite. Made once per connection and
// shared by its scopes; null with a Python error set.
Ref make_tls_extension(const io::TlsSessionInfo& info);

// The keys every request shares (type, asgi, scheme, root_path), made once
// per shard; each scope starts as a copy of it, so it is allocated at its
// final size.
Ref make_scope_template(AppContext& ctx);

// A new scope dict, or null with a Python error set. Over TLS the scheme is
// "https" and extensions holds "tls".
Ref build_http_scope(AppContext& ctx, PyObject* scope_template,
                     const http::RequestHead& head, const ConnectionInfo& conn);

// The same for a WebSocket: type "websocket", scheme "ws" (the server keeps
// one template from make_ws_scope_template per shard, next to the HTTP one).
Ref make_ws_scope_template(AppContext& ctx);

// A new `websocket` scope (scheme "wss" when `secure`), with `subprotocols`
// from the Sec-WebSocket-Protocol fields and extensions
// {"websocket.http.response": {}} (and "tls" over TLS); or null with a
// Python error set.
Ref build_ws_scope(AppContext& ctx, PyObject* scope_template, const http::RequestHead& head,
                   const ConnectionInfo& conn, bool secure);

// The request's path and query, split at the first '?' of head.path (the
// parser's origin-form view, also for an absolute-form target): "/p?q=1"
// gives "/p" and "q=1". ASGI's path and raw_path and WSGI's PATH_INFO and
// QUERY_STRING all come from here.
struct PathAndQuery {
  std::string_view path;   // raw, not decoded; "/..." or "*"
  std::string_view query;  // raw, without the '?'
};
PathAndQuery split_path_and_query(const http::RequestHead& head);

// Percent-decodes `in` (no '+' handling: this is a path). Exposed for tests.
std::string percent_decode(std::string_view in);

}  // namespace subcorn::py
