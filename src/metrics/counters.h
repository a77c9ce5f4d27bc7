// What one shard counts, as a block of plain atomics that may live in memory
// shared between processes (metrics/table.h): the supervisor's metrics thread
// reads the blocks its worker processes write. Each block is written by one
// shard only (its thread, or a --threads worker holding the same GIL), so no
// cache line is written by two shards; writes and reads are relaxed (a scrape
// needs each number, not an order between them).
//
// The values are flat arrays indexed by the constants below, so that folding
// a retired block into its worker's totals, or zeroing a reused one, is one
// loop for every counter.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace subcorn::metrics {

// The methods that get their own label value; the rest are "other" (a
// method is a client's token: labelled verbatim, it could grow the series
// without bound).
enum class Method : uint8_t { Get, Head, Post, Put, Delete, Patch, Options, Other };
constexpr int METHOD_COUNT = 8;
constexpr std::array<std::string_view, METHOD_COUNT> METHOD_NAMES = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"};
Method method_of(std::string_view method) noexcept;

// 1xx..5xx; a status outside 100..599 never reaches the wire.
constexpr int STATUS_CLASS_COUNT = 5;
constexpr std::array<std::string_view, STATUS_CLASS_COUNT> STATUS_CLASS_NAMES = {
    "1xx", "2xx", "3xx", "4xx", "5xx"};
int status_class(int status) noexcept;

// What the server refused by itself, before or instead of the app.
constexpr std::array<int, 5> REJECTION_STATUSES = {400, 408, 413, 431, 503};
constexpr int REJECTION_COUNT = static_cast<int>(REJECTION_STATUSES.size());
int rejection_index(int status) noexcept;  // -1 for any other status

// Request duration buckets (upper bounds, seconds): from a hello answer
// (well under a millisecond) to a slow report; +Inf follows them.
constexpr std::array<double, 14> DURATION_BOUNDS = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
constexpr int DURATION_BUCKETS = static_cast<int>(DURATION_BOUNDS.size()) + 1;
int duration_bucket(int64_t nanoseconds) noexcept;

// What a connection speaks now (a connection moves from HTTP/1.1 to HTTP/2
// or to a WebSocket; an RFC 8441 WebSocket stays an HTTP/2 connection).
enum class Protocol : uint8_t { Http1, Http2, WebSocket };
constexpr int PROTOCOL_COUNT = 3;
constexpr std::array<std::string_view, PROTOCOL_COUNT> PROTOCOL_NAMES = {"http1", "http2",
                                                                         "websocket"};

// Counters only grow; a retired block's are added to its worker's totals.
namespace counter {
constexpr int REQUESTS = 0;  // [method][status class]
constexpr int DURATION = REQUESTS + METHOD_COUNT * STATUS_CLASS_COUNT;  // [bucket], not cumulative
constexpr int DURATION_SUM_NS = DURATION + DURATION_BUCKETS;
constexpr int BYTES_IN = DURATION_SUM_NS + 1;
constexpr int BYTES_OUT = BYTES_IN + 1;
constexpr int REJECTIONS = BYTES_OUT + 1;  // [rejection index]
constexpr int COUNT = REJECTIONS + REJECTION_COUNT;
constexpr int requests(Method m, int status_class) {
  return REQUESTS + static_cast<int>(m) * STATUS_CLASS_COUNT + status_class;
}
}  // namespace counter

// Gauges say how things are now; a retired block's are dropped.
namespace gauge {
constexpr int IN_FLIGHT = 0;                // HTTP requests whose app runs
constexpr int CONNECTIONS = IN_FLIGHT + 1;  // [protocol]
constexpr int TICK_DUE_NS = CONNECTIONS + PROTOCOL_COUNT;  // CLOCK_MONOTONIC of the next tick
constexpr int TICK_LAG_NS = TICK_DUE_NS + 1;  // how late the last tick ran
constexpr int COUNT = TICK_LAG_NS + 1;
}  // namespace gauge

// A block's life: Free, Claimed by a shard as it starts serving, Live,
// Retired when it ends (the reader folds it and frees it again).
enum class BlockState : uint32_t { Free, Claiming, Live, Retired };

struct alignas(64) ShardBlock {
  std::atomic<uint32_t> state{0};
  std::atomic<int32_t> slot{0};  // the worker it counts for (the "worker" label)
  std::atomic<int32_t> pid{0};   // its process: freed when that process is gone
  std::atomic<int32_t> tid{0};   // its thread, whose CPU time makes the busy ratio
  std::array<std::atomic<uint64_t>, counter::COUNT> counters{};
  std::array<std::atomic<int64_t>, gauge::COUNT> gauges{};

  void add(int index, uint64_t n = 1) noexcept {
    counters[static_cast<size_t>(index)].fetch_add(n, std::memory_order_relaxed);
  }
  void change(int index, int64_t delta) noexcept {
    gauges[static_cast<size_t>(index)].fetch_add(delta, std::memory_order_relaxed);
  }
  void set(int index, int64_t value) noexcept {
    gauges[static_cast<size_t>(index)].store(value, std::memory_order_relaxed);
  }
  uint64_t read(int index) const noexcept {
    return counters[static_cast<size_t>(index)].load(std::memory_order_relaxed);
  }
  int64_t read_gauge(int index) const noexcept {
    return gauges[static_cast<size_t>(index)].load(std::memory_order_relaxed);
  }
  void reset() noexcept {
    for (auto& c : counters) c.store(0, std::memory_order_relaxed);
    for (auto& g : gauges) g.store(0, std::memory_order_relaxed);
  }
};

// What the server's code calls, one line per event.
// A response's status for a request (from the app, or the server's own
// answer); `duration_ns` < 0 when the app never ran (nothing to time).
void count_response(ShardBlock& block, std::string_view method, int status,
                    int64_t duration_ns) noexcept;
// The server refused a request by itself: counted when the status is one of
// REJECTION_STATUSES.
void count_rejection(ShardBlock& block, int status) noexcept;

// Shared between processes: the atomics must not hide a lock.
static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<int64_t>::is_always_lock_free);

}  // namespace subcorn::metrics
