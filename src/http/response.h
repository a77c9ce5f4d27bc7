// Response serialisation: status line and headers, chunked framing, and the
// prebuilt responses the server sends on its own (errors, 100 Continue).
// Appends to a caller-owned std::string; allocates only when it must grow.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace subcorn::http {

// "OK" for 200, "Not Found" for 404...; "" for a status it does not know.
std::string_view reason_phrase(int status) noexcept;

// Appends "HTTP/1.1 <status> <reason>\r\n". `http10` writes "HTTP/1.0".
void append_status_line(std::string& out, int status, bool http10 = false);

// Appends "<name>: <value>\r\n" exactly as given (the caller validated them).
void append_header(std::string& out, std::string_view name, std::string_view value);

// True when a header name is a valid token and a value has no CR, LF or NUL:
// an app must not be able to split a response.
bool valid_header_name(std::string_view name) noexcept;
bool valid_header_value(std::string_view value) noexcept;

// Appends one chunk ("<hex size>\r\n<data>\r\n"); nothing for empty data,
// since an empty chunk would end the body.
void append_chunk(std::string& out, std::string_view data);

// Appends a chunk's size line alone ("<hex size>\r\n"), for a chunk whose
// data the caller sends itself (a file, with sendfile()); its CRLF follows.
void append_chunk_size(std::string& out, uint64_t size);

// The last chunk: "0\r\n\r\n".
std::string_view last_chunk() noexcept;

// "HTTP/1.1 100 Continue\r\n\r\n".
std::string_view continue_response() noexcept;

// The status the server answers with on its own when it means `status`:
// itself when error_response() has it prebuilt, else 500.
int error_status(int status) noexcept;

// A complete response the server sends on its own, with "connection: close"
// and a short text/plain body: 400, 408, 413, 414, 431, 500, 501, 503, 504.
std::string_view error_response(int status) noexcept;

// The current time as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"),
// for the Date header; caches per second, call from one thread per instance.
class DateCache {
 public:
  std::string_view now();
 private:
  long long second_ = -1;
  char text_[32] = {};
  size_t len_ = 0;
};

}  // namespace subcorn::http
