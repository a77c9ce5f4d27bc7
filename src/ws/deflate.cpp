#include "ws/deflate.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>

namespace subcorn::ws {
namespace {

constexpr char TAIL[4] = {0x00, 0x00, static_cast<char>(0xff), static_cast<char>(0xff)};
constexpr size_t MIN_GROWTH = 1024;

// zlib's raw-deflate windowBits: negative, and 9 for 8 (deflate.h says why).
int raw_window_bits(int bits) { return -std::clamp(bits, 9, 15); }

// Grows `out` for more output (its size becomes the room zlib writes into;
// `used` bytes are real) by at least `step`, doubling a large buffer, at
// most to `cap`. False when already at `cap`.
bool grow(std::string& out, size_t used, size_t step, size_t cap) {
  if (used >= cap) return false;
  size_t want = used + std::max(step, used);
  out.resize(std::min(want, cap));
  return true;
}

}  // namespace

DeflateSettings server_compression(const DeflateParams& params) {
  return {params.server_max_window_bits, params.server_no_context_takeover, params.level,
          params.memory_level};
}

DeflateSettings server_decompression(const DeflateParams& params) {
  return {params.client_max_window_bits, params.client_no_context_takeover};
}

// The owning handle of a z_stream: `End` (deflateEnd or inflateEnd) on
// destruction, once its Init succeeded.
template <int (*End)(z_streamp)>
struct OwnedZStream {
  z_stream z{};
  bool ready = false;
  OwnedZStream() = default;
  OwnedZStream(const OwnedZStream&) = delete;
  OwnedZStream& operator=(const OwnedZStream&) = delete;
  ~OwnedZStream() {
    if (ready) End(&z);
  }
};

struct Deflater::Stream : OwnedZStream<deflateEnd> {};
struct Inflater::Stream : OwnedZStream<inflateEnd> {};

Deflater::Deflater(const DeflateSettings& settings) : settings_(settings) {}
Deflater::~Deflater() = default;

bool Deflater::compress(std::string_view message, std::string& out) {
  if (!stream_) {
    auto s = std::make_unique<Stream>();
    if (deflateInit2(&s->z, settings_.level, Z_DEFLATED, raw_window_bits(settings_.window_bits),
                     settings_.memory_level, Z_DEFAULT_STRATEGY) != Z_OK) {
      return false;
    }
    s->ready = true;
    stream_ = std::move(s);
  }
  z_stream& z = stream_->z;
  const size_t start = out.size();
  size_t used = start;
  // Enough for nearly every message in one call: deflateBound plus the flush.
  out.resize(start + deflateBound(&z, message.size()) + 16);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data()));
  z.avail_in = static_cast<uInt>(message.size());
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    z.avail_out = static_cast<uInt>(out.size() - used);
    int rc = deflate(&z, Z_SYNC_FLUSH);
    used = out.size() - z.avail_out;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      out.resize(start);
      return false;
    }
    // Z_SYNC_FLUSH is complete when deflate leaves output space unused.
    if (z.avail_in == 0 && z.avail_out != 0) break;
    out.resize(out.size() + std::max<size_t>(16 * 1024, message.size() / 4));
  }
  // The flush ends with the empty stored block's 0x00 0x00 0xff 0xff.
  out.resize(used >= start + 4 ? used - 4 : start);
  if (settings_.no_context_takeover) deflateReset(&z);
  return true;
}

Inflater::Inflater(const DeflateSettings& settings) : settings_(settings) {}
Inflater::~Inflater() = default;

Inflater::Result Inflater::feed(std::string_view compressed, std::string& out, size_t limit) {
  if (!stream_) {
    auto s = std::make_unique<Stream>();
    if (inflateInit2(&s->z, raw_window_bits(settings_.window_bits)) != Z_OK) return Result::Corrupt;
    s->ready = true;
    stream_ = std::move(s);
  }
  z_stream& z = stream_->z;
  // Room for 4 times the input at first (text inflates about that much).
  const size_t step = std::max(MIN_GROWTH, compressed.size() * 4);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  size_t used = out.size();
  // One byte over the limit is room enough to see that the output is too big.
  const size_t cap = limit == SIZE_MAX ? limit : limit + 1;
  Result result = Result::Ok;
  while (z.avail_in > 0 || used == out.size()) {
    if (used == out.size() && !grow(out, used, step, cap)) break;
    z.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    z.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - used, UINT32_MAX));
    int rc = inflate(&z, Z_SYNC_FLUSH);
    used = out.size() - z.avail_out;
    if (used > limit) {
      result = Result::TooBig;
      break;
    }
    if (rc == Z_STREAM_END) {
      // A final block ended the stream: what follows starts a new one.
      inflateReset(&z);
      continue;
    }
    if (rc == Z_BUF_ERROR) {
      if (z.avail_out == 0) continue;  // output full: grow and go on
      // No progress with room to write: all input taken (the data goes on in
      // the next piece), or input zlib cannot use, which is corrupt data.
      if (z.avail_in != 0) result = Result::Corrupt;
      break;
    }
    if (rc != Z_OK) {
      result = Result::Corrupt;
      break;
    }
    if (z.avail_in == 0 && z.avail_out != 0) break;
  }
  out.resize(std::min(used, out.size()));
  return result;
}

Inflater::Result Inflater::finish(std::string& out, size_t limit) {
  Result r = feed(std::string_view(TAIL, sizeof TAIL), out, limit);
  if (r == Result::Ok && settings_.no_context_takeover) inflateReset(&stream_->z);
  return r;
}

void Inflater::reset() {
  if (stream_) inflateReset(&stream_->z);
}

}  // namespace subcorn::ws
