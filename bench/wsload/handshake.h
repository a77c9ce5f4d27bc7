// The client's side of the opening handshake (RFC 6455 section 4.1) and of
// the permessage-deflate negotiation (RFC 7692 section 7.1).
//
// The offer, when compression is asked for, is what browsers send:
// `permessage-deflate; client_max_window_bits` (any window the server picks
// for the client's messages is fine). The answer is checked strictly: status
// 101, Sec-WebSocket-Accept = base64(SHA-1(key + GUID)), and an extension
// only if one was offered, with known parameters and valid values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wsload {

struct Negotiated {
  bool deflate = false;
  // The largest LZ77 window our compressed messages may use (8..15).
  int client_window_bits = 15;
  std::string extensions;  // the server's Sec-WebSocket-Extensions, as it came
};

// A fresh Sec-WebSocket-Key: base64 of 16 random bytes.
std::string make_key(uint64_t seed);

std::string upgrade_request(std::string_view host, int port, std::string_view path,
                            std::string_view key, bool offer_deflate);

struct Reply {
  size_t head_size = 0;  // 0: the head is not complete yet
  std::string error;     // empty when the upgrade succeeded
  Negotiated negotiated;
};

// Reads the server's answer from the start of `input`.
Reply parse_reply(std::string_view input, std::string_view key, bool offered_deflate);

}  // namespace wsload
