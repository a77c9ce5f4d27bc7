// Incremental UTF-8 validation for WebSocket text (RFC 6455 5.6, 8.1): a
// message may arrive in any number of pieces, cut anywhere, even inside a code
// point, and must be refused as soon as it cannot be valid.
//
// Rules:
// - Valid means well-formed per Unicode Table 3-7 (RFC 3629): no overlong
//   forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
// - Fail fast: a piece is Invalid as soon as its first impossible byte is
//   read, not at the end of the message (Autobahn 6.x checks this), and stays
//   Invalid until reset().
// - At the end of a message, Complete is valid; Incomplete means the text
//   stopped in the middle of a code point, which is invalid for a whole text.
// - No allocation; the state is one byte carried between calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace subcorn::ws {

class Utf8Validator {
 public:
  enum class Status {
    Complete,    // everything so far is valid and ends on a code point boundary
    Incomplete,  // valid so far, but the last code point needs more bytes
    Invalid,     // an impossible byte was seen
  };

  // Validates the next piece; returns the status after it.
  Status feed(std::string_view piece) noexcept;
  Status status() const noexcept;
  void reset() noexcept { state_ = 0; }

 private:
  uint8_t state_ = 0;  // a DFA state (utf8.cpp); 0 is "on a boundary"
};

// A whole text: Complete and nothing else.
bool is_valid_utf8(std::string_view text) noexcept;

// The longest prefix of valid UTF-8 `text` of at most `max_bytes` that does
// not cut a code point (for a close reason, which must fit 123 bytes).
std::string_view truncate_utf8(std::string_view text, size_t max_bytes) noexcept;

}  // namespace subcorn::ws
