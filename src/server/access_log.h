// The access log: what an exchange keeps for its line (AccessTally), and the
// one call every protocol makes when a response is done (Shard::log_access,
// which runs the format compiled at start: http/access_log_format.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/access_log_format.h"

namespace subcorn::server {

// What one exchange's line needs beyond its head and status. Only what the
// format shows costs anything: the start time is read only when it shows a
// duration, and only the response headers it names are kept.
struct AccessTally {
  double started = 0;       // monotonic seconds when the head arrived; 0: not measured
  uint64_t body_bytes = 0;  // body bytes the app gave (a file's too)
  std::vector<std::pair<std::string, std::string>> response_headers;

  void begin(const http::AccessLogFormat& format);
  void header(const http::AccessLogFormat& format, std::string_view name, std::string_view value);
};

// The connection's protocol, as %(protocol)s shows it.
inline std::string_view http1_protocol(const http::RequestHead& head) {
  return head.version_minor == 0 ? "http/1.0" : "http/1.1";
}

}  // namespace subcorn::server
