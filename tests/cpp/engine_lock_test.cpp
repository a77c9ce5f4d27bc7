// The engine's lock rule is checked by counting the engine locks a thread
// holds (io/engine_lock.h); py::restore_thread refuses a GIL while any is held.
#include "io/engine_lock.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <thread>

namespace subcorn::io {
namespace {

TEST(EngineLock, CountsTheLocksThisThreadHolds) {
  std::mutex a, b;
  EXPECT_EQ(engine_locks_held(), 0);
  {
    EngineLock first(a);
    EXPECT_EQ(engine_locks_held(), 1);
    {
      EngineLock second(b);
      EXPECT_EQ(engine_locks_held(), 2);
    }
    EXPECT_EQ(engine_locks_held(), 1);
  }
  EXPECT_EQ(engine_locks_held(), 0);
}

TEST(EngineLock, CountIsPerThread) {
  std::mutex m;
  EngineLock held(m);
  int seen_elsewhere = -1;
  std::thread([&] { seen_elsewhere = engine_locks_held(); }).join();
  EXPECT_EQ(seen_elsewhere, 0);
  EXPECT_EQ(engine_locks_held(), 1);
}

TEST(EngineLock, ConditionVariableWaitKeepsTheCount) {
  std::mutex m;
  std::condition_variable cv;
  bool ready = false;
  std::thread other([&] {
    {
      EngineLock lock(m);
      ready = true;
    }
    cv.notify_one();
  });
  {
    EngineLock lock(m);
    cv.wait(lock.unique_lock(), [&] { return ready; });
    EXPECT_EQ(engine_locks_held(), 1);  // the mutex is held again after the wait
  }
  other.join();
  EXPECT_EQ(engine_locks_held(), 0);
}

}  // namespace
}  // namespace subcorn::io
