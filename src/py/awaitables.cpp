#include "py/awaitables.h"

#include "py/ref.h"

namespace subcorn::py {
namespace {

// ---- Ready: an awaitable that is already done ------------------------------

struct ReadyObject {
  PyObject_HEAD
  PyObject* value;  // the await result; never null
};

void ready_dealloc(PyObject* self) {
  PyTypeObject* tp = Py_TYPE(self);
  Py_XDECREF(reinterpret_cast<ReadyObject*>(self)->value);
  PyObject_Free(self);
  Py_DECREF(tp);
}

PyObject* ready_await(PyObject* self) { return Py_NewRef(self); }

// `await ready` goes through SEND -> PyIter_Send -> am_send: the result comes
// back without raising StopIteration.
PySendResult ready_send(PyObject* self, PyObject*, PyObject** result) {
  *result = Py_NewRef(reinterpret_cast<ReadyObject*>(self)->value);
  return PYGEN_RETURN;
}

// For code that drives it as a plain iterator (`yield from x.__await__()`).
PyObject* ready_next(PyObject* self) {
  PyObject* value = reinterpret_cast<ReadyObject*>(self)->value;
  PyObject* stop = PyObject_CallOneArg(PyExc_StopIteration, value);
  if (stop) {
    PyErr_SetObject(PyExc_StopIteration, stop);
    Py_DECREF(stop);
  }
  return nullptr;
}

PyType_Slot ready_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(ready_dealloc)},
    {Py_am_await, reinterpret_cast<void*>(ready_await)},
    {Py_am_send, reinterpret_cast<void*>(ready_send)},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(ready_next)},
    {0, nullptr},
};

PyType_Spec ready_spec = {"subcorn._native.Ready", sizeof(ReadyObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE |
                              Py_TPFLAGS_DISALLOW_INSTANTIATION,
                          ready_slots};

}  // namespace

int register_ready_type(PyObject* module, ModuleState* st) {
  st->ready_type = reinterpret_cast<PyTypeObject*>(
      PyType_FromModuleAndSpec(module, &ready_spec, nullptr));
  return st->ready_type ? 0 : -1;
}

PyObject* ready_new(ModuleState* st, PyObject* value) {
  auto* r = PyObject_New(ReadyObject, st->ready_type);
  if (!r) return nullptr;
  r->value = Py_NewRef(value);
  return reinterpret_cast<PyObject*>(r);
}

bool waiter_abandoned(ModuleState* st, PyObject* waiter) {
  Ref done = Ref::steal(PyObject_CallMethodNoArgs(waiter, st->s_done));
  if (!done) {
    PyErr_WriteUnraisable(waiter);
    return true;
  }
  return done.get() != Py_False;
}

void resolve_waiter(ModuleState* st, PyObject** waiter, PyObject* value) {
  Ref fut = Ref::steal(*waiter);
  *waiter = nullptr;
  if (!fut || waiter_abandoned(st, fut.get())) return;
  Ref r = Ref::steal(PyObject_CallMethodOneArg(fut.get(), st->s_set_result, value));
  if (!r) PyErr_WriteUnraisable(fut.get());
}

void reject_waiter(ModuleState* st, PyObject** waiter) {
  Ref exc = Ref::steal(PyErr_GetRaisedException());
  Ref fut = Ref::steal(*waiter);
  *waiter = nullptr;
  if (!fut || !exc || waiter_abandoned(st, fut.get())) return;
  Ref r = Ref::steal(PyObject_CallMethodOneArg(fut.get(), st->s_set_exception, exc.get()));
  if (!r) PyErr_WriteUnraisable(fut.get());
}

}  // namespace subcorn::py
