// The metrics port: its own listening socket and thread, outside every
// interpreter, so /metrics and the probes answer while every shard is busy
// (and while worker processes come and go: it lives in the supervisor).
// The thread also samples the table once a second (metrics/collector.h).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "io/unique_fd.h"
#include "metrics/collector.h"
#include "metrics/table.h"

namespace subcorn::metrics {

class Exporter {
 public:
  // Creates the table for `slots` workers and binds host:port; null and
  // `error` (one line) when either cannot be done.
  static std::unique_ptr<Exporter> start(const std::string& host, int port, int slots,
                                         std::string* error);
  ~Exporter();  // stops the thread

  int table_fd() const noexcept { return table_.fd(); }
  int port() const noexcept { return port_; }
  Table& table() noexcept { return table_; }
  void set_ready(bool ready) noexcept { ready_.store(ready, std::memory_order_relaxed); }
  void process_gone(int pid) noexcept { collector_.process_gone(pid); }

 private:
  Exporter(Table table, io::UniqueFd listener, int port);
  void run();

  Table table_;
  Collector collector_;
  io::UniqueFd listener_;
  io::UniqueFd stop_fd_;
  int port_;
  std::atomic<bool> ready_{false};
  std::thread thread_;
};

// Blocks in the table: every worker's shards, a replacement starting beside
// each (a recycle, a reload), and room for blocks of a process that died
// until its death is seen.
int table_blocks(int slots) noexcept;

}  // namespace subcorn::metrics
