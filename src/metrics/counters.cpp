#include "metrics/counters.h"

namespace subcorn::metrics {

Method method_of(std::string_view method) noexcept {
  for (int i = 0; i < METHOD_COUNT - 1; ++i)
    if (METHOD_NAMES[static_cast<size_t>(i)] == method) return static_cast<Method>(i);
  return Method::Other;
}

int status_class(int status) noexcept {
  int c = status / 100 - 1;
  return c < 0 ? 0 : c >= STATUS_CLASS_COUNT ? STATUS_CLASS_COUNT - 1 : c;
}

int rejection_index(int status) noexcept {
  for (int i = 0; i < REJECTION_COUNT; ++i)
    if (REJECTION_STATUSES[static_cast<size_t>(i)] == status) return i;
  return -1;
}

int duration_bucket(int64_t nanoseconds) noexcept {
  double seconds = static_cast<double>(nanoseconds) * 1e-9;
  for (int i = 0; i < DURATION_BUCKETS - 1; ++i)
    if (seconds <= DURATION_BOUNDS[static_cast<size_t>(i)]) return i;
  return DURATION_BUCKETS - 1;
}

void count_response(ShardBlock& block, std::string_view method, int status,
                    int64_t duration_ns) noexcept {
  block.add(counter::requests(method_of(method), status_class(status)));
  if (duration_ns < 0) return;
  block.add(counter::DURATION + duration_bucket(duration_ns));
  block.add(counter::DURATION_SUM_NS, static_cast<uint64_t>(duration_ns));
}

void count_rejection(ShardBlock& block, int status) noexcept {
  if (int i = rejection_index(status); i >= 0) block.add(counter::REJECTIONS + i);
}

}  // namespace subcorn::metrics
