#include "py/http_cycle.h"

#include <climits>
#include <cstring>

namespace subcorn::py {
namespace {

// ---- Ready: an awaitable that is already done ------------------------------

struct ReadyObject {
  PyObject_HEAD
  PyObject* value;  // the await result; never null
};

PyObject* ready_new(ModuleState* st, PyObject* value) {
  auto* r = PyObject_New(ReadyObject, st->ready_type);
  if (!r) return nullptr;
  r->value = Py_NewRef(value);
  return reinterpret_cast<PyObject*>(r);
}

void ready_dealloc(PyObject* self) {
  PyTypeObject* tp = Py_TYPE(self);
  Py_XDECREF(reinterpret_cast<ReadyObject*>(self)->value);
  PyObject_Free(self);
  Py_DECREF(tp);
}

PyObject* ready_await(PyObject* self) { return Py_NewRef(self); }

// `await ready` goes through SEND -> PyIter_Send -> am_send: the result comes
// back without raising StopIteration.
PySendResult ready_send(PyObject* self, PyObject*, PyObject** result) {
  *result = Py_NewRef(reinterpret_cast<ReadyObject*>(self)->value);
  return PYGEN_RETURN;
}

// For code that drives it as a plain iterator (`yield from x.__await__()`).
PyObject* ready_next(PyObject* self) {
  PyObject* value = reinterpret_cast<ReadyObject*>(self)->value;
  PyObject* stop = PyObject_CallOneArg(PyExc_StopIteration, value);
  if (stop) {
    PyErr_SetObject(PyExc_StopIteration, stop);
    Py_DECREF(stop);
  }
  return nullptr;
}

PyType_Slot ready_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(ready_dealloc)},
    {Py_am_await, reinterpret_cast<void*>(ready_await)},
    {Py_am_send, reinterpret_cast<void*>(ready_send)},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(ready_next)},
    {0, nullptr},
};

PyType_Spec ready_spec = {"subcorn._native.Ready", sizeof(ReadyObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE |
                              Py_TPFLAGS_DISALLOW_INSTANTIATION,
                          ready_slots};

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

// Resolves a future unless the app already cancelled it (wait_for timeouts).
void resolve(ModuleState* st, PyObject** waiter, PyObject* value) {
  PyObject* fut = *waiter;
  if (!fut) return;
  *waiter = nullptr;
  PyObject* done = PyObject_CallMethodNoArgs(fut, st->s_done);
  if (done == Py_False) {
    PyObject* r = PyObject_CallMethodOneArg(fut, st->s_set_result, value);
    if (!r) PyErr_WriteUnraisable(fut);
    Py_XDECREF(r);
  } else if (!done) {
    PyErr_WriteUnraisable(fut);
  }
  Py_XDECREF(done);
  Py_DECREF(fut);
}

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

// Reads a bytes-like object into a view; `holder` keeps it alive.
bool bytes_view(PyObject* obj, Py_buffer* view, const char* what) {
  if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) == 0) return true;
  PyErr_Format(PyExc_TypeError, "%s must be bytes, not %.100s", what, Py_TYPE(obj)->tp_name);
  return false;
}

PyObject* send_response_start(CycleObject* c, PyObject* message) {
  ModuleState* st = c->st;
  if (c->ex->response_started()) {
    PyErr_SetString(PyExc_RuntimeError,
                    "Unexpected ASGI message 'http.response.start' sent, after response "
                    "already started.");
    return nullptr;
  }
  PyObject* status_obj = PyDict_GetItemWithError(message, st->s_status);
  if (!status_obj) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "'status'");
    return nullptr;
  }
  long status = PyLong_AsLong(status_obj);
  if (status == -1 && PyErr_Occurred()) return nullptr;
  // The response writer says which statuses are valid; one outside int's
  // range is simply invalid.
  if (status < INT_MIN || status > INT_MAX) status = -1;
  if (const char* err = c->ex->start_response(static_cast<int>(status))) {
    PyErr_SetString(PyExc_RuntimeError, err);
    return nullptr;
  }
  PyObject* headers = PyDict_GetItemWithError(message, st->s_headers);
  if (!headers && PyErr_Occurred()) return nullptr;
  if (headers && headers != Py_None) {
    Ref it = Ref::steal(PyObject_GetIter(headers));
    if (!it) return nullptr;
    while (Ref item = Ref::steal(PyIter_Next(it.get()))) {
      Ref pair = Ref::steal(PySequence_Fast(item.get(), "each header must be a (name, value) pair"));
      if (!pair) return nullptr;
      if (PySequence_Fast_GET_SIZE(pair.get()) != 2) {
        PyErr_SetString(PyExc_RuntimeError, "each header must be a (name, value) pair");
        return nullptr;
      }
      Py_buffer name, value;
      if (!bytes_view(PySequence_Fast_GET_ITEM(pair.get(), 0), &name, "header name"))
        return nullptr;
      if (!bytes_view(PySequence_Fast_GET_ITEM(pair.get(), 1), &value, "header value")) {
        PyBuffer_Release(&name);
        return nullptr;
      }
      const char* err = c->ex->add_header(
          {static_cast<const char*>(name.buf), static_cast<size_t>(name.len)},
          {static_cast<const char*>(value.buf), static_cast<size_t>(value.len)});
      PyBuffer_Release(&name);
      PyBuffer_Release(&value);
      if (err) {
        PyErr_SetString(PyExc_RuntimeError, err);
        return nullptr;
      }
    }
    if (PyErr_Occurred()) return nullptr;
  }
  return ready_new(st, Py_None);
}

PyObject* send_response_body(CycleObject* c, PyObject* message) {
  ModuleState* st = c->st;
  if (!c->ex->response_started()) {
    PyErr_SetString(PyExc_RuntimeError,
                    "Expected ASGI message 'http.response.start', but got "
                    "'http.response.body'.");
    return nullptr;
  }
  if (c->ex->response_complete()) {
    PyErr_SetString(PyExc_RuntimeError,
                    "Unexpected ASGI message 'http.response.body' sent, after response "
                    "already completed.");
    return nullptr;
  }
  PyObject* body = PyDict_GetItemWithError(message, st->s_body);
  if (!body && PyErr_Occurred()) return nullptr;
  PyObject* more_obj = PyDict_GetItemWithError(message, st->s_more_body);
  if (!more_obj && PyErr_Occurred()) return nullptr;
  int more = more_obj ? PyObject_IsTrue(more_obj) : 0;
  if (more < 0) return nullptr;

  Py_buffer view{};
  std::string_view data;
  bool have_view = false;
  if (body && body != Py_None) {
    if (!bytes_view(body, &view, "body")) return nullptr;
    have_view = true;
    data = {static_cast<const char*>(view.buf), static_cast<size_t>(view.len)};
  }
  const char* err = nullptr;
  Exchange::Sent sent = c->ex->send_body(data, more != 0, &err);
  if (have_view) PyBuffer_Release(&view);
  if (err) {
    PyErr_SetString(PyExc_RuntimeError, err);
    return nullptr;
  }
  if (sent == Exchange::Sent::Blocked && c->ex) {
    PyObject* fut = PyObject_CallNoArgs(c->ctx->create_future.get());
    if (!fut) return nullptr;
    Py_XSETREF(c->send_waiter, Py_NewRef(fut));
    return fut;
  }
  return ready_new(st, Py_None);
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
    if (PyUnicode_Compare(type, st->s_http_response_start) == 0) return send_response_start(c, message);
    if (PyUnicode_Compare(type, st->s_http_response_trailers) == 0) return ready_new(st, Py_None);
  }
  PyErr_Format(PyExc_RuntimeError, "Unexpected ASGI message '%S' sent.", type);
  return nullptr;
}

// Reports the end of the app's task to the exchange, once.
void finish(CycleObject* c, PyObject* task) {
  if (c->finished) return;
  c->finished = true;
  bool failed = false;
  PyObject* cancelled = PyObject_CallMethodNoArgs(task, c->st->s_cancelled);
  if (cancelled == Py_True) {
    failed = true;
  } else if (cancelled) {
    PyObject* exc = PyObject_CallMethodNoArgs(task, c->st->s_exception);
    if (!exc) {
      PyErr_WriteUnraisable(task);
      failed = true;
    } else if (exc != Py_None) {
      failed = true;
      log_app_exception(*c->ctx, "Exception in ASGI application", exc);
    }
    Py_XDECREF(exc);
  } else {
    PyErr_WriteUnraisable(task);
    failed = true;
  }
  Py_XDECREF(cancelled);
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
  st->ready_type = reinterpret_cast<PyTypeObject*>(
      PyType_FromModuleAndSpec(module, &ready_spec, nullptr));
  if (!st->ready_type) return -1;
  st->cycle_type = reinterpret_cast<PyTypeObject*>(
      PyType_FromModuleAndSpec(module, &cycle_spec, nullptr));
  if (!st->cycle_type) return -1;
  return 0;
}

void log_app_exception(AppContext& ctx, const char* message, PyObject* exc) {
  Ref owned;
  if (!exc) {
    owned = Ref::steal(PyErr_GetRaisedException());
    exc = owned.get();
  }
  if (!exc) return;
  PyObject* r = PyObject_CallFunction(ctx.log_exception.get(), "sO", message, exc);
  if (!r) PyErr_WriteUnraisable(ctx.log_exception.get());
  Py_XDECREF(r);
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
  Ref coro;
  if (scope && receive && send) {
    PyObject* args[] = {scope.get(), receive.get(), send.get()};
    coro = Ref::steal(PyObject_Vectorcall(ctx.app.get(), args, 3, nullptr));
  }
  Ref task;
  if (coro) {
    // Task(coro, loop=loop, eager_start=True): the first step runs now.
    PyObject* args[] = {coro.get(), ctx.loop.get(), Py_True};
    task = Ref::steal(PyObject_Vectorcall(ctx.task_type.get(), args, 1, st->task_kwnames));
  }
  if (!task) {
    c->finished = true;
    log_app_exception(ctx, "Exception in ASGI application");
    ex->app_finished(true);
    return cycle;
  }
  PyObject* done = PyObject_CallMethodNoArgs(task.get(), st->s_done);
  if (done == Py_True) {
    Py_DECREF(done);
    finish(c, task.get());
    return cycle;
  }
  Py_XDECREF(done);
  c->task = task.dup().release();
  Ref callback = Ref::steal(PyCFunction_New(&done_def, cycle.get()));
  PyObject* r = callback ? PyObject_CallMethodOneArg(task.get(), st->s_add_done_callback,
                                                     callback.get())
                         : nullptr;
  if (!r) {
    log_app_exception(ctx, "Could not watch the ASGI task");
  }
  Py_XDECREF(r);
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
  resolve(c->st, &c->recv_waiter, msg);
  Py_DECREF(msg);
}

void cycle_wake_send(PyObject* cycle) {
  CycleObject* c = as_cycle(cycle);
  resolve(c->st, &c->send_waiter, Py_None);
}

void cycle_detach(PyObject* cycle) {
  CycleObject* c = as_cycle(cycle);
  c->ex = nullptr;
  if (c->recv_waiter) {
    PyObject* msg = disconnect_message(c->st);
    if (msg) {
      resolve(c->st, &c->recv_waiter, msg);
      Py_DECREF(msg);
    } else {
      PyErr_WriteUnraisable(cycle);
    }
  }
  resolve(c->st, &c->send_waiter, Py_None);
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
