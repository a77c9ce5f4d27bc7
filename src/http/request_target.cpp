#include "http/request_target.h"

namespace subcorn::http {
namespace {

constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
constexpr bool is_unreserved(char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
constexpr bool is_sub_delim(char c) { return std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos; }

bool all_digits(std::string_view s) {
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// reg-name = *( unreserved / pct-encoded / sub-delims ); IPv4 addresses are
// reg-names too, so they need no rule of their own here.
bool valid_reg_name(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
    } else if (!is_unreserved(c) && !is_sub_delim(c)) {
      return false;
    }
  }
  return true;
}

// dec-octet "." dec-octet "." dec-octet "." dec-octet, no leading zeros.
bool valid_ipv4(std::string_view s) {
  for (int octet = 0; octet < 4; ++octet) {
    size_t dot = s.find('.');
    if ((octet < 3) == (dot == std::string_view::npos)) return false;
    std::string_view part = s.substr(0, dot);
    if (part.empty() || part.size() > 3 || !all_digits(part) || (part.size() > 1 && part[0] == '0')) return false;
    int value = 0;
    for (char c : part) value = value * 10 + (c - '0');
    if (value > 255) return false;
    if (dot != std::string_view::npos) s.remove_prefix(dot + 1);
  }
  return true;
}

// Colon-separated h16 groups (1*4HEXDIG); the last may be an IPv4 address,
// which counts as two. False on an empty group.
bool count_ipv6_groups(std::string_view part, bool ipv4_may_end, int* groups) {
  *groups = 0;
  if (part.empty()) return true;
  for (;;) {
    size_t colon = part.find(':');
    std::string_view group = part.substr(0, colon);
    if (colon == std::string_view::npos && ipv4_may_end && group.find('.') != std::string_view::npos) {
      if (!valid_ipv4(group)) return false;
      *groups += 2;
      return true;
    }
    if (group.empty() || group.size() > 4) return false;
    for (char c : group) {
      if (!is_hex(c)) return false;
    }
    ++*groups;
    if (colon == std::string_view::npos) return true;
    part.remove_prefix(colon + 1);
  }
}

// RFC 3986 IPv6address: eight groups, or fewer with one "::" standing for
// at least one group of zeros.
bool valid_ipv6(std::string_view s) {
  size_t gap = s.find("::");
  int before = 0, after = 0;
  if (gap == std::string_view::npos) return count_ipv6_groups(s, true, &before) && before == 8;
  if (s.find("::", gap + 1) != std::string_view::npos) return false;
  return count_ipv6_groups(s.substr(0, gap), false, &before) && count_ipv6_groups(s.substr(gap + 2), true, &after) &&
         before + after <= 7;
}

// IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
bool valid_ipvfuture(std::string_view s) {
  if (s.size() < 4 || (s[0] != 'v' && s[0] != 'V')) return false;
  size_t dot = s.find('.');
  if (dot == std::string_view::npos || dot < 2 || dot + 1 == s.size()) return false;
  for (size_t i = 1; i < dot; ++i) {
    if (!is_hex(s[i])) return false;
  }
  for (size_t i = dot + 1; i < s.size(); ++i) {
    if (!is_unreserved(s[i]) && !is_sub_delim(s[i]) && s[i] != ':') return false;
  }
  return true;
}

}  // namespace

bool valid_host(std::string_view value) {
  std::string_view port;
  if (!value.empty() && value[0] == '[') {
    size_t close = value.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view literal = value.substr(1, close - 1);
    if (!valid_ipv6(literal) && !valid_ipvfuture(literal)) return false;
    std::string_view rest = value.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return false;
    port = rest.empty() ? rest : rest.substr(1);
  } else {
    size_t colon = value.find(':');
    std::string_view host = value.substr(0, colon);
    if (host.empty() || !valid_reg_name(host)) return false;
    if (colon != std::string_view::npos) port = value.substr(colon + 1);
  }
  // port = *DIGIT: "example.com:" is valid (RFC 3986 3.2.3 says to read it
  // as the default port).
  return all_digits(port);
}

std::optional<RequestTarget> parse_request_target(std::string_view target) {
  if (target.empty() || target.find('#') != std::string_view::npos) return std::nullopt;
  if (target == "*") return RequestTarget{TargetForm::Asterisk, target, {}, {}};
  if (target[0] == '/') return RequestTarget{TargetForm::Origin, target, {}, {}};
  // absolute-URI = scheme ":" hier-part [ "?" query ], and for a server the
  // hier-part must start with an authority: "//" authority path-abempty.
  size_t colon = target.find(':');
  if (colon == std::string_view::npos || colon == 0 || !is_alpha(target[0])) return std::nullopt;
  std::string_view scheme = target.substr(0, colon);
  for (char c : scheme) {
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return std::nullopt;
  }
  std::string_view rest = target.substr(colon + 1);
  if (!rest.starts_with("//")) return std::nullopt;
  rest.remove_prefix(2);
  size_t path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  // A userinfo ("user@host") fails here too: '@' is not a host character,
  // and RFC 9110 4.2.4 has a recipient treat it as an error.
  if (!valid_host(authority)) return std::nullopt;
  std::string_view path = path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  return RequestTarget{TargetForm::Absolute, path, scheme, authority};
}

}  // namespace subcorn::http
