#include "py/asgi_scope.h"

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

Ref make_scope_template(AppContext& ctx) {
  ModuleState* st = ctx.st;
  Ref scope = Ref::steal(PyDict_New());
  if (!scope) return {};
  // Insertion order is the order apps see when they print a scope.
  PyObject* keys_in_order[] = {
      st->s_type, st->s_asgi, st->s_http_version, st->s_server, st->s_client,
      st->s_scheme, st->s_method, st->s_root_path, st->s_path, st->s_raw_path,
      st->s_query_string, st->s_headers, st->s_state};
  for (PyObject* key : keys_in_order)
    if (PyDict_SetItem(scope.get(), key, Py_None) < 0) return {};
  Ref scheme = Ref::steal(PyUnicode_FromString("http"));
  if (!scheme) return {};
  if (PyDict_SetItem(scope.get(), st->s_type, st->s_http) < 0 ||
      PyDict_SetItem(scope.get(), st->s_asgi, st->v_asgi) < 0 ||
      PyDict_SetItem(scope.get(), st->s_scheme, scheme.get()) < 0 ||
      PyDict_SetItem(scope.get(), st->s_root_path, ctx.root_path.get()) < 0)
    return {};
  return scope;
}

Ref build_http_scope(AppContext& ctx, PyObject* scope_template,
                     const http::RequestHead& head, const ConnectionInfo& conn) {
  ModuleState* st = ctx.st;
  Ref scope = Ref::steal(PyDict_Copy(scope_template));
  if (!scope) return {};
  PyObject* d = scope.get();

  auto [raw_path, query] = split_path_and_query(head);
  std::string decoded = percent_decode(raw_path);

  Ref path = Ref::steal(PyUnicode_DecodeUTF8(decoded.data(), decoded.size(), "replace"));
  if (!path) return {};
  Ref raw;
  Py_ssize_t root_len = PyUnicode_GET_LENGTH(ctx.root_path.get());
  if (root_len > 0) {
    // The mount point is part of path and raw_path (as uvicorn does, and
    // as Starlette's routing expects).
    path = Ref::steal(PyUnicode_Concat(ctx.root_path.get(), path.get()));
    if (!path) return {};
    Ref root_bytes = Ref::steal(PyUnicode_AsUTF8String(ctx.root_path.get()));
    if (!root_bytes) return {};
    std::string joined(PyBytes_AS_STRING(root_bytes.get()), PyBytes_GET_SIZE(root_bytes.get()));
    joined.append(raw_path);
    raw = Ref::steal(PyBytes_FromStringAndSize(joined.data(), joined.size()));
  } else {
    raw = Ref::steal(PyBytes_FromStringAndSize(raw_path.data(), raw_path.size()));
  }
  Ref query_bytes = Ref::steal(PyBytes_FromStringAndSize(query.data(), query.size()));
  Ref method = Ref::steal(PyUnicode_FromStringAndSize(head.method.data(), head.method.size()));
  if (!raw || !query_bytes || !method) return {};

  Ref headers = Ref::steal(PyList_New((Py_ssize_t)head.headers.size()));
  if (!headers) return {};
  for (size_t i = 0; i < head.headers.size(); ++i) {
    const http::Header& h = head.headers[i];
    PyObject* pair = Py_BuildValue("(y#y#)", h.name.data(), (Py_ssize_t)h.name.size(),
                                   h.value.data(), (Py_ssize_t)h.value.size());
    if (!pair) return {};
    PyList_SET_ITEM(headers.get(), (Py_ssize_t)i, pair);
  }
  Ref state = Ref::steal(PyDict_Copy(ctx.state.get()));
  if (!state) return {};

  PyObject* version = head.version_minor == 0 ? st->v_http10 : st->v_http11;
  if (PyDict_SetItem(d, st->s_http_version, version) < 0 ||
      PyDict_SetItem(d, st->s_server, conn.server.get()) < 0 ||
      PyDict_SetItem(d, st->s_client, conn.client.get()) < 0 ||
      PyDict_SetItem(d, st->s_method, method.get()) < 0 ||
      PyDict_SetItem(d, st->s_path, path.get()) < 0 ||
      PyDict_SetItem(d, st->s_raw_path, raw.get()) < 0 ||
      PyDict_SetItem(d, st->s_query_string, query_bytes.get()) < 0 ||
      PyDict_SetItem(d, st->s_headers, headers.get()) < 0 ||
      PyDict_SetItem(d, st->s_state, state.get()) < 0)
    return {};
  return scope;
}

}  // namespace subcorn::py
