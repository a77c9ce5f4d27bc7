// Native WSGI (PEP 3333): the environ is built in C++, start_response and
// write() are C functions, and the response iterable is written as it is
// produced, through the same Exchange the ASGI adapter uses.
//
// The app runs on the calling thread, synchronously. On the shard thread the
// body has arrived whole before the call (wsgi.input never waits there); on a
// worker thread (--threads) wsgi.input streams it as the app reads.
#pragma once

#include <Python.h>

#include <memory>
#include <string_view>

#include "http/request_parser.h"
#include "py/app_context.h"
#include "py/asgi_scope.h"
#include "py/exchange.h"

namespace subcorn::py {

int register_wsgi_types(PyObject* module, ModuleState* st);

// What a shard prepares once for WSGI: the environ keys that never change.
Ref make_wsgi_environ_template(AppContext& ctx, bool multithread);

// One request's app call whose response iterable is paused (see run_wsgi).
// Destroy it only on its interpreter's thread, with the GIL held.
class WsgiCall;
struct WsgiCallDeleter {
  void operator()(WsgiCall* call) const;
};
using WsgiCallPtr = std::unique_ptr<WsgiCall, WsgiCallDeleter>;

// Runs the app for one request and writes its response. Returns nullptr once
// the call is over (ex->app_finished() has been called), or the paused call
// when send_body() said Blocked (the client reads slowly; only on the shard
// thread, a worker thread waits inside send_body): resume_wsgi() goes on
// once the output drained, or, after the client left, ends it (the
// iterable's close() is called either way). Never leaves a Python error set.
WsgiCallPtr run_wsgi(AppContext& ctx, PyObject* environ_template, Exchange* ex,
                     const http::RequestHead& head, long long content_length,
                     const ConnectionInfo& conn);
WsgiCallPtr resume_wsgi(WsgiCallPtr call);

}  // namespace subcorn::py
