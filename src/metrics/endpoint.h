// What the metrics port answers, sans-IO: a parsed request in, a complete
// HTTP/1.1 response out (always "connection: close": a scraper or a probe
// asks once per connection, and the responder stays a few lines).
//
//   GET /metrics   200, the Prometheus text format
//   GET /healthz   200 "ok", or 503 naming a worker whose loop is stuck
//   GET /readyz    200 "ready" while serving and not draining, else 503
//   other paths    404; other methods 405 (HEAD is GET without a body)
#pragma once

#include <cstdint>
#include <string>

#include "http/request_parser.h"
#include "metrics/collector.h"

namespace subcorn::metrics {

struct EndpointState {
  Collector& collector;
  bool ready;  // the supervisor serves and is not draining
  int64_t now_ns;
};

std::string respond(const http::RequestHead& head, EndpointState state);

// A request that did not parse: the parser's status, answered and closed.
std::string respond_error(int status);

}  // namespace subcorn::metrics
