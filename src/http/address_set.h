// Which peers are trusted proxies (--forwarded-allow-ips): a set of IPv4 and
// IPv6 networks, "*" for every peer and "unix:" for a peer on a unix socket.
// Sans-IO: addresses come in as text (as the socket layer prints them, or as
// a proxy header or a PROXY protocol header writes them) or as IpAddress.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace subcorn::http {

// One address, binary. An IPv4-mapped IPv6 address (how a dual-stack socket
// reports an IPv4 peer: ::ffff:127.0.0.1) is folded to IPv4, so that
// "127.0.0.1" in the set matches it.
struct IpAddress {
  enum class Family : uint8_t { V4, V6 };
  Family family = Family::V4;
  std::array<uint8_t, 16> bytes{};  // network order; V4 uses the first 4

  // Plain text: "192.0.2.1" or "2001:db8::1" (no brackets, no port, no zone);
  // nullopt for anything else.
  static std::optional<IpAddress> parse(std::string_view text);
  // The canonical text ("2001:db8::1", never "::ffff:..." for IPv4).
  std::string text() const;
  int bits() const noexcept { return family == Family::V4 ? 32 : 128; }
  bool operator==(const IpAddress&) const = default;
};

class AddressSet {
 public:
  // An empty set: nothing is trusted.
  AddressSet() = default;

  // A comma-separated list of items: an address ("127.0.0.1", "::1"), a
  // network in CIDR ("10.0.0.0/8", "fd00::/8"; host bits are ignored, as
  // Python's ipaddress.ip_network(strict=False) does), "*" (every peer,
  // unix sockets too) or "unix:" (a peer on a unix socket). Spaces around
  // items are allowed. nullopt, and `error` says which item, when one is
  // none of these.
  static std::optional<AddressSet> parse(std::string_view list, std::string* error);

  bool contains(const IpAddress& address) const noexcept;
  // The address in text (see IpAddress::parse); with "*" any text is
  // trusted, else text that is not an address is not.
  bool contains(std::string_view address) const;
  // A peer on a unix socket (it has no address).
  bool contains_unix() const noexcept { return any_ || unix_; }

 private:
  struct Network {
    IpAddress base;  // host bits cleared
    int prefix = 0;
  };
  std::vector<Network> networks_;
  bool any_ = false;
  bool unix_ = false;
};

}  // namespace subcorn::http
