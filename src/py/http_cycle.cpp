#include "py/http_cycle.h"

#include "py/app_task.h"
#include "py/asgi_response.h"
#include "py/awaitables.h"

namespace subcorn::py {
namespace {

// ---- HttpCycle ---------------------------------------------------------------

struct CycleObject {
  PyObject_HEAD
  ModuleState* st;
  AppContext* ctx;        // the shard's; outlives every task callback
  Exchange* ex;           // null once detached
  PyObject* task;         // the app's task, until it finishes
  PyObject* recv_waiter;  // Future a receive() waits on, or null
  PyObject* send_waiter;  // Future a send() waits on, or null
  bool finished;          // the app's task ended and was reported
};

CycleObject* as_cycle(PyObject* o) { return reinterpret_cast<CycleObject*>(o); }

PyObject* disconnect_message(ModuleState* st) { return PyDict_Copy(st->v_disconnect); }

// The next receive() message if one is ready; nullptr with no error when the
// caller must wait; nullptr with an error on failure.
PyObject* next_receive_message(CycleObject* c, bool* must_wait) {
  *must_wait = false;
  if (!c->ex) return disconnect_message(c->st);
  std::string_view data;
  bool more = false;
  switch (c->ex->peek_body(data, more)) {
    case Exchange::BodyState::Gone:
      return disconnect_message(c->st);
    case Exchange::BodyState::Wait:
      *must_wait = true;
      return nullptr;
    case Exchange::BodyState::Data:
      break;
  }
  ModuleState* st = c->st;
  PyObject* body = data.empty() ? Py_NewRef(st->v_empty_bytes)
                                : PyBytes_FromStringAndSize(data.data(), data.size());
  if (!body) return nullptr;
  c->ex->consume_body(data.size());
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
  if (c->recv_waiter) {
    PyErr_SetString(PyExc_RuntimeError,
                    "receive() called again before the previous receive() completed");
    return nullptr;
  }
  bool must_wait = false;
  PyObject* msg = next_receive_message(c, &must_wait);
  if (msg) {
    PyObject* ready = ready_new(c->st, msg);
    Py_DECREF(msg);
    return ready;
  }
  if (!must_wait) return nullptr;
  PyObject* fut = PyObject_CallNoArgs(c->ctx->create_future.get());
  if (!fut) return nullptr;
  c->recv_waiter = Py_NewRef(fut);
  c->ex->body_wanted();
  return fut;
}

constexpr ResponseMessageNames kHttpResponse = {"http.response.start", "http.response.body"};

PyObject* send_response_body(CycleObject* c, PyObject* message) {
  Exchange::Sent sent = Exchange::Sent::Done;
  if (!py::send_response_body(c->st, c->ex, message, kHttpResponse, &sent)) return nullptr;
  if (sent == Exchange::Sent::Blocked && c->ex) {
    PyObject* fut = PyObject_CallNoArgs(c->ctx->create_future.get());
    if (!fut) return nullptr;
    Py_XSETREF(c->send_waiter, Py_NewRef(fut));
    return fut;
  }
  return ready_new(c->st, Py_None);
}

PyObject* cycle_send(PyObject* self, PyObject* message) {
  CycleObject* c = as_cycle(self);
  ModuleState* st = c->st;
  if (!PyDict_Check(message)) {
    PyErr_Format(PyExc_TypeError, "ASGI message must be a dict, not %.100s",
                 Py_TYPE(message)->tp_name);
    return nullptr;
  }
  PyObject* type = PyDict_GetItemWithError(message, st->s_type);
  if (!type) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "'type'");
    return nullptr;
  }
  // A client that left takes nothing more; the app is told through receive().
  if (!c->ex) return ready_new(st, Py_None);
  if (PyUnicode_Check(type)) {
    if (PyUnicode_Compare(type, st->s_http_response_body) == 0) return send_response_body(c, message);
    if (PyUnicode_Compare(type, st->s_http_response_start) == 0)
      return py::send_response_start(st, c->ex, message, kHttpResponse) ? ready_new(st, Py_None)
                                                                        : nullptr;
    if (PyUnicode_Compare(type, st->s_http_response_trailers) == 0) return ready_new(st, Py_None);
  }
  PyErr_Format(PyExc_RuntimeError, "Unexpected ASGI message '%S' sent.", type);
  return nullptr;
}

// Reports the end of the app's task to the exchange, once.
void finish(CycleObject* c, PyObject* task) {
  if (c->finished) return;
  c->finished = true;
  bool failed = app_task_failed(*c->ctx, task);
  Py_CLEAR(c->task);
  if (c->ex) c->ex->app_finished(failed);
}

PyObject* cycle_done(PyObject* self, PyObject* task) {
  CycleObject* c = as_cycle(self);
  Py_INCREF(self);  // app_finished may drop the exchange's reference
  finish(c, task);
  Py_DECREF(self);
  Py_RETURN_NONE;
}

PyMethodDef receive_def = {"receive", cycle_receive, METH_NOARGS, "ASGI receive()"};
PyMethodDef send_def = {"send", cycle_send, METH_O, "ASGI send(message)"};
PyMethodDef done_def = {"_done", cycle_done, METH_O, "task done callback"};

PyMethodDef cycle_methods[] = {
    {"receive", cycle_receive, METH_NOARGS, "ASGI receive()"},
    {"send", cycle_send, METH_O, "ASGI send(message)"},
    {nullptr, nullptr, 0, nullptr},
};

int cycle_traverse(PyObject* self, visitproc visit, void* arg) {
  CycleObject* c = as_cycle(self);
  Py_VISIT(Py_TYPE(self));
  Py_VISIT(c->task);
  Py_VISIT(c->recv_waiter);
  Py_VISIT(c->send_waiter);
  return 0;
}

int cycle_clear(PyObject* self) {
  CycleObject* c = as_cycle(self);
  Py_CLEAR(c->task);
  Py_CLEAR(c->recv_waiter);
  Py_CLEAR(c->send_waiter);
  return 0;
}

void cycle_dealloc(PyObject* self) {
  PyTypeObject* tp = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  cycle_clear(self);
  tp->tp_free(self);
  Py_DECREF(tp);
}

PyType_Slot cycle_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(cycle_dealloc)},
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
  ModuleState* st = ctx.st;
  auto* c = PyObject_GC_New(CycleObject, st->cycle_type);
  if (!c) {
    log_app_exception(ctx, "Could not start the request");
    ex->app_finished(true);
    return {};
  }
  c->st = st;
  c->ctx = &ctx;
  c->ex = ex;
  c->task = nullptr;
  c->recv_waiter = nullptr;
  c->send_waiter = nullptr;
  c->finished = false;
  PyObject_GC_Track(c);
  Ref cycle = Ref::steal(reinterpret_cast<PyObject*>(c));

  Ref scope = build_http_scope(ctx, scope_template, head, conn);
  Ref receive = Ref::steal(PyCFunction_New(&receive_def, cycle.get()));
  Ref send = Ref::steal(PyCFunction_New(&send_def, cycle.get()));
  AppTaskStart started =
      start_app_task(ctx, scope.get(), receive.get(), send.get(), &done_def, cycle.get());
  if (started.ended) {
    c->finished = true;
    ex->app_finished(started.failed);
  } else {
    c->task = started.task.release();
  }
  return cycle;
}

void cycle_wake_receive(PyObject* cycle) {
  CycleObject* c = as_cycle(cycle);
  if (!c->recv_waiter) return;
  bool must_wait = false;
  PyObject* msg = next_receive_message(c, &must_wait);
  if (must_wait) return;
  if (!msg) {
    PyErr_WriteUnraisable(cycle);
    return;
  }
  resolve_waiter(c->st, &c->recv_waiter, msg);
  Py_DECREF(msg);
}

void cycle_wake_send(PyObject* cycle) {
  CycleObject* c = as_cycle(cycle);
  resolve_waiter(c->st, &c->send_waiter, Py_None);
}

void cycle_detach(PyObject* cycle) {
  CycleObject* c = as_cycle(cycle);
  c->ex = nullptr;
  if (c->recv_waiter) {
    PyObject* msg = disconnect_message(c->st);
    if (msg) {
      resolve_waiter(c->st, &c->recv_waiter, msg);
      Py_DECREF(msg);
    } else {
      PyErr_WriteUnraisable(cycle);
    }
  }
  resolve_waiter(c->st, &c->send_waiter, Py_None);
}

bool cycle_running(PyObject* cycle) { return as_cycle(cycle)->task != nullptr; }

void cycle_cancel(PyObject* cycle) {
  CycleObject* c = as_cycle(cycle);
  if (!c->task) return;
  PyObject* r = PyObject_CallMethodNoArgs(c->task, c->st->s_cancel);
  if (!r) PyErr_WriteUnraisable(cycle);
  Py_XDECREF(r);
}

}  // namespace subcorn::py
