// EngineLock: how the engine takes its own mutexes, so that its one lock rule
// can be checked: a thread never waits for a GIL while it holds an engine lock.
//
// Why: a shard thread holds its interpreter's GIL while it runs and takes
// engine locks briefly (to wake a worker thread, to read its inbox). If a
// thread held an engine lock and then waited for that GIL, the two would wait
// for each other forever (the hostile review's deadlock with --threads 4: a
// worker took the GIL back inside a condition-variable wait's lock scope).
// EngineLock counts the engine locks this thread holds; py::GilReleased and
// py::restore_thread() refuse to take a GIL while the count is not zero.
#pragma once

#include <mutex>

namespace subcorn::io {

namespace detail {
inline thread_local int engine_locks_held = 0;
}

// How many engine locks this thread holds right now.
inline int engine_locks_held() noexcept { return detail::engine_locks_held; }

class EngineLock {
 public:
  explicit EngineLock(std::mutex& mutex) : lock_(mutex) { ++detail::engine_locks_held; }
  ~EngineLock() { --detail::engine_locks_held; }
  EngineLock(const EngineLock&) = delete;
  EngineLock& operator=(const EngineLock&) = delete;

  // For std::condition_variable::wait: the wait releases the mutex but the
  // thread is blocked meanwhile, so the count stays as it is.
  std::unique_lock<std::mutex>& unique_lock() noexcept { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace subcorn::io
