// The WebSocket opening handshake, server side (RFC 6455 4.2, RFC 7692 5 and
// 7.1): reads an HTTP/1.1 request head, says whether it may become a
// WebSocket and builds the answer. Sans-IO: heads in, response bytes out.
//
// Rules:
// - An upgrade request is a GET whose Connection lists "upgrade" and whose
//   Upgrade lists "websocket" (tokens, any case, RFC 6455 4.2.1); over
//   HTTP/2 it is an extended CONNECT with :protocol "websocket" (RFC 8441
//   4), which needs Sec-WebSocket-Version 13 and no Sec-WebSocket-Key, and
//   is accepted with a 200 on its stream rather than a 101.
// - It is refused with 400 when it is not GET, is HTTP/1.0, or lacks exactly
//   one Sec-WebSocket-Key that is the base64 of 16 bytes; with 426 and
//   "Sec-WebSocket-Version: 13" when Sec-WebSocket-Version is absent or not
//   exactly 13 (the one version this server speaks, 4.4).
// - Subprotocols: every offered one, from all Sec-WebSocket-Protocol lines,
//   in order, trimmed. The app picks one of them or none; a pick that was not
//   offered is the app's mistake.
// - permessage-deflate (RFC 7692 7.1): the first acceptable offer wins. An
//   offer with an unknown or repeated parameter, a value where none belongs,
//   or window bits outside 8..15 is declined (the next offer is tried), never
//   the request. The server's own limits (DeflateConfig) tighten the result:
//   a smaller window than offered, no_context_takeover for either side.
//   client_max_window_bits is only ever answered when the client offered it.
// - The 101 response carries Upgrade, Connection, Sec-WebSocket-Accept, the
//   chosen subprotocol and the extension, then the app's extra headers. The
//   app may not set those handshake headers itself (Upgrade, Connection, any
//   Sec-WebSocket-*), nor Content-Length or Transfer-Encoding (a 101 has no
//   body): it says so through the subprotocol argument, and the server owns
//   the rest. Invalid names or values (CR, LF, NUL) are refused too.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/request_parser.h"
#include "ws/deflate.h"

namespace subcorn::ws {

// What this server accepts of permessage-deflate.
struct DeflateConfig {
  bool enabled = true;
  // The largest window the server compresses with (8..15); answered as
  // server_max_window_bits when under 15 or when the client asked for less.
  int server_max_window_bits = 15;
  // The window asked of a client that offers client_max_window_bits (8..15).
  int client_max_window_bits = 15;
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int level = 6;          // zlib compression level (1..9)
  int memory_level = 8;   // zlib memLevel (1..9)
};

// Header fields: name, value.
using Fields = std::vector<std::pair<std::string, std::string>>;

struct HandshakeResult {
  int status = 0;               // 0: valid; else 400 or 426
  bool http2 = false;           // RFC 8441: accepted with a 200 on the stream, no accept key
  std::string_view reason;      // why not (static text), for the log and the body
  std::string accept;           // Sec-WebSocket-Accept
  std::vector<std::string> subprotocols;  // offered, in order
  std::optional<DeflateParams> deflate;   // negotiated, when offered and enabled
  std::string extensions;       // the Sec-WebSocket-Extensions answer, "" for none
};

bool is_websocket_upgrade(const http::RequestHead& head);

HandshakeResult check_handshake(const http::RequestHead& head, const DeflateConfig& config);

// base64(SHA-1(key + the RFC's GUID)).
std::string accept_key(std::string_view key);

// The whole "HTTP/1.1 101 Switching Protocols" head, through the blank line,
// for a valid result. `subprotocol` is "" for none. On the app's mistake
// `*error` names it and "" is returned.
std::string accept_response(const HandshakeResult& result, std::string_view subprotocol,
                            const Fields& extra_headers, const char** error);
// The 101 for fields that accept_fields() returned.
std::string switching_response(const HandshakeResult& result, const Fields& fields);
// The fields of an acceptance after the handshake's own (the subprotocol,
// the extension, then the app's): what accept_response() writes after
// Sec-WebSocket-Accept, and what an HTTP/2 stream's 200 carries (RFC 8441
// 5). On the app's mistake `*error` names it and nothing is returned.
Fields accept_fields(const HandshakeResult& result, std::string_view subprotocol,
                     const Fields& extra_headers, const char** error);

// The whole refusal (400 or 426) for an invalid result, with a short
// text/plain body and "connection: close".
std::string handshake_error_response(const HandshakeResult& result, std::string_view server_fields = {});

}  // namespace subcorn::ws
