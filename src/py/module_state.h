// Per-interpreter state of the extension module: its heap types, its
// exception, and every name the hot path looks up, interned once per
// interpreter (never as process globals: each interpreter has its own GIL).
#pragma once

#include <Python.h>

namespace subcorn::py {

// X(field, "text")
#define SUBCORN_INTERNED_NAMES(X)                  \
  X(type, "type")                                 \
  X(asgi, "asgi")                                 \
  X(version, "version")                           \
  X(spec_version, "spec_version")                 \
  X(http_version, "http_version")                 \
  X(server, "server")                             \
  X(client, "client")                             \
  X(scheme, "scheme")                             \
  X(method, "method")                             \
  X(root_path, "root_path")                       \
  X(path, "path")                                 \
  X(raw_path, "raw_path")                         \
  X(query_string, "query_string")                 \
  X(headers, "headers")                           \
  X(state, "state")                               \
  X(status, "status")                             \
  X(body, "body")                                 \
  X(more_body, "more_body")                       \
  X(http, "http")                                 \
  X(http_request, "http.request")                 \
  X(http_disconnect, "http.disconnect")           \
  X(http_response_start, "http.response.start")   \
  X(http_response_body, "http.response.body")     \
  X(http_response_trailers, "http.response.trailers") \
  X(http_response_early_hint, "http.response.early_hint") \
  X(http_response_pathsend, "http.response.pathsend") \
  X(http_response_zerocopysend, "http.response.zerocopysend") \
  X(file, "file")                                 \
  X(offset, "offset")                             \
  X(count, "count")                               \
  X(trailers, "trailers")                         \
  X(more_trailers, "more_trailers")               \
  X(links, "links")                               \
  X(websocket, "websocket")                       \
  X(subprotocols, "subprotocols")                 \
  X(extensions, "extensions")                     \
  X(websocket_connect, "websocket.connect")       \
  X(websocket_receive, "websocket.receive")       \
  X(websocket_disconnect, "websocket.disconnect") \
  X(websocket_accept, "websocket.accept")         \
  X(websocket_send, "websocket.send")             \
  X(websocket_close, "websocket.close")           \
  X(websocket_http_response, "websocket.http.response") \
  X(websocket_http_response_start, "websocket.http.response.start") \
  X(websocket_http_response_body, "websocket.http.response.body") \
  X(subprotocol, "subprotocol")                   \
  X(text, "text")                                 \
  X(bytes, "bytes")                               \
  X(code, "code")                                 \
  X(reason, "reason")                             \
  X(ws, "ws")                                     \
  X(wss, "wss")                                   \
  X(https, "https")                               \
  X(tls, "tls")                                   \
  X(loop, "loop")                                 \
  X(eager_start, "eager_start")                   \
  X(create_future, "create_future")               \
  X(set_result, "set_result")                     \
  X(set_exception, "set_exception")               \
  X(done, "done")                                 \
  X(cancelled, "cancelled")                       \
  X(exception, "exception")                       \
  X(add_done_callback, "add_done_callback")       \
  X(cancel, "cancel")                             \
  X(stop, "stop")                                 \
  X(copy, "copy")                                 \
  X(close, "close")

struct ModuleState {
  PyTypeObject* cycle_type = nullptr;   // HttpCycle: receive/send of one request
  PyTypeObject* ws_cycle_type = nullptr;  // WsCycle: receive/send of one WebSocket
  PyTypeObject* ready_type = nullptr;   // an awaitable that is already done
  PyTypeObject* start_response_type = nullptr;  // WSGI start_response of one request
  PyTypeObject* wsgi_input_type = nullptr;      // wsgi.input
  PyObject* startup_error = nullptr;    // subcorn._native.StartupError
  // subcorn._native.ClientDisconnected (an OSError): a WebSocket send() after
  // the connection closed, as ASGI 2.4 asks.
  PyObject* client_disconnected = nullptr;
#define SUBCORN_DECLARE_NAME(field, text) PyObject* s_##field = nullptr;
  SUBCORN_INTERNED_NAMES(SUBCORN_DECLARE_NAME)
#undef SUBCORN_DECLARE_NAME
  PyObject* v_http11 = nullptr;      // "1.1"
  PyObject* v_http10 = nullptr;      // "1.0"
  PyObject* v_http2 = nullptr;       // "2"
  PyObject* v_asgi = nullptr;        // {"version": "3.0", "spec_version": "2.4"}
  PyObject* v_empty_bytes = nullptr; // b""
  PyObject* v_disconnect = nullptr;  // {"type": "http.disconnect"} (copied per use)
  PyObject* task_kwnames = nullptr;  // ("loop", "eager_start")
};

// Fills and clears the state; exec/traverse/clear of the module call these.
int module_state_init(PyObject* module, ModuleState* st);
int module_state_traverse(ModuleState* st, visitproc visit, void* arg);
void module_state_clear(ModuleState* st);

}  // namespace subcorn::py
