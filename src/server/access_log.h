// The access log's line for one request, in uvicorn's format
// ('INFO:     host:port - "GET /p HTTP/1.1" 200'), for every protocol.
#pragma once

#include <string>
#include <string_view>

#include "http/request_parser.h"

namespace subcorn::server {

inline std::string access_log_line(std::string_view peer, const http::RequestHead& head,
                                   int status) {
  std::string_view version = head.version_major == 2   ? " HTTP/2\" "
                             : head.version_minor == 0 ? " HTTP/1.0\" "
                                                       : " HTTP/1.1\" ";
  std::string line;
  line.reserve(96);
  line.append("INFO:     ").append(peer).append(" - \"");
  line.append(head.method).append(" ").append(head.target);
  line.append(version).append(std::to_string(status)).append("\n");
  return line;
}

}  // namespace subcorn::server
