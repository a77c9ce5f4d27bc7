// The ASGI extensions that send a file's bytes without them passing through
// Python (https://asgi.readthedocs.io/en/latest/extensions.html), offered in
// every HTTP scope's "extensions":
// - http.response.pathsend {"path": absolute path}: the engine opens the
//   file and sends it whole; the response is complete (Starlette's
//   FileResponse sends this when the extension is offered).
// - http.response.zerocopysend {"file": an object with fileno() (or a
//   descriptor), "offset"?, "count"?, "more_body"?}: `count` bytes of it
//   from `offset`. Without "offset" the file's own position is used and
//   moved past the bytes sent, as os.sendfile() does with offset=None;
//   without "count", up to the end of the file. The descriptor is
//   duplicated, so the app may close its file object at once.
// The bytes go with sendfile() on plain HTTP/1.1, through OpenSSL over TLS,
// read into DATA frames over HTTP/2 (py::Exchange::send_file). Only regular
// files are taken.
#pragma once

#include <Python.h>

#include "py/exchange.h"
#include "py/module_state.h"

namespace subcorn::py {

// Each: false with an error set (RuntimeError for a message out of turn,
// TypeError/ValueError for a wrong field, OSError when the file cannot be
// opened); else *sent says what the exchange did with it.
bool send_pathsend(ModuleState* st, Exchange* ex, PyObject* message, Exchange::Sent* sent);
bool send_zerocopysend(ModuleState* st, Exchange* ex, PyObject* message, Exchange::Sent* sent);

}  // namespace subcorn::py
