// ThrottledReport: at most one log line per interval, none lost.
#include "server/throttled_report.h"

#include <gtest/gtest.h>

#include <cmath>

namespace subcorn::server {
namespace {

TEST(ThrottledReport, NothingToTellAtFirst) {
  ThrottledReport report;
  EXPECT_EQ(report.take_due(0.0), 0);
  EXPECT_TRUE(std::isinf(report.next_due()));
}

TEST(ThrottledReport, FirstEventIsToldAtOnce) {
  ThrottledReport report;
  report.count();
  EXPECT_EQ(report.next_due(), -INFINITY);
  EXPECT_EQ(report.take_due(100.0), 1);
  EXPECT_EQ(report.take_due(100.0), 0);
}

TEST(ThrottledReport, EventsWithinTheIntervalWaitAndAreToldTogether) {
  ThrottledReport report(1.0);
  report.count();
  EXPECT_EQ(report.take_due(10.0), 1);
  for (int i = 0; i < 1000; ++i) report.count();
  EXPECT_EQ(report.take_due(10.5), 0);  // too soon after the last line
  EXPECT_DOUBLE_EQ(report.next_due(), 11.0);
  report.count(5);
  EXPECT_EQ(report.take_due(11.0), 1005);
  EXPECT_TRUE(std::isinf(report.next_due()));
}

TEST(ThrottledReport, AQuietSpellMakesTheNextEventImmediate) {
  ThrottledReport report(1.0);
  report.count();
  EXPECT_EQ(report.take_due(10.0), 1);
  report.count();
  EXPECT_EQ(report.take_due(25.0), 1);
}

}  // namespace
}  // namespace subcorn::server
