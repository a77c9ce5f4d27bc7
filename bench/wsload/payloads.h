// The messages the load generator sends: a fixed pool of distinct messages,
// made once at start from a seeded generator, so every run and every server
// gets the same bytes and sending costs no more than a copy.
//
// - Binary: random bytes (they do not compress; no scenario compresses them).
// - Text: JSON as an API would send it (an object holding an array of user
//   records: ids, names, e-mail addresses, timestamps, tags, numbers), padded
//   with JSON whitespace to the exact size. It compresses about as well as
//   real JSON does, not as a run of one repeated byte would.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace wsload {

enum class Kind { Binary, Text };

class Pool {
 public:
  Pool(Kind kind, size_t message_size, size_t count, uint64_t seed);

  const std::string& at(size_t index) const { return messages_[index % messages_.size()]; }
  size_t count() const { return messages_.size(); }
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
  std::vector<std::string> messages_;
};

std::string random_bytes(size_t size, uint64_t seed);
std::string json_text(size_t size, uint64_t seed);

}  // namespace wsload
