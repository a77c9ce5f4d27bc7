#include "http/forwarded.h"

#include <charconv>
#include <vector>

#include "http/tokens.h"

namespace subcorn::http {
namespace {

// One hop of a proxy chain, as X-Forwarded-For or Forwarded's for= names it.
struct Node {
  std::optional<IpAddress> address;  // null: "unknown" or an obfuscated identifier
  std::string identifier;            // when not an address
  int port = 0;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// 1-5 digits, 1..65535.
bool parse_port(std::string_view s, int* port) {
  if (s.empty() || s.size() > 5) return false;
  int value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value < 1 || value > 65535) return false;
  *port = value;
  return true;
}

// RFC 7239 6.3 and 6.4: obfnode / obfport = "_" 1*( ALPHA / DIGIT / "." / "_" / "-" ).
bool is_obfuscated(std::string_view s) {
  if (s.size() < 2 || s[0] != '_') return false;
  for (char c : s.substr(1))
    if (!is_alnum(c) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

// "192.0.2.1", "192.0.2.1:80", "[2001:db8::1]", "[2001:db8::1]:80",
// "unknown", "_hidden", and a port may be obfuscated ("192.0.2.1:_p", port 0).
// `bare_ipv6`: X-Forwarded-For also writes IPv6 without brackets (no port
// then); RFC 7239 requires them.
std::optional<Node> parse_node(std::string_view s, bool bare_ipv6) {
  Node node;
  std::string_view name = s;
  std::string_view port;
  bool has_port = false;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    name = s.substr(1, close - 1);
    std::string_view after = s.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
      has_port = true;
    }
    node.address = IpAddress::parse(name);
    if (!node.address || node.address->family != IpAddress::Family::V6 ||
        name.find(':') == std::string_view::npos)
      return std::nullopt;
  } else {
    size_t colon = s.find(':');
    if (colon != std::string_view::npos && s.find(':', colon + 1) != std::string_view::npos) {
      // More than one colon: a bare IPv6 address, all of it.
      if (!bare_ipv6) return std::nullopt;
      node.address = IpAddress::parse(s);
      if (!node.address) return std::nullopt;
      return node;
    }
    if (colon != std::string_view::npos) {
      name = s.substr(0, colon);
      port = s.substr(colon + 1);
      has_port = true;
    }
    if (iequals(name, "unknown") || is_obfuscated(name)) {
      node.identifier = std::string(name);
    } else {
      node.address = IpAddress::parse(name);
      if (!node.address || node.address->family != IpAddress::Family::V4) return std::nullopt;
    }
  }
  if (has_port && !is_obfuscated(port) && !parse_port(port, &node.port)) return std::nullopt;
  return node;
}

ForwardedClient client_of(const Node& node) {
  return {node.address ? node.address->text() : node.identifier, node.port};
}

// Walking from the right: the first hop that is not a trusted proxy is the
// client's; when every one is trusted, the left-most. A hop without a node
// (a malformed X-Forwarded-For entry, a Forwarded element without for=) is
// no known proxy: the walk stops there, with no client. `hops` is not empty.
size_t choose_hop(const std::vector<std::optional<Node>>& hops, const AddressSet& trusted) {
  size_t i = hops.size() - 1;
  while (i > 0 && hops[i] && hops[i]->address && trusted.contains(*hops[i]->address)) --i;
  return i;
}

ForwardedScheme scheme_of(std::string_view s) {
  if (iequals(s, "https") || iequals(s, "wss")) return ForwardedScheme::Https;
  if (iequals(s, "http") || iequals(s, "ws")) return ForwardedScheme::Http;
  return ForwardedScheme::Unknown;
}

void set_host(ForwardedRequest* out, std::string_view host) {
  std::string name;
  int port = 0;
  if (!split_host(host, &name, &port)) return;
  out->host = std::string(host);
  out->server_name = std::move(name);
  if (out->server_port == 0) out->server_port = port;
}

// ---- X-Forwarded-* ----------------------------------------------------------------

// Every element of every line of a field, in order, OWS trimmed, empty ones skipped.
std::vector<std::string_view> list_of(const RequestHead& head, std::string_view name) {
  std::vector<std::string_view> items;
  for (const Header& h : head.headers) {
    if (h.name != name) continue;
    any_list_element(h.value, [&items](std::string_view e) {
      items.push_back(e);
      return false;
    });
  }
  return items;
}

// The entry for the hop `hop` places from the right of X-Forwarded-For: a
// single value stands for every hop (most proxies overwrite the field); a
// list is read from the right, aligned with X-Forwarded-For.
std::optional<std::string_view> aligned(const std::vector<std::string_view>& list, size_t hop) {
  if (list.size() == 1) return list[0];
  if (hop < list.size()) return list[list.size() - 1 - hop];
  return std::nullopt;
}

ForwardedRequest read_x_forwarded(const RequestHead& head, const AddressSet& trusted,
                                  std::vector<std::string_view> for_list) {
  ForwardedRequest out;
  size_t hop = 0;  // from the right
  if (!for_list.empty()) {
    std::vector<std::optional<Node>> hops;
    hops.reserve(for_list.size());
    for (std::string_view entry : for_list) hops.push_back(parse_node(entry, true));
    size_t chosen = choose_hop(hops, trusted);
    if (hops[chosen]) out.client = client_of(*hops[chosen]);
    hop = hops.size() - 1 - chosen;
  }
  if (auto proto = aligned(list_of(head, "x-forwarded-proto"), hop)) out.scheme = scheme_of(*proto);
  if (auto port = aligned(list_of(head, "x-forwarded-port"), hop)) {
    int value = 0;
    if (parse_port(*port, &value)) out.server_port = value;
  }
  if (auto host = aligned(list_of(head, "x-forwarded-host"), hop)) set_host(&out, *host);
  return out;
}

// ---- Forwarded (RFC 7239) -------------------------------------------------------------

struct Element {
  std::optional<std::string> for_, proto, host;
};

// forwarded-element = [ pair ] *( ";" [ pair ] ), pair = token "=" ( token /
// quoted-string ), elements separated by commas. OWS is allowed around ','
// and ';' (proxies write "for=a; proto=https"). False on anything else, or
// a parameter given twice in one element (RFC 7239 4).
bool parse_forwarded_line(std::string_view s, std::vector<Element>* out) {
  Element element;
  bool element_used = false;
  size_t i = 0;
  auto end_element = [&] {
    if (element_used) out->push_back(std::move(element));
    element = Element{};
    element_used = false;
  };
  for (;;) {
    while (i < s.size() && is_ows(s[i])) ++i;
    if (i == s.size()) break;
    if (s[i] == ',') {
      end_element();
      ++i;
      continue;
    }
    if (s[i] == ';') {
      ++i;
      continue;
    }
    size_t name_start = i;
    while (i < s.size() && is_tchar(s[i])) ++i;
    std::string_view name = s.substr(name_start, i - name_start);
    if (name.empty() || i == s.size() || s[i] != '=') return false;
    ++i;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char c = s[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i == s.size()) return false;
          c = s[i++];
        }
        // qdtext and quoted-pair: HTAB, SP, VCHAR, obs-text; no controls.
        unsigned char u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
        value.push_back(c);
      }
      if (!closed) return false;
    } else {
      size_t value_start = i;
      while (i < s.size() && is_tchar(s[i])) ++i;
      if (i == value_start) return false;
      value.assign(s.substr(value_start, i - value_start));
    }
    size_t after = i;
    while (after < s.size() && is_ows(s[after])) ++after;
    if (after < s.size() && s[after] != ',' && s[after] != ';') return false;
    std::optional<std::string>* slot = iequals(name, "for")     ? &element.for_
                                       : iequals(name, "proto") ? &element.proto
                                       : iequals(name, "host")  ? &element.host
                                                                : nullptr;
    if (slot) {
      if (slot->has_value()) return false;
      *slot = std::move(value);
    }
    element_used = true;
  }
  end_element();
  return true;
}

ForwardedRequest read_rfc7239(const RequestHead& head, const AddressSet& trusted) {
  ForwardedRequest out;
  std::vector<Element> elements;
  for (const Header& h : head.headers)
    if (h.name == "forwarded" && !parse_forwarded_line(h.value, &elements)) return out;
  if (elements.empty()) return out;
  // Every for= must be a node, or the field is not trusted to say anything.
  std::vector<std::optional<Node>> nodes(elements.size());
  for (size_t i = 0; i < elements.size(); ++i) {
    if (!elements[i].for_) continue;
    nodes[i] = parse_node(*elements[i].for_, false);
    if (!nodes[i]) return out;
  }
  size_t chosen = choose_hop(nodes, trusted);
  const Element& e = elements[chosen];
  if (nodes[chosen]) out.client = client_of(*nodes[chosen]);
  if (e.proto) out.scheme = scheme_of(*e.proto);
  if (e.host) set_host(&out, *e.host);
  return out;
}

}  // namespace

bool split_host(std::string_view host, std::string* name, int* port) {
  std::string_view name_part = host;
  std::string_view port_part;
  bool has_port = false;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    name_part = host.substr(1, close - 1);
    std::optional<IpAddress> address = IpAddress::parse(name_part);
    if (!address || name_part.find(':') == std::string_view::npos) return false;
    std::string_view after = host.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port_part = after.substr(1);
      has_port = true;
    }
  } else {
    size_t colon = host.find(':');
    if (colon != std::string_view::npos) {
      name_part = host.substr(0, colon);
      port_part = host.substr(colon + 1);
      has_port = true;
    }
    if (name_part.empty()) return false;
    for (char c : name_part)
      if (!is_alnum(c) && c != '-' && c != '.' && c != '_' && c != '~') return false;
  }
  int value = 0;
  if (has_port && !parse_port(port_part, &value)) return false;
  name->assign(name_part);
  *port = value;
  return true;
}

ForwardedRequest read_forwarded(const RequestHead& head, const AddressSet& trusted) {
  bool x_forwarded = false, rfc7239 = false;
  for (const Header& h : head.headers) {
    if (h.name.starts_with("x-forwarded-")) {
      std::string_view what = h.name.substr(12);
      x_forwarded |= what == "for" || what == "proto" || what == "host" || what == "port";
    } else if (h.name == "forwarded") {
      rfc7239 = true;
    }
  }
  if (x_forwarded) return read_x_forwarded(head, trusted, list_of(head, "x-forwarded-for"));
  if (rfc7239) return read_rfc7239(head, trusted);
  return {};
}

}  // namespace subcorn::http
