#include "deflate.h"

#include <stdexcept>

namespace wsload {

namespace {
constexpr unsigned char TAIL[4] = {0x00, 0x00, 0xFF, 0xFF};
}

std::string compress_alone(std::string_view data, int window_bits) {
  // zlib refuses a raw window of 8 bits. Without LZ77 matches (Huffman codes
  // only) a message refers to no window at all, which satisfies any bound.
  bool huffman_only = window_bits < 9;
  z_stream stream{};
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -(huffman_only ? 9 : window_bits), 8,
                   huffman_only ? Z_HUFFMAN_ONLY : Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, data.size()) + 16, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&stream, Z_SYNC_FLUSH);
  size_t produced = out.size() - stream.avail_out;
  deflateEnd(&stream);
  if (rc != Z_OK || stream.avail_in != 0 || produced < 4) throw std::runtime_error("deflate failed");
  out.resize(produced - 4);  // the sync flush's empty block: 00 00 ff ff
  return out;
}

Inflater::Inflater() {
  // 15 bits: enough for any window the server compresses with.
  if (inflateInit2(&stream_, -15) != Z_OK) throw std::runtime_error("inflateInit2 failed");
}

Inflater::~Inflater() { inflateEnd(&stream_); }

bool Inflater::inflate_message(std::string_view payload, size_t limit, std::string& out, size_t& size) {
  // One byte of room beyond the limit tells "too big" from "exactly full".
  if (out.size() < limit + 1) out.resize(limit + 1);
  stream_.next_out = reinterpret_cast<Bytef*>(out.data());
  stream_.avail_out = static_cast<uInt>(limit + 1);
  const std::string_view pieces[2] = {payload, {reinterpret_cast<const char*>(TAIL), sizeof TAIL}};
  for (std::string_view piece : pieces) {
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(piece.data()));
    stream_.avail_in = static_cast<uInt>(piece.size());
    while (stream_.avail_in > 0) {
      int rc = inflate(&stream_, Z_SYNC_FLUSH);
      if (rc == Z_STREAM_END) {
        // The server ended its deflate stream (a final block, RFC 7692
        // 7.2.3.4): the message is complete, the next one starts afresh.
        inflateReset(&stream_);
        size = limit + 1 - stream_.avail_out;
        return size <= limit;
      }
      if (rc != Z_OK) return false;
      if (stream_.avail_out == 0) return false;  // beyond the limit
    }
  }
  size = limit + 1 - stream_.avail_out;
  return true;
}

}  // namespace wsload
