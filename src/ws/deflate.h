// permessage-deflate's compression (RFC 7692 7.2) with zlib: raw DEFLATE, one
// z_stream per direction, each owned by one handle.
//
// Rules:
// - A compressed message is the DEFLATE data of the message, flushed with
//   Z_SYNC_FLUSH, without the 4 bytes 0x00 0x00 0xff 0xff the flush ends with
//   (7.2.1); the receiver appends them again before inflating the end (7.2.2).
// - Context takeover: the LZ77 window carries over from one message to the
//   next unless no_context_takeover was negotiated for that direction; then
//   the stream is reset after every message. A peer that ends a message with
//   a final block (BFINAL, allowed in 7.2.3.4) starts a new stream after it.
// - Window bits 8..15 as negotiated. zlib refuses 8 for raw deflate, so both
//   streams use 9 for 8: a 512-byte window deflater never emits a distance
//   over 250 (zlib keeps 262 bytes of lookahead), which a 256-byte inflater
//   accepts, and a larger inflater window accepts anything a smaller one does.
// - A client's window is not policed exactly: zlib checks a distance against
//   the inflater's window only when it reaches into output of an earlier
//   inflate() call, so a client that reaches further back than it agreed to
//   is refused (corrupt data) or not depending on how its message was cut.
//   A compliant client always decodes; the negotiated size is what bounds
//   the inflater's memory.
// - Inflating is bounded: output never grows past the limit given; one byte
//   more is TooBig at once, so a small zip bomb costs at most the limit.
// - The z_streams are created on first use: a connection that never sends or
//   receives a compressed message holds no zlib memory.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

struct z_stream_s;

namespace subcorn::ws {

// What one side compresses with: negotiated (window bits, context takeover)
// and local (level, memory level).
struct DeflateSettings {
  int window_bits = 15;       // 8..15
  bool no_context_takeover = false;
  int level = 6;              // zlib's 0..9 (compressing only)
  int memory_level = 8;       // zlib's 1..9 (compressing only)
};

// The parameters both sides agreed on in the handshake (RFC 7692 7.1), plus
// how hard this server compresses (local, never negotiated).
struct DeflateParams {
  int server_max_window_bits = 15;          // what the server compresses with
  int client_max_window_bits = 15;          // what the client compresses with
  bool server_no_context_takeover = false;  // the server resets after each message
  bool client_no_context_takeover = false;  // the client resets after each message
  int level = 6;
  int memory_level = 8;
};

// The server's two directions.
DeflateSettings server_compression(const DeflateParams& params);
DeflateSettings server_decompression(const DeflateParams& params);

class Deflater {
 public:
  explicit Deflater(const DeflateSettings& settings);
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // Appends `message` compressed (without the 0x00 0x00 0xff 0xff tail) to
  // `out`. False only when zlib fails (out of memory), with `out` unchanged.
  bool compress(std::string_view message, std::string& out);

 private:
  struct Stream;
  DeflateSettings settings_;
  std::unique_ptr<Stream> stream_;  // created on first use
};

class Inflater {
 public:
  enum class Result { Ok, TooBig, Corrupt };

  explicit Inflater(const DeflateSettings& settings);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Inflates the next piece of a message's compressed data, appending to
  // `out` without letting it grow past `limit` bytes in all.
  Result feed(std::string_view compressed, std::string& out, size_t limit);
  // Ends the message: inflates the 0x00 0x00 0xff 0xff tail, then resets the
  // stream under no_context_takeover.
  Result finish(std::string& out, size_t limit);
  // After an error: forget the message (the session is over anyway).
  void reset();

 private:
  struct Stream;
  DeflateSettings settings_;
  std::unique_ptr<Stream> stream_;  // created on first use
};

}  // namespace subcorn::ws
