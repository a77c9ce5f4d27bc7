// RFC 6455 frames as a client sees them: it masks what it sends (section
// 5.3; a fresh key per frame) and reads the server's frames, which must not
// be masked (section 5.1). The decoder only splits frames; what a frame means
// (fragments, control frames, compression) is the connection's business.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace wsload {

enum class Opcode : uint8_t {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xA,
};

// Appends one whole client frame (FIN set) to `out`: the header, `mask` and
// the payload XORed with it. `compressed` sets RSV1 (RFC 7692).
void append_client_frame(std::string& out, Opcode opcode, bool compressed,
                         std::string_view payload, uint32_t mask);

struct Frame {
  bool fin = false;
  bool rsv1 = false;
  Opcode opcode = Opcode::Continuation;
  std::string_view payload;  // a view into the decoder's input
};

enum class DecodeStatus { Frame, NeedMore, Error };

struct Decoded {
  DecodeStatus status;
  size_t size = 0;              // bytes the frame took (status Frame)
  const char* error = nullptr;  // status Error
};

// Decodes the frame at the front of `input`. RSV2/RSV3, unknown opcodes,
// a masked server frame, a control frame that is fragmented or longer than
// 125 bytes, and a length above `max_payload` are errors.
Decoded decode_server_frame(std::string_view input, size_t max_payload, Frame& frame);

}  // namespace wsload
