// Limits applied while parsing a request, named after gunicorn's flags that set
// them (--limit-request-line, -fields, -field-size, -body). Exceeding one is an
// Error event with the status to answer: 414 for the request line, 431 for
// the head, a field line or the number of fields, 413 for the body.
#pragma once

#include <cstddef>
#include <cstdint>

namespace subcorn::http {

struct Limits {
  static constexpr size_t NO_LIMIT = SIZE_MAX;

  // The whole head, request line plus field lines, in raw bytes (431). Always
  // applies, whatever the others say: it bounds what the parser copies.
  size_t max_head_bytes = 64 * 1024;
  // The request line: method, target and version, without its CRLF (414).
  size_t max_request_line = NO_LIMIT;
  // The number of header fields, and of trailer fields (431).
  size_t max_headers = 100;
  // One header (or trailer) field: its name and value as received, which
  // leaves out only the colon and the whitespace before the value (431).
  size_t max_field_bytes = NO_LIMIT;
  // The body, declared or chunked (413). -1: unlimited (apps stream bodies).
  int64_t max_body_bytes = -1;
};

}  // namespace subcorn::http
