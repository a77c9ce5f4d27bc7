#include "ws/utf8.h"

#include <array>
#include <cstring>

namespace subcorn::ws {
namespace {

// Byte classes, from the ranges of Unicode Table 3-7: which lead byte starts
// which sequence, and which range its second byte must fall in.
enum Class : uint8_t {
  ASCII,      // 00..7F
  CONT_LOW,   // 80..8F
  CONT_MID,   // 90..9F
  CONT_HIGH,  // A0..BF
  LEAD2,      // C2..DF
  LEAD3_E0,   // E0: second byte A0..BF (no overlong forms)
  LEAD3,      // E1..EC, EE..EF
  LEAD3_ED,   // ED: second byte 80..9F (no surrogates)
  LEAD4_F0,   // F0: second byte 90..BF (no overlong forms)
  LEAD4,      // F1..F3
  LEAD4_F4,   // F4: second byte 80..8F (nothing above U+10FFFF)
  NEVER,      // C0, C1, F5..FF
  CLASS_COUNT,
};

// States: where the validator is inside a code point.
enum State : uint8_t {
  BOUNDARY,    // between code points (the only accepting state)
  REJECTED,
  NEED1,       // one continuation byte (80..BF) left
  NEED2,       // two left, any continuation
  NEED2_E0,    // after E0: A0..BF, then one more
  NEED2_ED,    // after ED: 80..9F, then one more
  NEED3,       // three left, any continuation
  NEED3_F0,    // after F0: 90..BF, then two more
  NEED3_F4,    // after F4: 80..8F, then two more
  STATE_COUNT,
};

constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> c{};
  for (int b = 0; b < 256; ++b) {
    uint8_t k = NEVER;
    if (b <= 0x7F) k = ASCII;
    else if (b <= 0x8F) k = CONT_LOW;
    else if (b <= 0x9F) k = CONT_MID;
    else if (b <= 0xBF) k = CONT_HIGH;
    else if (b <= 0xC1) k = NEVER;
    else if (b <= 0xDF) k = LEAD2;
    else if (b == 0xE0) k = LEAD3_E0;
    else if (b == 0xED) k = LEAD3_ED;
    else if (b <= 0xEF) k = LEAD3;
    else if (b == 0xF0) k = LEAD4_F0;
    else if (b <= 0xF3) k = LEAD4;
    else if (b == 0xF4) k = LEAD4_F4;
    c[b] = k;
  }
  return c;
}

using Transitions = std::array<std::array<uint8_t, CLASS_COUNT>, STATE_COUNT>;

constexpr Transitions make_transitions() {
  Transitions t{};
  for (auto& row : t) row.fill(REJECTED);
  // From a boundary, a lead byte says how many continuation bytes follow.
  t[BOUNDARY][ASCII] = BOUNDARY;
  t[BOUNDARY][LEAD2] = NEED1;
  t[BOUNDARY][LEAD3_E0] = NEED2_E0;
  t[BOUNDARY][LEAD3] = NEED2;
  t[BOUNDARY][LEAD3_ED] = NEED2_ED;
  t[BOUNDARY][LEAD4_F0] = NEED3_F0;
  t[BOUNDARY][LEAD4] = NEED3;
  t[BOUNDARY][LEAD4_F4] = NEED3_F4;
  for (uint8_t k : {CONT_LOW, CONT_MID, CONT_HIGH}) {
    t[NEED1][k] = BOUNDARY;
    t[NEED2][k] = NEED1;
    t[NEED3][k] = NEED2;
  }
  // The second byte after E0, ED, F0 and F4 is restricted to part of the range.
  t[NEED2_E0][CONT_HIGH] = NEED1;
  t[NEED2_ED][CONT_LOW] = NEED1;
  t[NEED2_ED][CONT_MID] = NEED1;
  t[NEED3_F0][CONT_MID] = NEED2;
  t[NEED3_F0][CONT_HIGH] = NEED2;
  t[NEED3_F4][CONT_LOW] = NEED2;
  return t;
}

constexpr std::array<uint8_t, 256> CLASSES = make_classes();
constexpr Transitions TRANSITIONS = make_transitions();

constexpr uint64_t HIGH_BITS = 0x8080808080808080ull;

}  // namespace

Utf8Validator::Status Utf8Validator::feed(std::string_view piece) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(piece.data());
  const auto* end = p + piece.size();
  uint8_t state = state_;
  while (p < end) {
    if (state == BOUNDARY) {
      // Text is mostly ASCII: skip it eight bytes at a time.
      while (end - p >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        if (word & HIGH_BITS) break;
        p += 8;
      }
      if (p == end) break;
    }
    state = TRANSITIONS[state][CLASSES[*p++]];
    if (state == REJECTED) break;
  }
  state_ = state;
  return status();
}

Utf8Validator::Status Utf8Validator::status() const noexcept {
  if (state_ == BOUNDARY) return Status::Complete;
  if (state_ == REJECTED) return Status::Invalid;
  return Status::Incomplete;
}

bool is_valid_utf8(std::string_view text) noexcept {
  Utf8Validator v;
  return v.feed(text) == Utf8Validator::Status::Complete;
}

std::string_view truncate_utf8(std::string_view text, size_t max_bytes) noexcept {
  if (text.size() <= max_bytes) return text;
  size_t n = max_bytes;
  // Back off over continuation bytes (10xxxxxx) to the start of the code
  // point that the cut would split.
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}

}  // namespace subcorn::ws
