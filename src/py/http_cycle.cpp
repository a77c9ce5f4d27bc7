#include "py/http_cycle.h"

#include "py/app_task.h"
#include "py/asgi_file_send.h"
#include "py/asgi_response.h"
#include "py/awaitables.h"

namespace subcorn::py {
namespace {

// ---- HttpCycle ---------------------------------------------------------------

struct CycleObject {
  AppCallObject base;     // st, ctx, ex, task, recv_waiter
  PyObject* send_waiter;  // Future a send() waits on, or null
};

CycleObject* as_cycle(PyObject* o) { return reinterpret_cast<CycleObject*>(o); }

PyObject* disconnect_message(ModuleState* st) { return PyDict_Copy(st->v_disconnect); }

// The next receive() message if one is ready; nullptr with no error when the
// caller must wait; nullptr with an error on failure.
PyObject* next_receive_message(PyObject* cycle, bool* must_wait) {
  CycleObject* c = as_cycle(cycle);
  *must_wait = false;
  if (!c->base.ex) return disconnect_message(c->base.st);
  std::string_view data;
  bool more = false;
  switch (c->base.ex->peek_body(data, more)) {
    case Exchange::BodyState::Gone:
      return disconnect_message(c->base.st);
    case Exchange::BodyState::Wait:
      *must_wait = true;
      return nullptr;
    case Exchange::BodyState::Data:
      break;
  }
  ModuleState* st = c->base.st;
  PyObject* body = data.empty() ? Py_NewRef(st->v_empty_bytes)
                                : PyBytes_FromStringAndSize(data.data(), data.size());
  if (!body) return nullptr;
  c->base.ex->consume_body(data.size());
  PyObject* msg = PyDict_New();
  if (msg && (PyDict_SetItem(msg, st->s_type, st->s_http_request) < 0 ||
              PyDict_SetItem(msg, st->s_body, body) < 0 ||
              PyDict_SetItem(msg, st->s_more_body, more ? Py_True : Py_False) < 0))
    Py_CLEAR(msg);
  Py_DECREF(body);
  return msg;
}

PyObject* cycle_receive(PyObject* self, PyObject*) {
  CycleObject* c = as_cycle(self);
  PyObject* result = app_call_receive(self, next_receive_message);
  // It waits (the Future is the waiter): the moment for "100 Continue".
  if (result && result == c->base.recv_waiter) c->base.ex->body_wanted();
  return result;
}

constexpr ResponseMessageNames kHttpResponse = {"http.response.start", "http.response.body"};

// What send() returns once a body part went to the exchange: a completed
// awaitable, or a Future resolved when the client has read enough (Blocked).
PyObject* after_body_part(CycleObject* c, Exchange::Sent sent) {
  if (sent == Exchange::Sent::Blocked && c->base.ex) {
    PyObject* fut = PyObject_CallNoArgs(c->base.ctx->create_future.get());
    if (!fut) return nullptr;
    // Two sends at once (from two tasks) both waiting: the earlier one goes
    // on now rather than never (the output is bounded by the later one).
    resolve_waiter(c->base.st, &c->send_waiter, Py_None);
    c->send_waiter = Py_NewRef(fut);
    return fut;
  }
  return ready_new(c->base.st, Py_None);
}

// http.response.body, and the file extensions' messages (py/asgi_file_send.h).
template <typename Send>
PyObject* send_body_part(CycleObject* c, PyObject* message, Send send) {
  Exchange::Sent sent = Exchange::Sent::Done;
  if (!send(c->base.st, c->base.ex, message, &sent)) return nullptr;
  return after_body_part(c, sent);
}

PyObject* send_response_body(CycleObject* c, PyObject* message) {
  return send_body_part(c, message, [](ModuleState* st, Exchange* ex, PyObject* m, Exchange::Sent* sent) {
    return py::send_response_body(st, ex, m, kHttpResponse, sent);
  });
}

// The message's `key` as a bool (absent: false); -1 with an error set.
int message_flag(PyObject* message, PyObject* key) {
  PyObject* value = PyDict_GetItemWithError(message, key);
  if (!value) return PyErr_Occurred() ? -1 : 0;
  return PyObject_IsTrue(value);
}

PyObject* send_start(CycleObject* c, PyObject* message) {
  ModuleState* st = c->base.st;
  if (!py::send_response_start(st, c->base.ex, message, kHttpResponse)) return nullptr;
  int trailers = message_flag(message, st->s_trailers);
  if (trailers < 0) return nullptr;
  if (trailers) c->base.ex->expect_trailers();
  return ready_new(st, Py_None);
}

// http.response.trailers: its headers, gathered until more_trailers is false.
PyObject* send_trailers(CycleObject* c, PyObject* message) {
  ModuleState* st = c->base.st;
  Fields fields;
  PyObject* headers = PyDict_GetItemWithError(message, st->s_headers);
  if (!headers && PyErr_Occurred()) return nullptr;
  if (!for_each_header(headers, [&fields](std::string_view name, std::string_view value) {
        fields.emplace_back(name, value);
        return static_cast<const char*>(nullptr);
      }))
    return nullptr;
  int more = message_flag(message, st->s_more_trailers);
  if (more < 0) return nullptr;
  if (refused(c->base.ex->send_trailers(fields, more != 0))) return nullptr;
  return ready_new(st, Py_None);
}

// http.response.early_hint: each of `links` becomes a Link field of a 103.
PyObject* send_early_hint(CycleObject* c, PyObject* message) {
  ModuleState* st = c->base.st;
  PyObject* links = PyDict_GetItemWithError(message, st->s_links);
  if (!links) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "'links'");
    return nullptr;
  }
  Fields fields;
  Ref it = Ref::steal(PyObject_GetIter(links));
  if (!it) return nullptr;
  while (Ref link = Ref::steal(PyIter_Next(it.get()))) {
    BytesView value;
    if (!value.read(link.get(), "an early hint's link")) return nullptr;
    fields.emplace_back("link", std::string(value.view()));
  }
  if (PyErr_Occurred()) return nullptr;
  if (refused(c->base.ex->send_early_hints(fields))) return nullptr;
  return ready_new(st, Py_None);
}

PyObject* cycle_send(PyObject* self, PyObject* message) {
  CycleObject* c = as_cycle(self);
  ModuleState* st = c->base.st;
  PyObject* type = message_type(st, message);
  if (!type) return nullptr;
  // A client that left takes nothing more; the app is told through receive().
  if (!c->base.ex) return ready_new(st, Py_None);
  if (PyUnicode_Check(type)) {
    if (PyUnicode_Compare(type, st->s_http_response_body) == 0)
      return send_response_body(c, message);
    if (PyUnicode_Compare(type, st->s_http_response_start) == 0)
      return send_start(c, message);
    if (PyUnicode_Compare(type, st->s_http_response_trailers) == 0)
      return send_trailers(c, message);
    if (PyUnicode_Compare(type, st->s_http_response_early_hint) == 0)
      return send_early_hint(c, message);
    if (PyUnicode_Compare(type, st->s_http_response_pathsend) == 0)
      return send_body_part(c, message, send_pathsend);
    if (PyUnicode_Compare(type, st->s_http_response_zerocopysend) == 0)
      return send_body_part(c, message, send_zerocopysend);
  }
  PyErr_Format(PyExc_RuntimeError, "Unexpected ASGI message '%S' sent.", type);
  return nullptr;
}

PyMethodDef receive_def = {"receive", cycle_receive, METH_NOARGS, "ASGI receive()"};
PyMethodDef send_def = {"send", cycle_send, METH_O, "ASGI send(message)"};

PyMethodDef cycle_methods[] = {
    {"receive", cycle_receive, METH_NOARGS, "ASGI receive()"},
    {"send", cycle_send, METH_O, "ASGI send(message)"},
    {nullptr, nullptr, 0, nullptr},
};

int cycle_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(as_cycle(self)->send_waiter);
  return app_call_traverse(self, visit, arg);
}

int cycle_clear(PyObject* self) {
  Py_CLEAR(as_cycle(self)->send_waiter);
  app_call_clear(self);
  return 0;
}

PyType_Slot cycle_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(app_call_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(cycle_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(cycle_clear)},
    {Py_tp_methods, cycle_methods},
    {0, nullptr},
};

PyType_Spec cycle_spec = {"subcorn._native.HttpCycle", sizeof(CycleObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
                              Py_TPFLAGS_DISALLOW_INSTANTIATION,
                          cycle_slots};

}  // namespace

int register_cycle_types(PyObject* module, ModuleState* st) {
  st->cycle_type = reinterpret_cast<PyTypeObject*>(
      PyType_FromModuleAndSpec(module, &cycle_spec, nullptr));
  return st->cycle_type ? 0 : -1;
}

Ref start_http_cycle(AppContext& ctx, PyObject* scope_template, Exchange* ex,
                     const http::RequestHead& head, const ConnectionInfo& conn) {
  Ref cycle = app_call_new(ctx, ctx.st->cycle_type, ex, nullptr, "Could not start the request");
  if (!cycle) return {};
  Ref scope = build_http_scope(ctx, scope_template, head, conn);
  app_call_start(cycle.get(), scope.get(), &receive_def, &send_def);
  return cycle;
}

void cycle_wake_receive(PyObject* cycle) { app_call_wake_receive(cycle, next_receive_message); }

void cycle_wake_send(PyObject* cycle) {
  CycleObject* c = as_cycle(cycle);
  resolve_waiter(c->base.st, &c->send_waiter, Py_None);
}

void cycle_detach(PyObject* cycle) {
  CycleObject* c = as_cycle(cycle);
  c->base.ex = nullptr;
  if (c->base.recv_waiter) {
    PyObject* msg = disconnect_message(c->base.st);
    if (msg) {
      resolve_waiter(c->base.st, &c->base.recv_waiter, msg);
      Py_DECREF(msg);
    } else {
      PyErr_WriteUnraisable(cycle);
    }
  }
  resolve_waiter(c->base.st, &c->send_waiter, Py_None);
}

bool cycle_running(PyObject* cycle) { return app_call_running(cycle); }

void cycle_cancel(PyObject* cycle) { app_call_cancel(cycle); }

}  // namespace subcorn::py
