// The app's HTTP response messages, through an Exchange: `http.response.start`
// and `http.response.body`, and the same pair under the names of the ASGI
// "websocket.http.response" extension (a WebSocket handshake denied with a
// response of the app's own). One place reads status, headers, body and
// more_body, and turns the exchange's refusals into RuntimeError. Also what
// every send() does first: find the message's type.
#pragma once

#include <Python.h>

#include <string_view>

#include "py/bytes_view.h"
#include "py/exchange.h"
#include "py/module_state.h"
#include "py/ref.h"

namespace subcorn::py {

// message["type"] of a send() message (borrowed), or null with an error set
// (TypeError when the message is not a dict, KeyError without a type).
PyObject* message_type(ModuleState* st, PyObject* message);

// An exchange call's answer: nullptr, or a message for the app, which this
// raises as RuntimeError. Says whether it did.
inline bool refused(const char* err) {
  if (err) PyErr_SetString(PyExc_RuntimeError, err);
  return err != nullptr;
}

// The message type names the errors quote.
struct ResponseMessageNames {
  const char* start;  // "http.response.start"
  const char* body;   // "http.response.body"
};

// The start message: the status, then each header. False with an error set
// when the message is wrong or the exchange refused it.
bool send_response_start(ModuleState* st, Exchange* ex, PyObject* message,
                         const ResponseMessageNames& names);

// What every body message (http.response.body, pathsend, zerocopysend)
// checks first: the response has started and is not complete. False with
// RuntimeError set, naming `type`, when it is not so.
bool body_message_allowed(Exchange* ex, const char* start_type, const char* type);

// A body message. False with an error set on failure; else *sent says whether
// the bytes went out, wait for the client (Blocked) or found it gone.
bool send_response_body(ModuleState* st, Exchange* ex, PyObject* message,
                        const ResponseMessageNames& names, Exchange::Sent* sent);

// Calls add(name, value) -> const char* (an error message, or nullptr) for
// each [name, value] pair of an iterable of bytes pairs (None: no headers).
// False with an error set (TypeError for a malformed header, RuntimeError with
// add's message) on failure.
template <typename Add>
bool for_each_header(PyObject* headers, Add&& add);

// ---- implementation of the template ------------------------------------------

// One header pair as two byte views.
class HeaderItem {
 public:
  // False with an error set when `item` is not a pair of bytes-like objects.
  bool read(PyObject* item);
  std::string_view name() const { return name_.view(); }
  std::string_view value() const { return value_.view(); }

 private:
  BytesView name_;
  BytesView value_;
};

template <typename Add>
bool for_each_header(PyObject* headers, Add&& add) {
  if (!headers || headers == Py_None) return true;
  Ref it = Ref::steal(PyObject_GetIter(headers));
  if (!it) return false;
  while (Ref item = Ref::steal(PyIter_Next(it.get()))) {
    HeaderItem header;
    if (!header.read(item.get())) return false;
    if (refused(add(header.name(), header.value()))) return false;
  }
  return !PyErr_Occurred();
}

}  // namespace subcorn::py
