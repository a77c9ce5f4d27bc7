// RequestSlot: one running request's share of --limit-concurrency, as an
// owning handle. Shard::admit_request() gives one (or an empty one when the
// limit is reached); it is given back once, by release() or when the handle
// goes, so no path can give it back twice or forget it.
#pragma once

#include <utility>

namespace subcorn::server {

class Shard;

class RequestSlot {
 public:
  RequestSlot() = default;
  // `http_request`: counted in the metrics' requests in flight (a
  // WebSocket is not).
  RequestSlot(Shard* shard, bool http_request) noexcept : shard_(shard), http_request_(http_request) {}
  RequestSlot(RequestSlot&& other) noexcept
      : shard_(std::exchange(other.shard_, nullptr)), http_request_(other.http_request_) {}
  RequestSlot& operator=(RequestSlot&& other) noexcept {
    if (this != &other) {
      release();
      shard_ = std::exchange(other.shard_, nullptr);
      http_request_ = other.http_request_;
    }
    return *this;
  }
  RequestSlot(const RequestSlot&) = delete;
  RequestSlot& operator=(const RequestSlot&) = delete;
  ~RequestSlot() { release(); }

  explicit operator bool() const noexcept { return shard_ != nullptr; }
  void release() noexcept;

 private:
  Shard* shard_ = nullptr;
  bool http_request_ = false;
};

}  // namespace subcorn::server
