#include "py/asgi_scope.h"

#include <initializer_list>

namespace subcorn::py {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

PathAndQuery split_path_and_query(const http::RequestHead& head) {
  std::string_view target = head.path;
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    int hi, lo;
    if (in[i] == '%' && i + 2 < in.size() &&
        (hi = hex_value(in[i + 1])) >= 0 && (lo = hex_value(in[i + 2])) >= 0) {
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

ConnectionInfo make_connection_info(const std::string& peer_host, int peer_port,
                                    const std::string& local_host, int local_port,
                                    bool unix_socket) {
  ConnectionInfo info;
  if (unix_socket) {
    info.client = Ref::borrow(Py_None);
    info.server = Ref::steal(Py_BuildValue("(s#O)", local_host.data(),
                                           (Py_ssize_t)local_host.size(), Py_None));
  } else {
    info.client = Ref::steal(Py_BuildValue("(s#i)", peer_host.data(),
                                           (Py_ssize_t)peer_host.size(), peer_port));
    info.server = Ref::steal(Py_BuildValue("(s#i)", local_host.data(),
                                           (Py_ssize_t)local_host.size(), local_port));
  }
  return info;
}

namespace {

// (host, port) or (path, None): false when `address` is neither.
bool read_address(PyObject* address, std::string* host, int* port) {
  if (!address || !PyTuple_Check(address) || PyTuple_GET_SIZE(address) != 2) return false;
  Py_ssize_t size = 0;
  const char* text = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(address, 0), &size);
  if (!text) {
    PyErr_Clear();
    return false;
  }
  host->assign(text, static_cast<size_t>(size));
  PyObject* number = PyTuple_GET_ITEM(address, 1);
  *port = number == Py_None ? 0 : static_cast<int>(PyLong_AsLong(number));
  if (PyErr_Occurred()) {
    PyErr_Clear();
    return false;
  }
  return true;
}

}  // namespace

ConnectionAddresses connection_addresses(const ConnectionInfo& info) {
  ConnectionAddresses a;
  a.unix_socket = !info.client || info.client.get() == Py_None;
  if (!a.unix_socket) read_address(info.client.get(), &a.client_host, &a.client_port);
  read_address(info.server.get(), &a.server_host, &a.server_port);
  return a;
}

ConnectionInfo make_connection_info(const ConnectionAddresses& a) {
  return make_connection_info(a.client_host, a.client_port, a.server_host, a.server_port,
                              a.unix_socket);
}

ConnectionInfo forwarded_connection_info(const ConnectionInfo& conn,
                                         const http::ForwardedRequest& forwarded) {
  ConnectionInfo info;
  info.tls = conn.tls.dup();
  info.proxy_trusted = conn.proxy_trusted;
  info.secure = forwarded.scheme == http::ForwardedScheme::Unknown
                    ? conn.secure
                    : forwarded.scheme == http::ForwardedScheme::Https;
  info.host = forwarded.host;
  if (forwarded.client) {
    const http::ForwardedClient& c = *forwarded.client;
    info.client = Ref::steal(Py_BuildValue("(s#i)", c.host.data(), (Py_ssize_t)c.host.size(), c.port));
  } else {
    info.client = conn.client.dup();
  }
  if (forwarded.server_name.empty() && forwarded.server_port == 0) {
    info.server = conn.server.dup();
  } else if (forwarded.server_name.empty()) {
    // Only the port is told: the connection's own server name with it.
    PyObject* name = PyTuple_Check(conn.server.get()) ? PyTuple_GET_ITEM(conn.server.get(), 0) : Py_None;
    info.server = Ref::steal(Py_BuildValue("(Oi)", name, forwarded.server_port));
  } else {
    int port = forwarded.server_port != 0 ? forwarded.server_port : info.secure ? 443 : 80;
    info.server = Ref::steal(Py_BuildValue("(s#i)", forwarded.server_name.data(),
                                           (Py_ssize_t)forwarded.server_name.size(), port));
  }
  return info;
}

Ref make_tls_extension(const io::TlsSessionInfo& info) {
  auto text_or_none = [](const std::string& s) -> Ref {
    if (s.empty()) return Ref::borrow(Py_None);
    return Ref::steal(PyUnicode_FromStringAndSize(s.data(), (Py_ssize_t)s.size()));
  };
  Ref chain = Ref::steal(PyList_New(0));
  if (!chain) return {};
  for (const std::string& pem : info.client_cert_chain) {
    Ref cert = Ref::steal(PyUnicode_FromStringAndSize(pem.data(), (Py_ssize_t)pem.size()));
    if (!cert || PyList_Append(chain.get(), cert.get()) < 0) return {};
  }
  Ref server_cert = text_or_none(info.server_cert);
  Ref name = text_or_none(info.client_cert_name);
  Ref error = text_or_none(info.client_cert_error);
  if (!server_cert || !name || !error) return {};
  return Ref::steal(Py_BuildValue("{s:O,s:O,s:O,s:O,s:i,s:i}", "server_cert", server_cert.get(),
                                  "client_cert_chain", chain.get(), "client_cert_name", name.get(),
                                  "client_cert_error", error.get(), "tls_version", info.version,
                                  "cipher_suite", info.cipher_suite));
}

namespace {

// A template whose keys are `keys_in_order` (the order apps see when they
// print a scope), with the values every scope of one kind shares.
Ref make_template(AppContext& ctx, std::initializer_list<PyObject*> keys_in_order,
                  PyObject* type, PyObject* scheme) {
  ModuleState* st = ctx.st;
  Ref scope = Ref::steal(PyDict_New());
  if (!scope) return {};
  for (PyObject* key : keys_in_order)
    if (PyDict_SetItem(scope.get(), key, Py_None) < 0) return {};
  if (PyDict_SetItem(scope.get(), st->s_type, type) < 0 ||
      PyDict_SetItem(scope.get(), st->s_asgi, st->v_asgi) < 0 ||
      PyDict_SetItem(scope.get(), st->s_scheme, scheme) < 0 ||
      PyDict_SetItem(scope.get(), st->s_root_path, ctx.root_path.get()) < 0)
    return {};
  return scope;
}

// Sets what the HTTP and WebSocket scopes take from the request the same way:
// http_version, server, client, path, raw_path, query_string, headers, state.
bool fill_request_keys(AppContext& ctx, PyObject* d, const http::RequestHead& head,
                       const ConnectionInfo& conn) {
  ModuleState* st = ctx.st;
  auto [raw_path, query] = split_path_and_query(head);
  std::string decoded = percent_decode(raw_path);

  Ref path = Ref::steal(PyUnicode_DecodeUTF8(decoded.data(), decoded.size(), "replace"));
  if (!path) return false;
  Ref raw;
  Py_ssize_t root_len = PyUnicode_GET_LENGTH(ctx.root_path.get());
  if (root_len > 0) {
    // The mount point is part of path and raw_path (as uvicorn does, and
    // as Starlette's routing expects).
    path = Ref::steal(PyUnicode_Concat(ctx.root_path.get(), path.get()));
    if (!path) return false;
    Ref root_bytes = Ref::steal(PyUnicode_AsUTF8String(ctx.root_path.get()));
    if (!root_bytes) return false;
    std::string joined(PyBytes_AS_STRING(root_bytes.get()), PyBytes_GET_SIZE(root_bytes.get()));
    joined.append(raw_path);
    raw = Ref::steal(PyBytes_FromStringAndSize(joined.data(), joined.size()));
  } else {
    raw = Ref::steal(PyBytes_FromStringAndSize(raw_path.data(), raw_path.size()));
  }
  Ref query_bytes = Ref::steal(PyBytes_FromStringAndSize(query.data(), query.size()));
  if (!raw || !query_bytes) return false;

  Ref headers = Ref::steal(PyList_New((Py_ssize_t)head.headers.size()));
  if (!headers) return false;
  bool host_replaced = false;
  for (size_t i = 0; i < head.headers.size(); ++i) {
    const http::Header& h = head.headers[i];
    // A trusted proxy's forwarded host is the Host the app sees.
    std::string_view value = h.value;
    if (!conn.host.empty() && h.name == "host") {
      value = conn.host;
      host_replaced = true;
    }
    PyObject* pair = Py_BuildValue("(y#y#)", h.name.data(), (Py_ssize_t)h.name.size(),
                                   value.data(), (Py_ssize_t)value.size());
    if (!pair) return false;
    PyList_SET_ITEM(headers.get(), (Py_ssize_t)i, pair);
  }
  if (!conn.host.empty() && !host_replaced) {
    Ref pair = Ref::steal(Py_BuildValue("(y#y#)", "host", (Py_ssize_t)4, conn.host.data(),
                                        (Py_ssize_t)conn.host.size()));
    if (!pair || PyList_Append(headers.get(), pair.get()) < 0) return false;
  }
  Ref state = Ref::steal(PyDict_Copy(ctx.state.get()));
  if (!state) return false;

  PyObject* version = head.version_major == 2   ? st->v_http2
                      : head.version_minor == 0 ? st->v_http10
                                                : st->v_http11;
  return PyDict_SetItem(d, st->s_http_version, version) == 0 &&
         PyDict_SetItem(d, st->s_server, conn.server.get()) == 0 &&
         PyDict_SetItem(d, st->s_client, conn.client.get()) == 0 &&
         PyDict_SetItem(d, st->s_path, path.get()) == 0 &&
         PyDict_SetItem(d, st->s_raw_path, raw.get()) == 0 &&
         PyDict_SetItem(d, st->s_query_string, query_bytes.get()) == 0 &&
         PyDict_SetItem(d, st->s_headers, headers.get()) == 0 &&
         PyDict_SetItem(d, st->s_state, state.get()) == 0;
}

bool is_list_space(char c) { return c == ' ' || c == '\t'; }

// The subprotocols a client offered: every Sec-WebSocket-Protocol field, split
// on commas, each item trimmed, empty items skipped, in order. Items are
// tokens (ASCII); they are decoded as Latin-1, which cannot fail.
Ref offered_subprotocols(const http::RequestHead& head) {
  Ref list = Ref::steal(PyList_New(0));
  if (!list) return {};
  for (const http::Header& h : head.headers) {
    if (h.name != "sec-websocket-protocol") continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      while (!item.empty() && is_list_space(item.front())) item.remove_prefix(1);
      while (!item.empty() && is_list_space(item.back())) item.remove_suffix(1);
      if (item.empty()) continue;
      Ref name = Ref::steal(PyUnicode_DecodeLatin1(item.data(), item.size(), nullptr));
      if (!name || PyList_Append(list.get(), name.get()) < 0) return {};
    }
  }
  return list;
}

}  // namespace

Ref make_scope_template(AppContext& ctx) {
  ModuleState* st = ctx.st;
  Ref scheme = Ref::steal(PyUnicode_FromString("http"));
  if (!scheme) return {};
  return make_template(ctx,
                       {st->s_type, st->s_asgi, st->s_http_version, st->s_server, st->s_client,
                        st->s_scheme, st->s_method, st->s_root_path, st->s_path, st->s_raw_path,
                        st->s_query_string, st->s_headers, st->s_state},
                       st->s_http, scheme.get());
}

Ref make_ws_scope_template(AppContext& ctx) {
  ModuleState* st = ctx.st;
  return make_template(ctx,
                       {st->s_type, st->s_asgi, st->s_http_version, st->s_server, st->s_client,
                        st->s_scheme, st->s_root_path, st->s_path, st->s_raw_path,
                        st->s_query_string, st->s_headers, st->s_subprotocols, st->s_state,
                        st->s_extensions},
                       st->s_websocket, st->s_ws);
}

Ref build_http_scope(AppContext& ctx, PyObject* scope_template,
                     const http::RequestHead& head, const ConnectionInfo& conn) {
  ModuleState* st = ctx.st;
  Ref scope = Ref::steal(PyDict_Copy(scope_template));
  if (!scope || !fill_request_keys(ctx, scope.get(), head, conn)) return {};
  Ref method = Ref::steal(PyUnicode_FromStringAndSize(head.method.data(), head.method.size()));
  if (!method || PyDict_SetItem(scope.get(), st->s_method, method.get()) < 0) return {};
  if (conn.secure && PyDict_SetItem(scope.get(), st->s_scheme, st->s_https) < 0) return {};
  // Fresh per request (middleware may add to it): HTTP/2 frames trailers and
  // 103 Early Hints (HTTP/1.1 does not offer them); TLS says who the peer
  // is (the tls dict is the connection's, shared by its requests).
  bool http2 = head.version_major == 2;
  if (http2 || conn.tls) {
    Ref extensions = Ref::steal(PyDict_New());
    if (!extensions || PyDict_SetItem(scope.get(), st->s_extensions, extensions.get()) < 0)
      return {};
    PyObject* e = extensions.get();
    if (http2) {
      Ref trailers = Ref::steal(PyDict_New());
      Ref hints = Ref::steal(PyDict_New());
      if (!trailers || !hints || PyDict_SetItem(e, st->s_http_response_trailers, trailers.get()) < 0 ||
          PyDict_SetItem(e, st->s_http_response_early_hint, hints.get()) < 0)
        return {};
    }
    if (conn.tls && PyDict_SetItem(e, st->s_tls, conn.tls.get()) < 0) return {};
  }
  return scope;
}

Ref build_ws_scope(AppContext& ctx, PyObject* scope_template, const http::RequestHead& head,
                   const ConnectionInfo& conn, bool secure) {
  ModuleState* st = ctx.st;
  Ref scope = Ref::steal(PyDict_Copy(scope_template));
  if (!scope || !fill_request_keys(ctx, scope.get(), head, conn)) return {};
  Ref subprotocols = offered_subprotocols(head);
  if (!subprotocols) return {};
  // Fresh per connection: middleware may add to scope["extensions"].
  Ref extensions = Ref::steal(Py_BuildValue("{O:{}}", st->s_websocket_http_response));
  if (!extensions) return {};
  if (conn.tls && PyDict_SetItem(extensions.get(), st->s_tls, conn.tls.get()) < 0) return {};
  PyObject* d = scope.get();
  if (PyDict_SetItem(d, st->s_subprotocols, subprotocols.get()) < 0 ||
      PyDict_SetItem(d, st->s_extensions, extensions.get()) < 0 ||
      (secure && PyDict_SetItem(d, st->s_scheme, st->s_wss) < 0))
    return {};
  return scope;
}

}  // namespace subcorn::py
