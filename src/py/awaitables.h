// What an ASGI receive()/send() returns: a Ready awaitable when the answer is
// already there, or an asyncio Future (the loop's create_future) that the
// cycle resolves later through resolve_waiter/reject_waiter.
#pragma once

#include <Python.h>

#include "py/module_state.h"

namespace subcorn::py {

int register_ready_type(PyObject* module, ModuleState* st);

// A new awaitable whose `await` gives `value` at once (through am_send, so no
// StopIteration is raised). Null with an error set on failure.
PyObject* ready_new(ModuleState* st, PyObject* value);

// A waiter the app gave up on (cancelled, e.g. by asyncio.wait_for) is done
// already: it must not take a message. Never leaves an error set (a failing
// done() counts as given up).
bool waiter_abandoned(ModuleState* st, PyObject* waiter);

// Takes *waiter (sets it to null) and sets its result to `value`, unless the
// app already cancelled it. No-op when *waiter is null. Never leaves an error
// set.
void resolve_waiter(ModuleState* st, PyObject** waiter, PyObject* value);

// The same, with the current Python exception (which it clears) instead of a
// result.
void reject_waiter(ModuleState* st, PyObject** waiter);

}  // namespace subcorn::py
