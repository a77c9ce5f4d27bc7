// permessage-deflate (RFC 7692) on the client: raw deflate with zlib.
//
// Sending: each message is compressed on its own (no back-reference into an
// earlier message), which is valid whatever context takeover the server
// expects, so the client compresses every pool message once at start and
// sending a compressed message costs no more than an uncompressed one.
// Receiving: one inflater per connection keeps its window from message to
// message, as the server's context takeover requires.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace wsload {

// `data` deflated on its own with at most `window_bits` (8..15) of window,
// flushed and without the trailing 00 00 ff ff (RFC 7692 section 7.2.1).
std::string compress_alone(std::string_view data, int window_bits);

class Inflater {
 public:
  Inflater();
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Decompresses one message into `out` (kept between calls, so there is no
  // allocation once it is large enough). False on corrupt data or when the
  // message inflates beyond `limit` bytes.
  bool inflate_message(std::string_view payload, size_t limit, std::string& out, size_t& size);

 private:
  z_stream stream_{};
};

}  // namespace wsload
