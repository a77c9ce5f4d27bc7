// The reader's side of the metrics table (the supervisor's metrics thread):
// it folds the blocks of shards that ended into their worker's totals (so
// counters never go back when an interpreter or a process is replaced),
// samples each shard thread's CPU time once a second for its busy ratio, and
// makes the numbers one scrape shows.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "metrics/counters.h"
#include "metrics/table.h"

namespace subcorn::metrics {

struct WorkerSnapshot {
  std::array<uint64_t, counter::COUNT> counters{};  // its totals, ended shards included
  double busy_ratio = 0;   // of its shard thread over the last second
  double lag_seconds = 0;  // how late its loop runs the once-a-second tick
  uint64_t recycles = 0;
  uint64_t restarts = 0;
};

struct Snapshot {
  std::vector<WorkerSnapshot> workers;  // by slot
  std::array<uint64_t, counter::COUNT> totals{};
  std::array<uint64_t, REJECTION_COUNT> rejections{};  // the shards' and the others'
  std::array<int64_t, gauge::COUNT> gauges{};           // summed over the live shards
};

class Collector {
 public:
  explicit Collector(Table& table);

  // Once a second: folds the ended blocks and samples the CPU clocks.
  void sample(int64_t now_ns);
  Snapshot snapshot(int64_t now_ns);
  // /healthz: empty when every serving shard ran its last tick less than
  // a second late, else which one is late and by how much.
  std::string unhealthy(int64_t now_ns) const;
  // Whether any shard serves (a worker process that died left none).
  bool serving() const noexcept;
  // Any thread: a worker process is gone (its blocks were left Live when
  // it died): they are retired, and folded at the next sample.
  void process_gone(int pid) noexcept;

 private:
  void fold() noexcept;
  double lag_of(const ShardBlock& b, int64_t now_ns) const noexcept;

  Table& table_;
  std::vector<std::array<uint64_t, counter::COUNT>> ended_;  // by slot
  struct CpuSample {
    int pid = 0, tid = 0;
    int64_t cpu_ns = -1, wall_ns = 0;
    double ratio = 0;
  };
  std::vector<CpuSample> cpu_;  // by block
};

// The on-CPU time of a thread (/proc/PID/task/TID/schedstat), -1 when it
// is gone. Any process's thread of the same user.
int64_t thread_cpu_ns(int pid, int tid);

}  // namespace subcorn::metrics
