// The one place an access line is made, for HTTP/1.1, HTTP/2 and WebSocket.
#include "server/access_log.h"

#include <ctime>

#include "http/tokens.h"
#include "server/shard.h"

namespace subcorn::server {

void AccessTally::begin(const http::AccessLogFormat& format) {
  // One clock read (vDSO, tens of nanoseconds) at the start and one at the
  // end, and only when the line shows a duration: the shard's poll time
  // would say 0 for every request answered within one poll.
  started = format.needs_duration() ? monotonic_seconds() : 0;
  body_bytes = 0;
  response_headers.clear();
}

void AccessTally::header(const http::AccessLogFormat& format, std::string_view name,
                         std::string_view value) {
  for (const std::string& wanted : format.response_header_names()) {
    if (!http::iequals(name, wanted)) continue;
    for (const auto& kept : response_headers)
      if (kept.first == wanted) return;  // the first of a name is shown
    response_headers.emplace_back(wanted, std::string(value));
    return;
  }
}

void Shard::log_access(std::string_view client, const http::RequestHead& head, int status,
                       const AccessTally* tally, std::string_view protocol, bool websocket) {
  const http::AccessLogFormat& format = access_format();
  http::AccessRecord record;
  record.client = client;
  record.head = &head;
  record.status = status;
  record.worker = worker_id();
  record.protocol = protocol;
  record.websocket_accepted = websocket;
  if (format.needs_wall_time()) record.unix_time = static_cast<long long>(std::time(nullptr));
  std::vector<http::Header> response_headers;
  if (tally) {
    record.response_bytes = tally->body_bytes;
    if (tally->started > 0) record.duration = monotonic_seconds() - tally->started;
    for (const auto& [name, value] : tally->response_headers) response_headers.push_back({name, value});
    record.response_headers = response_headers;
  }
  format.append(access_log_, record, access_clock_);
  if (access_log_.size() > 16 * 1024) flush_access_log();
}

}  // namespace subcorn::server
