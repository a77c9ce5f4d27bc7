#include "server/balance.h"

#include <algorithm>
#include <cmath>

namespace subcorn::server::balance {

void LoadTracker::sample(double cpu_seconds, int running, double now) {
  double busy = 0;
  if (cpu_seconds >= 0 && cpu_seen_ >= 0 && now > sampled_at_)
    busy = std::max(0.0, (cpu_seconds - cpu_seen_) / (now - sampled_at_));
  double elapsed = cpu_seen_ >= 0 ? now - sampled_at_ : INTERVAL;
  double keep = std::exp(-std::max(0.0, elapsed) / LOAD_TIME_CONSTANT);
  load_ = keep * load_ + (1 - keep) * (busy + running);
  cpu_seen_ = cpu_seconds;
  sampled_at_ = now;
}

int level(double load) { return static_cast<int>(std::floor(std::max(0.0, load) / LOAD_STEP)); }

bool less_loaded(const ShardLoad& a, const ShardLoad& b) {
  if (a.level != b.level) return a.level < b.level;
  return a.connections < b.connections;
}

namespace {

size_t least_loaded_at(const std::vector<ShardLoad>& shards) {
  size_t best = 0;
  for (size_t i = 1; i < shards.size(); ++i)
    if (less_loaded(shards[i], shards[best])) best = i;
  return best;
}

}  // namespace

std::vector<int> plan_moves(const std::vector<ShardLoad>& shards, int arriving) {
  std::vector<int> give(shards.size(), 0);
  if (shards.size() < 2) return give;
  std::vector<ShardLoad> after = shards;  // as the arrivals and the moves planned so far leave them
  for (; arriving > 0; --arriving) ++after[least_loaded_at(after)].connections;
  std::vector<bool> gave_by_load(shards.size(), false);
  for (int moves = 0; moves < MOVES_PER_INTERVAL; ++moves) {
    size_t to = least_loaded_at(after);
    // Count rule: the most connections, among shards at least as loaded.
    size_t from = to;
    for (size_t i = 0; i < after.size(); ++i) {
      if (i == to || after[i].level < after[to].level) continue;
      if (from == to || after[i].connections > after[from].connections) from = i;
    }
    if (from == to || after[from].connections - after[to].connections < 2) {
      // Load rule: the highest level gives one, if it is far enough above.
      from = to;
      for (size_t i = 0; i < after.size(); ++i)
        if (i != to && !gave_by_load[i] && after[i].connections >= 2 &&
            after[i].level - after[to].level >= LOAD_RULE_LEVELS &&
            (from == to || after[i].level > after[from].level))
          from = i;
      if (from == to) break;
      gave_by_load[from] = true;
    }
    ++give[from];
    --after[from].connections;
    ++after[to].connections;
  }
  return give;
}

}  // namespace subcorn::server::balance
