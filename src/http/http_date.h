// HTTP dates (RFC 9110 section 5.6.7): IMF-fixdate formatting for the Date
// and Last-Modified headers (separate from DateCache so tests can format a
// known instant), and parsing of the three forms a recipient must accept,
// for If-Modified-Since, If-Unmodified-Since and If-Range.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace subcorn::http {

constexpr size_t IMF_FIXDATE_LEN = 29;  // "Sun, 06 Nov 1994 08:49:37 GMT"

// Writes exactly IMF_FIXDATE_LEN chars (no terminator) for a Unix time in UTC.
// Hand-rolled rather than strftime: %a and %b follow the locale, the header must not.
void format_imf_fixdate(long long unix_seconds, char* out) noexcept;

// The Unix time of an HTTP date: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
// GMT"), the obsolete RFC 850 form ("Sunday, 06-Nov-94 08:49:37 GMT", its
// two-digit year read as 19xx for 70-99 and 20xx for 00-69: RFC 9110 reads
// it relative to today, which a function without a clock cannot, and the two
// agree until 2070) or asctime's ("Sun Nov  6 08:49:37 1994"). nullopt
// for anything else, trailing bytes included: such a field is ignored
// (RFC 9110 13.1.3, 13.1.4). The weekday must be a day name; whether it is
// the right one is not checked (clients do not get it wrong on purpose, and
// nothing rides on it).
std::optional<long long> parse_http_date(std::string_view text) noexcept;

}  // namespace subcorn::http
