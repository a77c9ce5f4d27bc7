// Taking a GIL back, with the engine's lock rule checked (io/engine_lock.h):
// a thread that holds an engine lock must never wait for a GIL. Breaking the
// rule is a deadlock waiting to happen, so it ends the process at once with a
// message, in every build (the check is one thread-local load).
#pragma once

#include <Python.h>

#include <cstdio>
#include <cstdlib>

#include "io/engine_lock.h"

namespace subcorn::py {

// PyEval_RestoreThread, after checking that this thread holds no engine lock.
inline void restore_thread(PyThreadState* tstate) {
  if (io::engine_locks_held() != 0) {
    std::fprintf(stderr,
                 "subcorn: internal error: a thread waits for a GIL while holding %d engine "
                 "lock(s); that can deadlock, so the process stops here.\n",
                 io::engine_locks_held());
    std::abort();
  }
  PyEval_RestoreThread(tstate);
}

// Py_BEGIN/END_ALLOW_THREADS as a scope: the GIL is released for the life of
// the object and taken back (checked) when it ends. Engine locks taken inside
// must be released in an inner scope, before this object ends.
class GilReleased {
 public:
  GilReleased() : tstate_(PyEval_SaveThread()) {}
  ~GilReleased() { restore_thread(tstate_); }
  GilReleased(const GilReleased&) = delete;
  GilReleased& operator=(const GilReleased&) = delete;

 private:
  PyThreadState* tstate_;
};

}  // namespace subcorn::py
