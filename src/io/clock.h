// CLOCK_MONOTONIC in nanoseconds: the same clock in every thread and every
// process of the machine, so a time one process stores (a shard's next
// tick, in the metrics table) means the same to another.
#pragma once

#include <time.h>

#include <cstdint>

namespace subcorn::io {

inline int64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace subcorn::io
