// Http2FrameHeads: follows the frame boundaries of a client's HTTP/2 byte
// stream (after its 24-byte preface) and reports each frame's 9-byte head,
// plus the 5-byte payload of a PRIORITY frame. Sans-IO, fed the same bytes
// as nghttp2, in any pieces.
//
// Why: nghttp2 drops some frames before any callback sees them: DATA on a
// stream it has forgotten (it keeps no closed streams since it dropped
// RFC 7540's priority tree) and every PRIORITY frame. RFC 9113 still wants
// the first to be a STREAM_CLOSED error (5.1) and a PRIORITY frame on
// itself a PROTOCOL_ERROR (5.3.1); the session judges them from these heads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace subcorn::http {

struct Http2FrameHead {
  uint32_t length = 0;
  uint8_t type = 0;
  uint8_t flags = 0;
  int32_t stream_id = 0;
  // PRIORITY (type 2) with a 5-byte payload: the stream it depends on.
  int32_t depends_on = -1;
};

class Http2FrameHeads {
 public:
  static constexpr uint8_t PRIORITY = 0x2;
  static constexpr size_t PREFACE_SIZE = 24;
  static constexpr size_t HEAD_SIZE = 9;

  // Calls `on_head(const Http2FrameHead&, size_t end)` for every frame whose
  // head (and, for PRIORITY, payload) completes in `input`; `end` is the
  // offset in `input` just past the byte that completed it.
  template <typename OnHead>
  void feed(const std::string_view whole, OnHead&& on_head) {
    std::string_view input = whole;
    auto end = [&] { return whole.size() - input.size(); };
    while (!input.empty()) {
      if (preface_left_ > 0) {
        size_t n = input.size() < preface_left_ ? input.size() : preface_left_;
        preface_left_ -= n;
        input.remove_prefix(n);
        continue;
      }
      if (payload_left_ > 0) {
        size_t n = input.size() < payload_left_ ? input.size() : payload_left_;
        if (wants_priority_payload()) take_priority(input.substr(0, n));
        payload_left_ -= n;
        input.remove_prefix(n);
        if (payload_left_ == 0 && head_.type == PRIORITY && head_.length == 5) on_head(head_, end());
        continue;
      }
      size_t n = HEAD_SIZE - head_fill_;
      if (input.size() < n) n = input.size();
      for (size_t i = 0; i < n; ++i) head_bytes_[head_fill_++] = static_cast<uint8_t>(input[i]);
      input.remove_prefix(n);
      if (head_fill_ < HEAD_SIZE) continue;
      head_fill_ = 0;
      head_ = parse_head();
      payload_left_ = head_.length;
      priority_fill_ = 0;
      // A PRIORITY frame is reported once its payload is read; any other at
      // its head (and a PRIORITY of a wrong length too: its size is the error).
      if (head_.type != PRIORITY || head_.length != 5) on_head(head_, end());
    }
  }

 private:
  Http2FrameHead parse_head() const {
    Http2FrameHead h;
    h.length = (uint32_t{head_bytes_[0]} << 16) | (uint32_t{head_bytes_[1]} << 8) | head_bytes_[2];
    h.type = head_bytes_[3];
    h.flags = head_bytes_[4];
    h.stream_id = static_cast<int32_t>(((uint32_t{head_bytes_[5]} & 0x7F) << 24) |
                                       (uint32_t{head_bytes_[6]} << 16) |
                                       (uint32_t{head_bytes_[7]} << 8) | head_bytes_[8]);
    return h;
  }
  bool wants_priority_payload() const { return head_.type == PRIORITY && head_.length == 5; }
  void take_priority(std::string_view part) {
    for (char c : part) {
      if (priority_fill_ < 4) dependency_[priority_fill_] = static_cast<uint8_t>(c);
      ++priority_fill_;
    }
    if (priority_fill_ >= 4)
      head_.depends_on = static_cast<int32_t>(((uint32_t{dependency_[0]} & 0x7F) << 24) |
                                              (uint32_t{dependency_[1]} << 16) |
                                              (uint32_t{dependency_[2]} << 8) | dependency_[3]);
  }

  size_t preface_left_ = PREFACE_SIZE;
  uint8_t head_bytes_[HEAD_SIZE] = {};
  size_t head_fill_ = 0;
  Http2FrameHead head_;
  size_t payload_left_ = 0;
  uint8_t dependency_[4] = {};
  size_t priority_fill_ = 0;
};

}  // namespace subcorn::http
