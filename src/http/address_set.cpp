#include "http/address_set.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "http/tokens.h"

namespace subcorn::http {
namespace {

constexpr std::array<uint8_t, 12> V4_MAPPED_PREFIX = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// Clears every bit after the first `prefix` ones.
IpAddress masked(IpAddress a, int prefix) {
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(prefix - i * 8, 0, 8);
    a.bytes[i] &= static_cast<uint8_t>(0xff00 >> keep);
  }
  return a;
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton wants a terminated string; the longest IPv6 text is 45 bytes.
  char buffer[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buffer) return std::nullopt;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  IpAddress a;
  if (text.find(':') == std::string_view::npos) {
    if (inet_pton(AF_INET, buffer, a.bytes.data()) != 1) return std::nullopt;
    a.family = Family::V4;
    return a;
  }
  if (inet_pton(AF_INET6, buffer, a.bytes.data()) != 1) return std::nullopt;
  a.family = Family::V6;
  if (std::equal(V4_MAPPED_PREFIX.begin(), V4_MAPPED_PREFIX.end(), a.bytes.begin())) {
    std::memmove(a.bytes.data(), a.bytes.data() + 12, 4);
    std::fill(a.bytes.begin() + 4, a.bytes.end(), 0);
    a.family = Family::V4;
  }
  return a;
}

std::string IpAddress::text() const {
  char buffer[INET6_ADDRSTRLEN];
  inet_ntop(family == Family::V4 ? AF_INET : AF_INET6, bytes.data(), buffer, sizeof buffer);
  return buffer;
}

std::optional<AddressSet> AddressSet::parse(std::string_view list, std::string* error) {
  AddressSet set;
  std::string_view rest = list;
  for (;;) {
    size_t comma = rest.find(',');
    std::string_view item = trim_ows(rest.substr(0, comma));
    if (item == "*") {
      set.any_ = true;
    } else if (item == "unix:") {
      set.unix_ = true;
    } else if (!item.empty()) {
      size_t slash = item.find('/');
      std::optional<IpAddress> address = IpAddress::parse(item.substr(0, slash));
      int prefix = address ? address->bits() : 0;
      bool valid = address.has_value();
      if (valid && slash != std::string_view::npos) {
        std::string_view digits = item.substr(slash + 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        // An IPv4-mapped network ("::ffff:10.0.0.0/104") was folded to IPv4.
        bool mapped_v6 = address->family == IpAddress::Family::V4 &&
                         item.substr(0, slash).find(':') != std::string_view::npos;
        if (mapped_v6) prefix -= 96;
        valid = ec == std::errc() && end == digits.data() + digits.size() && !digits.empty() &&
                prefix >= 0 && prefix <= address->bits();
      }
      if (!valid) {
        if (error)
          *error = "not an address, a network (CIDR), \"*\" or \"unix:\": \"" + std::string(item) + "\"";
        return std::nullopt;
      }
      set.networks_.push_back({masked(*address, prefix), prefix});
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return set;
}

bool AddressSet::contains(const IpAddress& address) const noexcept {
  if (any_) return true;
  for (const Network& n : networks_)
    if (n.base.family == address.family && masked(address, n.prefix) == n.base) return true;
  return false;
}

bool AddressSet::contains(std::string_view address) const {
  if (any_) return true;
  if (networks_.empty()) return false;
  std::optional<IpAddress> parsed = IpAddress::parse(address);
  return parsed && contains(*parsed);
}

}  // namespace subcorn::http
