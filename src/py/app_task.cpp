#include "py/app_task.h"

#include "py/awaitables.h"

#include <cstring>

namespace subcorn::py {

void log_app_exception(AppContext& ctx, const char* message, PyObject* exc, const Exchange* ex) {
  Ref owned;
  if (!exc) {
    owned = Ref::steal(PyErr_GetRaisedException());
    exc = owned.get();
  }
  if (!exc) return;
  Exchange::RequestLabel label = ex ? ex->request_label() : Exchange::RequestLabel{};
  PyObject* r;
  if (label.method.empty()) {
    r = PyObject_CallFunction(ctx.log_exception.get(), "sOiOOO", message, exc, ctx.worker,
                              Py_None, Py_None, Py_None);
  } else {
    // "replace": a path's bytes need not be UTF-8; the log line must not fail.
    r = PyObject_CallFunction(ctx.log_exception.get(), "sOiNNN", message, exc, ctx.worker,
                              PyUnicode_DecodeUTF8(label.method.data(),
                                                   static_cast<Py_ssize_t>(label.method.size()),
                                                   "replace"),
                              PyUnicode_DecodeUTF8(label.path.data(),
                                                   static_cast<Py_ssize_t>(label.path.size()),
                                                   "replace"),
                              PyUnicode_DecodeUTF8(label.client.data(),
                                                   static_cast<Py_ssize_t>(label.client.size()),
                                                   "replace"));
  }
  if (!r) PyErr_WriteUnraisable(ctx.log_exception.get());
  Py_XDECREF(r);
}

namespace {

AppCallObject* as_call(PyObject* o) { return reinterpret_cast<AppCallObject*>(o); }

// After the task ended: whether it failed. An exception is logged, except an
// instance of `quiet` (the server's own, e.g. ClientDisconnected). Never
// leaves a Python error set.
bool task_failed(AppCallObject* c, PyObject* task) {
  ModuleState* st = c->st;
  Ref cancelled = Ref::steal(PyObject_CallMethodNoArgs(task, st->s_cancelled));
  if (!cancelled) {
    PyErr_WriteUnraisable(task);
    return true;
  }
  if (cancelled.get() == Py_True) return true;
  Ref exc = Ref::steal(PyObject_CallMethodNoArgs(task, st->s_exception));
  if (!exc) {
    PyErr_WriteUnraisable(task);
    return true;
  }
  if (exc.get() == Py_None) return false;
  if (c->quiet && PyObject_TypeCheck(exc.get(), reinterpret_cast<PyTypeObject*>(c->quiet)))
    return false;
  log_app_exception(*c->ctx, "Exception in ASGI application", exc.get(), c->ex);
  return true;
}

// Reports the end of the app's task to the exchange, once.
void report_end(AppCallObject* c, bool failed) {
  if (c->finished) return;
  c->finished = true;
  Py_CLEAR(c->task);
  if (c->ex) c->ex->app_finished(failed);
}

PyObject* task_done(PyObject* self, PyObject* task) {
  Ref keep = Ref::borrow(self);  // app_finished may drop the exchange's reference
  AppCallObject* c = as_call(self);
  if (!c->finished) report_end(c, task_failed(c, task));
  Py_RETURN_NONE;
}

PyMethodDef done_def = {"_done", task_done, METH_O, "task done callback"};

}  // namespace

Ref app_call_new(AppContext& ctx, PyTypeObject* type, Exchange* ex, PyObject* quiet,
                 const char* what) {
  auto* c = PyObject_GC_New(AppCallObject, type);
  if (!c) {
    log_app_exception(ctx, what);
    ex->app_finished(true);
    return {};
  }
  // The cycle type's own fields start as null/zero/false.
  std::memset(reinterpret_cast<char*>(c) + sizeof(PyObject), 0,
              static_cast<size_t>(type->tp_basicsize) - sizeof(PyObject));
  c->st = ctx.st;
  c->ctx = &ctx;
  c->ex = ex;
  c->quiet = quiet;
  PyObject_GC_Track(c);
  return Ref::steal(reinterpret_cast<PyObject*>(c));
}

void app_call_start(PyObject* cycle, PyObject* scope, PyMethodDef* receive_def,
                    PyMethodDef* send_def) {
  AppCallObject* c = as_call(cycle);
  AppContext& ctx = *c->ctx;
  ModuleState* st = c->st;
  Ref receive = Ref::steal(scope ? PyCFunction_New(receive_def, cycle) : nullptr);
  Ref send = Ref::steal(receive ? PyCFunction_New(send_def, cycle) : nullptr);
  Ref coro;
  if (send) {
    PyObject* args[] = {scope, receive.get(), send.get()};
    coro = Ref::steal(PyObject_Vectorcall(ctx.app.get(), args, 3, nullptr));
  }
  Ref task;
  if (coro) {
    // Task(coro, loop=loop, eager_start=True): the first step runs now.
    PyObject* args[] = {coro.get(), ctx.loop.get(), Py_True};
    task = Ref::steal(PyObject_Vectorcall(ctx.task_type.get(), args, 1, st->task_kwnames));
  }
  if (!task) {
    log_app_exception(ctx, "Exception in ASGI application", nullptr, c->ex);
    report_end(c, true);
    return;
  }
  Ref done = Ref::steal(PyObject_CallMethodNoArgs(task.get(), st->s_done));
  if (done.get() == Py_True) {
    report_end(c, task_failed(c, task.get()));
    return;
  }
  if (!done) PyErr_WriteUnraisable(task.get());
  c->task = Py_NewRef(task.get());
  Ref callback = Ref::steal(PyCFunction_New(&done_def, cycle));
  Ref r = Ref::steal(callback ? PyObject_CallMethodOneArg(task.get(), st->s_add_done_callback,
                                                          callback.get())
                              : nullptr);
  if (!r) log_app_exception(ctx, "Could not watch the ASGI task");
}

bool app_call_running(PyObject* cycle) { return as_call(cycle)->task != nullptr; }

void app_call_cancel(PyObject* cycle) {
  AppCallObject* c = as_call(cycle);
  if (!c->task) return;
  Ref r = Ref::steal(PyObject_CallMethodNoArgs(c->task, c->st->s_cancel));
  if (!r) PyErr_WriteUnraisable(cycle);
}

int app_call_traverse(PyObject* cycle, visitproc visit, void* arg) {
  AppCallObject* c = as_call(cycle);
  Py_VISIT(Py_TYPE(cycle));
  Py_VISIT(c->task);
  Py_VISIT(c->recv_waiter);
  return 0;
}

void app_call_clear(PyObject* cycle) {
  AppCallObject* c = as_call(cycle);
  Py_CLEAR(c->task);
  Py_CLEAR(c->recv_waiter);
}

void app_call_dealloc(PyObject* cycle) {
  PyTypeObject* tp = Py_TYPE(cycle);
  PyObject_GC_UnTrack(cycle);
  tp->tp_clear(cycle);
  tp->tp_free(cycle);
  Py_DECREF(tp);
}

PyObject* app_call_receive(PyObject* cycle, NextReceiveMessage next) {
  AppCallObject* c = reinterpret_cast<AppCallObject*>(cycle);
  if (c->recv_waiter) {
    if (!waiter_abandoned(c->st, c->recv_waiter)) {
      PyErr_SetString(PyExc_RuntimeError,
                      "receive() called again before the previous receive() completed");
      return nullptr;
    }
    Py_CLEAR(c->recv_waiter);
  }
  bool must_wait = false;
  Ref msg = Ref::steal(next(cycle, &must_wait));
  if (msg) return ready_new(c->st, msg.get());
  if (!must_wait) return nullptr;
  PyObject* fut = PyObject_CallNoArgs(c->ctx->create_future.get());
  if (!fut) return nullptr;
  c->recv_waiter = Py_NewRef(fut);
  return fut;
}

void app_call_wake_receive(PyObject* cycle, NextReceiveMessage next) {
  AppCallObject* c = reinterpret_cast<AppCallObject*>(cycle);
  if (!c->recv_waiter) return;
  if (waiter_abandoned(c->st, c->recv_waiter)) {
    Py_CLEAR(c->recv_waiter);
    return;
  }
  bool must_wait = false;
  Ref msg = Ref::steal(next(cycle, &must_wait));
  if (msg)
    resolve_waiter(c->st, &c->recv_waiter, msg.get());
  else if (!must_wait)
    reject_waiter(c->st, &c->recv_waiter);
}

}  // namespace subcorn::py
