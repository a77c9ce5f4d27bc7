#include "handshake.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>

#include "rng.h"

namespace wsload {

namespace {

constexpr std::string_view GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string base64(const unsigned char* data, size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string expected_accept(std::string_view key) {
  std::string input(key);
  input += GUID;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(input.data(), input.size(), digest, &size, EVP_sha1(), nullptr);
  return base64(digest, size);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

// A window-bits value, 8..15, or -1.
int window_bits(std::string_view value) {
  value = trim(value);
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);  // a quoted-string value (RFC 7692 7.1)
  }
  if (value.size() == 1 && value[0] >= '8' && value[0] <= '9') return value[0] - '0';
  if (value.size() == 2 && value[0] == '1' && value[1] >= '0' && value[1] <= '5') {
    return 10 + value[1] - '0';
  }
  return -1;
}

// The server's Sec-WebSocket-Extensions: exactly one permessage-deflate
// with valid parameters (RFC 7692 section 7.1).
std::string parse_extensions(std::string_view header, Negotiated& negotiated) {
  if (header.find(',') != std::string_view::npos) return "the server answered more than one extension";
  bool first = true;
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view item = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    if (first) {
      if (!iequals(item, "permessage-deflate")) return "the server answered an extension not offered";
      negotiated.deflate = true;
      first = false;
      continue;
    }
    size_t eq = item.find('=');
    std::string_view name = trim(item.substr(0, eq));
    std::string_view value = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    if (iequals(name, "client_max_window_bits")) {
      negotiated.client_window_bits = window_bits(value);
      if (negotiated.client_window_bits < 0) return "a bad client_max_window_bits in the answer";
    } else if (iequals(name, "server_max_window_bits")) {
      if (window_bits(value) < 0) return "a bad server_max_window_bits in the answer";
    } else if (!iequals(name, "client_no_context_takeover") &&
               !iequals(name, "server_no_context_takeover")) {
      return "an unknown permessage-deflate parameter in the answer";
    }
  }
  return "";
}

}  // namespace

std::string make_key(uint64_t seed) {
  Rng rng(seed);
  unsigned char raw[16];
  for (auto& byte : raw) byte = static_cast<unsigned char>(rng.next() >> 56);
  return base64(raw, sizeof raw);
}

std::string upgrade_request(std::string_view host, int port, std::string_view path,
                            std::string_view key, bool offer_deflate) {
  std::string request = "GET ";
  request += path;
  request += " HTTP/1.1\r\nHost: ";
  request += host;
  request += ':' + std::to_string(port);
  request += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
  request += key;
  request += "\r\nSec-WebSocket-Version: 13\r\n";
  if (offer_deflate) {
    request += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
  }
  request += "\r\n";
  return request;
}

Reply parse_reply(std::string_view input, std::string_view key, bool offered_deflate) {
  Reply reply;
  size_t end = input.find("\r\n\r\n");
  if (end == std::string_view::npos) return reply;
  reply.head_size = end + 4;
  std::string_view head = input.substr(0, end);
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" ||
      status_line.substr(8, 4) != " 101") {
    // e.g. "HTTP/1.1 200 OK": the server answered the upgrade as plain HTTP.
    reply.error = "answered \"" + std::string(status_line.substr(0, 60)) + "\" to the upgrade, not 101";
    return reply;
  }
  std::string_view accept;
  std::string_view extensions;
  bool has_extensions = false;
  std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  while (!rest.empty()) {
    size_t next = rest.find("\r\n");
    std::string_view line = rest.substr(0, next);
    rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = trim(line.substr(0, colon));
    std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "sec-websocket-accept")) accept = value;
    if (iequals(name, "sec-websocket-extensions")) {
      if (has_extensions) {
        reply.error = "more than one Sec-WebSocket-Extensions in the answer";
        return reply;
      }
      has_extensions = true;
      extensions = value;
    }
  }
  if (accept != expected_accept(key)) {
    reply.error = "a wrong Sec-WebSocket-Accept";
    return reply;
  }
  if (has_extensions) {
    if (!offered_deflate) {
      reply.error = "an extension in the answer that was not offered";
      return reply;
    }
    reply.negotiated.extensions = std::string(extensions);
    reply.error = parse_extensions(extensions, reply.negotiated);
  }
  return reply;
}

}  // namespace wsload
