// IMF-fixdate formatting for the Date header (RFC 9110 section 5.6.7),
// separate from DateCache so tests can format a known instant.
#pragma once

#include <cstddef>

namespace subcorn::http {

constexpr size_t IMF_FIXDATE_LEN = 29;  // "Sun, 06 Nov 1994 08:49:37 GMT"

// Writes exactly IMF_FIXDATE_LEN chars (no terminator) for a Unix time in UTC.
// Hand-rolled rather than strftime: %a and %b follow the locale, the header must not.
void format_imf_fixdate(long long unix_seconds, char* out) noexcept;

}  // namespace subcorn::http
