#include "py/app_task.h"

namespace subcorn::py {

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

bool app_task_failed(AppContext& ctx, PyObject* task, PyObject* quiet) {
  ModuleState* st = ctx.st;
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
  if (quiet && PyObject_TypeCheck(exc.get(), reinterpret_cast<PyTypeObject*>(quiet)))
    return false;
  log_app_exception(ctx, "Exception in ASGI application", exc.get());
  return true;
}

AppTaskStart start_app_task(AppContext& ctx, PyObject* scope, PyObject* receive,
                            PyObject* send, PyMethodDef* on_done, PyObject* self,
                            PyObject* quiet) {
  ModuleState* st = ctx.st;
  AppTaskStart result;
  Ref coro;
  if (scope && receive && send) {
    PyObject* args[] = {scope, receive, send};
    coro = Ref::steal(PyObject_Vectorcall(ctx.app.get(), args, 3, nullptr));
  }
  Ref task;
  if (coro) {
    // Task(coro, loop=loop, eager_start=True): the first step runs now.
    PyObject* args[] = {coro.get(), ctx.loop.get(), Py_True};
    task = Ref::steal(PyObject_Vectorcall(ctx.task_type.get(), args, 1, st->task_kwnames));
  }
  if (!task) {
    log_app_exception(ctx, "Exception in ASGI application");
    result.ended = result.failed = true;
    return result;
  }
  Ref done = Ref::steal(PyObject_CallMethodNoArgs(task.get(), st->s_done));
  if (done.get() == Py_True) {
    result.ended = true;
    result.failed = app_task_failed(ctx, task.get(), quiet);
    return result;
  }
  if (!done) PyErr_WriteUnraisable(task.get());
  Ref callback = Ref::steal(PyCFunction_New(on_done, self));
  Ref r = Ref::steal(callback ? PyObject_CallMethodOneArg(task.get(), st->s_add_done_callback,
                                                          callback.get())
                              : nullptr);
  if (!r) log_app_exception(ctx, "Could not watch the ASGI task");
  result.task = std::move(task);
  return result;
}

}  // namespace subcorn::py
