#include "py/wsgi_input.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

namespace subcorn::py {
namespace {

struct InputObject {
  PyObject_HEAD
  Exchange* ex;      // null once detached
  // Received, not yet read by the app: (*buf)[pos, buf->size()). Reads move
  // pos instead of erasing from the front, which would cost time quadratic in
  // the body; the read bytes are dropped when more arrive (see make_room).
  std::string* buf;
  size_t pos;
  bool eof;          // the body ended (or the client left)
};

InputObject* as_input(PyObject* o) { return reinterpret_cast<InputObject*>(o); }

size_t unread(const InputObject* in) { return in->buf->size() - in->pos; }

const char* unread_data(const InputObject* in) { return in->buf->data() + in->pos; }

// Drops the bytes already read before appending more, when that moves no more
// bytes than were read since the last time: each byte is moved at most once
// on average, so reading stays linear in the body.
void make_room(InputObject* in) {
  if (in->pos == 0 || in->pos < unread(in)) return;
  in->buf->erase(0, in->pos);
  in->pos = 0;
}

// Moves more of the body into buf, waiting for it if need be. False at the end.
bool fill(InputObject* in) {
  while (!in->eof) {
    if (!in->ex) {
      in->eof = true;
      break;
    }
    std::string_view data;
    bool more = false;
    switch (in->ex->peek_body(data, more)) {
      case Exchange::BodyState::Gone:
        in->eof = true;
        return false;
      case Exchange::BodyState::Wait:
        in->ex->body_wanted();
        in->ex->wait_for_body();
        continue;
      case Exchange::BodyState::Data:
        make_room(in);
        in->buf->append(data);
        in->ex->consume_body(data.size());
        if (!more) in->eof = true;
        if (!data.empty()) return true;
        break;
    }
  }
  return false;
}

// The next n unread bytes (fewer if fewer are buffered) as bytes.
PyObject* take(InputObject* in, size_t n) {
  n = std::min(n, unread(in));
  PyObject* out = PyBytes_FromStringAndSize(unread_data(in), static_cast<Py_ssize_t>(n));
  if (!out) return nullptr;
  in->pos += n;
  if (in->pos == in->buf->size()) {  // all read: start over at the front
    in->buf->clear();
    in->pos = 0;
  }
  return out;
}

bool size_arg(PyObject* const* args, Py_ssize_t nargs, Py_ssize_t* size) {
  *size = -1;
  if (nargs > 1) {
    PyErr_SetString(PyExc_TypeError, "expected at most one argument");
    return false;
  }
  if (nargs == 1 && args[0] != Py_None) {
    *size = PyLong_AsSsize_t(args[0]);
    if (*size == -1 && PyErr_Occurred()) return false;
  }
  return true;
}

// read(n) with nothing buffered here and n bytes waiting in the exchange:
// the bytes object is made straight from them, without a copy into buf.
// nullptr with no error when that is not the case.
PyObject* read_direct(InputObject* in, size_t n) {
  if (unread(in) != 0 || in->eof || !in->ex || n == 0) return nullptr;
  std::string_view data;
  bool more = false;
  if (in->ex->peek_body(data, more) != Exchange::BodyState::Data || data.size() < n)
    return nullptr;  // fill() peeks again and handles every other case
  PyObject* out = PyBytes_FromStringAndSize(data.data(), static_cast<Py_ssize_t>(n));
  if (!out) return nullptr;
  in->ex->consume_body(n);
  if (!more && data.size() == n) in->eof = true;
  return out;
}

PyObject* input_read(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  InputObject* in = as_input(self);
  Py_ssize_t size;
  if (!size_arg(args, nargs, &size)) return nullptr;
  if (size > 0) {
    if (PyObject* direct = read_direct(in, static_cast<size_t>(size))) return direct;
    if (PyErr_Occurred()) return nullptr;
  }
  if (size < 0) {
    while (fill(in)) {}
    return take(in, unread(in));
  }
  while (unread(in) < static_cast<size_t>(size) && fill(in)) {}
  return take(in, static_cast<size_t>(size));
}

// Up to and including the next newline, or `size` bytes (size >= 0), or what
// is left. Each byte is searched once: the search goes on after what the last
// round saw, and never past `size`.
PyObject* readline(InputObject* in, Py_ssize_t size) {
  size_t limit = size < 0 ? SIZE_MAX : static_cast<size_t>(size);
  size_t scanned = 0;
  for (;;) {
    size_t end = std::min(unread(in), limit);
    if (end > scanned) {
      const char* from = unread_data(in);
      const void* nl = std::memchr(from + scanned, '\n', end - scanned);
      if (nl) return take(in, static_cast<size_t>(static_cast<const char*>(nl) - from) + 1);
      scanned = end;
    }
    if (scanned == limit) return take(in, limit);
    if (!fill(in)) return take(in, unread(in));
  }
}

PyObject* input_readline(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  Py_ssize_t size;
  if (!size_arg(args, nargs, &size)) return nullptr;
  return readline(as_input(self), size);
}

PyObject* input_readlines(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  Py_ssize_t hint;
  if (!size_arg(args, nargs, &hint)) return nullptr;
  PyObject* lines = PyList_New(0);
  Py_ssize_t total = 0;
  while (lines) {
    PyObject* line = readline(as_input(self), -1);
    if (!line) {
      Py_CLEAR(lines);
      break;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(line);
    if (n == 0) {
      Py_DECREF(line);
      break;
    }
    int rc = PyList_Append(lines, line);
    Py_DECREF(line);
    if (rc < 0) Py_CLEAR(lines);
    total += n;
    if (hint > 0 && total >= hint) break;
  }
  return lines;
}

PyObject* input_next(PyObject* self) {
  PyObject* line = readline(as_input(self), -1);
  if (line && PyBytes_GET_SIZE(line) == 0) {
    Py_DECREF(line);
    return nullptr;  // StopIteration
  }
  return line;
}

void input_dealloc(PyObject* self) {
  PyTypeObject* tp = Py_TYPE(self);
  delete as_input(self)->buf;
  PyObject_Free(self);
  Py_DECREF(tp);
}

PyMethodDef input_methods[] = {
    {"read", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(input_read)),
     METH_FASTCALL, "read(size=-1) -> bytes"},
    {"readline", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(input_readline)),
     METH_FASTCALL, "readline(size=-1) -> bytes"},
    {"readlines", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(input_readlines)),
     METH_FASTCALL, "readlines(hint=-1) -> list[bytes]"},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot input_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(input_dealloc)},
    {Py_tp_methods, input_methods},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(input_next)},
    {0, nullptr},
};

PyType_Spec input_spec = {"subcorn._native.WsgiInput", sizeof(InputObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE |
                              Py_TPFLAGS_DISALLOW_INSTANTIATION,
                          input_slots};

}  // namespace

int register_wsgi_input_type(PyObject* module, ModuleState* st) {
  st->wsgi_input_type = reinterpret_cast<PyTypeObject*>(
      PyType_FromModuleAndSpec(module, &input_spec, nullptr));
  return st->wsgi_input_type ? 0 : -1;
}

PyObject* wsgi_input_new(ModuleState* st, Exchange* ex) {
  auto* in = PyObject_New(InputObject, st->wsgi_input_type);
  if (!in) return nullptr;
  in->ex = ex;
  in->buf = new std::string();
  in->pos = 0;
  in->eof = false;
  return reinterpret_cast<PyObject*>(in);
}

void wsgi_input_detach(PyObject* input) { as_input(input)->ex = nullptr; }

}  // namespace subcorn::py
