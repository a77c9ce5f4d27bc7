// Creating and ending a shard's sub-interpreter on the calling OS thread.
//
// Own GIL, threads and daemon threads allowed (psycopg_pool, asgiref and
// multiprocessing need them; concurrent.interpreters forbids them), fork and
// exec refused as in an isolated interpreter, single-phase extension modules
// refused (they would share state across interpreters).
#pragma once

#include <Python.h>

#include <string>

namespace subcorn::py {

class SubInterpreter {
 public:
  // Needs the main interpreter to exist and its GIL to be free to take
  // briefly. On success the new interpreter is attached to this thread.
  bool create(std::string* error);
  // Instead: attaches this thread to the main interpreter (worker processes
  // run the app there, for extensions that refuse sub-interpreters).
  void attach_main();

  // With `end` the interpreter is finalized (Py_EndInterpreter: it waits for
  // its non-daemon threads, so only when none is left); without, it is left
  // alive and detached, for the process to exit around it. Either way this
  // thread is detached from Python afterwards. Interpreters that imported
  // concurrent.interpreters end one at a time: see interpreter.cpp.
  void finish(bool end);

 private:
  PyThreadState* main_tstate_ = nullptr;  // this thread's state in the main interpreter
  PyThreadState* tstate_ = nullptr;       // this thread's state in the sub-interpreter
  bool main_only_ = false;                // attach_main(): no sub-interpreter
};

// The current exception as text with its traceback ("" when none); clears it.
std::string format_current_exception();

}  // namespace subcorn::py
