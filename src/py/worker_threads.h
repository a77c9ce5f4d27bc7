// WorkerThreads: K OS threads attached to one sub-interpreter (sharing its
// GIL), for WSGI apps that block (a database query) without holding up the
// shard's other connections. A job runs with the interpreter's GIL held;
// while the app waits on I/O it releases the GIL and the shard thread and the
// other workers go on.
#pragma once

#include <Python.h>

#include <time.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace subcorn::py {

class WorkerThreads {
 public:
  WorkerThreads() = default;
  ~WorkerThreads();
  WorkerThreads(const WorkerThreads&) = delete;
  WorkerThreads& operator=(const WorkerThreads&) = delete;

  // Starts `count` threads for the calling thread's interpreter.
  void start(int count);
  bool running() const noexcept { return !threads_.empty(); }
  // Queues a job; it runs on a worker with the GIL held.
  void submit(std::function<void()> job);
  // Runs the queued jobs, then ends the threads. Call with the GIL held:
  // it releases it while waiting.
  void stop();
  // The CPU time the threads have spent, in seconds, up to now (a job that
  // computes counts while it runs). Any thread may ask: the shard's load
  // measure (server/balance.h) reads it from the server's thread.
  double cpu_seconds() const;

 private:
  void run(PyInterpreterState* interp);

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  // Under mutex_: the CPU clocks of the threads running now, and what the
  // ended ones spent.
  std::vector<clockid_t> cpu_clocks_;
  int64_t ended_cpu_ns_ = 0;
};

}  // namespace subcorn::py
