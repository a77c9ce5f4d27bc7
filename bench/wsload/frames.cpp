#include "frames.h"

#include <cstring>

namespace wsload {

namespace {

// XORs `size` bytes at `data` with the 4-byte key, 8 bytes at a time.
void apply_mask(char* data, size_t size, uint32_t mask) {
  uint64_t wide = (static_cast<uint64_t>(mask) << 32) | mask;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    word ^= wide;
    std::memcpy(data + i, &word, 8);
  }
  const auto* key = reinterpret_cast<const unsigned char*>(&mask);
  for (; i < size; ++i) data[i] = static_cast<char>(data[i] ^ key[i % 4]);
}

bool is_control(Opcode opcode) { return static_cast<uint8_t>(opcode) & 0x8; }

bool is_known(uint8_t opcode) { return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xA); }

}  // namespace

void append_client_frame(std::string& out, Opcode opcode, bool compressed,
                         std::string_view payload, uint32_t mask) {
  unsigned char head[14];
  size_t n = 0;
  head[n++] = static_cast<unsigned char>(0x80 | (compressed ? 0x40 : 0) |
                                         static_cast<uint8_t>(opcode));
  size_t size = payload.size();
  if (size < 126) {
    head[n++] = static_cast<unsigned char>(0x80 | size);
  } else if (size <= 0xFFFF) {
    head[n++] = 0x80 | 126;
    head[n++] = static_cast<unsigned char>(size >> 8);
    head[n++] = static_cast<unsigned char>(size);
  } else {
    head[n++] = 0x80 | 127;
    for (int shift = 56; shift >= 0; shift -= 8) head[n++] = static_cast<unsigned char>(size >> shift);
  }
  // The key goes on the wire in memory order, so apply_mask's byte i uses key byte i % 4.
  std::memcpy(head + n, &mask, 4);
  n += 4;
  out.append(reinterpret_cast<const char*>(head), n);
  size_t start = out.size();
  out.append(payload);
  apply_mask(out.data() + start, size, mask);
}

Decoded decode_server_frame(std::string_view input, size_t max_payload, Frame& frame) {
  if (input.size() < 2) return {DecodeStatus::NeedMore};
  auto byte0 = static_cast<unsigned char>(input[0]);
  auto byte1 = static_cast<unsigned char>(input[1]);
  if (byte0 & 0x30) return {DecodeStatus::Error, 0, "RSV2 or RSV3 set"};
  if (!is_known(byte0 & 0x0F)) return {DecodeStatus::Error, 0, "unknown opcode"};
  if (byte1 & 0x80) return {DecodeStatus::Error, 0, "the server masked a frame"};
  frame.fin = byte0 & 0x80;
  frame.rsv1 = byte0 & 0x40;
  frame.opcode = static_cast<Opcode>(byte0 & 0x0F);
  size_t head = 2;
  uint64_t length = byte1 & 0x7F;
  if (length == 126 || length == 127) {
    size_t extra = length == 126 ? 2 : 8;
    if (input.size() < head + extra) return {DecodeStatus::NeedMore};
    length = 0;
    for (size_t i = 0; i < extra; ++i) {
      length = (length << 8) | static_cast<unsigned char>(input[head + i]);
    }
    head += extra;
  }
  if (is_control(frame.opcode) && (!frame.fin || length > 125)) {
    return {DecodeStatus::Error, 0, "a fragmented or oversized control frame"};
  }
  if (length > max_payload) return {DecodeStatus::Error, 0, "a frame larger than any message sent"};
  if (input.size() - head < length) return {DecodeStatus::NeedMore};
  frame.payload = input.substr(head, length);
  return {DecodeStatus::Frame, head + length};
}

}  // namespace wsload
