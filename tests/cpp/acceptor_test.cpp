// The supervisor's acceptor (src/supervise/acceptor.h) with real sockets: a
// loopback listener, clients that connect to it, and socketpairs whose far
// ends stand for the worker processes (they receive the connections the way
// the engine's Server::receive_handed_over does, and report "closed").
#include "supervise/acceptor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "io/socket.h"

namespace subcorn::supervise {
namespace {

using io::UniqueFd;

struct TestListener {
  UniqueFd fd;
  int port = 0;
};

TestListener listen_loopback() {
  TestListener l;
  // Blocking, as the supervisor's socket is: the acceptor makes it non-blocking.
  l.fd.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(l.fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(listen(l.fd.get(), 64), 0);
  socklen_t len = sizeof addr;
  getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  l.port = ntohs(addr.sin_port);
  return l;
}

UniqueFd connect_to(int port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

// A worker process's end of its channel.
struct FakeWorker {
  int id;
  UniqueFd end;

  // The next connection handed over, or an empty fd after `timeout_ms`.
  UniqueFd receive(int timeout_ms = 2000) {
    pollfd p{end.get(), POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return UniqueFd();
    int fds[16], lost = 0;
    int n = io::receive_fds(end.get(), fds, 16, &lost);
    EXPECT_EQ(n, 1) << "one connection per message";
    EXPECT_EQ(lost, 0);
    return n == 1 ? UniqueFd(fds[0]) : UniqueFd();
  }
  void report_closed(long count = 1) { ASSERT_EQ(io::send_closed_report(end.get(), count), 0); }
};

FakeWorker add_worker(Acceptor& a, int id) {
  int pair[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  a.add_worker(id, UniqueFd(pair[0]));
  return FakeWorker{id, UniqueFd(pair[1])};
}

std::unique_ptr<Acceptor> start(std::vector<int> fds, long limit = 0) {
  std::string error;
  auto a = Acceptor::start({std::move(fds), "HTTP/1.1 503 Service Unavailable\r\n\r\n", limit}, &error);
  EXPECT_TRUE(a) << error;
  return a;
}

// The acceptor's thread reads reports on its own time.
template <typename F>
bool eventually(F condition) {
  for (int i = 0; i < 200; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// The connection a worker received is the one the client opened: a byte
// written by the client arrives on it.
void expect_same_connection(const UniqueFd& client, const UniqueFd& received) {
  ASSERT_TRUE(received);
  ASSERT_EQ(send(client.get(), "x", 1, 0), 1);
  pollfd p{received.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 2000), 1);
  char c = 0;
  ASSERT_EQ(recv(received.get(), &c, 1, 0), 1);
  EXPECT_EQ(c, 'x');
}

TEST(Acceptor, EachConnectionGoesToTheWorkerHoldingFewest) {
  TestListener l = listen_loopback();
  auto a = start({l.fd.get()});
  FakeWorker w1 = add_worker(*a, 1), w2 = add_worker(*a, 2);
  a->set_targets({1, 2});
  std::vector<UniqueFd> clients, at1, at2;
  for (int i = 0; i < 4; ++i) clients.push_back(connect_to(l.port));
  for (int i = 0; i < 2; ++i) {
    at1.push_back(w1.receive());
    at2.push_back(w2.receive());
  }
  for (auto& fd : at1) EXPECT_TRUE(fd);
  for (auto& fd : at2) EXPECT_TRUE(fd);
  EXPECT_EQ(a->connections(1), 2);
  EXPECT_EQ(a->connections(2), 2);
  // Worker 1's two close (reported together): the next two connections are both its.
  w1.report_closed(2);
  ASSERT_TRUE(eventually([&] { return a->connections(1) == 0; }));
  UniqueFd c5 = connect_to(l.port), c6 = connect_to(l.port);
  EXPECT_TRUE(w1.receive());
  EXPECT_TRUE(w1.receive());
  EXPECT_FALSE(w2.receive(200));
  EXPECT_EQ(a->take_report().handed_over, 6);
}

TEST(Acceptor, ReportsAddUpAndWhatIsNotAReportCountsNothing) {
  TestListener l = listen_loopback();
  auto a = start({l.fd.get()});
  FakeWorker w = add_worker(*a, 1);
  a->set_targets({1});
  std::vector<UniqueFd> clients, held;
  for (int i = 0; i < 5; ++i) clients.push_back(connect_to(l.port));
  for (int i = 0; i < 5; ++i) held.push_back(w.receive());
  ASSERT_EQ(a->connections(1), 5);
  ASSERT_EQ(send(w.end.get(), "ready\n", 6, 0), 6);
  w.report_closed(3);
  ASSERT_TRUE(eventually([&] { return a->connections(1) == 2; }));
  // More than it holds never makes the count negative.
  w.report_closed(7);
  ASSERT_TRUE(eventually([&] { return a->connections(1) == 0; }));
}

TEST(ClosedReport, TheCountItCarries) {
  EXPECT_EQ(io::closed_report_count("closed 1\n"), 1);
  EXPECT_EQ(io::closed_report_count("closed 16\n"), 16);
  EXPECT_EQ(io::closed_report_count("closed 123456789"), 123456789);
  EXPECT_EQ(io::closed_report_count("closed"), 0);
  EXPECT_EQ(io::closed_report_count("closed\n"), 0);
  EXPECT_EQ(io::closed_report_count("closed \n"), 0);
  EXPECT_EQ(io::closed_report_count("closed -3\n"), 0);
  EXPECT_EQ(io::closed_report_count("closed 0\n"), 0);
  EXPECT_EQ(io::closed_report_count("closedx 2\n"), 0);
  EXPECT_EQ(io::closed_report_count("ready\n"), 0);
  EXPECT_EQ(io::closed_report_count(""), 0);
}

TEST(ClosedReport, WhatIsSentIsWhatIsRead) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  UniqueFd a(pair[0]), b(pair[1]);
  for (long count : {1L, 2L, 99L, 1000000L}) {
    ASSERT_EQ(io::send_closed_report(a.get(), count), 0);
    char message[64];
    ssize_t n = recv(b.get(), message, sizeof message, 0);
    ASSERT_GT(n, 0);
    EXPECT_EQ(io::closed_report_count(std::string_view(message, static_cast<size_t>(n))), count);
  }
}

TEST(ClosedReport, AFullChannelSaysSoAndLosesNothing) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  UniqueFd a(pair[0]), b(pair[1]);
  int sent = 0, result = 0;
  while ((result = io::send_closed_report(a.get(), 1)) == 0) ++sent;
  EXPECT_EQ(result, -EAGAIN);
  int read = 0;
  char message[64];
  while (recv(b.get(), message, sizeof message, MSG_DONTWAIT) > 0) ++read;
  EXPECT_EQ(read, sent);
}

TEST(Acceptor, HandsOverTheClientsOwnConnection) {
  TestListener l = listen_loopback();
  auto a = start({l.fd.get()});
  FakeWorker w = add_worker(*a, 7);
  a->set_targets({7});
  UniqueFd client = connect_to(l.port);
  UniqueFd received = w.receive();
  // The worker gets it ready to serve: nonblocking, and without Nagle's delay.
  ASSERT_TRUE(received);
  EXPECT_TRUE(fcntl(received.get(), F_GETFL) & O_NONBLOCK);
  int nodelay = 0;
  socklen_t size = sizeof nodelay;
  ASSERT_EQ(getsockopt(received.get(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &size), 0);
  EXPECT_EQ(nodelay, 1);
  expect_same_connection(client, received);
}

TEST(Acceptor, NewTargetsTakeEveryConnectionOnceSetTargetsReturns) {
  TestListener l = listen_loopback();
  auto a = start({l.fd.get()});
  FakeWorker old_gen = add_worker(*a, 1), new_gen = add_worker(*a, 2);
  a->set_targets({1});
  UniqueFd first = connect_to(l.port);
  EXPECT_TRUE(old_gen.receive());
  a->set_targets({2});
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(connect_to(l.port));
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(new_gen.receive()) << i;
  EXPECT_FALSE(old_gen.receive(200));
  // The old worker is still read: its connection closing is counted.
  old_gen.report_closed();
  EXPECT_TRUE(eventually([&] { return a->connections(1) == 0; }));
}

TEST(Acceptor, WithoutTargetsConnectionsWaitInTheBacklog) {
  TestListener l = listen_loopback();
  auto a = start({l.fd.get()});
  FakeWorker w = add_worker(*a, 1);
  UniqueFd client = connect_to(l.port);  // the kernel completes it; nobody accepts
  EXPECT_FALSE(w.receive(200));
  a->set_targets({1});
  expect_same_connection(client, w.receive());
  a->set_targets({});
  UniqueFd later = connect_to(l.port);
  EXPECT_FALSE(w.receive(200));
  a->set_targets({1});
  expect_same_connection(later, w.receive());
}

TEST(Acceptor, EveryListenerIsServed) {
  TestListener l1 = listen_loopback(), l2 = listen_loopback();
  auto a = start({l1.fd.get(), l2.fd.get()});
  FakeWorker w = add_worker(*a, 1);
  a->set_targets({1});
  UniqueFd c1 = connect_to(l1.port);
  expect_same_connection(c1, w.receive());
  UniqueFd c2 = connect_to(l2.port);
  expect_same_connection(c2, w.receive());
}

TEST(Acceptor, BeyondTheLimitAConnectionIsRefusedAndReported) {
  TestListener l = listen_loopback();
  auto a = start({l.fd.get()}, /*limit=*/1);
  FakeWorker w = add_worker(*a, 1);
  a->set_targets({1});
  UniqueFd first = connect_to(l.port);
  EXPECT_TRUE(w.receive());
  UniqueFd second = connect_to(l.port);
  char buf[128];
  ssize_t n = recv(second.get(), buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "HTTP/1.1 503 Service Unavailable\r\n\r\n");
  EXPECT_EQ(recv(second.get(), buf, sizeof buf, 0), 0) << "closed after the refusal";
  pollfd p{a->attention_fd(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 2000), 1) << "the supervisor is told there is something to log";
  AcceptorReport report = a->take_report();
  EXPECT_EQ(report.over_limit, 1);
  EXPECT_EQ(report.handed_over, 1);
  EXPECT_EQ(poll(&p, 1, 0), 0) << "taking the report clears the attention";
  // Once the first closes, a connection is served again.
  w.report_closed();
  ASSERT_TRUE(eventually([&] { return a->connections(1) == 0; }));
  UniqueFd third = connect_to(l.port);
  expect_same_connection(third, w.receive());
}

TEST(Acceptor, AWorkerThatExitedIsForgottenAndTheOthersServe) {
  TestListener l = listen_loopback();
  auto a = start({l.fd.get()});
  FakeWorker w1 = add_worker(*a, 1), w2 = add_worker(*a, 2);
  a->set_targets({1, 2});
  w1.end.reset();  // the process is gone
  ASSERT_TRUE(eventually([&] { return a->connections(1) == -1; }));
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(connect_to(l.port));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(w2.receive()) << i;
}

TEST(Acceptor, NoTargetCanTakeItRefusesAndPauses) {
  TestListener l = listen_loopback();
  auto a = start({l.fd.get()});
  FakeWorker w = add_worker(*a, 1);
  // The worker's end is shut for reading: every hand-over fails as it does
  // when a worker's channel is full.
  ASSERT_EQ(shutdown(w.end.get(), SHUT_RD), 0);
  a->set_targets({1});
  UniqueFd client = connect_to(l.port);
  char buf[128];
  ssize_t n = recv(client.get(), buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 503");
  EXPECT_TRUE(eventually([&] { return a->take_report().unplaced == 1; }));
}

TEST(Acceptor, StopsWhileIdleAndWhileConnectionsWait) {
  TestListener l = listen_loopback();
  {
    auto a = start({l.fd.get()});
  }
  auto a = start({l.fd.get()});
  FakeWorker w = add_worker(*a, 1);
  UniqueFd waiting = connect_to(l.port);
  a.reset();  // joins the thread; the connection is still in the backlog
  auto b = start({l.fd.get()});
  FakeWorker w2 = add_worker(*b, 1);
  b->set_targets({1});
  expect_same_connection(waiting, w2.receive());
}

}  // namespace
}  // namespace subcorn::supervise
