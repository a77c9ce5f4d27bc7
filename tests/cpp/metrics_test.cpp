// The metrics layer without a server: the counters' mappings, the shared
// table and its reader (blocks claimed, retired, folded, freed), the text a
// scrape gets, and the metrics port's request reader and routes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "io/clock.h"
#include "metrics/collector.h"
#include "metrics/counters.h"
#include "metrics/endpoint.h"
#include "metrics/exposition.h"
#include "metrics/table.h"

namespace subcorn::metrics {
namespace {

constexpr int64_t SECOND = 1'000'000'000;

Table make_table(int slots) {
  std::string error;
  Table t = Table::create(slots, 3 * slots + 2, &error);
  EXPECT_TRUE(t) << error;
  return t;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(MetricsCounters, Mappings) {
  EXPECT_EQ(method_of("GET"), Method::Get);
  EXPECT_EQ(method_of("OPTIONS"), Method::Options);
  EXPECT_EQ(method_of("get"), Method::Other);  // methods are case-sensitive
  EXPECT_EQ(method_of("PROPFIND"), Method::Other);
  EXPECT_EQ(method_of(""), Method::Other);
  EXPECT_EQ(status_class(101), 0);
  EXPECT_EQ(status_class(200), 1);
  EXPECT_EQ(status_class(399), 2);
  EXPECT_EQ(status_class(599), 4);
  EXPECT_EQ(rejection_index(431), 3);
  EXPECT_EQ(rejection_index(500), -1);
  // A bucket's bound is inclusive (Prometheus's "le").
  EXPECT_EQ(duration_bucket(0), 0);
  EXPECT_EQ(duration_bucket(500'000), 0);
  EXPECT_EQ(duration_bucket(500'001), 1);
  EXPECT_EQ(duration_bucket(10 * SECOND), DURATION_BUCKETS - 2);
  EXPECT_EQ(duration_bucket(10 * SECOND + 1), DURATION_BUCKETS - 1);
}

TEST(MetricsTable, AttachSeesTheSameMemory) {
  Table supervisor = make_table(2);
  std::string error;
  Table worker = Table::attach(dup(supervisor.fd()), &error);
  ASSERT_TRUE(worker) << error;
  ShardBlock* b = worker.claim(1, 42, 43);
  ASSERT_NE(b, nullptr);
  count_response(*b, "POST", 201, 3'000'000);
  Collector collector(supervisor);
  Snapshot snap = collector.snapshot(io::monotonic_ns());
  EXPECT_EQ(snap.workers[1].counters[counter::requests(Method::Post, 1)], 1u);
  EXPECT_EQ(snap.totals[counter::DURATION + duration_bucket(3'000'000)], 1u);
  EXPECT_EQ(snap.totals[counter::DURATION_SUM_NS], 3'000'000u);
}

TEST(MetricsTable, AttachRefusesWhatIsNotATable) {
  std::string error;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[1]);
  EXPECT_FALSE(Table::attach(fds[0], &error));
  EXPECT_NE(error.find("not one"), std::string::npos) << error;
}

TEST(MetricsTable, FullTableGivesNoBlock) {
  std::string error;
  Table t = Table::create(1, 2, &error);
  EXPECT_NE(t.claim(0, 1, 1), nullptr);
  EXPECT_NE(t.claim(0, 1, 2), nullptr);
  EXPECT_EQ(t.claim(0, 1, 3), nullptr);
}

TEST(MetricsCollector, RetiredBlocksKeepCountingForTheirWorker) {
  Table t = make_table(1);
  Collector c(t);
  {
    BlockLease old(t.claim(0, 1, 1));
    for (int i = 0; i < 5; ++i) count_response(*old.get(), "GET", 200, 1000);
    old.get()->change(gauge::CONNECTIONS, 3);  // left open: dropped with the block
  }  // retired here
  BlockLease fresh(t.claim(0, 1, 2));
  count_response(*fresh.get(), "GET", 200, 1000);
  Snapshot snap = c.snapshot(io::monotonic_ns());
  EXPECT_EQ(snap.totals[counter::requests(Method::Get, 1)], 6u);
  EXPECT_EQ(snap.gauges[gauge::CONNECTIONS], 0);
  // The retired block was freed for the next shard, and its counts stay.
  int free_blocks = 0;
  for (int i = 0; i < t.block_count(); ++i)
    free_blocks += t.block(i).state.load() == static_cast<uint32_t>(BlockState::Free);
  EXPECT_EQ(free_blocks, t.block_count() - 1);
  EXPECT_EQ(c.snapshot(io::monotonic_ns()).totals[counter::requests(Method::Get, 1)], 6u);
}

TEST(MetricsCollector, ProcessGoneRetiresItsBlocks) {
  Table t = make_table(2);
  Collector c(t);
  ShardBlock* dead = t.claim(0, 777, 777);
  ShardBlock* alive = t.claim(1, 888, 888);
  dead->add(counter::BYTES_IN, 10);
  dead->change(gauge::IN_FLIGHT, 1);
  alive->add(counter::BYTES_IN, 5);
  c.process_gone(777);
  Snapshot snap = c.snapshot(io::monotonic_ns());
  EXPECT_EQ(snap.totals[counter::BYTES_IN], 15u);
  EXPECT_EQ(snap.gauges[gauge::IN_FLIGHT], 0);
  EXPECT_EQ(dead->state.load(), static_cast<uint32_t>(BlockState::Free));
  EXPECT_EQ(alive->state.load(), static_cast<uint32_t>(BlockState::Live));
}

TEST(MetricsCollector, HealthAndLagFollowTheTick) {
  Table t = make_table(2);
  Collector c(t);
  int64_t now = io::monotonic_ns();
  ShardBlock* a = t.claim(0, 1, 1);
  ShardBlock* b = t.claim(1, 1, 2);
  EXPECT_EQ(c.unhealthy(now), "");  // not serving yet: no tick due
  a->set(gauge::TICK_DUE_NS, now + SECOND / 2);
  b->set(gauge::TICK_DUE_NS, now - SECOND / 2);  // half a second late: still fine
  EXPECT_EQ(c.unhealthy(now), "");
  b->set(gauge::TICK_DUE_NS, now - 2 * SECOND);
  std::string why = c.unhealthy(now);
  EXPECT_NE(why.find("worker 1"), std::string::npos) << why;
  EXPECT_NE(why.find("2.0 s late"), std::string::npos) << why;
  Snapshot snap = c.snapshot(now);
  EXPECT_DOUBLE_EQ(snap.workers[1].lag_seconds, 2.0);
  EXPECT_DOUBLE_EQ(snap.workers[0].lag_seconds, 0.0);
  // Once the loop ran the tick, the lag is what that tick measured.
  b->set(gauge::TICK_DUE_NS, now + SECOND);
  b->set(gauge::TICK_LAG_NS, SECOND / 10);
  EXPECT_DOUBLE_EQ(c.snapshot(now).workers[1].lag_seconds, 0.1);
}

TEST(MetricsCollector, BusyRatioOfARealThread) {
  Table t = make_table(1);
  Collector c(t);
  BlockLease me(t.claim(0, getpid(), gettid()));
  int64_t start = io::monotonic_ns();
  c.sample(start);
  volatile uint64_t spin = 0;
  while (io::monotonic_ns() - start < SECOND / 5) spin = spin + 1;  // this thread, on a CPU
  c.sample(io::monotonic_ns());
  // (The machine may be shared: a spinning thread gets at least some of a CPU.)
  EXPECT_GT(c.snapshot(io::monotonic_ns()).workers[0].busy_ratio, 0.25);
  usleep(200'000);  // and off it
  c.sample(io::monotonic_ns());
  EXPECT_LT(c.snapshot(io::monotonic_ns()).workers[0].busy_ratio, 0.2);
}

TEST(MetricsExposition, TheNumbersAsPrometheusText) {
  Table t = make_table(2);
  t.count_rejection(503);  // the acceptor's
  t.slot(1).restarts.store(2);
  ShardBlock* a = t.claim(0, 1, 1);
  ShardBlock* b = t.claim(1, 1, 2);
  count_response(*a, "GET", 200, 400'000);       // 0.0004 s
  count_response(*b, "GET", 404, 2'000'000);     // 0.002 s
  count_response(*b, "BREW", 500, -1);           // the app never ran: not timed
  count_rejection(*b, 431);
  count_rejection(*b, 503);
  a->change(gauge::CONNECTIONS + static_cast<int>(Protocol::WebSocket), 1);
  Collector c(t);
  std::string text = render(c.snapshot(io::monotonic_ns()));
  EXPECT_TRUE(has_line(text, "# TYPE subcorn_requests_total counter"));
  EXPECT_TRUE(has_line(text, R"(subcorn_requests_total{method="GET",code="2xx"} 1)"));
  EXPECT_TRUE(has_line(text, R"(subcorn_requests_total{method="GET",code="4xx"} 1)"));
  EXPECT_TRUE(has_line(text, R"(subcorn_requests_total{method="other",code="5xx"} 1)"));
  EXPECT_TRUE(has_line(text, R"(subcorn_request_duration_seconds_bucket{le="0.0005"} 1)"));
  EXPECT_TRUE(has_line(text, R"(subcorn_request_duration_seconds_bucket{le="0.001"} 1)"));
  EXPECT_TRUE(has_line(text, R"(subcorn_request_duration_seconds_bucket{le="0.0025"} 2)"));
  EXPECT_TRUE(has_line(text, R"(subcorn_request_duration_seconds_bucket{le="+Inf"} 2)"));
  EXPECT_TRUE(has_line(text, "subcorn_request_duration_seconds_count 2"));
  EXPECT_TRUE(has_line(text, "subcorn_request_duration_seconds_sum 0.0024"));
  EXPECT_TRUE(has_line(text, R"(subcorn_rejections_total{status="503"} 2)"));
  EXPECT_TRUE(has_line(text, R"(subcorn_rejections_total{status="431"} 1)"));
  EXPECT_TRUE(has_line(text, R"(subcorn_connections{protocol="websocket"} 1)"));
  EXPECT_TRUE(has_line(text, R"(subcorn_worker_requests_total{worker="0"} 1)"));
  EXPECT_TRUE(has_line(text, R"(subcorn_worker_requests_total{worker="1"} 2)"));
  EXPECT_TRUE(has_line(text, R"(subcorn_worker_restarts_total{worker="1"} 2)"));
  EXPECT_EQ(text.back(), '\n');
}

// The request reader, fed whole, byte by byte and with bytes after the head.
RequestReader::Progress feed_all(RequestReader& r, const std::string& input, bool bytewise) {
  RequestReader::Progress p = RequestReader::Progress::Incomplete;
  if (!bytewise) return r.feed(input);
  for (char ch : input) p = r.feed(std::string_view(&ch, 1));
  return p;
}

TEST(MetricsEndpoint, ReaderTakesARequestHowever) {
  const std::string request = "GET /metrics?x=1 HTTP/1.1\r\nHost: m\r\nAccept: */*\r\n\r\n";
  for (bool bytewise : {false, true}) {
    for (const std::string& trailing : {std::string(), std::string("GET /next HTTP/1.1\r\n")}) {
      RequestReader r;
      EXPECT_EQ(feed_all(r, request + trailing, bytewise), RequestReader::Progress::Whole);
      EXPECT_EQ(r.head().path, "/metrics?x=1");
      EXPECT_EQ(r.head().method, "GET");
    }
  }
  RequestReader partial;
  EXPECT_EQ(partial.feed(request.substr(0, 20)), RequestReader::Progress::Incomplete);
}

TEST(MetricsEndpoint, ReaderRefusesWhatIsNoRequest) {
  for (bool bytewise : {false, true}) {
    RequestReader bad;
    EXPECT_EQ(feed_all(bad, "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", bytewise),
              RequestReader::Progress::Malformed);
    EXPECT_EQ(bad.error_status(), 400);
    RequestReader huge;
    std::string big = "GET / HTTP/1.1\r\nHost: m\r\nX: " + std::string(9000, 'a') + "\r\n\r\n";
    EXPECT_EQ(feed_all(huge, big, bytewise), RequestReader::Progress::Malformed);
    EXPECT_EQ(huge.error_status(), 431);
  }
}

std::string answer(const std::string& request, Collector& c, bool ready, int64_t now) {
  RequestReader r;
  if (r.feed(request) != RequestReader::Progress::Whole) return "incomplete";
  return respond(r.head(), {c, ready, now});
}

TEST(MetricsEndpoint, Routes) {
  Table t = make_table(1);
  Collector c(t);
  int64_t now = io::monotonic_ns();
  auto get = [](const char* path, const char* method = "GET") {
    return std::string(method) + " " + path + " HTTP/1.1\r\nHost: m\r\n\r\n";
  };
  std::string metrics = answer(get("/metrics"), c, true, now);
  EXPECT_EQ(metrics.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << metrics;
  EXPECT_NE(metrics.find("content-type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos);
  EXPECT_NE(metrics.find("connection: close\r\n"), std::string::npos);
  EXPECT_NE(metrics.find("# TYPE subcorn_requests_total counter"), std::string::npos);
  std::string head = answer(get("/metrics", "HEAD"), c, true, now);
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(head.substr(head.find("\r\n\r\n") + 4), "");
  std::string none = answer(get("/readyz"), c, true, now);
  EXPECT_EQ(none.rfind("HTTP/1.1 503", 0), 0u);
  EXPECT_NE(none.find("no worker serves"), std::string::npos);
  ShardBlock* stuck = t.claim(0, 1, 1);
  EXPECT_EQ(answer(get("/readyz"), c, true, now).rfind("HTTP/1.1 503", 0), 0u);  // not serving yet
  stuck->set(gauge::TICK_DUE_NS, now + SECOND / 2);
  EXPECT_EQ(answer(get("/readyz"), c, true, now).rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(answer(get("/readyz"), c, false, now).rfind("HTTP/1.1 503", 0), 0u);
  EXPECT_EQ(answer(get("/healthz"), c, false, now).rfind("HTTP/1.1 200", 0), 0u);
  stuck->set(gauge::TICK_DUE_NS, now - 3 * SECOND);
  std::string sick = answer(get("/healthz"), c, true, now);
  EXPECT_EQ(sick.rfind("HTTP/1.1 503", 0), 0u) << sick;
  EXPECT_NE(sick.find("late for its tick"), std::string::npos);
  EXPECT_EQ(answer(get("/"), c, true, now).rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(answer(get("/metricsx"), c, true, now).rfind("HTTP/1.1 404", 0), 0u);
  std::string post = answer(get("/metrics", "POST"), c, true, now);
  EXPECT_EQ(post.rfind("HTTP/1.1 405", 0), 0u);
  EXPECT_NE(post.find("allow: GET, HEAD\r\n"), std::string::npos);
}

}  // namespace
}  // namespace subcorn::metrics
