#include "metrics/collector.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace subcorn::metrics {
namespace {

constexpr int64_t SECOND_NS = 1'000'000'000;

bool is(const ShardBlock& b, BlockState s) {
  return b.state.load(std::memory_order_acquire) == static_cast<uint32_t>(s);
}

}  // namespace

int64_t thread_cpu_ns(int pid, int tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", pid, tid);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char text[128];
  ssize_t n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (n <= 0) return -1;
  text[n] = '\0';
  return std::strtoll(text, nullptr, 10);  // the first field: nanoseconds on a CPU
}

Collector::Collector(Table& table)
    : table_(table),
      ended_(static_cast<size_t>(table.slot_count())),
      cpu_(static_cast<size_t>(table.block_count())) {}

void Collector::fold() noexcept {
  for (int i = 0; i < table_.block_count(); ++i) {
    ShardBlock& b = table_.block(i);
    if (!is(b, BlockState::Retired)) continue;
    int slot = b.slot.load(std::memory_order_relaxed);
    if (slot >= 0 && slot < table_.slot_count()) {
      auto& into = ended_[static_cast<size_t>(slot)];
      for (int c = 0; c < counter::COUNT; ++c) into[static_cast<size_t>(c)] += b.read(c);
    }
    cpu_[static_cast<size_t>(i)] = CpuSample{};
    b.state.store(static_cast<uint32_t>(BlockState::Free), std::memory_order_release);
  }
}

void Collector::sample(int64_t now_ns) {
  fold();
  for (int i = 0; i < table_.block_count(); ++i) {
    const ShardBlock& b = table_.block(i);
    CpuSample& s = cpu_[static_cast<size_t>(i)];
    if (!is(b, BlockState::Live)) continue;
    int pid = b.pid.load(std::memory_order_relaxed), tid = b.tid.load(std::memory_order_relaxed);
    int64_t cpu = thread_cpu_ns(pid, tid);
    if (cpu >= 0 && s.pid == pid && s.tid == tid && s.cpu_ns >= 0 && now_ns > s.wall_ns)
      s.ratio = std::clamp(static_cast<double>(cpu - s.cpu_ns) / static_cast<double>(now_ns - s.wall_ns),
                           0.0, 1.0);
    else
      s.ratio = 0;
    s.pid = pid;
    s.tid = tid;
    s.cpu_ns = cpu;
    s.wall_ns = now_ns;
  }
}

double Collector::lag_of(const ShardBlock& b, int64_t now_ns) const noexcept {
  int64_t due = b.read_gauge(gauge::TICK_DUE_NS);
  if (due == 0) return 0;  // not serving yet
  // A loop that is stuck now has not run the tick that is overdue.
  int64_t lag = std::max(b.read_gauge(gauge::TICK_LAG_NS), now_ns - due);
  return static_cast<double>(std::max<int64_t>(lag, 0)) * 1e-9;
}

Snapshot Collector::snapshot(int64_t now_ns) {
  fold();
  Snapshot snap;
  snap.workers.resize(static_cast<size_t>(table_.slot_count()));
  for (size_t s = 0; s < snap.workers.size(); ++s) {
    WorkerSnapshot& w = snap.workers[s];
    w.counters = ended_[s];
    w.recycles = table_.slot(static_cast<int>(s)).recycles.load(std::memory_order_relaxed);
    w.restarts = table_.slot(static_cast<int>(s)).restarts.load(std::memory_order_relaxed);
  }
  for (int i = 0; i < table_.block_count(); ++i) {
    const ShardBlock& b = table_.block(i);
    if (!is(b, BlockState::Live)) continue;
    int slot = b.slot.load(std::memory_order_relaxed);
    if (slot < 0 || slot >= table_.slot_count()) continue;
    WorkerSnapshot& w = snap.workers[static_cast<size_t>(slot)];
    for (int c = 0; c < counter::COUNT; ++c) w.counters[static_cast<size_t>(c)] += b.read(c);
    // While a worker is replaced, two shards count for it: the busier one says.
    w.busy_ratio = std::max(w.busy_ratio, cpu_[static_cast<size_t>(i)].ratio);
    w.lag_seconds = std::max(w.lag_seconds, lag_of(b, now_ns));
    snap.gauges[gauge::IN_FLIGHT] += b.read_gauge(gauge::IN_FLIGHT);
    for (int p = 0; p < PROTOCOL_COUNT; ++p)
      snap.gauges[static_cast<size_t>(gauge::CONNECTIONS + p)] += b.read_gauge(gauge::CONNECTIONS + p);
  }
  for (const WorkerSnapshot& w : snap.workers)
    for (int c = 0; c < counter::COUNT; ++c)
      snap.totals[static_cast<size_t>(c)] += w.counters[static_cast<size_t>(c)];
  for (int r = 0; r < REJECTION_COUNT; ++r)
    snap.rejections[static_cast<size_t>(r)] =
        snap.totals[static_cast<size_t>(counter::REJECTIONS + r)] + table_.rejections(r);
  return snap;
}

std::string Collector::unhealthy(int64_t now_ns) const {
  for (int i = 0; i < table_.block_count(); ++i) {
    const ShardBlock& b = table_.block(i);
    if (!is(b, BlockState::Live)) continue;
    int64_t due = b.read_gauge(gauge::TICK_DUE_NS);
    if (due == 0 || now_ns - due < SECOND_NS) continue;
    char why[160];
    std::snprintf(why, sizeof why, "worker %d (pid %d): its loop is %.1f s late for its tick\n",
                  b.slot.load(std::memory_order_relaxed), b.pid.load(std::memory_order_relaxed),
                  static_cast<double>(now_ns - due) * 1e-9);
    return why;
  }
  return {};
}

bool Collector::serving() const noexcept {
  for (int i = 0; i < table_.block_count(); ++i) {
    const ShardBlock& b = table_.block(i);
    if (is(b, BlockState::Live) && b.read_gauge(gauge::TICK_DUE_NS) != 0) return true;
  }
  return false;
}

void Collector::process_gone(int pid) noexcept {
  for (int i = 0; i < table_.block_count(); ++i) {
    ShardBlock& b = table_.block(i);
    if (b.pid.load(std::memory_order_relaxed) != pid) continue;
    uint32_t live = static_cast<uint32_t>(BlockState::Live);
    b.state.compare_exchange_strong(live, static_cast<uint32_t>(BlockState::Retired),
                                    std::memory_order_acq_rel);
  }
}

}  // namespace subcorn::metrics
