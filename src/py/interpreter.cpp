#include "py/interpreter.h"

#include <mutex>

#include "py/gil.h"
#include "py/ref.h"

namespace subcorn::py {

bool SubInterpreter::create(std::string* error) {
  main_tstate_ = PyThreadState_New(PyInterpreterState_Main());
  if (!main_tstate_) {
    *error = "could not create a thread state";
    return false;
  }
  restore_thread(main_tstate_);  // takes the main GIL, briefly
  PyInterpreterConfig config = {
      .use_main_obmalloc = 0,
      .allow_fork = 0,
      .allow_exec = 0,
      .allow_threads = 1,
      .allow_daemon_threads = 1,
      .check_multi_interp_extensions = 1,
      .gil = PyInterpreterConfig_OWN_GIL,
  };
  PyStatus status = Py_NewInterpreterFromConfig(&tstate_, &config);
  if (PyStatus_Exception(status)) {
    *error = std::string("could not create a sub-interpreter: ") +
             (status.err_msg ? status.err_msg : "unknown error");
    PyThreadState_Clear(main_tstate_);
    PyThreadState_DeleteCurrent();
    main_tstate_ = nullptr;
    return false;
  }
  // Own GIL: the main GIL was released by the swap; tstate_ is attached.
  return true;
}

void SubInterpreter::attach_main() {
  main_only_ = true;
  main_tstate_ = PyThreadState_New(PyInterpreterState_Main());
  restore_thread(main_tstate_);
}

namespace {

// The modules whose instances in different interpreters share process-wide
// state: an interpreter that imported one ends only while no other such
// interpreter ends. Ending two own-GIL interpreters that imported
// concurrent.interpreters (which imports _interpqueues) at once crashes
// CPython 3.14.10 itself: without subcorn (two threads, each creating, using
// and destroying an interpreter with _interpreters) it segfaults about once
// in 200 runs in _interpqueues' exit callback, on a lock that the other
// interpreter's finalization freed. Inside subcorn the same race corrupted
// the heap (glibc: "tcache_thread_shutdown(): unaligned tcache chunk
// detected") or segfaulted a worker at SIGTERM about once in 300 starts.
// Other interpreters end side by side: ending one takes 70 ms for a small
// app and more for a big one, too long to queue 16 of them for no reason.
constexpr const char* SHARED_STATE_MODULES[] = {"_interpqueues", "_interpchannels"};
std::mutex ending_mutex;

bool imported_shared_state_module() {
  for (const char* name : SHARED_STATE_MODULES) {
    Ref key = Ref::steal(PyUnicode_FromString(name));
    Ref module = key ? Ref::steal(PyImport_GetModule(key.get())) : Ref();
    if (!key || module) {  // imported (or it cannot tell: as if it were)
      PyErr_Clear();
      return true;
    }
    PyErr_Clear();
  }
  return false;
}

}  // namespace

void SubInterpreter::finish(bool end) {
  if (main_only_) {  // the main interpreter is finalized by the process, not here
    PyThreadState_Clear(main_tstate_);
    PyThreadState_DeleteCurrent();
    main_tstate_ = nullptr;
    return;
  }
  if (end) {
    std::unique_lock<std::mutex> one_at_a_time(ending_mutex, std::defer_lock);
    if (imported_shared_state_module()) {
      // While another such interpreter ends, this one waits without its GIL.
      PyThreadState* waiting = PyEval_SaveThread();
      one_at_a_time.lock();
      restore_thread(waiting);
    }
    Py_EndInterpreter(tstate_);  // leaves no thread state attached
  } else {
    PyEval_SaveThread();
  }
  tstate_ = nullptr;
  restore_thread(main_tstate_);
  PyThreadState_Clear(main_tstate_);
  PyThreadState_DeleteCurrent();
  main_tstate_ = nullptr;
}

std::string format_current_exception() {
  Ref exc = Ref::steal(PyErr_GetRaisedException());
  if (!exc) return {};
  Ref traceback = Ref::steal(PyImport_ImportModule("traceback"));
  Ref lines = traceback ? Ref::steal(PyObject_CallMethod(traceback.get(), "format_exception",
                                                         "O", exc.get()))
                        : Ref();
  Ref empty = Ref::steal(PyUnicode_FromString(""));
  Ref text = lines && empty ? Ref::steal(PyUnicode_Join(empty.get(), lines.get())) : Ref();
  if (!text) {
    PyErr_Clear();
    text = Ref::steal(PyObject_Str(exc.get()));
  }
  const char* utf8 = text ? PyUnicode_AsUTF8(text.get()) : nullptr;
  if (!utf8) {
    PyErr_Clear();
    return "(an exception that could not be formatted)";
  }
  return utf8;
}

}  // namespace subcorn::py
