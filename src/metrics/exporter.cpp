#include "metrics/exporter.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <unordered_map>
#include <vector>

#include "io/clock.h"
#include "io/poller.h"
#include "io/socket.h"
#include "metrics/endpoint.h"

namespace subcorn::metrics {
namespace {

constexpr uint64_t TOKEN_LISTENER = 1;
constexpr uint64_t TOKEN_TIMER = 2;
constexpr uint64_t TOKEN_STOP = 3;
// A scraper asks for one small thing: more clients than this at once, or a
// request slower than this, is not a scraper.
constexpr size_t MAX_CLIENTS = 64;
constexpr int64_t CLIENT_DEADLINE_NS = 5'000'000'000;

// One scrape or probe: its request in, its response out, then closed.
struct Client {
  explicit Client(int fd) : socket(fd) {}
  io::UniqueFd socket;
  RequestReader request;
  std::string output;  // the response, once known
  size_t written = 0;
  int64_t deadline_ns = 0;
};

}  // namespace

int table_blocks(int slots) noexcept { return 3 * slots + 8; }

std::unique_ptr<Exporter> Exporter::start(const std::string& host, int port, int slots,
                                          std::string* error) {
  Table table = Table::create(slots, table_blocks(slots), error);
  if (!table) return nullptr;
  io::Listener listener;
  if (!io::listen_tcp(host, port, 64, &listener, error)) {
    *error = "--metrics: " + *error;
    return nullptr;
  }
  std::unique_ptr<Exporter> exporter(
      new Exporter(std::move(table), std::move(listener.fd), listener.port));
  exporter->thread_ = std::thread([e = exporter.get()] { e->run(); });
  return exporter;
}

Exporter::Exporter(Table table, io::UniqueFd listener, int port)
    : table_(std::move(table)),
      collector_(table_),
      listener_(std::move(listener)),
      stop_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      port_(port) {}

Exporter::~Exporter() {
  uint64_t one = 1;
  (void)!::write(stop_fd_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void Exporter::run() {
  io::Poller poller;
  io::UniqueFd timer(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  itimerspec every_second{{1, 0}, {1, 0}};
  timerfd_settime(timer.get(), 0, &every_second, nullptr);
  poller.add(listener_.get(), EPOLLIN, TOKEN_LISTENER);
  poller.add(timer.get(), EPOLLIN, TOKEN_TIMER);
  poller.add(stop_fd_.get(), EPOLLIN, TOKEN_STOP);
  std::unordered_map<int, std::unique_ptr<Client>> clients;
  collector_.sample(io::monotonic_ns());

  auto close_client = [&](int fd) {
    poller.remove(fd);
    clients.erase(fd);
  };
  // Writes what it can; true once the whole response is out.
  auto write_out = [&](Client& c) {
    while (c.written < c.output.size()) {
      ssize_t n = ::write(c.socket.get(), c.output.data() + c.written, c.output.size() - c.written);
      if (n > 0) {
        c.written += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        poller.modify(c.socket.get(), EPOLLOUT, static_cast<uint64_t>(c.socket.get()) << 8);
        return false;
      }
      return true;  // the peer left: nothing more to do for it
    }
    return true;
  };
  // Reads what came and answers once the request's head is whole; true
  // when the client is done with.
  auto on_readable = [&](Client& c) {
    char buffer[4096];
    RequestReader::Progress progress = RequestReader::Progress::Incomplete;
    while (progress == RequestReader::Progress::Incomplete) {
      ssize_t n = ::read(c.socket.get(), buffer, sizeof buffer);
      if (n > 0) {
        progress = c.request.feed(std::string_view(buffer, static_cast<size_t>(n)));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return false;
      return true;  // it left (or shut its side) before its request was whole
    }
    c.output = progress == RequestReader::Progress::Malformed
                   ? respond_error(c.request.error_status())
                   : respond(c.request.head(), {collector_, ready_.load(std::memory_order_relaxed),
                                                io::monotonic_ns()});
    // The rest of what it sent is not read: shut our side once answered.
    return write_out(c);
  };

  epoll_event events[32];
  for (;;) {
    int n = poller.wait(events, 32, -1);
    for (int i = 0; i < n; ++i) {
      uint64_t token = events[i].data.u64;
      if (token == TOKEN_STOP) return;
      if (token == TOKEN_TIMER) {
        uint64_t count;
        (void)!::read(timer.get(), &count, sizeof count);
        int64_t now = io::monotonic_ns();
        collector_.sample(now);
        std::vector<int> late;
        for (auto& [fd, c] : clients)
          if (now > c->deadline_ns) late.push_back(fd);
        for (int fd : late) close_client(fd);
        continue;
      }
      if (token == TOKEN_LISTENER) {
        for (;;) {
          int fd = io::accept_connection(listener_.get(), false);
          if (fd < 0) break;
          if (clients.size() >= MAX_CLIENTS) {
            ::close(fd);
            continue;
          }
          auto c = std::make_unique<Client>(fd);
          c->deadline_ns = io::monotonic_ns() + CLIENT_DEADLINE_NS;
          // A client's token is its fd, shifted above the fixed tokens.
          poller.add(fd, EPOLLIN | EPOLLRDHUP, static_cast<uint64_t>(fd) << 8);
          clients.emplace(fd, std::move(c));
        }
        continue;
      }
      int fd = static_cast<int>(token >> 8);
      auto it = clients.find(fd);
      if (it == clients.end()) continue;
      Client& c = *it->second;
      bool done = c.output.empty() ? on_readable(c) : write_out(c);
      if (done) {
        // A lingering close is not needed: the request was read whole
        // before the answer, and the answer says "connection: close".
        ::shutdown(fd, SHUT_WR);
        close_client(fd);
      }
    }
  }
}

}  // namespace subcorn::metrics
