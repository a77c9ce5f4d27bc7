// Inputs for the tests of the parsers that read one field value at a time
// (the static files' Range, dates, entity tags, Accept-Encoding, paths):
// each value is given in a heap block of exactly its size, so that a parser
// reading one byte past its input trips AddressSanitizer, and the tests
// also feed every prefix of a value (byte by byte, as it would grow) and
// the value with bytes after it.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace subcorn::test {

class ExactBytes {
 public:
  explicit ExactBytes(std::string_view text)
      : size_(text.size()), data_(new char[text.empty() ? 1 : text.size()]) {
    if (!text.empty()) std::memcpy(data_.get(), text.data(), text.size());
  }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  size_t size_;
  std::unique_ptr<char[]> data_;
};

// Calls `check(prefix)` for every proper prefix of `text` (the empty one
// included), each in an exact-size block.
template <typename Check>
void for_each_prefix(std::string_view text, Check check) {
  for (size_t n = 0; n < text.size(); ++n) {
    ExactBytes prefix(text.substr(0, n));
    check(prefix.view());
  }
}

}  // namespace subcorn::test
