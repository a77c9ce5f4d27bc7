// Accept-Encoding (RFC 9110 12.5.3) for precompressed static files: which of
// the codings the server can offer (a ".br" or ".gz" sibling of the file, or
// the file itself) the client accepts, best first. Pure: a field value in,
// an order out; whether the siblings exist is for the caller to find out.
//
// Decided here:
// - No Accept-Encoding at all, or an empty one: identity only (RFC 9110
//   lets a server send any coding to a client that said nothing; curl and
//   scripts that said nothing expect the file as it is).
// - q-values order the codings; among equal ones br comes before gzip
//   before identity (smaller first). "x-gzip" is gzip; "*" stands for every
//   coding not named.
// - identity is acceptable unless "identity;q=0", or "*;q=0" with identity
//   not named; when acceptable and not named it ranks below every coding
//   the client named.
// - An element whose q-value does not parse is skipped.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace subcorn::http {

enum class Coding : uint8_t { Brotli, Gzip, Identity };

struct CodingPreference {
  Coding order[3] = {};  // acceptable codings, best first
  int count = 0;
  bool accepts(Coding c) const noexcept {
    for (int i = 0; i < count; ++i)
      if (order[i] == c) return true;
    return false;
  }
};

// `accept_encoding`: the field's value, nullopt when the request has none.
CodingPreference accepted_codings(std::optional<std::string_view> accept_encoding) noexcept;

// "br", "gzip" (Content-Encoding); "" for identity.
std::string_view coding_name(Coding coding) noexcept;
// ".br", ".gz": the precompressed sibling's suffix; "" for identity.
std::string_view coding_suffix(Coding coding) noexcept;

}  // namespace subcorn::http
