// Limits applied while parsing a request. Exceeding one is an Error event with
// the status to answer (431 for the head, 413 for a declared body).
#pragma once

#include <cstddef>
#include <cstdint>

namespace subcorn::http {

struct Limits {
  size_t max_head_bytes = 64 * 1024;   // request line plus all headers
  size_t max_headers = 100;            // number of header fields
  int64_t max_body_bytes = -1;         // -1: unlimited (apps stream bodies)
};

}  // namespace subcorn::http
