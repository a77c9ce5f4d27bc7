// The engine's own log lines (not the access log): uvicorn's text
// ("ERROR:    message") or, with --log-format json, one JSON object per line
// with the same fields as the Python side's records (python/subcorn/_logging.py).
// A line that belongs to a worker or a request names them.
#pragma once

#include <string>
#include <string_view>

namespace subcorn::server {

enum class LogLevel { Info, Warning, Error };

struct LogContext {
  int worker = -1;  // -1: the process, not one worker
  // The request the line is about; empty when none.
  std::string_view method;
  std::string_view path;
  std::string_view client;
};

// The line, with its newline.
std::string engine_log_line(bool json, LogLevel level, std::string_view message,
                            const LogContext& context = {});
// Writes it to stderr in one write().
void engine_log(bool json, LogLevel level, std::string_view message,
                const LogContext& context = {});

}  // namespace subcorn::server
