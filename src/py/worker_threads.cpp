#include "py/worker_threads.h"

#include "io/engine_lock.h"
#include "py/gil.h"

namespace subcorn::py {

WorkerThreads::~WorkerThreads() {
  // stop() must have run with the GIL held; this only guards against leaks.
  for (auto& t : threads_)
    if (t.joinable()) t.detach();
}

void WorkerThreads::start(int count) {
  PyInterpreterState* interp = PyInterpreterState_Get();
  for (int i = 0; i < count; ++i) threads_.emplace_back([this, interp] { run(interp); });
}

void WorkerThreads::submit(std::function<void()> job) {
  {
    io::EngineLock lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void WorkerThreads::stop() {
  {
    io::EngineLock lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  {
    GilReleased no_gil;
    for (auto& t : threads_) t.join();
  }
  threads_.clear();
}

void WorkerThreads::run(PyInterpreterState* interp) {
  PyThreadState* tstate = PyThreadState_New(interp);
  for (;;) {
    std::function<void()> job;
    {
      io::EngineLock lock(mutex_);
      wake_.wait(lock.unique_lock(), [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) break;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    restore_thread(tstate);
    job();
    PyEval_SaveThread();
  }
  restore_thread(tstate);
  PyThreadState_Clear(tstate);
  PyThreadState_DeleteCurrent();
}

}  // namespace subcorn::py
