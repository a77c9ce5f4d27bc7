#include "ws/frame.h"

#include <cstring>

namespace subcorn::ws {
namespace {

constexpr uint8_t FIN_BIT = 0x80;
constexpr uint8_t RSV1_BIT = 0x40;
constexpr uint8_t RSV2_BIT = 0x20;
constexpr uint8_t RSV3_BIT = 0x10;
constexpr uint8_t OPCODE_BITS = 0x0F;
constexpr uint8_t MASK_BIT = 0x80;
constexpr uint8_t LENGTH_BITS = 0x7F;
constexpr uint8_t LENGTH_16 = 126;
constexpr uint8_t LENGTH_64 = 127;

bool known_opcode(uint8_t op) {
  switch (op) {
    case 0x0: case 0x1: case 0x2: case 0x8: case 0x9: case 0xA:
      return true;
    default:
      return false;
  }
}

}  // namespace

size_t header_size(uint8_t byte0, uint8_t byte1) noexcept {
  (void)byte0;
  size_t size = 2;
  uint8_t len7 = byte1 & LENGTH_BITS;
  if (len7 == LENGTH_16) size += 2;
  else if (len7 == LENGTH_64) size += 8;
  if (byte1 & MASK_BIT) size += 4;
  return size;
}

FrameHeader decode_header(const uint8_t* p) noexcept {
  FrameHeader h;
  h.fin = p[0] & FIN_BIT;
  h.rsv1 = p[0] & RSV1_BIT;
  h.rsv2 = p[0] & RSV2_BIT;
  h.rsv3 = p[0] & RSV3_BIT;
  h.opcode = p[0] & OPCODE_BITS;
  h.masked = p[1] & MASK_BIT;
  uint8_t len7 = p[1] & LENGTH_BITS;
  size_t at = 2;
  if (len7 == LENGTH_16) {
    h.length = (uint64_t{p[2]} << 8) | p[3];
    at = 4;
  } else if (len7 == LENGTH_64) {
    h.length = 0;
    for (size_t i = 0; i < 8; ++i) h.length = (h.length << 8) | p[2 + i];
    at = 10;
  } else {
    h.length = len7;
  }
  if (h.masked) std::memcpy(h.mask, p + at, 4);
  return h;
}

const char* check_client_header_start(uint8_t byte0, uint8_t byte1, bool rsv1_allowed) noexcept {
  uint8_t op = byte0 & OPCODE_BITS;
  if (!known_opcode(op)) return "reserved opcode";
  if (byte0 & (RSV2_BIT | RSV3_BIT)) return "RSV2 or RSV3 set without an extension";
  bool control = op & 0x8;
  if (byte0 & RSV1_BIT) {
    if (!rsv1_allowed) return "RSV1 set without a negotiated extension";
    if (control) return "RSV1 set on a control frame";
  }
  if (control) {
    if (!(byte0 & FIN_BIT)) return "fragmented control frame";
    if ((byte1 & LENGTH_BITS) > MAX_CONTROL_PAYLOAD) return "control frame payload over 125 bytes";
  }
  if (!(byte1 & MASK_BIT)) return "unmasked client frame";
  return nullptr;
}

const char* check_client_header(const FrameHeader& header) noexcept {
  if (header.length >> 63) return "frame length with the most significant bit set";
  return nullptr;
}

void append_header(std::string& out, bool fin, bool rsv1, Opcode opcode, uint64_t length) {
  char h[10];
  size_t n = 2;
  h[0] = static_cast<char>((fin ? FIN_BIT : 0) | (rsv1 ? RSV1_BIT : 0) | static_cast<uint8_t>(opcode));
  if (length < LENGTH_16) {
    h[1] = static_cast<char>(length);
  } else if (length <= 0xFFFF) {
    h[1] = static_cast<char>(LENGTH_16);
    h[2] = static_cast<char>(length >> 8);
    h[3] = static_cast<char>(length);
    n = 4;
  } else {
    h[1] = static_cast<char>(LENGTH_64);
    for (size_t i = 0; i < 8; ++i) h[2 + i] = static_cast<char>(length >> (56 - 8 * i));
    n = 10;
  }
  out.append(h, n);
}

void append_frame(std::string& out, Opcode opcode, std::string_view payload, bool rsv1) {
  append_header(out, true, rsv1, opcode, payload.size());
  out.append(payload);
}

void append_close_frame(std::string& out, uint16_t code, std::string_view reason) {
  if (code == CLOSE_NO_STATUS) {
    append_header(out, true, false, Opcode::Close, 0);
    return;
  }
  append_header(out, true, false, Opcode::Close, 2 + reason.size());
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xFF));
  out.append(reason);
}

void unmask(char* data, size_t size, const uint8_t mask[4], size_t offset) noexcept {
  // The mask rotated so that its first byte applies to data[0], repeated to
  // eight bytes: the bulk is one XOR per word.
  uint8_t rotated[8];
  for (size_t i = 0; i < 8; ++i) rotated[i] = mask[(offset + i) & 3];
  uint64_t word_mask;
  std::memcpy(&word_mask, rotated, 8);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    word ^= word_mask;
    std::memcpy(data + i, &word, 8);
  }
  for (; i < size; ++i) data[i] = static_cast<char>(data[i] ^ rotated[i & 7]);
}

bool close_code_valid_on_wire(uint16_t code) noexcept {
  if (code >= 3000 && code <= 4999) return true;  // registered (3xxx) and private (4xxx)
  if (code >= 1000 && code <= 1003) return true;
  return code >= 1007 && code <= 1014;
}

}  // namespace subcorn::ws
