// What a shard's interpreter needs to run requests: the app and the asyncio
// loop it runs on, plus objects prepared once instead of per request.
#pragma once

#include "py/module_state.h"
#include "py/ref.h"

namespace subcorn::py {

struct AppContext {
  ModuleState* st = nullptr;
  Ref app;            // the ASGI callable
  Ref loop;           // the shard's asyncio event loop
  Ref task_type;      // asyncio.Task (started eagerly, see http_cycle.cpp)
  Ref create_future;  // loop.create_future, bound once
  Ref state;          // lifespan state; each request gets a shallow copy
  Ref root_path;      // str
  // callable(message, exc, worker, method, path, client); the last three
  // None when the error belongs to no request.
  Ref log_exception;
  int worker = -1;    // the shard's number in log lines
  bool wsgi = false;  // the app is a WSGI callable
  Ref file_wrapper;   // subcorn._wsgi.FileWrapper, for wsgi.file_wrapper
  Ref get_running_loop;  // asyncio._get_running_loop and _set_running_loop:
  Ref set_running_loop;  // the loop is hidden around a WSGI call (wsgi.cpp)
};

// Logs `exc` (which is the current exception when null) with the shard's
// logger, naming the worker and `ex`'s request (when given); never raises.
class Exchange;
void log_app_exception(AppContext& ctx, const char* message, PyObject* exc = nullptr,
                       const Exchange* ex = nullptr);

}  // namespace subcorn::py
