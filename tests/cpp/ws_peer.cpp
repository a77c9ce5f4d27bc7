#include "ws_peer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

namespace subcorn::ws::test {

std::string show(std::string_view payload) {
  bool printable = payload.size() <= 48 && std::all_of(payload.begin(), payload.end(), [](char c) {
                     return c >= 0x20 && c < 0x7f;
                   });
  if (printable) return "[" + std::string(payload) + "]";
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : payload) h = (h ^ c) * 1099511628211ull;
  return "[" + std::to_string(payload.size()) + " bytes #" + std::to_string(h % 1000000007) + "]";
}

static std::string header(uint8_t first, uint8_t mask_bit, size_t n, int length_form) {
  std::string h(1, static_cast<char>(first));
  if (length_form == 0) length_form = n < 126 ? 0 : n <= 0xFFFF ? 126 : 127;
  if (length_form == 0) {
    h.push_back(static_cast<char>(mask_bit | n));
  } else if (length_form == 126) {
    h.push_back(static_cast<char>(mask_bit | 126));
    h.push_back(static_cast<char>(n >> 8));
    h.push_back(static_cast<char>(n));
  } else {
    h.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) h.push_back(static_cast<char>(static_cast<uint64_t>(n) >> (8 * i)));
  }
  return h;
}

std::string frame(uint8_t first, std::string_view payload, uint32_t mask, int length_form) {
  std::string f = header(first, 0x80, payload.size(), length_form);
  uint8_t key[4] = {static_cast<uint8_t>(mask >> 24), static_cast<uint8_t>(mask >> 16),
                    static_cast<uint8_t>(mask >> 8), static_cast<uint8_t>(mask)};
  f.append(reinterpret_cast<const char*>(key), 4);
  for (size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
  return f;
}

std::string unmasked_frame(uint8_t first, std::string_view payload) {
  return header(first, 0, payload.size(), 0) + std::string(payload);
}

std::string close_payload(uint16_t code, std::string_view reason) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code));
  return p + std::string(reason);
}

RawStream::RawStream(bool deflating, int window_bits, int level) : deflating_(deflating) {
  // zlib refuses 8 for raw deflate; 9 stays within a 256-byte window's
  // distances (the same mapping every peer makes).
  int bits = -std::max(window_bits, 9);
  int rc = deflating ? deflateInit2(&z_, level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY)
                     : inflateInit2(&z_, bits);
  EXPECT_EQ(rc, Z_OK);
}

RawStream::~RawStream() {
  if (deflating_) deflateEnd(&z_);
  else inflateEnd(&z_);
}

void RawStream::reset() {
  if (deflating_) deflateReset(&z_);
  else inflateReset(&z_);
}

std::string RawStream::run(std::string_view in, int flush) {
  std::string out;
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z_.avail_in = static_cast<uInt>(in.size());
  char buf[4096];
  for (;;) {
    z_.next_out = reinterpret_cast<Bytef*>(buf);
    z_.avail_out = sizeof buf;
    int rc = deflating_ ? deflate(&z_, flush) : inflate(&z_, flush);
    out.append(buf, sizeof buf - z_.avail_out);
    if (rc == Z_STREAM_END && !deflating_) inflateReset(&z_);
    else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      ADD_FAILURE() << "zlib error " << rc;
      return out;
    }
    if (z_.avail_in == 0 && z_.avail_out != 0) return out;
  }
}

ClientCompressor::ClientCompressor(const DeflateParams& params)
    : params_(params), stream_(true, params.client_max_window_bits) {}

std::string ClientCompressor::compress(std::string_view message) {
  std::string c = stream_.run(message, Z_SYNC_FLUSH);
  EXPECT_GE(c.size(), 4u);
  EXPECT_EQ(c.substr(c.size() - 4), std::string("\0\0\xff\xff", 4));
  c.resize(c.size() - 4);
  if (params_.client_no_context_takeover) stream_.reset();
  return c;
}

std::string client_message(bool text, std::string_view data, size_t fragments, ClientCompressor* compressor) {
  std::string payload = compressor ? compressor->compress(data) : std::string(data);
  fragments = std::max<size_t>(fragments, 1);
  size_t piece = (payload.size() + fragments - 1) / fragments;
  std::string out;
  for (size_t i = 0; i < fragments; ++i) {
    size_t start = std::min(payload.size(), i * piece);
    std::string_view part = std::string_view(payload).substr(start, i + 1 == fragments ? std::string::npos : piece);
    uint8_t first = i == 0 ? (text ? TEXT : BINARY) : CONT;
    if (i == 0 && compressor) first |= RSV1;
    if (i + 1 == fragments) first |= FIN;
    out += frame(first, part, 0x11223344u + static_cast<uint32_t>(i));
  }
  return out;
}

ServerReader::ServerReader(std::optional<DeflateParams> params) : params_(params) {
  if (params_) inflater_.emplace(false, params_->server_max_window_bits);
}

std::vector<std::string> ServerReader::read(std::string_view b) {
  std::vector<std::string> lines;
  while (!b.empty()) {
    if (b.size() < 2) return lines.push_back("bad truncated"), lines;
    auto u = [&](size_t i) { return static_cast<uint8_t>(b[i]); };
    if (u(1) & 0x80) return lines.push_back("bad masked"), lines;
    bool fin = u(0) & 0x80, rsv1 = u(0) & 0x40;
    if (u(0) & 0x30) return lines.push_back("bad rsv"), lines;
    if (!fin) return lines.push_back("bad fragmented"), lines;
    size_t len = u(1) & 0x7f, at = 2;
    if (len == 126) {
      if (b.size() < 4) return lines.push_back("bad truncated"), lines;
      len = (size_t{u(2)} << 8) | u(3);
      if (len < 126) return lines.push_back("bad length form"), lines;
      at = 4;
    } else if (len == 127) {
      if (b.size() < 10) return lines.push_back("bad truncated"), lines;
      len = 0;
      for (size_t i = 2; i < 10; ++i) len = (len << 8) | u(i);
      if (len <= 0xFFFF) return lines.push_back("bad length form"), lines;
      at = 10;
    }
    if (b.size() < at + len) return lines.push_back("bad truncated"), lines;
    std::string payload(b.substr(at, len));
    uint8_t op = u(0) & 0x0f;
    b.remove_prefix(at + len);
    std::string name;
    switch (op) {
      case TEXT: name = "text"; break;
      case BINARY: name = "binary"; break;
      case PING: name = "ping"; break;
      case PONG: name = "pong"; break;
      case CLOSE: name = "close"; break;
      default: return lines.push_back("bad opcode"), lines;
    }
    if (rsv1) {
      if (!inflater_ || (op != TEXT && op != BINARY)) return lines.push_back("bad rsv1"), lines;
      payload = inflater_->run(payload + std::string("\0\0\xff\xff", 4), Z_SYNC_FLUSH);
      if (params_->server_no_context_takeover) inflater_->reset();
      name += "+z";
    }
    if (op == CLOSE) {
      if (payload.empty()) lines.push_back("close");
      else if (payload.size() == 1) lines.push_back("bad close");
      else {
        unsigned code = (static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]);
        lines.push_back("close " + std::to_string(code));  // reasons are checked apart
      }
    } else {
      lines.push_back(name + " " + show(payload));
    }
  }
  return lines;
}

}  // namespace subcorn::ws::test
