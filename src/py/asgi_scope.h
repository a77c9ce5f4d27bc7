// Building the ASGI `http` scope in C++, from the parsed head and the
// connection's addresses, with names interned in module state.
#pragma once

#include <string>

#include "http/request_parser.h"
#include "py/app_context.h"
#include "py/ref.h"

namespace subcorn::py {

// Per-connection scope values, built once when the connection arrives.
struct ConnectionInfo {
  Ref client;  // (host, port), or None for a unix socket
  Ref server;  // (host, port), or (path, None) for a unix socket
};

ConnectionInfo make_connection_info(const std::string& peer_host, int peer_port,
                                    const std::string& local_host, int local_port,
                                    bool unix_socket);

// The keys every request shares (type, asgi, scheme, root_path), made once
// per shard; each scope starts as a copy of it, so it is allocated at its
// final size.
Ref make_scope_template(AppContext& ctx);

// A new scope dict, or null with a Python error set.
Ref build_http_scope(AppContext& ctx, PyObject* scope_template,
                     const http::RequestHead& head, const ConnectionInfo& conn);

// Percent-decodes `in` (no '+' handling: this is a path). Exposed for tests.
std::string percent_decode(std::string_view in);

}  // namespace subcorn::py
