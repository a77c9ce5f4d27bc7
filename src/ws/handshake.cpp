#include "ws/handshake.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

#include "http/response.h"
#include "http/tokens.h"

namespace subcorn::ws {
namespace {

constexpr std::string_view GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::string_view EXTENSION_NAME = "permessage-deflate";
constexpr int MIN_WINDOW_BITS = 8;
constexpr int MAX_WINDOW_BITS = 15;

HandshakeResult refuse(int status, std::string_view reason) {
  HandshakeResult r;
  r.status = status;
  r.reason = reason;
  return r;
}

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// 16 bytes in base64 are 22 characters and "==" (4.1: a nonce of 16 bytes).
bool valid_key(std::string_view key) {
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  return std::all_of(key.begin(), key.begin() + 22, is_base64_char);
}

// --- Sec-WebSocket-Extensions: 1#( name *( ";" param ) ), param = token [ "=" (token / quoted-string) ]

// Splits `list` at `separator` outside quoted strings; calls `each(element)`
// with every trimmed element (empty ones too). Stops when `each` returns true.
template <typename Each>
bool for_each_unquoted(std::string_view list, char separator, Each each) {
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i <= list.size(); ++i) {
    if (i < list.size()) {
      char c = list[i];
      if (quoted && c == '\\') {
        ++i;  // quoted-pair: the next character is literal
        continue;
      }
      if (c == '"') quoted = !quoted;
      if (c != separator || quoted) continue;
    }
    if (each(http::trim_ows(list.substr(start, i - start)))) return true;
    start = i + 1;
  }
  return false;
}

// A parameter's value without its quotes (quoted-pairs are not undone: no
// value permessage-deflate accepts contains one). nullopt when malformed.
std::optional<std::string_view> parameter_value(std::string_view raw) {
  if (raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') return raw.substr(1, raw.size() - 2);
  if (raw.empty() || !std::all_of(raw.begin(), raw.end(), http::is_tchar)) return std::nullopt;
  return raw;
}

// "8".."15", no sign, no leading zero (RFC 7692 7.1.2).
int window_bits(std::string_view v) {
  if (v.empty() || v.size() > 2 || v[0] == '0') return -1;
  int n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n >= MIN_WINDOW_BITS && n <= MAX_WINDOW_BITS ? n : -1;
}

// One permessage-deflate offer's parameters, as the client wrote them.
struct Offer {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 0;  // 0: absent
  bool client_max_window_bits = false;
  int client_max_window_bits_value = 0;  // 0: without a value
};

// Parses the parameters after the extension name; false when the offer must
// be declined (unknown, repeated or malformed parameter).
bool parse_offer(std::string_view params, Offer& offer) {
  bool seen[4] = {};
  bool bad = for_each_unquoted(params, ';', [&](std::string_view param) {
    if (param.empty()) return true;
    size_t eq = param.find('=');
    std::string_view name = http::trim_ows(param.substr(0, eq));
    std::optional<std::string_view> value;
    if (eq != std::string_view::npos) {
      value = parameter_value(http::trim_ows(param.substr(eq + 1)));
      if (!value) return true;
    }
    auto once = [&](int i) { return !std::exchange(seen[i], true); };
    if (name == "server_no_context_takeover") {
      if (value || !once(0)) return true;
      offer.server_no_context_takeover = true;
    } else if (name == "client_no_context_takeover") {
      if (value || !once(1)) return true;
      offer.client_no_context_takeover = true;
    } else if (name == "server_max_window_bits") {
      if (!value || !once(2)) return true;
      offer.server_max_window_bits = window_bits(*value);
      if (offer.server_max_window_bits < 0) return true;
    } else if (name == "client_max_window_bits") {
      if (!once(3)) return true;
      offer.client_max_window_bits = true;
      if (value) {
        offer.client_max_window_bits_value = window_bits(*value);
        if (offer.client_max_window_bits_value < 0) return true;
      }
    } else {
      return true;  // a parameter this server does not know
    }
    return false;
  });
  return !bad;
}

// The server's answer to an acceptable offer: its parameters and the
// Sec-WebSocket-Extensions value that states them.
DeflateParams agree(const Offer& offer, const DeflateConfig& config, std::string& answer) {
  DeflateParams p;
  p.level = config.level;
  p.memory_level = config.memory_level;
  answer = EXTENSION_NAME;
  p.server_no_context_takeover = offer.server_no_context_takeover || config.server_no_context_takeover;
  if (p.server_no_context_takeover) answer += "; server_no_context_takeover";
  p.client_no_context_takeover = offer.client_no_context_takeover || config.client_no_context_takeover;
  if (p.client_no_context_takeover) answer += "; client_no_context_takeover";
  // The window the server compresses with: never over what the client
  // allows, said when smaller than the default 15.
  p.server_max_window_bits = config.server_max_window_bits;
  if (offer.server_max_window_bits) {
    p.server_max_window_bits = std::min(p.server_max_window_bits, offer.server_max_window_bits);
  }
  if (offer.server_max_window_bits || p.server_max_window_bits < MAX_WINDOW_BITS) {
    answer += "; server_max_window_bits=" + std::to_string(p.server_max_window_bits);
  }
  // The client's window may only be limited when it offered to be (7.1.2.2).
  p.client_max_window_bits = MAX_WINDOW_BITS;
  if (offer.client_max_window_bits) {
    p.client_max_window_bits = config.client_max_window_bits;
    if (offer.client_max_window_bits_value) {
      p.client_max_window_bits = std::min(p.client_max_window_bits, offer.client_max_window_bits_value);
    }
    if (offer.client_max_window_bits_value || p.client_max_window_bits < MAX_WINDOW_BITS) {
      answer += "; client_max_window_bits=" + std::to_string(p.client_max_window_bits);
    }
  }
  return p;
}

// The first acceptable permessage-deflate offer of every Sec-WebSocket-
// Extensions line, agreed to; nothing when there is none.
void negotiate_deflate(const http::RequestHead& head, const DeflateConfig& config, HandshakeResult& r) {
  for (const http::Header& h : head.headers) {
    if (h.name != "sec-websocket-extensions") continue;
    bool agreed = for_each_unquoted(h.value, ',', [&](std::string_view extension) {
      size_t semi = extension.find(';');
      if (!http::iequals(http::trim_ows(extension.substr(0, semi)), EXTENSION_NAME)) return false;
      Offer offer;
      std::string_view params = semi == std::string_view::npos ? "" : extension.substr(semi + 1);
      if (!params.empty() && !parse_offer(params, offer)) return false;
      r.deflate = agree(offer, config, r.extensions);
      return true;
    });
    if (agreed) return;
  }
}

// Names the app may not set in a 101 (handshake.h says why).
bool reserved_header(std::string_view name) {
  static constexpr std::string_view PREFIX = "sec-websocket-";
  if (name.size() >= PREFIX.size() && http::iequals(name.substr(0, PREFIX.size()), PREFIX)) return true;
  for (std::string_view reserved : {"upgrade", "connection", "content-length", "transfer-encoding"}) {
    if (http::iequals(name, reserved)) return true;
  }
  return false;
}

}  // namespace

bool is_websocket_upgrade(const http::RequestHead& head) {
  if (head.version_major == 2) return head.method == "CONNECT" && head.protocol == "websocket";
  if (head.method != "GET") return false;
  bool connection_upgrade = false;
  bool upgrade_websocket = false;
  for (const http::Header& h : head.headers) {
    if (h.name == "connection" && http::contains_token(h.value, "upgrade")) connection_upgrade = true;
    if (h.name == "upgrade" && http::contains_token(h.value, "websocket")) upgrade_websocket = true;
  }
  return connection_upgrade && upgrade_websocket;
}

std::string accept_key(std::string_view key) {
  std::string input;
  input.reserve(key.size() + GUID.size());
  input.append(key).append(GUID);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  EVP_Digest(input.data(), input.size(), digest, &digest_size, EVP_sha1(), nullptr);
  std::string encoded(4 * ((digest_size + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), digest, static_cast<int>(digest_size));
  encoded.resize(static_cast<size_t>(std::max(n, 0)));
  return encoded;
}

HandshakeResult check_handshake(const http::RequestHead& head, const DeflateConfig& config) {
  // RFC 8441: over HTTP/2 the request is an extended CONNECT, and there is
  // no key to answer (the stream itself is the proof of a fresh request).
  bool http2 = head.version_major == 2;
  if (http2) {
    if (!is_websocket_upgrade(head))
      return refuse(400, "WebSocket over HTTP/2 must be CONNECT with :protocol websocket");
  } else {
    if (head.method != "GET") return refuse(400, "WebSocket handshake must be a GET request");
    if (head.version_major != 1 || head.version_minor < 1) {
      return refuse(400, "WebSocket handshake needs HTTP/1.1");
    }
    if (!is_websocket_upgrade(head)) return refuse(400, "Missing Connection: upgrade or Upgrade: websocket");
  }
  std::string_view key;
  int keys = 0;
  int versions = 0;
  bool version_13 = false;
  for (const http::Header& h : head.headers) {
    if (h.name == "sec-websocket-key") {
      key = h.value;
      ++keys;
    } else if (h.name == "sec-websocket-version") {
      version_13 = h.value == "13";
      ++versions;
    }
  }
  if (versions != 1 || !version_13) return refuse(426, "Unsupported Sec-WebSocket-Version (13 only)");
  if (!http2 && (keys != 1 || !valid_key(key))) return refuse(400, "Missing or invalid Sec-WebSocket-Key");

  HandshakeResult r;
  r.http2 = http2;
  if (!http2) r.accept = accept_key(key);
  for (const http::Header& h : head.headers) {
    if (h.name != "sec-websocket-protocol") continue;
    http::any_list_element(h.value, [&](std::string_view p) {
      r.subprotocols.emplace_back(p);
      return false;
    });
  }
  if (config.enabled) negotiate_deflate(head, config, r);
  return r;
}

Fields accept_fields(const HandshakeResult& result, std::string_view subprotocol,
                     const Fields& extra_headers, const char** error) {
  *error = nullptr;
  if (result.status != 0) {
    *error = "WebSocket handshake was refused; there is nothing to accept.";
    return {};
  }
  if (!subprotocol.empty() &&
      std::find(result.subprotocols.begin(), result.subprotocols.end(), subprotocol) == result.subprotocols.end()) {
    *error = "WebSocket subprotocol was not offered by the client.";
    return {};
  }
  for (const auto& [name, value] : extra_headers) {
    if (!http::valid_header_name(name)) *error = "Invalid HTTP header name in WebSocket accept.";
    else if (!http::valid_header_value(value)) {
      *error = "Invalid HTTP header value in WebSocket accept: CR, LF and NUL are not allowed.";
    } else if (reserved_header(name)) {
      *error = "WebSocket accept may not set Upgrade, Connection, Content-Length, Transfer-Encoding "
               "or Sec-WebSocket-* headers (the subprotocol is its own argument).";
    }
    if (*error) return {};
  }
  Fields fields;
  fields.reserve(extra_headers.size() + 2);
  if (!subprotocol.empty()) fields.emplace_back("sec-websocket-protocol", subprotocol);
  if (!result.extensions.empty()) fields.emplace_back("sec-websocket-extensions", result.extensions);
  fields.insert(fields.end(), extra_headers.begin(), extra_headers.end());
  return fields;
}

std::string accept_response(const HandshakeResult& result, std::string_view subprotocol,
                            const Fields& extra_headers, const char** error) {
  Fields fields = accept_fields(result, subprotocol, extra_headers, error);
  if (*error) return {};
  return switching_response(result, fields);
}

std::string switching_response(const HandshakeResult& result, const Fields& fields) {
  std::string out;
  out.reserve(160 + result.extensions.size());
  http::append_status_line(out, 101);
  http::append_header(out, "upgrade", "websocket");
  http::append_header(out, "connection", "Upgrade");
  http::append_header(out, "sec-websocket-accept", result.accept);
  for (const auto& [name, value] : fields) http::append_header(out, name, value);
  out.append("\r\n");
  return out;
}

std::string handshake_error_response(const HandshakeResult& result, std::string_view server_fields) {
  int status = result.status == 426 ? 426 : 400;
  std::string body(result.reason.empty() ? std::string_view("Bad WebSocket handshake") : result.reason);
  body += '\n';
  std::string out;
  http::append_status_line(out, status);
  http::append_header(out, "content-type", "text/plain; charset=utf-8");
  http::append_header(out, "content-length", std::to_string(body.size()));
  out.append(server_fields);
  http::append_header(out, "connection", "close");
  if (status == 426) {
    http::append_header(out, "upgrade", "websocket");
    http::append_header(out, "sec-websocket-version", "13");
  }
  out.append("\r\n");
  out.append(body);
  return out;
}

}  // namespace subcorn::ws
