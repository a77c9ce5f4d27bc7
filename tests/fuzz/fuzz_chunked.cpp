// Fuzzes the chunked body decoding of RequestParser with well-formed chunked
// requests built from the input, so that the fuzzer spends its time in the
// chunk framing rather than in finding a valid head:
//
//   POST /chunked HTTP/1.1 / Host / Transfer-Encoding: chunked
//   chunks (sizes in either hex case, with leading zeros, and extensions:
//   bare, token and quoted values), the last chunk, trailer fields
//   then a pipelined "GET /next" that must come out intact.
//
// The stream is fed whole, cut at fuzzer-chosen points and (when short) one
// byte at a time; all must say the same (parser_feed.h). Of a well-formed
// request the parser must deliver exactly the chunks' data, unless a limit
// applies, and then only the one that applies, with no more body than it
// allows. Some inputs also corrupt a few bytes of the stream: then the parser
// may refuse it, but the feedings must still agree and the API hold.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parser_feed.h"

namespace {

using subcorn::http::EventType;
using subcorn::http::Limits;

constexpr std::string_view HEAD = "POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
constexpr size_t HEAD_FIELDS = 2;
constexpr std::string_view NEXT = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
constexpr std::string_view TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

struct ChunkedRequest {
  std::string stream;
  std::string body;                  // the chunks' data, in order
  std::vector<size_t> chunk_sizes;   // of the chunks that carry data
  size_t extension_bytes = 0;        // raw bytes of every chunk extension
  size_t last_section_bytes = 0;     // last-chunk line, trailer fields, final CRLF
  size_t trailer_fields = 0;
  size_t message_end = 0;            // stream offset after the chunked request
};

std::string token(FuzzedDataProvider& in) {
  std::string t(in.ConsumeIntegralInRange<size_t>(1, 8), 'x');
  for (char& c : t) c = TCHAR[in.ConsumeIntegralInRange<size_t>(0, TCHAR.size() - 1)];
  return t;
}

// RFC 9112 7.1.1: chunk-ext = *( ";" chunk-ext-name [ "=" chunk-ext-val ] ),
// a value being a token or a quoted-string (with quoted-pairs).
std::string extensions(FuzzedDataProvider& in) {
  std::string out;
  for (size_t n = in.ConsumeIntegralInRange<size_t>(0, 3); n > 0; --n) {
    out += ';' + token(in);
    switch (in.ConsumeIntegralInRange<int>(0, 2)) {
      case 0:
        break;
      case 1:
        out += '=' + token(in);
        break;
      case 2: {
        out += "=\"";
        for (size_t len = in.ConsumeIntegralInRange<size_t>(0, 8); len > 0; --len) {
          char c = in.ConsumeIntegralInRange<char>(0x20, 0x7e);
          if (c == '"' || c == '\\') out += '\\';
          out += c;
        }
        out += '"';
        break;
      }
    }
  }
  return out;
}

std::string chunk_size(FuzzedDataProvider& in, size_t size) {
  static constexpr char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
  const char* digits = in.ConsumeBool() ? upper : lower;
  std::string hex;
  do {
    hex.insert(hex.begin(), digits[size % 16]);
    size /= 16;
  } while (size > 0);
  return std::string(in.ConsumeIntegralInRange<size_t>(0, 3), '0') + hex;
}

ChunkedRequest build(FuzzedDataProvider& in) {
  ChunkedRequest r;
  r.stream = HEAD;
  while (in.remaining_bytes() > 0 && in.ConsumeBool()) {
    std::string data = in.ConsumeBytesAsString(in.ConsumeIntegralInRange<size_t>(1, 300));
    if (data.empty()) break;  // out of input: a size-0 chunk would be the last one
    std::string ext = extensions(in);
    r.stream += chunk_size(in, data.size()) + ext + "\r\n" + data + "\r\n";
    r.body += data;
    r.chunk_sizes.push_back(data.size());
    r.extension_bytes += ext.size();
  }
  size_t last_begins = r.stream.size();
  std::string ext = extensions(in);
  r.extension_bytes += ext.size();
  r.stream += std::string(in.ConsumeIntegralInRange<size_t>(1, 3), '0') + ext + "\r\n";
  r.trailer_fields = in.ConsumeIntegralInRange<size_t>(0, 4);
  for (size_t i = 0; i < r.trailer_fields; ++i) {
    std::string value = in.ConsumeBytesAsString(in.ConsumeIntegralInRange<size_t>(0, 16));
    for (char& c : value) c = static_cast<char>(0x21 + static_cast<unsigned char>(c) % 0x5e);  // VCHAR
    r.stream += "X-" + token(in) + ":" + (in.ConsumeBool() ? " " : "") + value + "\r\n";
  }
  r.stream += "\r\n";
  r.last_section_bytes = r.stream.size() - last_begins;
  r.message_end = r.stream.size();
  r.stream += NEXT;
  return r;
}

// The data of the chunks a body limit lets through: those before the first
// chunk that would take the body past it (refused at its size line).
std::string within_limit(const ChunkedRequest& r, int64_t max_body) {
  size_t total = 0;
  for (size_t size : r.chunk_sizes) {
    if (total + size > static_cast<uint64_t>(max_body)) break;
    total += size;
  }
  return r.body.substr(0, total);
}

void check_well_formed(const ChunkedRequest& r, const Limits& limits, const subcorn::fuzz::Trace& trace) {
  bool body_limit = limits.max_body_bytes >= 0 && r.body.size() > static_cast<uint64_t>(limits.max_body_bytes);
  // The parser counts less than these raw sizes (no ';', no framing), so
  // when they are within the limits the limits cannot apply.
  bool extension_limit_may_apply = r.extension_bytes > limits.max_head_bytes;
  bool trailer_limit_may_apply = r.last_section_bytes > limits.max_head_bytes || r.trailer_fields > limits.max_headers;

  FUZZ_CHECK(!trace.empty());
  FUZZ_CHECK(trace[0].type == EventType::Head && trace[0].end == HEAD.size());
  subcorn::fuzz::FirstMessage m = subcorn::fuzz::first_message(trace);
  if (m.error) {
    FUZZ_CHECK(m.error == &trace.back());
    FUZZ_CHECK(r.body.starts_with(m.body));
    switch (m.error->status) {
      case 413:
        FUZZ_CHECK(body_limit);
        FUZZ_CHECK(m.body == within_limit(r, limits.max_body_bytes));
        break;
      case 400:
        FUZZ_CHECK(extension_limit_may_apply);
        break;
      case 431:
        FUZZ_CHECK(trailer_limit_may_apply && !body_limit);
        FUZZ_CHECK(m.body == r.body);
        break;
      default:
        FUZZ_CHECK(false);
    }
    return;
  }
  // No error in the first message: it must be whole and the next one intact.
  FUZZ_CHECK(!body_limit);
  FUZZ_CHECK(m.complete && m.body == r.body);
  size_t i = r.body.empty() ? 1 : 2;  // Head, [Body], MessageComplete
  FUZZ_CHECK(trace.size() == i + 3);
  FUZZ_CHECK(trace[i].type == EventType::MessageComplete && trace[i].end == r.message_end);
  FUZZ_CHECK(trace[i + 1].type == EventType::Head && trace[i + 1].text.starts_with("GET /next (/next at h) HTTP/1.1 keep-alive"));
  FUZZ_CHECK(trace[i + 2].type == EventType::MessageComplete && trace[i + 2].end == r.stream.size());
}

Limits choose_limits(FuzzedDataProvider& in) {
  Limits limits;
  uint8_t mode = in.ConsumeIntegral<uint8_t>();
  if (mode & 1) limits.max_body_bytes = in.ConsumeIntegralInRange<int64_t>(0, 2048);
  if (mode & 2) limits.max_head_bytes = in.ConsumeIntegralInRange<size_t>(HEAD.size(), 256);
  if (mode & 4) limits.max_headers = in.ConsumeIntegralInRange<size_t>(HEAD_FIELDS, 4);
  return limits;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Limits limits = choose_limits(in);
  size_t corruptions = in.ConsumeIntegralInRange<size_t>(0, 15);
  corruptions = corruptions > 3 ? 0 : corruptions;  // most inputs stay well-formed
  ChunkedRequest r = build(in);
  for (size_t i = 0; i < corruptions; ++i) {
    r.stream[in.ConsumeIntegralInRange<size_t>(0, r.stream.size() - 1)] = in.ConsumeIntegral<char>();
  }
  std::vector<size_t> cuts(in.ConsumeIntegralInRange<size_t>(0, 16));
  for (size_t& c : cuts) c = in.ConsumeIntegralInRange<size_t>(0, r.stream.size());

  subcorn::fuzz::Trace whole = subcorn::fuzz::feed_every_way(r.stream, cuts, limits);
  if (corruptions == 0) check_well_formed(r, limits, whole);
  return 0;
}
