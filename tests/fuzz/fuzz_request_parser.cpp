// Fuzzes RequestParser with arbitrary bytes, the way a connection drives it.
//
// Input: the HTTP stream, then (read from the end) the limits and up to 8
// cut points. The stream is fed whole, cut at those points, and one byte at a
// time when short; every feeding checks the API's promises on each call, and
// all must say the same thing (parser_feed.h).
// Small limits are chosen often so that the 413/431 paths are reached too.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "parser_feed.h"

namespace {

subcorn::http::Limits choose_limits(FuzzedDataProvider& in) {
  subcorn::http::Limits limits;
  uint8_t mode = in.ConsumeIntegral<uint8_t>();
  if (mode & 1) limits.max_head_bytes = in.ConsumeIntegralInRange<size_t>(0, 300);
  if (mode & 2) limits.max_headers = in.ConsumeIntegralInRange<size_t>(0, 8);
  if (mode & 4) limits.max_body_bytes = in.ConsumeIntegralInRange<int64_t>(0, 300);
  if (mode & 8) limits.max_request_line = in.ConsumeIntegralInRange<size_t>(0, 100);
  if (mode & 16) limits.max_field_bytes = in.ConsumeIntegralInRange<size_t>(0, 100);
  return limits;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  subcorn::http::Limits limits = choose_limits(in);
  // Cut points as fractions of the stream, whose length is known only once
  // everything else has been taken from the end of the input.
  std::vector<uint16_t> fractions(in.ConsumeIntegralInRange<size_t>(0, 8));
  for (uint16_t& f : fractions) f = in.ConsumeIntegral<uint16_t>();
  std::string stream = in.ConsumeRemainingBytesAsString();

  std::vector<size_t> cuts;
  for (uint16_t f : fractions) cuts.push_back(stream.size() * f / 0xffff);

  subcorn::fuzz::feed_every_way(stream, cuts, limits);
  return 0;
}
