#include "http/response.h"

#include <charconv>
#include <cstddef>

#include "http/status.h"
#include "http/tokens.h"

namespace subcorn::http {
namespace {

// A complete response assembled at compile time, so sending an error never
// formats or allocates (after uWebSockets' src/HttpErrors.h).
struct Prebuilt {
  char text[192] = {};
  size_t size = 0;
};

consteval Prebuilt prebuild(int status) {
  Prebuilt p;
  auto put = [&p](std::string_view s) {
    for (char c : s) p.text[p.size++] = c;
  };
  auto put_uint = [&p](size_t v) {
    char digits[20] = {};
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) p.text[p.size++] = digits[--n];
  };
  std::string_view reason = status_reason(status);
  put("HTTP/1.1 ");
  put_uint(static_cast<size_t>(status));
  put(" ");
  put(reason);
  put("\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ");
  put_uint(reason.size());
  put("\r\nconnection: close\r\n\r\n");
  put(reason);
  return p;
}

constexpr Prebuilt k400 = prebuild(400);
constexpr Prebuilt k408 = prebuild(408);
constexpr Prebuilt k413 = prebuild(413);
constexpr Prebuilt k414 = prebuild(414);
constexpr Prebuilt k431 = prebuild(431);
constexpr Prebuilt k500 = prebuild(500);
constexpr Prebuilt k501 = prebuild(501);
constexpr Prebuilt k503 = prebuild(503);
constexpr Prebuilt k504 = prebuild(504);
constexpr Prebuilt k505 = prebuild(505);

constexpr std::string_view view(const Prebuilt& p) { return {p.text, p.size}; }

}  // namespace

std::string_view reason_phrase(int status) noexcept { return status_reason(status); }

void append_status_line(std::string& out, int status, bool http10) {
  out.append(http10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  char digits[12];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, status);
  (void)ec;  // an int always fits in 12 chars
  out.append(digits, end);
  // The space stays even with no known reason: RFC 9112 makes the phrase
  // optional but the SP before it mandatory.
  out.push_back(' ');
  out.append(status_reason(status));
  out.append("\r\n");
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

bool valid_header_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (char c : name) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

bool valid_header_value(std::string_view value) noexcept {
  // CR and LF would let a value end the header line (response splitting);
  // NUL is refused by clients and proxies alike.
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void append_chunk_size(std::string& out, uint64_t size) {
  char hex[16];
  auto [end, ec] = std::to_chars(hex, hex + sizeof hex, size, 16);
  (void)ec;  // a 64-bit size always fits in 16 hex digits
  out.append(hex, end);
  out.append("\r\n");
}

void append_chunk(std::string& out, std::string_view data) {
  if (data.empty()) return;
  append_chunk_size(out, data.size());
  out.append(data);
  out.append("\r\n");
}

std::string_view last_chunk() noexcept { return "0\r\n\r\n"; }

std::string_view continue_response() noexcept { return "HTTP/1.1 100 Continue\r\n\r\n"; }

int error_status(int status) noexcept {
  switch (status) {
    case 400: case 408: case 413: case 414: case 431: case 500: case 501: case 503: case 504:
    case 505:
      return status;
    default:
      return 500;
  }
}

std::string_view error_response(int status) noexcept {
  switch (error_status(status)) {
    case 400: return view(k400);
    case 408: return view(k408);
    case 413: return view(k413);
    case 414: return view(k414);
    case 431: return view(k431);
    case 501: return view(k501);
    case 503: return view(k503);
    case 504: return view(k504);
    case 505: return view(k505);
    default: return view(k500);
  }
}

}  // namespace subcorn::http
