// The metrics table: every shard's counter block (metrics/counters.h) in one
// region of memory shared by the supervisor and its worker processes (a
// memfd the supervisor creates and each worker maps). Worker processes
// write their shards' blocks; the supervisor's metrics thread reads them all,
// so one scrape sees every process, and its totals outlive a worker process
// that is replaced or dies.
//
// Besides the blocks, per worker slot: how often it was recycled (a fresh
// interpreter, or a fresh process after --max-requests) and restarted (its
// process died); and the rejections made outside any shard (the acceptor's
// and the supervisor's 503 beyond --limit-max-connections).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

#include "io/unique_fd.h"
#include "metrics/counters.h"

namespace subcorn::metrics {

struct SlotRecord {
  std::atomic<uint64_t> recycles{0};
  std::atomic<uint64_t> restarts{0};
};

class Table {
 public:
  Table() = default;
  Table(Table&& other) noexcept;
  Table& operator=(Table&& other) noexcept;
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;
  ~Table();

  // A fresh table (the supervisor's); its fd is passed to the workers.
  static Table create(int slots, int blocks, std::string* error);
  // Maps the table a supervisor created (a worker process's).
  static Table attach(int fd, std::string* error);

  explicit operator bool() const noexcept { return base_ != nullptr; }
  int fd() const noexcept { return fd_.get(); }
  int slot_count() const noexcept;
  int block_count() const noexcept;
  SlotRecord& slot(int i) noexcept;
  ShardBlock& block(int i) noexcept;
  // Rejections counted outside a shard.
  void count_rejection(int status) noexcept;
  uint64_t rejections(int index) const noexcept;

  // A free block for a shard that starts serving (zeroed, Live); null when
  // every block is taken (the shard then serves uncounted).
  ShardBlock* claim(int slot, int pid, int tid) noexcept;

 private:
  struct Header;
  Header* header() const noexcept { return static_cast<Header*>(base_); }
  io::UniqueFd fd_;
  void* base_ = nullptr;
  size_t size_ = 0;
};

// A shard's block, as an owning handle: retired (for the reader to fold
// into the worker's totals and free) when the handle goes.
class BlockLease {
 public:
  BlockLease() = default;
  explicit BlockLease(ShardBlock* block) noexcept : block_(block) {}
  BlockLease(BlockLease&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}
  BlockLease& operator=(BlockLease&& other) noexcept {
    if (this != &other) {
      release();
      block_ = std::exchange(other.block_, nullptr);
    }
    return *this;
  }
  BlockLease(const BlockLease&) = delete;
  BlockLease& operator=(const BlockLease&) = delete;
  ~BlockLease() { release(); }

  ShardBlock* get() const noexcept { return block_; }
  void release() noexcept {
    if (ShardBlock* b = std::exchange(block_, nullptr))
      b->state.store(static_cast<uint32_t>(BlockState::Retired), std::memory_order_release);
  }

 private:
  ShardBlock* block_ = nullptr;
};

}  // namespace subcorn::metrics
