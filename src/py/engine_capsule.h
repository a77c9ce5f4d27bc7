// EngineCapsule<T>: a C++ object with a thread of its own that the
// supervisor's Python holds (the metrics exporter, the processes-mode
// acceptor), owned by a PyCapsule. stop() ends it early; otherwise the
// capsule's destructor does. Either way its thread is joined with the GIL
// released: that thread never takes the GIL, but a call of the object's may
// be waiting on the caller's.
#pragma once

#include <Python.h>

#include <memory>

#include "py/gil.h"

namespace subcorn::py {

template <typename T>
class EngineCapsule {
 public:
  // `name`: the capsule's name (a string literal); `stopped`: the message of
  // the ValueError a call gets once the object was stopped.
  constexpr EngineCapsule(const char* name, const char* stopped) : name_(name), stopped_(stopped) {}

  // A new capsule owning `object`; null (and `object` ended) on failure.
  PyObject* wrap(std::unique_ptr<T> object) const {
    auto* box = new Box(std::move(object));
    PyObject* capsule = PyCapsule_New(box, name_, destroy);
    if (!capsule) end(box);
    return capsule;
  }

  // The object; null with a Python error set when `capsule` is not one of
  // these or the object was stopped.
  T* get(PyObject* capsule) const {
    Box* box = box_of(capsule);
    if (!box) return nullptr;
    if (!*box) PyErr_SetString(PyExc_ValueError, stopped_);
    return box->get();
  }

  // Ends the object now (the capsule stays, empty); false with a Python
  // error set when `capsule` is not one of these.
  bool stop(PyObject* capsule) const {
    Box* box = box_of(capsule);
    if (!box) return false;
    GilReleased no_gil;
    box->reset();
    return true;
  }

 private:
  using Box = std::unique_ptr<T>;

  Box* box_of(PyObject* capsule) const {
    return static_cast<Box*>(PyCapsule_GetPointer(capsule, name_));
  }
  static void end(Box* box) {
    {
      GilReleased no_gil;
      box->reset();
    }
    delete box;
  }
  static void destroy(PyObject* capsule) {
    auto* box = static_cast<Box*>(PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule)));
    if (box) end(box);
  }

  const char* name_;
  const char* stopped_;
};

}  // namespace subcorn::py
