// The balancer's rules: how loaded a shard is, where a new connection goes,
// and which shards give idle keep-alive connections to which. Plain numbers
// in and out (no threads, no sockets, no Python): the Server samples the
// shards and acts on the answers (server/server.cpp).
//
// The load measure, per shard, smoothed over about a second:
//
//   load = CPU seconds per second of the shard's thread + apps running now
//
// and, for a new connection, what runs right now: the apps running at this
// moment, and HELD_LOAD when the shard's thread is held (see below).
// The first term is what the thread actually spent (a request that computes);
// the second counts what waits or holds the thread without computing: an
// HTTP request whose app sleeps, a sync endpoint blocked on I/O, an open
// WebSocket (one each, however many messages). An idle keep-alive connection
// counts nothing: connections alone are not load. They only break ties:
// between shards whose loads are within LOAD_STEP of each other (the same
// level), the one with fewer connections is the less loaded.
#pragma once

#include <cstddef>
#include <vector>

namespace subcorn::server::balance {

// Loads closer than this are the same level (noise, not a difference).
constexpr double LOAD_STEP = 0.5;
// How fast the smoothed load follows the samples (seconds).
constexpr double LOAD_TIME_CONSTANT = 1.0;
// How often the Server samples and may move connections (seconds).
constexpr double INTERVAL = 0.25;
// At most this many connections move per interval, all shards together.
constexpr int MOVES_PER_INTERVAL = 16;
// A connection that moved stays on its new shard at least this long, so
// that no connection ping-pongs between two shards whose loads swing.
constexpr double MOVE_COOLDOWN = 5.0;
// A shard whose thread has been inside one wake-up (an app computing, a
// blocking WSGI call) for longer than HELD_AFTER_NS is held: it counts
// HELD_LOAD more at once, before its CPU time shows in the smoothed load.
constexpr long long HELD_AFTER_NS = 5'000'000;
constexpr double HELD_LOAD = 2.0;
// The load rule moves a connection only when the levels are at least this
// far apart (a whole core, or two running requests): hysteresis.
constexpr int LOAD_RULE_LEVELS = 2;

// One shard's smoothed load, sampled by the Server.
class LoadTracker {
 public:
  // `cpu_seconds`: the CPU clock of the shard's thread and its --threads
  // workers now (negative: unknown);
  // `running`: apps running now.
  void sample(double cpu_seconds, int running, double now);
  double load() const noexcept { return load_; }

 private:
  double cpu_seen_ = -1;
  double sampled_at_ = 0;
  double load_ = 0;
};

int level(double load);

// What the balancer sees of one serving shard.
struct ShardLoad {
  int level = 0;
  int connections = 0;
};

// Is `a` less loaded than `b`: a lower level, or the same level and fewer
// connections. (New connections go to the least loaded shard.)
bool less_loaded(const ShardLoad& a, const ShardLoad& b);

// How many idle connections each shard should give away now, at most
// MOVES_PER_INTERVAL in all (the shards give what they can: only idle
// connections move). Two rules, both moving towards the least loaded shard:
// - count: a shard not less loaded than it holds 2 or more connections more
//   (a shard that joined, or the first one that served at startup);
// - load: a shard at least LOAD_RULE_LEVELS levels above it gives one
//   connection per interval, as long as it keeps one.
// `arriving`: connections on their way to these shards and on none of them
// now (a retiring shard's idle ones, not placed yet). They will land where
// new connections go, on the least loaded shard one by one, and the plan
// counts them there: otherwise a shard that will get them looks empty and
// the others give it connections it will not need.
std::vector<int> plan_moves(const std::vector<ShardLoad>& shards, int arriving = 0);

}  // namespace subcorn::server::balance
