// The request-target and Host grammar a server checks (RFC 9112 section 3.2,
// with the host rules of RFC 3986 section 3.2.2): which form a target has,
// where its origin-form part and its authority are, and whether a Host value
// is a valid `uri-host [ ":" port ]`.
//
// Pure functions over views: no allocation, no state. What a server does with
// a form (refuse asterisk-form for methods other than OPTIONS, accept only
// http and https, let an absolute-form authority replace Host) is the
// request parser's policy, not this file's.
#pragma once

#include <optional>
#include <string_view>

namespace subcorn::http {

enum class TargetForm {
  Origin,    // "/p?q=1"
  Absolute,  // "http://example.com/p?q=1"
  Asterisk,  // "*"
};

struct RequestTarget {
  TargetForm form = TargetForm::Origin;
  // Origin: the whole target. Asterisk: "*". Absolute: what follows the
  // authority, from its '/' or '?'; it can be "" or start with '?' ("http://h",
  // "http://h?q"), which a server reads as "/" and "/?q".
  std::string_view path;
  std::string_view scheme;     // Absolute only, as received ("HTTP", "https")
  std::string_view authority;  // Absolute only: a valid uri-host [":" port]
};

// nullopt when `target` is none of the three forms (authority-form belongs to
// CONNECT, which a server that is not a proxy refuses before its target): a
// fragment ('#'), a '*' followed by anything, an absolute-form target with
// userinfo ('@'), an empty or invalid host, or a port that is not digits.
std::optional<RequestTarget> parse_request_target(std::string_view target);

// uri-host [ ":" port ] with a non-empty host: a reg-name (unreserved,
// pct-encoded and sub-delims characters, which covers IPv4 addresses), or an
// IP-literal in brackets (IPv6 or IPvFuture); port = *DIGIT.
bool valid_host(std::string_view value);

}  // namespace subcorn::http
