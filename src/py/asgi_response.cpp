#include "py/asgi_response.h"

#include <climits>

namespace subcorn::py {

bool HeaderItem::read(PyObject* item) {
  const char* shape = "each header must be a (name, value) pair";
  Ref pair = Ref::steal(PySequence_Fast(item, shape));
  if (!pair) return false;
  if (PySequence_Fast_GET_SIZE(pair.get()) != 2) {
    PyErr_SetString(PyExc_RuntimeError, shape);
    return false;
  }
  return name_.read(PySequence_Fast_GET_ITEM(pair.get(), 0), "header name") &&
         value_.read(PySequence_Fast_GET_ITEM(pair.get(), 1), "header value");
}

PyObject* message_type(ModuleState* st, PyObject* message) {
  if (!PyDict_Check(message)) {
    PyErr_Format(PyExc_TypeError, "ASGI message must be a dict, not %.100s",
                 Py_TYPE(message)->tp_name);
    return nullptr;
  }
  PyObject* type = PyDict_GetItemWithError(message, st->s_type);
  if (!type && !PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "'type'");
  return type;
}

bool send_response_start(ModuleState* st, Exchange* ex, PyObject* message,
                         const ResponseMessageNames& names) {
  if (ex->response_started()) {
    PyErr_Format(PyExc_RuntimeError,
                 "Unexpected ASGI message '%s' sent, after response already started.",
                 names.start);
    return false;
  }
  PyObject* status_obj = PyDict_GetItemWithError(message, st->s_status);
  if (!status_obj) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "'status'");
    return false;
  }
  long status = PyLong_AsLong(status_obj);
  if (status == -1 && PyErr_Occurred()) return false;
  // The response writer says which statuses are valid; one outside int's
  // range is simply invalid.
  if (status < INT_MIN || status > INT_MAX) status = -1;
  if (refused(ex->start_response(static_cast<int>(status)))) return false;
  PyObject* headers = PyDict_GetItemWithError(message, st->s_headers);
  if (!headers && PyErr_Occurred()) return false;
  return for_each_header(headers, [ex](std::string_view name, std::string_view value) {
    return ex->add_header(name, value);
  });
}

bool body_message_allowed(Exchange* ex, const char* start_type, const char* type) {
  if (!ex->response_started()) {
    PyErr_Format(PyExc_RuntimeError, "Expected ASGI message '%s', but got '%s'.", start_type, type);
    return false;
  }
  if (ex->response_complete()) {
    PyErr_Format(PyExc_RuntimeError,
                 "Unexpected ASGI message '%s' sent, after response already completed.", type);
    return false;
  }
  return true;
}

bool send_response_body(ModuleState* st, Exchange* ex, PyObject* message,
                        const ResponseMessageNames& names, Exchange::Sent* sent) {
  if (!body_message_allowed(ex, names.start, names.body)) return false;
  // Strong references: more_body's __bool__ is the app's code, which could
  // drop the body from the dict.
  Ref body = Ref::borrow(PyDict_GetItemWithError(message, st->s_body));
  if (!body && PyErr_Occurred()) return false;
  Ref more_obj = Ref::borrow(PyDict_GetItemWithError(message, st->s_more_body));
  if (!more_obj && PyErr_Occurred()) return false;
  int more = more_obj ? PyObject_IsTrue(more_obj.get()) : 0;
  if (more < 0) return false;

  BytesView data;
  if (body && body.get() != Py_None && !data.read(body.get(), "body")) return false;
  const char* err = nullptr;
  *sent = ex->send_body(data.view(), more != 0, &err);
  return !refused(err);
}

}  // namespace subcorn::py
