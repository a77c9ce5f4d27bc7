#include "py/module_state.h"

#include "py/awaitables.h"
#include "py/http_cycle.h"
#include "py/ws_cycle.h"
#include "py/wsgi.h"
#include "py/wsgi_input.h"

namespace subcorn::py {

int module_state_init(PyObject* module, ModuleState* st) {
#define SUBCORN_INTERN(field, text) \
  if (!(st->s_##field = PyUnicode_InternFromString(text))) return -1;
  SUBCORN_INTERNED_NAMES(SUBCORN_INTERN)
#undef SUBCORN_INTERN
  if (!(st->v_http11 = PyUnicode_InternFromString("1.1"))) return -1;
  if (!(st->v_http10 = PyUnicode_InternFromString("1.0"))) return -1;
  if (!(st->v_http2 = PyUnicode_InternFromString("2"))) return -1;
  if (!(st->v_empty_bytes = PyBytes_FromStringAndSize("", 0))) return -1;
  st->v_asgi = Py_BuildValue("{s:s,s:s}", "version", "3.0", "spec_version", "2.4");
  if (!st->v_asgi) return -1;
  st->v_disconnect = Py_BuildValue("{O:O}", st->s_type, st->s_http_disconnect);
  if (!st->v_disconnect) return -1;
  st->task_kwnames = PyTuple_Pack(2, st->s_loop, st->s_eager_start);
  if (!st->task_kwnames) return -1;

  st->startup_error = PyErr_NewExceptionWithDoc(
      "subcorn._native.StartupError",
      "The server could not start: the message says why, for the user.",
      PyExc_RuntimeError, nullptr);
  if (!st->startup_error || PyModule_AddObjectRef(module, "StartupError", st->startup_error) < 0)
    return -1;
  st->client_disconnected = PyErr_NewExceptionWithDoc(
      "subcorn._native.ClientDisconnected",
      "Raised by a WebSocket's send() once the connection is closed (ASGI 2.4).",
      PyExc_OSError, nullptr);
  if (!st->client_disconnected ||
      PyModule_AddObjectRef(module, "ClientDisconnected", st->client_disconnected) < 0)
    return -1;
  if (register_ready_type(module, st) < 0) return -1;
  if (register_cycle_types(module, st) < 0) return -1;
  if (register_ws_cycle_type(module, st) < 0) return -1;
  if (register_wsgi_types(module, st) < 0) return -1;
  return register_wsgi_input_type(module, st);
}

int module_state_traverse(ModuleState* st, visitproc visit, void* arg) {
  Py_VISIT(st->cycle_type);
  Py_VISIT(st->ws_cycle_type);
  Py_VISIT(st->ready_type);
  Py_VISIT(st->start_response_type);
  Py_VISIT(st->wsgi_input_type);
  Py_VISIT(st->startup_error);
  Py_VISIT(st->client_disconnected);
  Py_VISIT(st->v_asgi);
  Py_VISIT(st->v_disconnect);
  return 0;
}

void module_state_clear(ModuleState* st) {
  Py_CLEAR(st->cycle_type);
  Py_CLEAR(st->ws_cycle_type);
  Py_CLEAR(st->ready_type);
  Py_CLEAR(st->start_response_type);
  Py_CLEAR(st->wsgi_input_type);
  Py_CLEAR(st->startup_error);
  Py_CLEAR(st->client_disconnected);
#define SUBCORN_CLEAR(field, text) Py_CLEAR(st->s_##field);
  SUBCORN_INTERNED_NAMES(SUBCORN_CLEAR)
#undef SUBCORN_CLEAR
  Py_CLEAR(st->v_http11);
  Py_CLEAR(st->v_http10);
  Py_CLEAR(st->v_http2);
  Py_CLEAR(st->v_asgi);
  Py_CLEAR(st->v_empty_bytes);
  Py_CLEAR(st->v_disconnect);
  Py_CLEAR(st->task_kwnames);
}

}  // namespace subcorn::py
