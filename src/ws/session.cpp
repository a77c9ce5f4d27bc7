#include "ws/session.h"

#include <algorithm>
#include <cstring>

namespace subcorn::ws {
namespace {

// A buffer larger than this is freed after its message, so that an idle
// connection does not keep the memory of its largest message.
constexpr size_t KEEP_BUFFER = 64 * 1024;

constexpr const char* INVALID_TEXT = "text message is not valid UTF-8";
constexpr const char* TRUNCATED_TEXT = "text message ends inside a UTF-8 sequence";

constexpr const char* CLOSED = "WebSocket is closed (or closing): nothing more can be sent.";

Event event(EventType type) {
  Event e;
  e.type = type;
  return e;
}

}  // namespace

Session::Session(const SessionConfig& config) : config_(config) {
  if (config_.deflate) {
    deflater_.emplace(server_compression(*config_.deflate));
    inflater_.emplace(server_decompression(*config_.deflate));
  }
}

Session::~Session() = default;

size_t Session::buffered_bytes() const noexcept {
  return assembly_ == Assembly::None ? 0 : message_.size();
}

void Session::release_message() {
  message_delivered_ = false;
  if (message_.capacity() > KEEP_BUFFER) std::string().swap(message_);
  else message_.clear();
}

Event Session::final_event() const {
  Event e = event(final_type_);
  e.code = close_code_;
  if (final_type_ == EventType::Close) e.reason = std::string_view(close_reason_, close_reason_size_);
  else e.reason = error_reason_;
  return e;
}

Event Session::fail(uint16_t code, const char* reason, std::string& out) {
  // Our Close goes out unless one already did (CloseSent).
  if (state_ == State::Open) append_close_frame(out, code, reason);
  state_ = State::Closed;
  close_code_ = code;
  final_type_ = EventType::Error;
  error_reason_ = reason;
  assembly_ = Assembly::None;
  release_message();
  if (inflater_) inflater_->reset();
  return final_event();
}

// The rules between frames: what the frame just read may be, given the
// message being assembled.
const char* Session::check_sequence() const {
  auto op = static_cast<Opcode>(frame_.opcode);
  if (is_control(op)) return nullptr;
  if (op == Opcode::Continuation) {
    if (assembly_ == Assembly::None) return "continuation frame without a message to continue";
    if (frame_.rsv1) return "RSV1 set on a continuation frame";
    return nullptr;
  }
  if (assembly_ != Assembly::None) return "new message before the fragmented one ended";
  return nullptr;
}

Event Session::next(char* input, size_t size, size_t* consumed, std::string& out) {
  *consumed = 0;
  if (message_delivered_) release_message();
  if (state_ == State::CloseReceived || state_ == State::Closed) return final_event();
  const bool deflate = config_.deflate.has_value();
  size_t pos = 0;
  // On any error, how far parsing got is what was consumed.
  auto failed = [&](uint16_t code, const char* reason) {
    *consumed = pos;
    return fail(code, reason, out);
  };
  for (;;) {
    if (phase_ == Phase::Header) {
      const uint8_t* header = nullptr;
      auto* in = reinterpret_cast<const uint8_t*>(input);
      if (header_have_ == 0 && size - pos >= 2) {
        if (const char* e = check_client_header_start(in[pos], in[pos + 1], deflate)) return failed(1002, e);
        size_t need = header_size(in[pos], in[pos + 1]);
        if (size - pos >= need) {
          header = in + pos;
          pos += need;
        }
      }
      if (!header) {
        // Stage the header across inputs; check its first two bytes as soon
        // as they are there.
        for (;;) {
          size_t need = header_have_ < 2 ? 2 : header_size(header_[0], header_[1]);
          if (header_have_ == need) break;
          if (pos == size) {
            *consumed = size;
            return event(EventType::NeedMore);
          }
          size_t take = std::min(need - header_have_, size - pos);
          std::memcpy(header_ + header_have_, in + pos, take);
          header_have_ += take;
          pos += take;
          if (header_have_ == 2) {
            if (const char* e = check_client_header_start(header_[0], header_[1], deflate)) return failed(1002, e);
          }
        }
        header = header_;
        header_have_ = 0;
      }
      frame_ = decode_header(header);
      if (const char* e = check_client_header(frame_)) return failed(1002, e);
      if (const char* e = check_sequence()) return failed(1002, e);
      auto op = static_cast<Opcode>(frame_.opcode);
      remaining_ = frame_.length;
      mask_offset_ = 0;
      if (!is_control(op)) {
        // The hot path: a whole single-frame uncompressed message, here.
        bool starts = op != Opcode::Continuation;
        if (starts && frame_.fin && !frame_.rsv1 && remaining_ <= size - pos) {
          if (remaining_ > config_.max_message_size) return failed(CLOSE_TOO_BIG, "message too big");
          char* payload = input + pos;
          size_t length = static_cast<size_t>(remaining_);
          unmask(payload, length, frame_.mask, 0);
          if (op == Opcode::Text) {
            Utf8Validator text;
            Utf8Validator::Status status = text.feed({payload, length});
            if (status != Utf8Validator::Status::Complete) {
              return failed(CLOSE_INVALID_DATA,
                            status == Utf8Validator::Status::Invalid ? INVALID_TEXT : TRUNCATED_TEXT);
            }
          }
          pos += length;
          *consumed = pos;
          Event e = event(EventType::Message);
          e.text = op == Opcode::Text;
          e.payload = {payload, length};
          return e;
        }
        if (starts) {
          assembly_ = frame_.rsv1 ? Assembly::Compressed : Assembly::Plain;
          message_text_ = op == Opcode::Text;
          utf8_.reset();
        }
        if (assembly_ == Assembly::Plain) {
          if (remaining_ > config_.max_message_size - message_.size()) {
            return failed(CLOSE_TOO_BIG, "message too big");
          }
          // Room for this frame, doubling so that many small fragments
          // do not copy the message again and again.
          size_t want = message_.size() + static_cast<size_t>(remaining_);
          if (want > message_.capacity()) {
            message_.reserve(std::min(std::max(want, 2 * message_.capacity()), config_.max_message_size));
          }
        }
      }
      phase_ = Phase::Payload;
    }

    // Phase::Payload
    size_t available = size - pos;
    auto op = static_cast<Opcode>(frame_.opcode);
    if (is_control(op)) {
      size_t length = static_cast<size_t>(frame_.length);
      char* payload = input + pos;
      if (control_have_ == 0 && available >= length) {
        unmask(payload, length, frame_.mask, 0);
        pos += length;
      } else {
        size_t take = std::min(static_cast<size_t>(remaining_), available);
        if (take > 0) std::memcpy(control_ + control_have_, input + pos, take);
        control_have_ += take;
        remaining_ -= take;
        pos += take;
        if (remaining_ > 0) {
          *consumed = size;
          return event(EventType::NeedMore);
        }
        unmask(control_, length, frame_.mask, 0);
        payload = control_;
        control_have_ = 0;
      }
      phase_ = Phase::Header;
      *consumed = pos;
      return on_control(payload, length, out);
    }

    size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, available));
    unmask(input + pos, take, frame_.mask, mask_offset_);
    mask_offset_ = (mask_offset_ + take) & 3;
    uint16_t code = 0;
    if (take > 0) {
      if (const char* e = take_data(input + pos, take, &code)) return failed(code, e);
    }
    pos += take;
    remaining_ -= take;
    if (remaining_ > 0) {
      *consumed = size;
      return event(EventType::NeedMore);
    }
    phase_ = Phase::Header;
    if (frame_.fin) {
      if (const char* e = finish_message(&code)) return failed(code, e);
      *consumed = pos;
      Event e = event(EventType::Message);
      e.text = message_text_;
      e.payload = message_;
      message_delivered_ = true;
      assembly_ = Assembly::None;
      return e;
    }
    if (pos == size) {
      *consumed = size;
      return event(EventType::NeedMore);
    }
  }
}

// A piece of a data frame's payload (unmasked), added to the message.
const char* Session::take_data(char* data, size_t size, uint16_t* code) {
  if (assembly_ == Assembly::Plain) {
    if (message_text_ && utf8_.feed({data, size}) == Utf8Validator::Status::Invalid) {
      *code = CLOSE_INVALID_DATA;
      return INVALID_TEXT;
    }
    message_.append(data, size);
    return nullptr;
  }
  size_t before = message_.size();
  return check_inflated(inflater_->feed({data, size}, message_, config_.max_message_size), before, code);
}

// What inflating produced is checked in stream order, whatever zlib said:
// text first (its bytes came before any later error), then the size, then
// the data itself. So the first error in the stream is the one reported,
// however the input was cut.
const char* Session::check_inflated(Inflater::Result result, size_t before, uint16_t* code) {
  if (message_text_ &&
      utf8_.feed(std::string_view(message_).substr(before)) == Utf8Validator::Status::Invalid) {
    *code = CLOSE_INVALID_DATA;
    return INVALID_TEXT;
  }
  if (result == Inflater::Result::TooBig) {
    *code = CLOSE_TOO_BIG;
    return "message too big";
  }
  if (result == Inflater::Result::Corrupt) {
    *code = CLOSE_INVALID_DATA;
    return "compressed message is not valid DEFLATE data";
  }
  return nullptr;
}

const char* Session::finish_message(uint16_t* code) {
  if (assembly_ == Assembly::Compressed) {
    size_t before = message_.size();
    if (const char* e = check_inflated(inflater_->finish(message_, config_.max_message_size), before, code)) {
      return e;
    }
  }
  if (message_text_ && utf8_.status() != Utf8Validator::Status::Complete) {
    *code = CLOSE_INVALID_DATA;
    return TRUNCATED_TEXT;
  }
  return nullptr;
}

Event Session::on_control(const char* payload, size_t size, std::string& out) {
  auto op = static_cast<Opcode>(frame_.opcode);
  if (op == Opcode::Close) return on_close(payload, size, out);
  Event e = event(op == Opcode::Ping ? EventType::Ping : EventType::Pong);
  e.payload = {payload, size};
  if (op == Opcode::Ping && state_ == State::Open) append_frame(out, Opcode::Pong, e.payload);
  return e;
}

Event Session::on_close(const char* payload, size_t size, std::string& out) {
  uint16_t code = CLOSE_NO_STATUS;
  std::string_view reason;
  if (size == 1) return fail(CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload", out);
  if (size >= 2) {
    code = static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]));
    if (!close_code_valid_on_wire(code)) return fail(CLOSE_PROTOCOL_ERROR, "invalid close code", out);
    reason = {payload + 2, size - 2};
    if (!is_valid_utf8(reason)) return fail(CLOSE_INVALID_DATA, "close reason is not valid UTF-8", out);
  }
  if (!reason.empty()) std::memcpy(close_reason_, reason.data(), reason.size());
  close_reason_size_ = reason.size();
  close_code_ = code;
  final_type_ = EventType::Close;
  if (state_ == State::Open) {
    // The reply echoes the peer's code and reason (as the websockets library
    // does): a browser's close event shows the reason from the server's frame.
    append_close_frame(out, code, reason);
    state_ = State::CloseReceived;
  } else {
    state_ = State::Closed;
  }
  assembly_ = Assembly::None;
  return final_event();
}

const char* Session::send_message(bool text, std::string_view data, std::string& out) {
  if (state_ != State::Open) return CLOSED;
  Opcode op = text ? Opcode::Text : Opcode::Binary;
  if (deflater_ && data.size() >= config_.compress_threshold) {
    compressed_.clear();
    if (deflater_->compress(data, compressed_)) {
      append_frame(out, op, compressed_, true);
      if (compressed_.capacity() > KEEP_BUFFER) std::string().swap(compressed_);
      return nullptr;
    }
    // zlib could not allocate: the message goes out uncompressed.
  }
  append_frame(out, op, data);
  return nullptr;
}

const char* Session::send_close(uint16_t code, std::string_view reason, std::string& out) {
  if (state_ != State::Open) return CLOSED;
  if (code == CLOSE_NO_STATUS) {
    if (!reason.empty()) return "A close without a code (1005) cannot carry a reason.";
  } else if (!close_code_sendable(code)) {
    return "Invalid WebSocket close code: use 1000-1003, 1007-1014 or 3000-4999.";
  }
  if (!is_valid_utf8(reason)) return "WebSocket close reason is not valid UTF-8.";
  append_close_frame(out, code, truncate_utf8(reason, MAX_CLOSE_REASON));
  state_ = State::CloseSent;
  close_code_ = code;
  return nullptr;
}

const char* Session::send_ping(std::string_view payload, std::string& out) {
  if (state_ != State::Open) return CLOSED;
  if (payload.size() > MAX_CONTROL_PAYLOAD) return "WebSocket ping payload over 125 bytes.";
  append_frame(out, Opcode::Ping, payload);
  return nullptr;
}

}  // namespace subcorn::ws
