// The other end of a ws::Session in tests: a WebSocket client that frames,
// masks and compresses what it sends, and reads what the server sends. Its
// compression is zlib driven directly (not ws::Deflater/Inflater), so that
// the session is checked against an independent peer.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ws/deflate.h"

namespace subcorn::ws::test {

constexpr uint8_t FIN = 0x80;
constexpr uint8_t RSV1 = 0x40;
constexpr uint8_t TEXT = 0x1, BINARY = 0x2, CONT = 0x0, CLOSE = 0x8, PING = 0x9, PONG = 0xA;

// One masked client frame: `first` is the first header byte as sent (FIN,
// RSV bits, opcode); the length is encoded in its shortest form unless
// `length_form` is 126 or 127.
std::string frame(uint8_t first, std::string_view payload, uint32_t mask = 0x37fa213d,
                  int length_form = 0);
// The same without the MASK bit (what a client must not send).
std::string unmasked_frame(uint8_t first, std::string_view payload);
// A Close frame's payload: the code, big-endian, then the reason.
std::string close_payload(uint16_t code, std::string_view reason = {});

// A raw zlib stream owned by a test peer (deflate or inflate).
class RawStream {
 public:
  RawStream(bool deflating, int window_bits, int level = 6);
  ~RawStream();
  RawStream(const RawStream&) = delete;
  RawStream& operator=(const RawStream&) = delete;
  std::string run(std::string_view in, int flush);
  void reset();

 private:
  bool deflating_;
  z_stream z_{};
};

// Compresses messages the way a client with these parameters must
// (client_max_window_bits, client_no_context_takeover).
class ClientCompressor {
 public:
  explicit ClientCompressor(const DeflateParams& params);
  // The message's compressed payload, without the 0x00 0x00 0xff 0xff tail.
  std::string compress(std::string_view message);

 private:
  DeflateParams params_;
  RawStream stream_;
};

// A message as a client sends it: `fragments` frames (1: one frame),
// compressed when `compressor` is given.
std::string client_message(bool text, std::string_view data, size_t fragments = 1,
                           ClientCompressor* compressor = nullptr);

// Reads the server's frames: one line each, "text [..]", "binary [..]",
// "ping [..]", "pong [..]", "close" (empty) or "close 1000" (the reason left out);
// compressed messages are inflated (with `params`' server window and
// takeover) and marked "text+z [..]". A masked frame, bad RSV bits or a
// truncated frame give a line "bad ...".
class ServerReader {
 public:
  explicit ServerReader(std::optional<DeflateParams> params = std::nullopt);
  std::vector<std::string> read(std::string_view bytes);

 private:
  std::optional<DeflateParams> params_;
  std::optional<RawStream> inflater_;
};

// A payload as the traces show it: the bytes when short and printable, else
// the size and a hash (so that large payloads compare exactly, briefly).
std::string show(std::string_view payload);

}  // namespace subcorn::ws::test
