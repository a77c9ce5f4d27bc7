// What the parser fuzzers share: feeding a RequestParser the way a connection
// does, cut into pieces, while checking the promises of its API on every call,
// and comparing what two feedings of the same bytes said.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "http/limits.h"
#include "http/request_parser.h"

namespace subcorn::fuzz {

// One event as seen from outside, with where it ended in the whole stream.
struct Step {
  http::EventType type;
  // Head: method, target, version, flags and headers, one line each.
  // Body: the bytes; consecutive Body events are merged, since how a body is
  // cut depends on how the input was cut.
  std::string text;
  int status = 0;  // Error only
  // Stream offset just past what the event consumed. Head and
  // MessageComplete must end at the same offset however the input is cut
  // (Head: after the blank line; MessageComplete: after the message's last
  // byte, never in the next request). Not kept for Body and Error.
  size_t end = 0;
};

using Trace = std::vector<Step>;

// Feeds `stream` in pieces cut at `cuts` (offsets into the stream, any order,
// repeats and out-of-range values allowed), each piece appended to what the
// parser has left unconsumed, calling next() until NeedMore or Error.
// Stops at the first Error, after checking that it is final.
Trace feed(std::string_view stream, std::vector<size_t> cuts, const http::Limits& limits);

// Traps unless two feedings of the same stream and limits said the same thing.
// One allowance: head, line and trailer sizes are checked whenever a piece
// ends, so a cut can reveal a 431 (or 414) before an error that lies further
// on (one feeding says 431, the other 400 or 413, or nothing yet when the
// input ends first). The events before it are the same either way.
void check_same(const Trace& a, const Trace& b);

// Feeds `stream` whole, cut at `cuts`, and one byte at a time when it is
// short (every byte costs a call; the fuzzer's cuts reach any point anyway),
// checks that all three said the same and returns what the whole feeding said.
Trace feed_every_way(std::string_view stream, const std::vector<size_t>& cuts, const http::Limits& limits);

// The body bytes of the first message of a trace, and whether it completed.
struct FirstMessage {
  std::string body;
  bool complete = false;
  const Step* error = nullptr;  // the error that ended it, if one did
};
FirstMessage first_message(const Trace& trace);

}  // namespace subcorn::fuzz
