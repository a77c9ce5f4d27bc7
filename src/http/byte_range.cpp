#include "http/byte_range.h"

#include <optional>

#include "http/tokens.h"

namespace subcorn::http {
namespace {

// 1*DIGIT, without overflow; nullopt for anything else (an empty string, a
// sign, a number past what a file offset can be).
std::optional<int64_t> position(std::string_view digits) noexcept {
  if (digits.empty()) return std::nullopt;
  int64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    if (value > (INT64_MAX - (c - '0')) / 10) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

// One range-spec: "first-last", "first-" or "-suffix".
struct Spec {
  bool valid = false;
  bool satisfiable = false;
  int64_t first = 0;
  int64_t length = 0;
};

Spec read_spec(std::string_view text, int64_t size) noexcept {
  Spec spec;
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) return spec;
  std::string_view first_text = text.substr(0, dash);
  std::string_view last_text = text.substr(dash + 1);
  if (first_text.empty()) {
    // A suffix: the last N bytes (all of them when N is more).
    std::optional<int64_t> suffix = position(last_text);
    if (!suffix) return spec;
    spec.valid = true;
    spec.satisfiable = *suffix > 0 && size > 0;
    spec.length = *suffix < size ? *suffix : size;
    spec.first = size - spec.length;
    return spec;
  }
  std::optional<int64_t> first = position(first_text);
  if (!first) return spec;
  int64_t last = INT64_MAX;
  if (!last_text.empty()) {
    std::optional<int64_t> given = position(last_text);
    // last < first makes the whole field invalid (RFC 9110 14.1.1).
    if (!given || *given < *first) return spec;
    last = *given;
  }
  spec.valid = true;
  spec.satisfiable = *first < size;
  if (spec.satisfiable) {
    spec.first = *first;
    spec.length = (last < size - 1 ? last : size - 1) - *first + 1;
  }
  return spec;
}

}  // namespace

ByteRange parse_byte_range(std::string_view value, int64_t size) noexcept {
  ByteRange whole;
  size_t equals = value.find('=');
  if (equals == std::string_view::npos || !iequals(value.substr(0, equals), "bytes")) return whole;
  std::string_view specs = value.substr(equals + 1);
  int count = 0;
  int satisfiable = 0;
  Spec only;
  bool invalid = false;
  // Elements are comma-separated, OWS around each; empty ones are skipped.
  any_list_element(specs, [&](std::string_view element) {
    Spec spec = read_spec(element, size);
    if (!spec.valid) {
      invalid = true;
      return true;  // stop: the whole field is ignored
    }
    ++count;
    if (spec.satisfiable) {
      ++satisfiable;
      only = spec;
    }
    return false;
  });
  if (invalid || count == 0) return whole;
  if (satisfiable == 0) return {ByteRange::Kind::Unsatisfiable, 0, 0};
  if (count > 1) return whole;
  return {ByteRange::Kind::Partial, only.first, only.length};
}

}  // namespace subcorn::http
