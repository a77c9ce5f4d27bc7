#include "py/worker_threads.h"

#include <pthread.h>
#include <time.h>

#include <algorithm>

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

namespace {

int64_t cpu_ns(clockid_t clock) {
  timespec t{};
  if (clock_gettime(clock, &t) != 0) return 0;
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

}  // namespace

double WorkerThreads::cpu_seconds() const {
  io::EngineLock lock(mutex_);
  int64_t total = ended_cpu_ns_;
  for (clockid_t clock : cpu_clocks_) total += cpu_ns(clock);
  return static_cast<double>(total) * 1e-9;
}

void WorkerThreads::run(PyInterpreterState* interp) {
  // This thread's CPU clock is read by cpu_seconds() while it lives, and
  // what it spent is kept when it ends.
  clockid_t clock;
  bool clocked = pthread_getcpuclockid(pthread_self(), &clock) == 0;
  if (clocked) {
    io::EngineLock lock(mutex_);
    cpu_clocks_.push_back(clock);
  }
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
  if (clocked) {
    io::EngineLock lock(mutex_);
    ended_cpu_ns_ += cpu_ns(CLOCK_THREAD_CPUTIME_ID);
    std::erase(cpu_clocks_, clock);
  }
}

}  // namespace subcorn::py
