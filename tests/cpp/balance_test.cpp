// The balancer's rules (server/balance.h): the load levels, where a new
// connection goes, and which shards give idle connections away.
#include "server/balance.h"

#include <gtest/gtest.h>

#include <vector>

namespace subcorn::server::balance {
namespace {

TEST(BalanceLevel, LoadsWithinAStepAreTheSameLevel) {
  EXPECT_EQ(level(0.0), 0);
  EXPECT_EQ(level(0.49), 0);
  EXPECT_EQ(level(0.5), 1);
  EXPECT_EQ(level(2.2), 4);
  EXPECT_EQ(level(-1.0), 0);
}

TEST(BalanceLessLoaded, LevelFirstThenConnections) {
  EXPECT_TRUE(less_loaded({0, 10}, {1, 0}));   // connections alone are not load
  EXPECT_TRUE(less_loaded({1, 2}, {1, 3}));
  EXPECT_FALSE(less_loaded({1, 3}, {1, 3}));
}

TEST(BalanceLoadTracker, FollowsCpuAndRunningAppsOverAboutASecond) {
  LoadTracker t;
  t.sample(0.0, 0, 100.0);
  EXPECT_DOUBLE_EQ(t.load(), 0.0);
  // A whole core busy and one app running, sampled every INTERVAL for 3 s.
  double cpu = 0;
  for (double now = 100.0 + INTERVAL; now <= 103.0 + 1e-9; now += INTERVAL) {
    cpu += INTERVAL;
    t.sample(cpu, 1, now);
  }
  EXPECT_GT(t.load(), 1.85);  // 2 * (1 - e^-3)
  EXPECT_LT(t.load(), 2.0);
  // Idle again: after a second it has lost most of it.
  for (double now = 103.0 + INTERVAL; now <= 104.0 + 1e-9; now += INTERVAL) t.sample(cpu, 0, now);
  EXPECT_LT(t.load(), 0.8);
}

TEST(BalanceLoadTracker, AnUnknownClockCountsNoCpu) {
  LoadTracker t;
  t.sample(-1, 2, 1.0);
  t.sample(-1, 2, 1.25);
  EXPECT_GT(t.load(), 0.0);
  EXPECT_LT(t.load(), 2.0);
}

TEST(BalancePlan, AShardThatJoinsGetsHalfOfTheOthersConnections) {
  // At startup every connection reached the first shard; the second joins.
  EXPECT_EQ(plan_moves({{0, 4}, {0, 0}}), (std::vector<int>{2, 0}));
  EXPECT_EQ(plan_moves({{0, 0}, {0, 5}}), (std::vector<int>{0, 2}));
}

TEST(BalancePlan, EveryShardGivesToTheOneThatJoined) {
  // 3 shards with 6 each, a 4th joins: it should end with about 4-5.
  std::vector<int> give = plan_moves({{0, 6}, {0, 6}, {0, 6}, {0, 0}});
  EXPECT_EQ(give[3], 0);
  EXPECT_EQ(give[0] + give[1] + give[2], 4);
  for (int i = 0; i < 3; ++i) EXPECT_GE(give[i], 1);
}

TEST(BalancePlan, BalancedOrNearlySoMovesNothing) {
  EXPECT_EQ(plan_moves({{0, 2}, {0, 2}}), (std::vector<int>{0, 0}));
  EXPECT_EQ(plan_moves({{0, 3}, {0, 2}}), (std::vector<int>{0, 0}));  // hysteresis
  EXPECT_EQ(plan_moves({{3, 5}}), (std::vector<int>{0}));
  EXPECT_TRUE(plan_moves({}).empty());
}

TEST(BalancePlan, ALessLoadedShardWithMoreConnectionsGivesNothingToABusierOne) {
  // The busy shard holds one heavy connection; the other's many light ones
  // must not pile onto it.
  EXPECT_EQ(plan_moves({{4, 1}, {0, 8}}), (std::vector<int>{0, 0}));
}

TEST(BalancePlan, ABusyShardGivesOneConnectionPerIntervalAndKeepsOne) {
  EXPECT_EQ(plan_moves({{4, 3}, {0, 3}}), (std::vector<int>{1, 0}));
  EXPECT_EQ(plan_moves({{4, 1}, {0, 0}}), (std::vector<int>{0, 0}));
  // Within LOAD_RULE_LEVELS: noise, nothing moves.
  EXPECT_EQ(plan_moves({{1, 3}, {0, 3}}), (std::vector<int>{0, 0}));
}

TEST(BalancePlan, ConnectionsOnTheirWayCountWhereTheyWillLand) {
  // A recycled shard's 2 idle connections are on their way: they will land
  // on the fresh shard (0), which then has as many as the other. Counted
  // nowhere, the other would give one away too and leave 1 against 3.
  EXPECT_EQ(plan_moves({{0, 2}, {0, 0}}, 2), (std::vector<int>{0, 0}));
  EXPECT_EQ(plan_moves({{0, 0}, {0, 2}}, 2), (std::vector<int>{0, 0}));
  // Not enough to even it out: the rest moves as before.
  EXPECT_EQ(plan_moves({{0, 6}, {0, 0}}, 2), (std::vector<int>{2, 0}));
  // They land by load first, like a new connection: on the idle shard.
  EXPECT_EQ(plan_moves({{4, 3}, {0, 0}}, 3), (std::vector<int>{1, 0}));
  EXPECT_EQ(plan_moves({{0, 0}, {0, 0}, {0, 0}}, 5), (std::vector<int>{0, 0, 0}));
}

TEST(BalancePlan, AtMostMovesPerIntervalInAll) {
  std::vector<int> give = plan_moves({{0, 1000}, {0, 0}});
  EXPECT_EQ(give[0], MOVES_PER_INTERVAL);
}

}  // namespace
}  // namespace subcorn::server::balance
