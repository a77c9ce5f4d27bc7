// Small HTTP text rules shared by the request parser and the response writer:
// ASCII case folding (field names and tokens are case-insensitive, RFC 9110
// 5.1 and 5.6.2), optional whitespace, and comma-separated lists (5.6.1).
// One place for each, so both directions read a header the same way.
#pragma once

#include <string_view>

namespace subcorn::http {

constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// OWS = *( SP / HTAB )
constexpr bool is_ows(char c) { return c == ' ' || c == '\t'; }

// RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
// "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA, the characters of
// a token (a method, a field name).
constexpr bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// ASCII case-insensitive equality (no locale: "I" is never "ı").
constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

constexpr std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Calls `test` on each element of a comma-separated list, OWS trimmed, empty
// elements skipped (RFC 9110 5.6.1 lets a recipient ignore them); true as soon
// as one passes.
template <typename Test>
constexpr bool any_list_element(std::string_view list, Test test) {
  for (;;) {
    size_t comma = list.find(',');
    std::string_view element = trim_ows(list.substr(0, comma));
    if (!element.empty() && test(element)) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

// True when a list such as a Connection value holds `token` ("close"), in any case.
constexpr bool contains_token(std::string_view list, std::string_view token) {
  return any_list_element(list, [token](std::string_view element) { return iequals(element, token); });
}

}  // namespace subcorn::http
