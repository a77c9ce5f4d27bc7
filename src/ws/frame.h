// WebSocket frame headers (RFC 6455 5.2), close payloads (5.5.1, 7.4) and
// masking (5.3): the wire format only, no sequencing (that is ws::Session's).
//
// Rules:
// - A client's frame must be masked; a server's never is (5.1). Unmasked
//   client frames, RSV bits that no extension allows, reserved opcodes,
//   fragmented control frames, control payloads over 125 bytes and 64-bit
//   lengths with the top bit set are protocol errors (close code 1002).
// - RSV1 is permessage-deflate's "compressed" bit (RFC 7692 6): allowed only
//   when deflate was negotiated, and only on a data frame (a message's first
//   frame; ws::Session refuses it on a continuation). RSV2 and RSV3 are never
//   allowed: no extension that uses them is offered.
// - Lengths are read in any encoding the header allows (a length below 126
//   sent in the 16-bit form is accepted, as browsers' peers do).
// - Close codes: what may appear on the wire (7.4.1, IANA registry) and what
//   an application may send are two different sets (1005, 1006 and 1015 are
//   never sent; 1004 is reserved).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace subcorn::ws {

enum class Opcode : uint8_t {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xA,
};

constexpr bool is_control(Opcode op) { return (static_cast<uint8_t>(op) & 0x8) != 0; }

// Close codes with a meaning of their own here.
constexpr uint16_t CLOSE_NORMAL = 1000;
constexpr uint16_t CLOSE_PROTOCOL_ERROR = 1002;
constexpr uint16_t CLOSE_NO_STATUS = 1005;  // "the Close had no code"; never on the wire
constexpr uint16_t CLOSE_INVALID_DATA = 1007;
constexpr uint16_t CLOSE_TOO_BIG = 1009;

constexpr size_t MAX_CONTROL_PAYLOAD = 125;
constexpr size_t MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2;
constexpr size_t MAX_HEADER_SIZE = 14;  // 2 + 8 (64-bit length) + 4 (mask)

struct FrameHeader {
  bool fin = false;
  bool rsv1 = false;
  bool rsv2 = false;
  bool rsv3 = false;
  uint8_t opcode = 0;  // as on the wire (validate before casting to Opcode)
  bool masked = false;
  uint64_t length = 0;
  uint8_t mask[4] = {};
};

// The size of the whole header, known from its first two bytes (2..14).
size_t header_size(uint8_t byte0, uint8_t byte1) noexcept;

// Decodes a header of header_size() bytes at `p`.
FrameHeader decode_header(const uint8_t* p) noexcept;

// What is wrong with a client's frame header on its own (nullptr: nothing),
// readable from its first two bytes already, so that an impossible frame is
// refused before its length or payload arrive. `rsv1_allowed`: deflate was
// negotiated. Every error here is a protocol error (1002).
const char* check_client_header_start(uint8_t byte0, uint8_t byte1, bool rsv1_allowed) noexcept;
// The rest, once the whole header is known (the 64-bit length's top bit).
const char* check_client_header(const FrameHeader& header) noexcept;

// Appends an unmasked (server) frame header.
void append_header(std::string& out, bool fin, bool rsv1, Opcode opcode, uint64_t length);

// Appends a whole unmasked frame: header and payload.
void append_frame(std::string& out, Opcode opcode, std::string_view payload, bool rsv1 = false);

// Appends a Close frame: empty for CLOSE_NO_STATUS, else the code and the
// reason (the caller checked both).
void append_close_frame(std::string& out, uint16_t code, std::string_view reason);

// XORs `data` with the 4-byte `mask` in place, starting at byte `offset` of
// the mask (0..3, for a payload that arrives in pieces). Works 8 bytes at a time.
void unmask(char* data, size_t size, const uint8_t mask[4], size_t offset) noexcept;

// A code a peer may send (7.4.1, 7.4.2): 1000-1003, 1007-1014, 3000-4999.
bool close_code_valid_on_wire(uint16_t code) noexcept;
// A code an application may send: the same set (1005 is handled apart by
// whoever offers "no code").
inline bool close_code_sendable(uint16_t code) noexcept { return close_code_valid_on_wire(code); }

}  // namespace subcorn::ws
