// Feeds a RequestParser the way a connection does and records what it says,
// as a trace of short strings, checking the API's promises on every call.
#pragma once

#include <string>
#include <vector>

#include "http/limits.h"

namespace subcorn::http::test {

// One trace line per event; consecutive Body events are merged, since how a
// body is cut depends on how the input was cut:
//   "head GET /p HTTP/1.1" (+ " path=P" when the path is not the target,
//                           " close", " chunked", " cl=N", " expect", " upgrade")
//   "h name=[value]"       one per header, in order
//   "body [data]"
//   "complete"
//   "error 431"
using Trace = std::vector<std::string>;

struct Feed {
  Trace trace;
  // Unconsumed bytes after each MessageComplete, in order: what a connection
  // would still hold for the next request.
  std::vector<std::string> rest_after_complete;
};

// Offers each piece in turn (appended to what is still unconsumed) and calls
// next() until it returns NeedMore or Error.
Feed feed(const std::vector<std::string>& pieces, const Limits& limits = Limits{});

std::vector<std::string> whole(const std::string& s);
std::vector<std::string> bytewise(const std::string& s);

}  // namespace subcorn::http::test
