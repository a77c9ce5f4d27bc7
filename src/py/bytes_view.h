// BytesView: the bytes of a bytes-like object the app gave (bytes, bytearray,
// memoryview...), held through the buffer protocol for as long as it lives.
#pragma once

#include <Python.h>

#include <string_view>

namespace subcorn::py {

class BytesView {
 public:
  BytesView() = default;
  BytesView(const BytesView&) = delete;
  BytesView& operator=(const BytesView&) = delete;
  ~BytesView() {
    if (held_) PyBuffer_Release(&buffer_);
  }

  // False with a TypeError ("<what> must be bytes, not T") when `obj` has no
  // buffer. Call once.
  bool read(PyObject* obj, const char* what) {
    held_ = PyObject_GetBuffer(obj, &buffer_, PyBUF_SIMPLE) == 0;
    if (!held_)
      PyErr_Format(PyExc_TypeError, "%s must be bytes, not %.100s", what, Py_TYPE(obj)->tp_name);
    return held_;
  }

  // Empty until read() succeeded.
  std::string_view view() const {
    if (!held_) return {};
    return {static_cast<const char*>(buffer_.buf), static_cast<size_t>(buffer_.len)};
  }

 private:
  Py_buffer buffer_{};
  bool held_ = false;
};

}  // namespace subcorn::py
