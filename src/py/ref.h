// Ref: the one owning handle for a PyObject* (after nanobind's object/steal/
// borrow). Created, used and released on a thread attached to the object's
// own interpreter; never crosses interpreters.
#pragma once

#include <Python.h>

#include <utility>

namespace subcorn::py {

class Ref {
 public:
  static Ref steal(PyObject* p) noexcept { Ref r; r.p_ = p; return r; }
  static Ref borrow(PyObject* p) noexcept { Py_XINCREF(p); return steal(p); }

  Ref() = default;
  Ref(Ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  Ref& operator=(Ref&& o) noexcept {
    Py_XSETREF(p_, std::exchange(o.p_, nullptr));
    return *this;
  }
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
  ~Ref() { Py_XDECREF(p_); }

  PyObject* get() const noexcept { return p_; }
  [[nodiscard]] PyObject* release() noexcept { return std::exchange(p_, nullptr); }
  Ref dup() const noexcept { return borrow(p_); }
  void reset() noexcept { Py_CLEAR(p_); }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  PyObject* p_ = nullptr;
};

}  // namespace subcorn::py
