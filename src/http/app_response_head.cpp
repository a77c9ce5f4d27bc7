#include "http/app_response_head.h"

#include <charconv>

#include "http/response.h"
#include "http/tokens.h"

namespace subcorn::http {

int64_t parse_content_length(std::string_view value) {
  value = trim_ows(value);
  int64_t n = -1;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || n < 0) return -1;
  return n;
}

const char* AppResponseHead::start(int status) {
  if (status < 200 || status > 599) return app_mistake::BAD_STATUS;
  status_ = status;
  return nullptr;
}

const char* AppResponseHead::take(std::string_view name, std::string_view value, bool* forward) {
  *forward = false;
  if (!valid_header_name(name)) return app_mistake::BAD_NAME;
  if (!valid_header_value(value)) return app_mistake::BAD_VALUE;
  if (iequals(name, "content-length")) return take_content_length(value, forward);
  // The protocol frames the body and speaks for the connection itself.
  if (iequals(name, "transfer-encoding")) return nullptr;
  if (iequals(name, "connection")) {
    if (contains_token(value, "close")) wants_close_ = true;
    return nullptr;
  }
  *forward = true;
  return nullptr;
}

const char* AppResponseHead::take_content_length(std::string_view value, bool* forward) {
  int64_t n = parse_content_length(value);
  if (n < 0) return app_mistake::BAD_LENGTH;
  if (content_length_ >= 0) {
    // RFC 9110 8.6: the same value twice is one Content-Length; two values
    // leave the client to guess where the body ends.
    return n == content_length_ ? nullptr : app_mistake::TWO_LENGTHS;
  }
  if (status_ == 204) {
    // RFC 9110 8.6 forbids it on a 204. "0" is what frameworks add to every
    // response (Django's CommonMiddleware does), and it is true: drop it.
    if (n != 0) return app_mistake::LENGTH_ON_204;
    content_length_ = 0;
    return nullptr;
  }
  // A 304 keeps it: it states the length a 200 would have (RFC 9110 8.6).
  content_length_ = n;
  *forward = true;
  return nullptr;
}

}  // namespace subcorn::http
