// The Range field of a GET (RFC 9110 14.1.2, 14.2), for a representation
// whose length is known: which bytes to send. Pure: a field value and a
// length in, a decision out.
//
// Decided here:
// - One satisfiable range: 206 with those bytes.
// - Several ranges (one of them satisfiable at least): the whole
//   representation, 200. RFC 9110 14.2 lets a server ignore Range, and
//   multipart/byteranges buys little (browsers and download managers ask
//   for one range at a time) for a framing of its own.
// - Nothing satisfiable (every range starts at or past the end, a suffix of
//   0 bytes, any range of an empty representation): 416.
// - A value that does not parse (another unit, a range whose last byte
//   comes before its first, junk, numbers too large): ignored, 200 whole,
//   as RFC 9110 14.2 allows.
#pragma once

#include <cstdint>
#include <string_view>

namespace subcorn::http {

struct ByteRange {
  enum class Kind {
    Whole,          // no usable Range: the whole representation (200)
    Partial,        // `first` and `length` (206)
    Unsatisfiable,  // 416, with "Content-Range: bytes */<size>"
  };
  Kind kind = Kind::Whole;
  int64_t first = 0;   // Partial: the first byte's offset
  int64_t length = 0;  // Partial: how many bytes, at least 1
};

// `value`: the Range field's value; `size`: the representation's length.
ByteRange parse_byte_range(std::string_view value, int64_t size) noexcept;

}  // namespace subcorn::http
