// Feeds a ws::Session the way a connection does and records what it says,
// as a trace of short strings, checking the API's promises on every call.
#pragma once

#include <string>
#include <vector>

#include "ws/session.h"

namespace subcorn::ws::test {

// One trace line per event:
//   "text [..]", "binary [..]"   a message (ws_peer.h's show())
//   "ping [..]", "pong [..]"
//   "close 1000 [reason]"        the peer's Close
//   "error 1002"                 ours
using Trace = std::vector<std::string>;

struct SessionFeed {
  Trace events;
  std::vector<std::string> out;  // the server's frames, as ServerReader reads them
  std::string rest;              // bytes left unconsumed after a final event
  State state = State::Open;
};

// Offers each piece in turn (appended to what is still unconsumed) and calls
// next() until it returns NeedMore, or a final event (Close, Error).
SessionFeed feed(const std::vector<std::string>& pieces, const SessionConfig& config = SessionConfig{});

std::vector<std::string> whole(const std::string& s);
std::vector<std::string> bytewise(const std::string& s);
std::vector<std::string> split_at(const std::string& s, size_t at);

}  // namespace subcorn::ws::test
