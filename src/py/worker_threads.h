// WorkerThreads: K OS threads attached to one sub-interpreter (sharing its
// GIL), for WSGI apps that block (a database query) without holding up the
// shard's other connections. A job runs with the interpreter's GIL held;
// while the app waits on I/O it releases the GIL and the shard thread and the
// other workers go on.
#pragma once

#include <Python.h>

#include <condition_variable>
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

 private:
  void run(PyInterpreterState* interp);

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace subcorn::py
