// WsCycle: the receive()/send() pair of one ASGI `websocket` connection, and
// the task that runs the app for it (started eagerly, as HttpCycle's).
//
// receive() gives "websocket.connect" first, then "websocket.receive" for each
// message the exchange holds, then "websocket.disconnect" (again on every
// later call). send() maps the app's messages onto py::WsExchange, checks
// them against the handshake's phase, and raises ClientDisconnected (an
// OSError) once the connection is closed. Both return an already-completed
// awaitable when they need not wait, and an asyncio Future only when they
// must.
#pragma once

#include <Python.h>

#include "py/app_context.h"
#include "py/asgi_scope.h"
#include "py/ref.h"
#include "py/ws_exchange.h"

namespace subcorn::py {

int register_ws_cycle_type(PyObject* module, ModuleState* st);

// Starts the app for one WebSocket handshake; `scope_template` comes from
// make_ws_scope_template, `secure` makes the scheme "wss". Returns the cycle
// (keep it until the exchange ends, then ws_cycle_detach it), or null when
// even the cycle could not be made. May call ex->app_finished() before it
// returns, when the app completes (or fails) at once; app_finished() is
// called exactly once in all. Never leaves a Python error set.
Ref start_ws_cycle(AppContext& ctx, PyObject* scope_template, WsExchange* ex,
                   const http::RequestHead& head, const ConnectionInfo& conn, bool secure);

// A message or the close arrived (ws_next() no longer says Wait): a waiting
// receive() completes.
void ws_cycle_wake_receive(PyObject* cycle);
// The output drained: every send() waiting on Sent::Blocked completes.
void ws_cycle_wake_send(PyObject* cycle);
// The exchange is over and must not be called again once this returns. It is
// called here one last time: the messages it still holds are kept for
// receive(), then the close it reports (1006 when it has none). send() raises
// ClientDisconnected from now on, also in the sends still waiting.
void ws_cycle_detach(PyObject* cycle);
// Cancels the app's task (graceful shutdown ran out of time).
void ws_cycle_cancel(PyObject* cycle);
// The app's task has not ended yet.
bool ws_cycle_running(PyObject* cycle);

}  // namespace subcorn::py
