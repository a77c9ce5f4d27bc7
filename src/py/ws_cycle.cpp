#include "py/ws_cycle.h"

#include <climits>
#include <string>
#include <utility>
#include <vector>

#include "py/app_task.h"
#include "py/asgi_response.h"
#include "py/awaitables.h"
#include "py/bytes_view.h"

namespace subcorn::py {
namespace {

// Close code for a connection that ended without a close frame (RFC 6455
// 7.1.5); what receive() reports when the exchange never said otherwise.
constexpr int kAbnormalClosure = 1006;
// websocket.close without a code.
constexpr int kNormalClosure = 1000;

// Where receive() is in the ASGI sequence connect, receive*, disconnect.
enum class Inbound {
  ConnectDue,  // websocket.connect not delivered yet
  Messages,    // messages come from the exchange
  Closed,      // the close is known: the backlog, then websocket.disconnect forever
};

struct WsCycleObject {
  AppCallObject base;      // st, ctx, ex (a WsExchange), task, recv_waiter
  PyObject* send_waiters;  // list of Futures of sends that got Sent::Blocked, or null
  PyObject* backlog;       // list, last first: messages taken out at detach; or null
  Inbound inbound;
  int close_code;          // once Closed
  PyObject* close_reason;  // once Closed: str, or null for ""
};

WsCycleObject* as_ws(PyObject* o) { return reinterpret_cast<WsCycleObject*>(o); }

// The exchange, null once detached.
WsExchange* exchange(WsCycleObject* c) { return static_cast<WsExchange*>(c->base.ex); }

constexpr ResponseMessageNames kDenialResponse = {"websocket.http.response.start",
                                                  "websocket.http.response.body"};

// ---- receive() ---------------------------------------------------------------

void record_close(WsCycleObject* c, int code, std::string_view reason) {
  c->inbound = Inbound::Closed;
  c->close_code = code;
  Py_CLEAR(c->close_reason);
  if (reason.empty()) return;
  c->close_reason = PyUnicode_DecodeUTF8(reason.data(), reason.size(), "replace");
  if (!c->close_reason) PyErr_WriteUnraisable(nullptr);  // the reason is dropped, not the close
}

PyObject* disconnect_message(WsCycleObject* c) {
  ModuleState* st = c->base.st;
  PyObject* reason =
      c->close_reason ? c->close_reason : Py_GetConstantBorrowed(Py_CONSTANT_EMPTY_STR);
  return Py_BuildValue("{O:O,O:i,O:O}", st->s_type, st->s_websocket_disconnect, st->s_code,
                       c->close_code, st->s_reason, reason);
}

// {"type": "websocket.receive", "text": str} or {..., "bytes": bytes}: only the
// key that applies, as uvicorn does (Starlette tests `"text" in message`).
// Text is valid UTF-8 (the codec fails the connection with 1007 otherwise);
// "replace" only keeps a codec slip from raising here.
PyObject* data_message(ModuleState* st, bool text, std::string_view data) {
  Ref payload = Ref::steal(text ? PyUnicode_DecodeUTF8(data.data(), data.size(), "replace")
                                : PyBytes_FromStringAndSize(data.data(), data.size()));
  if (!payload) return nullptr;
  // Built directly rather than with Py_BuildValue: this is once per message.
  Ref msg = Ref::steal(PyDict_New());
  if (!msg || PyDict_SetItem(msg.get(), st->s_type, st->s_websocket_receive) < 0 ||
      PyDict_SetItem(msg.get(), text ? st->s_text : st->s_bytes, payload.get()) < 0)
    return nullptr;
  return msg.release();
}

// The next receive() message if one is ready; nullptr with no error when the
// caller must wait; nullptr with an error on failure (nothing is consumed
// then: the message stays for the next call).
PyObject* next_message(PyObject* cycle, bool* must_wait) {
  WsCycleObject* c = as_ws(cycle);
  *must_wait = false;
  ModuleState* st = c->base.st;
  if (c->inbound == Inbound::ConnectDue) {
    PyObject* msg = Py_BuildValue("{O:O}", st->s_type, st->s_websocket_connect);
    if (msg) c->inbound = Inbound::Messages;
    return msg;
  }
  if (c->backlog && PyList_GET_SIZE(c->backlog) > 0) {
    Py_ssize_t last = PyList_GET_SIZE(c->backlog) - 1;
    PyObject* msg = Py_NewRef(PyList_GET_ITEM(c->backlog, last));
    if (PyList_SetSlice(c->backlog, last, last + 1, nullptr) < 0) Py_CLEAR(msg);
    return msg;
  }
  if (c->inbound == Inbound::Closed) return disconnect_message(c);
  if (!exchange(c)) {
    record_close(c, kAbnormalClosure, {});
    return disconnect_message(c);
  }
  bool text = false;
  std::string_view data, reason;
  int code = kAbnormalClosure;
  switch (exchange(c)->ws_next(&text, &data, &code, &reason)) {
    case WsExchange::Next::Wait:
      *must_wait = true;
      return nullptr;
    case WsExchange::Next::Closed:
      record_close(c, code, reason);
      return disconnect_message(c);
    case WsExchange::Next::Message:
      break;
  }
  PyObject* msg = data_message(st, text, data);
  if (msg) exchange(c)->ws_consume();
  return msg;
}

PyObject* ws_receive(PyObject* self, PyObject*) { return app_call_receive(self, next_message); }

// ---- send() ------------------------------------------------------------------

enum class Outbound { Accept, Send, Close, ResponseStart, ResponseBody };

// Which phases take each message. A denial response's own order (start, then
// body, nothing after the last body) is checked by send_response_*.
bool allowed_in(Outbound kind, WsExchange::Phase phase) {
  using Phase = WsExchange::Phase;
  switch (kind) {
    case Outbound::Accept:
      return phase == Phase::Connecting;
    case Outbound::Send:
      return phase == Phase::Open;
    case Outbound::Close:
      return phase == Phase::Connecting || phase == Phase::Open;
    case Outbound::ResponseStart:
    case Outbound::ResponseBody:
      return phase == Phase::Connecting || phase == Phase::Denied;
  }
  return false;
}

PyObject* raise_disconnected(WsCycleObject* c) {
  PyErr_SetString(c->base.st->client_disconnected, "the WebSocket connection is closed");
  return nullptr;
}

PyObject* raise_wrong_phase(PyObject* type, WsExchange::Phase phase) {
  switch (phase) {
    case WsExchange::Phase::Connecting:
      PyErr_Format(PyExc_RuntimeError,
                   "Expected ASGI message 'websocket.accept', 'websocket.close' or "
                   "'websocket.http.response.start', but got '%U'.",
                   type);
      break;
    case WsExchange::Phase::Open:
      PyErr_Format(PyExc_RuntimeError,
                   "Unexpected ASGI message '%U' sent, after the WebSocket was accepted.", type);
      break;
    case WsExchange::Phase::Denied:
    case WsExchange::Phase::Closed:
      PyErr_Format(PyExc_RuntimeError,
                   "Unexpected ASGI message '%U' sent, after an HTTP response "
                   "(websocket.http.response.start) began.",
                   type);
      break;
  }
  return nullptr;
}

// The send() waits until the output drains (ws_cycle_wake_send).
PyObject* wait_for_drain(WsCycleObject* c) {
  if (!c->send_waiters && !(c->send_waiters = PyList_New(0))) return nullptr;
  Ref fut = Ref::steal(PyObject_CallNoArgs(c->base.ctx->create_future.get()));
  if (!fut || PyList_Append(c->send_waiters, fut.get()) < 0) return nullptr;
  return fut.release();
}

// What a send() that reached the exchange returns.
PyObject* after_sent(WsCycleObject* c, Exchange::Sent sent) {
  switch (sent) {
    case Exchange::Sent::Done:
      return ready_new(c->base.st, Py_None);
    case Exchange::Sent::Blocked:
      // Queued, but the exchange may have detached the cycle inside the call:
      // then it will never drain.
      return exchange(c) ? wait_for_drain(c) : raise_disconnected(c);
    case Exchange::Sent::Gone:
      break;
  }
  return raise_disconnected(c);
}

// message[key] as a new reference, left null when missing or None. False
// with an error set on failure. A strong reference: reading one value may
// run the app's code (__index__, __buffer__, a header iterator), which could
// drop another from the dict.
bool optional_item(PyObject* message, PyObject* key, Ref* out) {
  PyObject* v = PyDict_GetItemWithError(message, key);
  if (!v) return !PyErr_Occurred();
  if (v != Py_None) *out = Ref::borrow(v);
  return true;
}

// `value` (a str, or null for "") as UTF-8, valid while `value` lives. False
// with an error set when it is not a str (or cannot be encoded).
bool utf8_of(PyObject* value, const char* what, std::string_view* out) {
  if (!value) {
    *out = {};
    return true;
  }
  if (!PyUnicode_Check(value)) {
    PyErr_Format(PyExc_TypeError, "%s must be a str, not %.100s", what, Py_TYPE(value)->tp_name);
    return false;
  }
  Py_ssize_t size = 0;
  const char* utf8 = PyUnicode_AsUTF8AndSize(value, &size);
  if (!utf8) return false;
  *out = {utf8, static_cast<size_t>(size)};
  return true;
}

PyObject* send_accept(WsCycleObject* c, PyObject* message) {
  ModuleState* st = c->base.st;
  Ref subprotocol_obj, headers;
  if (!optional_item(message, st->s_subprotocol, &subprotocol_obj) ||
      !optional_item(message, st->s_headers, &headers))
    return nullptr;
  std::vector<std::pair<std::string, std::string>> extra;
  if (!for_each_header(headers.get(), [&extra](std::string_view name, std::string_view value) {
        extra.emplace_back(name, value);
        return static_cast<const char*>(nullptr);
      }))
    return nullptr;
  std::string_view subprotocol;  // empty: none
  if (!utf8_of(subprotocol_obj.get(), "'subprotocol'", &subprotocol)) return nullptr;
  if (refused(exchange(c)->ws_accept(subprotocol, extra))) return nullptr;
  return ready_new(st, Py_None);
}

PyObject* send_data(WsCycleObject* c, PyObject* message) {
  ModuleState* st = c->base.st;
  Ref bytes, text;
  if (!optional_item(message, st->s_bytes, &bytes) || !optional_item(message, st->s_text, &text))
    return nullptr;
  if (bool(bytes) == bool(text)) {
    PyErr_SetString(PyExc_RuntimeError,
                    "ASGI message 'websocket.send' needs exactly one of 'bytes' and 'text' "
                    "that is not None.");
    return nullptr;
  }
  BytesView binary;
  std::string_view data;
  if (text) {
    if (!utf8_of(text.get(), "'text'", &data)) return nullptr;
  } else {
    if (!binary.read(bytes.get(), "'bytes'")) return nullptr;
    data = binary.view();
  }
  const char* err = nullptr;
  Exchange::Sent sent = exchange(c)->ws_send(bool(text), data, &err);
  if (refused(err)) return nullptr;
  return after_sent(c, sent);
}

PyObject* send_close(WsCycleObject* c, PyObject* message) {
  ModuleState* st = c->base.st;
  Ref code_obj, reason_obj;
  if (!optional_item(message, st->s_code, &code_obj) ||
      !optional_item(message, st->s_reason, &reason_obj))
    return nullptr;
  long code = kNormalClosure;
  if (code_obj) {
    code = PyLong_AsLong(code_obj.get());
    if (code == -1 && PyErr_Occurred()) return nullptr;
    // The exchange says which codes are valid; one outside int's range is not.
    if (code < INT_MIN || code > INT_MAX) code = -1;
  }
  std::string_view reason;
  if (!utf8_of(reason_obj.get(), "'reason'", &reason)) return nullptr;
  if (refused(exchange(c)->ws_close(static_cast<int>(code), reason))) return nullptr;
  return ready_new(st, Py_None);
}

PyObject* send_denial_body(WsCycleObject* c, PyObject* message) {
  Exchange::Sent sent = Exchange::Sent::Done;
  if (!send_response_body(c->base.st, c->base.ex, message, kDenialResponse, &sent)) return nullptr;
  return after_sent(c, sent);
}

// The kind of a message type, or false when it is none of the five.
bool outbound_kind(ModuleState* st, PyObject* type, Outbound* kind) {
  if (!PyUnicode_Check(type)) return false;
  const std::pair<PyObject*, Outbound> kinds[] = {
      {st->s_websocket_send, Outbound::Send},
      {st->s_websocket_accept, Outbound::Accept},
      {st->s_websocket_close, Outbound::Close},
      {st->s_websocket_http_response_start, Outbound::ResponseStart},
      {st->s_websocket_http_response_body, Outbound::ResponseBody},
  };
  for (const auto& [name, k] : kinds) {
    // A literal in the app's code is interned like ours: usually the same object.
    if (type == name || PyUnicode_Compare(type, name) == 0) {
      *kind = k;
      return true;
    }
  }
  return false;
}

PyObject* ws_send(PyObject* self, PyObject* message) {
  WsCycleObject* c = as_ws(self);
  ModuleState* st = c->base.st;
  PyObject* type = message_type(st, message);
  if (!type) return nullptr;
  Outbound kind;
  if (!outbound_kind(st, type, &kind)) {
    PyErr_Format(PyExc_RuntimeError, "Unexpected ASGI message '%S' sent.", type);
    return nullptr;
  }
  if (!exchange(c)) return raise_disconnected(c);
  WsExchange::Phase phase = exchange(c)->ws_phase();
  if (phase == WsExchange::Phase::Closed) return raise_disconnected(c);
  if (!allowed_in(kind, phase)) return raise_wrong_phase(type, phase);
  switch (kind) {
    case Outbound::Send:
      return send_data(c, message);
    case Outbound::Accept:
      return send_accept(c, message);
    case Outbound::Close:
      return send_close(c, message);
    case Outbound::ResponseStart:
      return send_response_start(st, c->base.ex, message, kDenialResponse)
                 ? ready_new(st, Py_None)
                 : nullptr;
    case Outbound::ResponseBody:
      return send_denial_body(c, message);
  }
  return nullptr;
}

// ---- the type ------------------------------------------------------------------

PyMethodDef receive_def = {"receive", ws_receive, METH_NOARGS, "ASGI receive()"};
PyMethodDef send_def = {"send", ws_send, METH_O, "ASGI send(message)"};

int ws_traverse(PyObject* self, visitproc visit, void* arg) {
  WsCycleObject* c = as_ws(self);
  Py_VISIT(c->send_waiters);
  Py_VISIT(c->backlog);
  Py_VISIT(c->close_reason);
  return app_call_traverse(self, visit, arg);
}

int ws_clear(PyObject* self) {
  WsCycleObject* c = as_ws(self);
  Py_CLEAR(c->send_waiters);
  Py_CLEAR(c->backlog);
  Py_CLEAR(c->close_reason);
  app_call_clear(self);
  return 0;
}

PyType_Slot ws_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(app_call_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(ws_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(ws_clear)},
    {0, nullptr},
};

PyType_Spec ws_spec = {"subcorn._native.WsCycle", sizeof(WsCycleObject), 0,
                       Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
                           Py_TPFLAGS_DISALLOW_INSTANTIATION,
                       ws_slots};

// At detach: moves what the exchange still holds into the cycle (the
// messages into the backlog, then its close), so receive() can go on
// without it. Never leaves an error set.
void take_rest(WsCycleObject* c) {
  WsExchange* ex = exchange(c);
  Ref backlog = Ref::steal(PyList_New(0));
  if (!backlog) PyErr_WriteUnraisable(nullptr);
  for (;;) {
    bool text = false;
    std::string_view data, reason;
    int code = kAbnormalClosure;
    WsExchange::Next next = ex->ws_next(&text, &data, &code, &reason);
    if (next == WsExchange::Next::Closed) {
      record_close(c, code, reason);
      break;
    }
    if (next == WsExchange::Next::Wait || !backlog) {
      record_close(c, kAbnormalClosure, {});
      break;
    }
    Ref msg = Ref::steal(data_message(c->base.st, text, data));
    if (!msg || PyList_Append(backlog.get(), msg.get()) < 0) {
      PyErr_WriteUnraisable(nullptr);  // the rest is lost; the app still learns of the close
      record_close(c, kAbnormalClosure, {});
      break;
    }
    ex->ws_consume();
  }
  if (backlog && PyList_GET_SIZE(backlog.get()) > 0) {
    if (PyList_Reverse(backlog.get()) < 0) {
      PyErr_WriteUnraisable(nullptr);
      return;
    }
    Py_XSETREF(c->backlog, backlog.release());
  }
}

}  // namespace

int register_ws_cycle_type(PyObject* module, ModuleState* st) {
  st->ws_cycle_type = reinterpret_cast<PyTypeObject*>(
      PyType_FromModuleAndSpec(module, &ws_spec, nullptr));
  return st->ws_cycle_type ? 0 : -1;
}

Ref start_ws_cycle(AppContext& ctx, PyObject* scope_template, WsExchange* ex,
                   const http::RequestHead& head, const ConnectionInfo& conn, bool secure) {
  ModuleState* st = ctx.st;
  // The app letting our ClientDisconnected escape is a normal end (the spec:
  // a server must not log it).
  Ref cycle = app_call_new(ctx, st->ws_cycle_type, ex, st->client_disconnected,
                           "Could not start the WebSocket");
  if (!cycle) return {};
  WsCycleObject* c = as_ws(cycle.get());
  c->inbound = Inbound::ConnectDue;
  c->close_code = kAbnormalClosure;
  Ref scope = build_ws_scope(ctx, scope_template, head, conn, secure);
  app_call_start(cycle.get(), scope.get(), &receive_def, &send_def);
  return cycle;
}

void ws_cycle_wake_receive(PyObject* cycle) { app_call_wake_receive(cycle, next_message); }

void ws_cycle_wake_send(PyObject* cycle) {
  WsCycleObject* c = as_ws(cycle);
  Ref waiters = Ref::steal(std::exchange(c->send_waiters, nullptr));
  if (!waiters) return;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(waiters.get()); ++i) {
    PyObject* fut = Py_NewRef(PyList_GET_ITEM(waiters.get(), i));
    resolve_waiter(c->base.st, &fut, Py_None);
  }
}

void ws_cycle_detach(PyObject* cycle) {
  WsCycleObject* c = as_ws(cycle);
  if (!exchange(c)) return;
  Ref keep = Ref::borrow(cycle);  // resolving futures may drop other references
  if (c->inbound != Inbound::Closed) take_rest(c);
  c->base.ex = nullptr;
  ws_cycle_wake_receive(cycle);
  Ref waiters = Ref::steal(std::exchange(c->send_waiters, nullptr));
  if (!waiters) return;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(waiters.get()); ++i) {
    PyObject* fut = Py_NewRef(PyList_GET_ITEM(waiters.get(), i));
    raise_disconnected(c);
    reject_waiter(c->base.st, &fut);
  }
}

bool ws_cycle_running(PyObject* cycle) { return app_call_running(cycle); }

void ws_cycle_cancel(PyObject* cycle) { app_call_cancel(cycle); }

}  // namespace subcorn::py
