#include "server/engine_log.h"

#include <unistd.h>

#include <ctime>

#include "http/access_log_format.h"

namespace subcorn::server {

namespace {

std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Info: return "INFO";
    case LogLevel::Warning: return "WARNING";
    case LogLevel::Error: return "ERROR";
  }
  return "ERROR";
}

void json_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(",\"").append(name).append("\":\"");
  http::append_json_string_body(out, value);
  out.push_back('"');
}

}  // namespace

std::string engine_log_line(bool json, LogLevel level, std::string_view message,
                            const LogContext& context) {
  std::string line;
  if (json) {
    http::AccessLogClock clock;
    line.append("{\"time\":\"").append(clock.iso_time(static_cast<long long>(std::time(nullptr))));
    line.append("\",\"level\":\"").append(level_name(level));
    line.append("\",\"logger\":\"subcorn\"");
    if (context.worker >= 0) line.append(",\"worker\":").append(std::to_string(context.worker));
    json_field(line, "message", message);
    if (!context.method.empty()) {
      json_field(line, "method", context.method);
      json_field(line, "path", context.path);
      json_field(line, "client", context.client);
    }
    line.append("}\n");
    return line;
  }
  std::string_view name = level_name(level);
  line.append(name).push_back(':');
  line.append(name.size() < 9 ? 9 - name.size() : 1, ' ');
  line.append(message);
  // "(worker 2: GET /p from 10.0.0.1:5000)", so a line can be traced.
  if (context.worker >= 0 || !context.method.empty()) {
    line.append(" (");
    if (context.worker >= 0) line.append("worker ").append(std::to_string(context.worker));
    if (!context.method.empty()) {
      if (context.worker >= 0) line.append(": ");
      line.append(context.method).push_back(' ');
      line.append(context.path).append(" from ").append(context.client);
    }
    line.push_back(')');
  }
  line.push_back('\n');
  return line;
}

void engine_log(bool json, LogLevel level, std::string_view message, const LogContext& context) {
  std::string line = engine_log_line(json, level, message, context);
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace subcorn::server
