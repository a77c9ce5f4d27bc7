// The asyncio Task that runs one ASGI app call (an HTTP request or a
// WebSocket), and the part of the cycle objects (HttpCycle, WsCycle) that
// owns it and reports its end to the exchange.
//
// The app's coroutine is started as an eager Task: its first step runs inside
// the Task constructor, so an app that answers without awaiting anything
// pending never touches the asyncio scheduler, while asyncio.current_task(),
// contextvars and cancellation behave as under any other server.
#pragma once

#include <Python.h>

#include "py/app_context.h"
#include "py/exchange.h"
#include "py/ref.h"

namespace subcorn::py {

// The head of every cycle object: a cycle type's struct starts with it
// (`struct XObject { AppCallObject base; ... }`), so the functions below take
// any cycle.
struct AppCallObject {
  PyObject_HEAD
  ModuleState* st;
  AppContext* ctx;        // the shard's; outlives every task callback
  Exchange* ex;           // null once detached
  PyObject* task;         // the app's task, until it finishes
  PyObject* recv_waiter;  // Future a receive() waits on, or null
  PyObject* quiet;        // borrowed: an exception type whose escape ends the app normally
  bool finished;          // the app's task ended and was reported
};

// A new cycle of `type` (a GC type whose struct starts with AppCallObject),
// tracked, with everything after the head zeroed. Null when it could not be
// made: then the error is logged with `what` and ex->app_finished(true) was
// called. Never leaves a Python error set.
Ref app_call_new(AppContext& ctx, PyTypeObject* type, Exchange* ex, PyObject* quiet,
                 const char* what);

// Calls app(scope, receive, send), with receive/send the given functions bound
// to the cycle, and starts the coroutine as an eager Task. `scope` may be null
// when building it failed with a Python error set: that counts as the app
// failing. Reports the end (ex->app_finished, once, while attached) at once
// or when the task ends. Never leaves a Python error set.
void app_call_start(PyObject* cycle, PyObject* scope, PyMethodDef* receive_def,
                    PyMethodDef* send_def);

// How a cycle type finds its next receive() message: a new reference; or
// null with no error set when receive() must wait; or null with an error.
// Only a message returned is taken from the exchange.
using NextReceiveMessage = PyObject* (*)(PyObject* cycle, bool* must_wait);

// receive(): a Ready with the next message, or a Future that
// app_call_wake_receive completes. A receive() the app cancelled (e.g.
// asyncio.wait_for) took nothing and is forgotten; one still pending makes
// this one an error. Null with an error set on failure.
PyObject* app_call_receive(PyObject* cycle, NextReceiveMessage next);
// Something for receive() arrived: a waiting receive() gets the next message
// (or the error making it raised). One the app cancelled takes nothing: the
// message stays for the next receive().
void app_call_wake_receive(PyObject* cycle, NextReceiveMessage next);

// The app's task has not ended yet.
bool app_call_running(PyObject* cycle);
// Cancels the app's task, if it still runs.
void app_call_cancel(PyObject* cycle);

// For the cycle types' tp_traverse, tp_clear and tp_dealloc (which untracks
// and calls the type's tp_clear).
int app_call_traverse(PyObject* cycle, visitproc visit, void* arg);
void app_call_clear(PyObject* cycle);
void app_call_dealloc(PyObject* cycle);

}  // namespace subcorn::py
