// wsgi.input: the request body as a file-like object (read, readline,
// readlines, iteration), pulled from the Exchange as the app reads. On a
// worker thread (--threads > 1) a read waits, without the GIL, for bytes still
// on their way; on the shard thread the body is complete before the app runs.
#pragma once

#include <Python.h>

#include "py/exchange.h"
#include "py/module_state.h"

namespace subcorn::py {

int register_wsgi_input_type(PyObject* module, ModuleState* st);

// A new wsgi.input reading from `ex`, or null with an error set.
PyObject* wsgi_input_new(ModuleState* st, Exchange* ex);

// The request is over: reads return what is buffered, then b"".
void wsgi_input_detach(PyObject* input);

}  // namespace subcorn::py
