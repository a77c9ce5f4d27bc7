#include "metrics/table.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

namespace subcorn::metrics {

// What the memory starts with; the slots, then the blocks, follow it.
struct Table::Header {
  static constexpr uint64_t MAGIC = 0x7375626d65747231;  // "submetr1": same layout, same build
  uint64_t magic;
  int32_t slots;
  int32_t blocks;
  std::array<std::atomic<uint64_t>, REJECTION_COUNT> rejections;
};

namespace {

// The header gets two cache lines of its own.
constexpr size_t slots_offset() { return 128; }

size_t blocks_offset(int slots) {
  size_t end = slots_offset() + sizeof(SlotRecord) * static_cast<size_t>(slots);
  return (end + alignof(ShardBlock) - 1) / alignof(ShardBlock) * alignof(ShardBlock);
}

size_t table_size(int slots, int blocks) {
  return blocks_offset(slots) + sizeof(ShardBlock) * static_cast<size_t>(blocks);
}

}  // namespace

Table::Table(Table&& other) noexcept
    : fd_(std::move(other.fd_)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

Table& Table::operator=(Table&& other) noexcept {
  if (this != &other) {
    if (base_) munmap(base_, size_);
    fd_ = std::move(other.fd_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Table::~Table() {
  if (base_) munmap(base_, size_);
}

Table Table::create(int slots, int blocks, std::string* error) {
  static_assert(sizeof(Header) <= 128);
  Table t;
  t.fd_.reset(memfd_create("subcorn-metrics", MFD_CLOEXEC));
  t.size_ = table_size(slots, blocks);
  if (!t.fd_ || ftruncate(t.fd_.get(), static_cast<off_t>(t.size_)) != 0) {
    *error = std::string("cannot create the metrics table: ") + std::strerror(errno);
    return Table();
  }
  t.base_ = mmap(nullptr, t.size_, PROT_READ | PROT_WRITE, MAP_SHARED, t.fd_.get(), 0);
  if (t.base_ == MAP_FAILED) {
    t.base_ = nullptr;
    *error = std::string("cannot map the metrics table: ") + std::strerror(errno);
    return Table();
  }
  // The memory is zeroed by the kernel: every atomic starts at 0, every block Free.
  auto* h = new (t.base_) Header{};
  h->magic = Header::MAGIC;
  h->slots = slots;
  h->blocks = blocks;
  for (int i = 0; i < slots; ++i) new (&t.slot(i)) SlotRecord{};
  for (int i = 0; i < blocks; ++i) new (&t.block(i)) ShardBlock{};
  return t;
}

Table Table::attach(int fd, std::string* error) {
  Table t;
  t.fd_.reset(fd);
  struct stat st{};
  if (fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) < sizeof(Header)) {
    *error = "the metrics table given is not one";
    return Table();
  }
  t.size_ = static_cast<size_t>(st.st_size);
  t.base_ = mmap(nullptr, t.size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (t.base_ == MAP_FAILED) {
    t.base_ = nullptr;
    *error = std::string("cannot map the metrics table: ") + std::strerror(errno);
    return Table();
  }
  const Header* h = t.header();
  if (h->magic != Header::MAGIC || table_size(h->slots, h->blocks) != t.size_) {
    *error = "the metrics table given has another layout";
    return Table();
  }
  // The mapping is what is used from now on: the descriptor is not kept
  // open for the app's subprocesses to inherit.
  t.fd_.reset();
  return t;
}

int Table::slot_count() const noexcept { return header()->slots; }
int Table::block_count() const noexcept { return header()->blocks; }

SlotRecord& Table::slot(int i) noexcept {
  return *reinterpret_cast<SlotRecord*>(static_cast<char*>(base_) + slots_offset() +
                                        sizeof(SlotRecord) * static_cast<size_t>(i));
}

ShardBlock& Table::block(int i) noexcept {
  return *reinterpret_cast<ShardBlock*>(static_cast<char*>(base_) + blocks_offset(header()->slots) +
                                        sizeof(ShardBlock) * static_cast<size_t>(i));
}

void Table::count_rejection(int status) noexcept {
  if (int i = rejection_index(status); i >= 0)
    header()->rejections[static_cast<size_t>(i)].fetch_add(1, std::memory_order_relaxed);
}

uint64_t Table::rejections(int index) const noexcept {
  return header()->rejections[static_cast<size_t>(index)].load(std::memory_order_relaxed);
}

ShardBlock* Table::claim(int slot, int pid, int tid) noexcept {
  for (int i = 0; i < block_count(); ++i) {
    ShardBlock& b = block(i);
    uint32_t expected = static_cast<uint32_t>(BlockState::Free);
    if (!b.state.compare_exchange_strong(expected, static_cast<uint32_t>(BlockState::Claiming),
                                         std::memory_order_acquire))
      continue;
    b.reset();
    b.slot.store(slot, std::memory_order_relaxed);
    b.pid.store(pid, std::memory_order_relaxed);
    b.tid.store(tid, std::memory_order_relaxed);
    b.state.store(static_cast<uint32_t>(BlockState::Live), std::memory_order_release);
    return &b;
  }
  return nullptr;
}

}  // namespace subcorn::metrics
