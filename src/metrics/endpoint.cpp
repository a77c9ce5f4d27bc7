#include "metrics/endpoint.h"

#include "http/response.h"
#include "metrics/exposition.h"

namespace subcorn::metrics {
namespace {

std::string response(int status, std::string_view content_type, const std::string& body,
                     bool head_only, std::string_view extra_header = {}) {
  std::string out;
  out.reserve(body.size() + 160);
  http::append_status_line(out, status);
  http::append_header(out, "content-type", content_type);
  http::append_header(out, "content-length", std::to_string(body.size()));
  http::append_header(out, "cache-control", "no-store");
  if (!extra_header.empty()) out.append(extra_header);
  http::append_header(out, "connection", "close");
  out.append("\r\n");
  if (!head_only) out.append(body);
  return out;
}

constexpr std::string_view TEXT = "text/plain; charset=utf-8";

}  // namespace

std::string respond(const http::RequestHead& head, EndpointState state) {
  bool head_only = head.method == "HEAD";
  std::string_view path = head.path.substr(0, head.path.find('?'));
  bool known = path == "/metrics" || path == "/healthz" || path == "/readyz";
  if (!known) return response(404, TEXT, "not found: /metrics, /healthz and /readyz are\n", head_only);
  if (head.method != "GET" && !head_only)
    return response(405, TEXT, "only GET and HEAD\n", false, "allow: GET, HEAD\r\n");
  if (path == "/metrics")
    return response(200, EXPOSITION_CONTENT_TYPE, render(state.collector.snapshot(state.now_ns)),
                    head_only);
  if (path == "/healthz") {
    std::string why = state.collector.unhealthy(state.now_ns);
    return why.empty() ? response(200, TEXT, "ok\n", head_only) : response(503, TEXT, why, head_only);
  }
  if (!state.ready) return response(503, TEXT, "not ready: starting or draining\n", head_only);
  // Between a worker process's death and its replacement, nothing serves.
  if (!state.collector.serving()) return response(503, TEXT, "not ready: no worker serves\n", head_only);
  return response(200, TEXT, "ready\n", head_only);
}

std::string respond_error(int status) { return std::string(http::error_response(status)); }

namespace {

http::Limits reader_limits() {
  http::Limits limits;
  limits.max_head_bytes = RequestReader::MAX_HEAD_BYTES;
  return limits;
}

}  // namespace

RequestReader::RequestReader() : parser_(reader_limits()) {}

RequestReader::Progress RequestReader::feed(std::string_view bytes) {
  if (progress_ != Progress::Incomplete) return progress_;
  input_.append(bytes);
  size_t consumed = 0;
  http::Event ev = parser_.next(std::string_view(input_).substr(parsed_), &consumed);
  parsed_ += consumed;
  if (ev.type == http::EventType::Head) {
    progress_ = Progress::Whole;
  } else if (ev.type == http::EventType::Error) {
    progress_ = Progress::Malformed;
    error_status_ = ev.status;
  }
  return progress_;
}

}  // namespace subcorn::metrics
