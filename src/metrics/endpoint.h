// What the metrics port answers, sans-IO: a parsed request in, a complete
// HTTP/1.1 response out (always "connection: close": a scraper or a probe
// asks once per connection, and the responder stays a few lines).
//
//   GET /metrics   200, the Prometheus text format
//   GET /healthz   200 "ok", or 503 naming a worker whose loop is stuck
//   GET /readyz    200 "ready" while a shard serves and the server is not
//                  starting or draining, else 503
//   other paths    404; other methods 405 (HEAD is GET without a body)
#pragma once

#include <cstdint>
#include <string>

#include "http/request_parser.h"
#include "metrics/collector.h"

namespace subcorn::metrics {

// One connection to the metrics port, reading its request: bytes in as
// they come, until the head is whole or cannot be one. What follows the
// head (a body, a pipelined request) is not read: the answer closes.
class RequestReader {
 public:
  // A scraper's request is a line and a few headers.
  static constexpr size_t MAX_HEAD_BYTES = 8 * 1024;
  enum class Progress { Incomplete, Whole, Malformed };

  RequestReader();
  Progress feed(std::string_view bytes);
  const http::RequestHead& head() const noexcept { return parser_.head(); }
  int error_status() const noexcept { return error_status_; }  // Malformed: 400, 431...

 private:
  http::RequestParser parser_;
  std::string input_;
  size_t parsed_ = 0;
  Progress progress_ = Progress::Incomplete;
  int error_status_ = 0;
};

struct EndpointState {
  Collector& collector;
  bool ready;  // the supervisor has started serving and is not draining
  int64_t now_ns;
};

std::string respond(const http::RequestHead& head, EndpointState state);

// A request that did not parse: the parser's status, answered and closed.
std::string respond_error(int status);

}  // namespace subcorn::metrics
