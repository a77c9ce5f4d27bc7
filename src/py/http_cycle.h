// HttpCycle: the receive()/send() pair of one ASGI HTTP request, and the task
// that runs the app for it.
//
// The app's coroutine is started as an eager asyncio Task: its first step runs
// inside the Task constructor, so an app that answers without awaiting
// anything pending never touches the asyncio scheduler, while
// asyncio.current_task(), contextvars and cancellation behave as under any
// other server. receive() and send() return an already-completed awaitable
// when they need not wait, and an asyncio Future only when they must.
#pragma once

#include <Python.h>

#include "py/app_context.h"
#include "py/asgi_scope.h"
#include "py/exchange.h"
#include "py/ref.h"

namespace subcorn::py {

int register_cycle_types(PyObject* module, ModuleState* st);

// Starts the app for one request. Returns the cycle (keep it until the
// exchange ends, then cycle_detach it). May call ex->app_finished() before it
// returns, when the app completes at once. Never leaves a Python error set.
Ref start_http_cycle(AppContext& ctx, PyObject* scope_template, Exchange* ex,
                     const http::RequestHead& head, const ConnectionInfo& conn);

// Body bytes arrived, the body ended, or the response completed: a waiting
// receive() can complete.
void cycle_wake_receive(PyObject* cycle);
// The output buffer drained: a waiting send() can complete.
void cycle_wake_send(PyObject* cycle);
// The exchange is over (response done, or the client left). receive() now
// returns http.disconnect and send() does nothing; waiters are released.
void cycle_detach(PyObject* cycle);
// Cancels the app's task (graceful shutdown ran out of time).
void cycle_cancel(PyObject* cycle);
// The app's task has not ended yet.
bool cycle_running(PyObject* cycle);

}  // namespace subcorn::py
