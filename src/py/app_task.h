// The asyncio Task that runs one ASGI app call (an HTTP request or a
// WebSocket), shared by HttpCycle and WsCycle.
//
// The app's coroutine is started as an eager Task: its first step runs inside
// the Task constructor, so an app that answers without awaiting anything
// pending never touches the asyncio scheduler, while asyncio.current_task(),
// contextvars and cancellation behave as under any other server.
#pragma once

#include <Python.h>

#include "py/app_context.h"
#include "py/ref.h"

namespace subcorn::py {

struct AppTaskStart {
  Ref task;             // the Task while it runs (`on_done` watches it); else null
  bool ended = false;   // it ended before the constructor returned, or never started
  bool failed = false;  // when ended: it raised (logged) or was cancelled
};

// Calls app(scope, receive, send) and starts the coroutine as an eager Task.
// Any of the three may be null when building it failed with a Python error
// set: that counts as the app failing. While the task still runs, `on_done`
// (a METH_O function bound to `self`, given the task) is its done callback;
// when it ended at once, `failed` is app_task_failed(ctx, task, quiet).
// Never leaves a Python error set.
AppTaskStart start_app_task(AppContext& ctx, PyObject* scope, PyObject* receive,
                            PyObject* send, PyMethodDef* on_done, PyObject* self,
                            PyObject* quiet = nullptr);

// After the task ended: whether it failed. An exception is logged as
// "Exception in ASGI application", except an instance of `quiet` (may be
// null), which the server raised itself and which ends the app normally.
// Never leaves a Python error set.
bool app_task_failed(AppContext& ctx, PyObject* task, PyObject* quiet = nullptr);

}  // namespace subcorn::py
