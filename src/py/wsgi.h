// Native WSGI (PEP 3333): the environ is built in C++, start_response and
// write() are C functions, and the response iterable is written as it is
// produced, through the same Exchange the ASGI adapter uses.
//
// The app runs on the calling thread, synchronously. On the shard thread the
// body has arrived whole before the call (wsgi.input never waits there); on a
// worker thread (--threads) wsgi.input streams it as the app reads.
#pragma once

#include <Python.h>

#include <string_view>

#include "http/request_parser.h"
#include "py/app_context.h"
#include "py/asgi_scope.h"
#include "py/exchange.h"

namespace subcorn::py {

int register_wsgi_types(PyObject* module, ModuleState* st);

// What a shard prepares once for WSGI: the environ keys that never change.
Ref make_wsgi_environ_template(AppContext& ctx, bool multithread);

// Runs the app for one request and reports to ex->app_finished(). Never
// leaves a Python error set.
void run_wsgi(AppContext& ctx, PyObject* environ_template, Exchange* ex,
              const http::RequestHead& head, long long content_length,
              const ConnectionInfo& conn);

}  // namespace subcorn::py
