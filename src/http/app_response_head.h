// AppResponseHead: the app's status and header fields, checked by the rules
// every protocol shares. ResponseWriter (HTTP/1.1) and Http2Session both take
// the app's response head through it, so a mistake is refused the same way,
// with the same words, whichever protocol carries the response.
//
// Rules it owns (nowhere else decides them):
// - A final status is 200..599 (a 1xx is not a final response).
// - Header names are tokens; values have no CR, LF or NUL.
// - Content-Length: digits only; the same value twice is one field, two
//   different values are refused; on a 204 only "0" is accepted, and dropped
//   (frameworks such as Django add it to every response); a 304 keeps it.
// - Transfer-Encoding and Connection are never forwarded: the protocol frames
//   the body and speaks for the connection itself ("close" is remembered).
// - A body longer than the Content-Length is refused (too_long()).
#pragma once

#include <cstdint>
#include <string_view>

namespace subcorn::http {

// The app's mistakes, worded for the app's traceback and the server's log.
namespace app_mistake {
inline constexpr const char* NOT_STARTED =
    "Response header or body sent before the response was started.";
inline constexpr const char* ALREADY_STARTED = "Response already started.";
inline constexpr const char* HEAD_ALREADY_SENT =
    "Response header sent after the response head was sent.";
inline constexpr const char* ALREADY_COMPLETE =
    "Response body sent after the response already completed.";
inline constexpr const char* BAD_STATUS = "Response status is not a valid final status (200..599).";
inline constexpr const char* BAD_NAME = "Invalid HTTP header name in response.";
inline constexpr const char* BAD_VALUE =
    "Invalid HTTP header value in response: CR, LF and NUL are not allowed.";
inline constexpr const char* BAD_LENGTH = "Invalid Content-Length value in response.";
inline constexpr const char* TWO_LENGTHS = "Two different Content-Length values in response.";
inline constexpr const char* LENGTH_ON_204 =
    "Content-Length is not allowed on a 204 (No Content) response.";
inline constexpr const char* TOO_LONG = "Response content longer than Content-Length.";
}  // namespace app_mistake

// 204 and 304 never have a body (RFC 9110 6.4.1); 1xx are refused by start().
constexpr bool status_has_body(int status) { return status != 204 && status != 304; }

// A Content-Length value: digits only (OWS around them is not part of a
// field value); -1 when it is not one.
int64_t parse_content_length(std::string_view value);

class AppResponseHead {
 public:
  // Forgets everything taken: a new response.
  void reset() { *this = AppResponseHead{}; }

  // nullptr, or BAD_STATUS.
  const char* start(int status);
  // One of the app's header fields: nullptr (taken) or the mistake. `*forward`
  // says whether the field goes out as the app gave it; false for the fields
  // the protocol speaks for itself (Transfer-Encoding, Connection, a repeated
  // Content-Length, a 204's "Content-Length: 0").
  const char* take(std::string_view name, std::string_view value, bool* forward);

  // After `sent` body bytes, may `size` more follow? nullptr or TOO_LONG.
  const char* too_long(int64_t sent, int64_t size) const {
    return content_length_ >= 0 && sent + size > content_length_ ? app_mistake::TOO_LONG : nullptr;
  }

  int status() const noexcept { return status_; }
  int64_t content_length() const noexcept { return content_length_; }  // -1: none
  bool wants_close() const noexcept { return wants_close_; }  // "Connection: close"

 private:
  const char* take_content_length(std::string_view value, bool* forward);

  int status_ = 0;
  int64_t content_length_ = -1;
  bool wants_close_ = false;
};

}  // namespace subcorn::http
