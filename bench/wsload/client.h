// The load: N WebSocket connections in one epoll loop on one thread, each in
// a closed loop (send a message, wait until it comes back, send the next).
//
// Modes:
// - Echo: the server answers each message with the same message. Each echo
//   is compared byte for byte (and its type, text or binary) with what was
//   sent; `messages` counts the echoes that matched.
// - Broadcast: the server sends each message it receives to every connection
//   it holds (the sender included). Each message carries its sender and that
//   sender's sequence number in its first 8 bytes; the rest is a pool message
//   chosen by both, so any receiver can check it byte for byte. A sender's
//   next message goes out when its own previous one came back to it.
//   `messages` counts the messages delivered to all connections (that
//   matched); a receiver also checks that each sender's messages arrive in
//   order, without gaps once it has seen that sender's first one.
//
// Errors (counted, the run goes on): a message that differs from what was
// sent, comes unasked or out of order; a connection the server closes or
// breaks mid-run, or that breaks the protocol (it is then dropped). Fatal (the
// run stops and says why): a handshake that fails, every connection lost, or
// with --messages, not every message answered within --duration.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "payloads.h"

namespace wsload {

enum class Mode { Echo, Broadcast };

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/";
  size_t connections = 64;
  double duration = 10;  // seconds of load after every connection is open
  Mode mode = Mode::Echo;
  Kind kind = Kind::Binary;
  size_t size = 1024;
  bool deflate = false;  // offer permessage-deflate
  // Messages each connection sends before it stops (0: until --duration);
  // used to check that a server speaks WebSocket at all.
  uint64_t messages = 0;
  double connect_timeout = 10;
};

struct Results {
  uint64_t messages = 0;  // echoes (echo) or deliveries (broadcast) that matched, in the window
  uint64_t sent = 0;      // messages sent in the window
  uint64_t errors = 0;
  uint64_t lost = 0;      // connections the server closed or broke before the end
  std::string lost_reason;  // the first one's
  double seconds = 0;     // from the first message sent to the end of the window
  std::vector<uint32_t> latencies_us;  // each round trip of a connection's own message
  std::string extensions;  // the server's Sec-WebSocket-Extensions (first connection)
  std::string fatal;       // non-empty: the run failed
};

Results run(const Options& options);

}  // namespace wsload
