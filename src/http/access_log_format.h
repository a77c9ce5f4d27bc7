// The access log's line format, compiled once at start into a small program
// of literal text and atoms (gunicorn's names: %(h)s, %(r)s, %({name}i)s...),
// then run for each finished exchange with no parsing and no Python.
//
// Sans-IO: the caller fills an AccessRecord (what the connection knows about
// the exchange) and gets the line appended to its buffer. Two outputs:
//   Text: the line as the format says (default: uvicorn's
//         'INFO:     host:port - "GET /p HTTP/1.1" 200'), one per line;
//   Json: one JSON object per line with fixed fields, and the text line as
//         "message" when a format was given.
// Request-derived text is escaped in a text line (Apache's way: \" \\ \xHH
// for control bytes), so a client cannot forge a line or split one.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/request_parser.h"

namespace subcorn::http {

// One finished exchange, as the log sees it.
struct AccessRecord {
  std::string_view client;  // "host:port", "[::1]:port" or "unix"
  const RequestHead* head = nullptr;
  int status = 0;
  uint64_t response_bytes = 0;  // body bytes the app sent (0 for HEAD, 204, 304)
  double duration = 0;          // seconds from the head's arrival to the response's end
  long long unix_time = 0;      // when the line is written (whole seconds)
  int worker = 0;
  // The connection's protocol: "http/1.0", "http/1.1", "h2" (TLS), "h2c"
  // (cleartext), "websocket" (RFC 6455) or "websocket-h2" (RFC 8441).
  std::string_view protocol;
  bool websocket_accepted = false;  // the line is a WebSocket's acceptance
  // The response headers the format asks for (response_header_names()),
  // names lowercased; the first of a name is used.
  std::span<const Header> response_headers;
};

// What formatting needs to keep between lines: the time texts, rebuilt at
// most once a second. One per thread (a shard).
class AccessLogClock {
 public:
  // "[10/Oct/2000:13:55:36 +0000]" (local time, as gunicorn's %(t)s).
  std::string_view common_log_time(long long unix_time);
  // "2000-10-10T13:55:36Z" (UTC), for JSON records.
  std::string_view iso_time(long long unix_time);

 private:
  long long clf_second_ = -1;
  long long iso_second_ = -1;
  char clf_[40] = {};
  size_t clf_len_ = 0;
  char iso_[32] = {};
  size_t iso_len_ = 0;
};

class AccessLogFormat {
 public:
  enum class Output { Text, Json };

  // uvicorn's line (today's default).
  static AccessLogFormat uvicorn(Output output);
  // A gunicorn-style format; nullopt and `error` (one line, naming the bad
  // atom) when it does not compile. `pid` is what %(p)s shows.
  static std::optional<AccessLogFormat> compile(std::string_view format, Output output,
                                                long pid, std::string* error);

  // Appends the record's line, with its newline.
  void append(std::string& out, const AccessRecord& record, AccessLogClock& clock) const;

  // Whether a line needs the exchange's duration (a clock read at its start
  // and end); the default line does not.
  bool needs_duration() const noexcept { return needs_duration_; }
  // Whether a line shows the time of day (%(t)s, JSON's "time").
  bool needs_wall_time() const noexcept { return needs_wall_time_; }
  // The response headers the format names (%({name}o)s), lowercased; the
  // server keeps only these from a response.
  const std::vector<std::string>& response_header_names() const noexcept {
    return response_header_names_;
  }

 private:
  enum class Atom {
    Literal,
    RemoteAddress,    // h
    Client,           // client: host:port, as uvicorn shows it
    Ident,            // l: always "-"
    User,             // u: the Basic authorization's user name, or "-"
    Time,             // t
    RequestLine,      // r
    Status,           // s
    Bytes,            // b
    Referer,          // f
    UserAgent,        // a
    SecondsDecimal,   // L
    Milliseconds,     // M
    Microseconds,     // D
    Seconds,          // T
    Pid,              // p
    Method,           // m
    Path,             // U
    Query,            // q
    Version,          // H
    RequestHeader,    // {name}i
    ResponseHeader,   // {name}o
    Worker,           // worker
    Protocol,         // protocol
  };
  struct Op {
    Atom atom;
    std::string text;  // Literal: the text; a header atom: its lowercased name
  };

  AccessLogFormat() = default;
  void append_text(std::string& out, const AccessRecord& record, AccessLogClock& clock) const;
  void append_uvicorn(std::string& out, const AccessRecord& record) const;
  void append_json(std::string& out, const AccessRecord& record, AccessLogClock& clock) const;

  Output output_ = Output::Text;
  bool uvicorn_ = false;  // the default line: no program, uvicorn's text
  bool needs_duration_ = false;
  bool needs_wall_time_ = false;
  std::string pid_;
  std::vector<Op> program_;
  std::vector<std::string> response_header_names_;
};

// Appends `text` as the inside of a JSON string (quotes not included): ", \,
// control characters escaped; bytes that are not UTF-8 become U+FFFD.
void append_json_string_body(std::string& out, std::string_view text);

}  // namespace subcorn::http
