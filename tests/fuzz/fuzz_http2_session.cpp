// Fuzzes Http2Session, the server side of HTTP/2 on nghttp2. The input is
// the client's byte stream; its last bytes choose the session (small or
// default limits, extended CONNECT on or off, whether the connection preface
// and SETTINGS are put in front so the fuzzer starts among frames), how the
// app answers (not at all, at once, streaming with trailers, by resetting)
// and up to 8 cut points. Checked on every call:
// - the handler hears of a stream in order: h2_request first (odd id, never
//   twice), then body and body end, reset at most once, h2_stream_closed
//   exactly once and nothing after it; every reported stream is closed by
//   the time the session is destroyed;
// - the body bytes of a stream never pass its declared content-length nor
//   max_body_bytes;
// - produce() appends whole frames (9-byte header, length within the
//   default SETTINGS_MAX_FRAME_SIZE), about its budget at most;
// - once receive() says false, it always does, and the state is Failed or
//   Finished;
// and across feedings: whole and cut at the fuzzer's points give the same
// trace (output is produced only after all the input, so both see the same).
// One allowance: on a stream that ends reset, a cut may deliver body bytes
// the whole feeding does not (nghttp2 passes on a DATA frame's bytes as they
// come, and its end may reveal the error), so those streams' bodies are left
// out of the comparison.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "http/http2_session.h"

namespace {

using namespace subcorn::http;

enum class AppMode : uint8_t { Silent, Answer, Stream, Reset };

class Handler : public Http2Handler {
 public:
  enum class Seen { Requested, Ended, Reset, Closed };
  std::map<int32_t, Seen> streams;
  std::map<int32_t, int64_t> declared;
  std::map<int32_t, int64_t> body_bytes;
  std::vector<std::string> trace;
  Http2Session* session = nullptr;
  AppMode mode = AppMode::Silent;
  int64_t max_body = -1;

  void h2_request(int32_t id, const RequestHead& head, bool end_stream) override {
    FUZZ_CHECK(id > 0 && id % 2 == 1);
    FUZZ_CHECK(streams.find(id) == streams.end());
    FUZZ_CHECK(!head.method.empty());
    FUZZ_CHECK(head.version_major == 2);
    streams[id] = Seen::Requested;
    declared[id] = head.content_length;
    trace.push_back("request " + std::to_string(id) + " " + std::string(head.method) + " " +
                    std::string(head.path) + (end_stream ? " end" : ""));
    for (const Header& h : head.headers) FUZZ_CHECK(!h.name.empty());
    switch (mode) {
      case AppMode::Silent:
        break;
      case AppMode::Answer:
        FUZZ_CHECK(session->start_response(id, 200) == nullptr);
        FUZZ_CHECK(session->body(id, "hello", false) == nullptr);
        break;
      case AppMode::Stream:
        FUZZ_CHECK(session->early_hints(id, {{"link", "</a>"}}) == nullptr);
        FUZZ_CHECK(session->start_response(id, 200) == nullptr);
        session->expect_trailers(id);
        FUZZ_CHECK(session->body(id, std::string(20000, 'b'), true) == nullptr);
        break;
      case AppMode::Reset:
        session->reset_stream(id, 8);
        break;
    }
  }
  void h2_body(int32_t id, std::string_view data) override {
    FUZZ_CHECK(streams.count(id) && streams[id] == Seen::Requested);
    FUZZ_CHECK(!data.empty());
    body_bytes[id] += static_cast<int64_t>(data.size());
    if (declared[id] >= 0) FUZZ_CHECK(body_bytes[id] <= declared[id]);
    if (max_body >= 0) FUZZ_CHECK(body_bytes[id] <= max_body);
    // How the body is cut depends on how the input was: consecutive parts
    // of a stream are one line.
    std::string prefix = "body " + std::to_string(id) + " ";
    if (!trace.empty() && trace.back().rfind(prefix, 0) == 0) {
      trace.back() = prefix + std::to_string(std::stoll(trace.back().substr(prefix.size())) +
                                             static_cast<long long>(data.size()));
    } else {
      trace.push_back(prefix + std::to_string(data.size()));
    }
    session->consume(id, data.size());
  }
  void h2_body_end(int32_t id) override {
    FUZZ_CHECK(streams.count(id) && streams[id] == Seen::Requested);
    if (declared[id] >= 0) FUZZ_CHECK(body_bytes[id] == declared[id]);
    streams[id] = Seen::Ended;
    trace.push_back("end " + std::to_string(id));
    if (mode == AppMode::Stream) {
      FUZZ_CHECK(session->body(id, "tail", false) == nullptr);
      FUZZ_CHECK(session->trailers(id, {{"x-done", "1"}}) == nullptr);
    }
  }
  void h2_stream_reset(int32_t id, uint32_t code) override {
    FUZZ_CHECK(streams.count(id) && streams[id] != Seen::Reset && streams[id] != Seen::Closed);
    streams[id] = Seen::Reset;
    trace.push_back("reset " + std::to_string(id) + " " + std::to_string(code));
  }
  void h2_stream_closed(int32_t id) override {
    FUZZ_CHECK(streams.count(id) && streams[id] != Seen::Closed);
    streams[id] = Seen::Closed;
    trace.push_back("closed " + std::to_string(id));
  }
  void h2_output_drained(int32_t id) override { FUZZ_CHECK(streams.count(id) && streams[id] != Seen::Closed); }
};

// Whole frames only, none longer than the default maximum frame size.
void check_frames(std::string_view out) {
  while (!out.empty()) {
    FUZZ_CHECK(out.size() >= 9);
    size_t length = (size_t{static_cast<uint8_t>(out[0])} << 16) | (size_t{static_cast<uint8_t>(out[1])} << 8) |
                    static_cast<uint8_t>(out[2]);
    FUZZ_CHECK(length <= 16384);
    FUZZ_CHECK(out.size() >= 9 + length);
    out.remove_prefix(9 + length);
  }
}

struct Config {
  Http2Settings settings;
  Limits limits;
  AppMode mode = AppMode::Silent;
};

std::vector<std::string> feed(const std::string& stream, const std::vector<size_t>& cuts, const Config& config) {
  Handler handler;
  handler.mode = config.mode;
  handler.max_body = config.limits.max_body_bytes;
  {
    Http2Session session(config.settings, config.limits, handler);
    handler.session = &session;
    session.start();
    bool refused = false;
    size_t from = 0;
    std::vector<size_t> ends = cuts;
    ends.push_back(stream.size());
    for (size_t end : ends) {
      bool ok = session.receive(std::string_view(stream).substr(from, end - from));
      from = end;
      if (refused) FUZZ_CHECK(!ok);
      if (!ok) {
        refused = true;
        FUZZ_CHECK(session.state() == Http2Session::State::Failed ||
                   session.state() == Http2Session::State::Finished);
      }
    }
    for (int round = 0; round < 1000 && session.wants_output(); ++round) {
      std::string out;
      session.produce(out, 32 * 1024);
      FUZZ_CHECK(out.size() <= 32 * 1024 + 16384 + 9 + 64 * 1024);
      check_frames(out);
      if (out.empty()) break;
    }
  }
  for (const auto& [id, seen] : handler.streams) FUZZ_CHECK(seen == Handler::Seen::Closed);
  return handler.trace;
}

// The trace without the body lines of streams that were reset.
std::vector<std::string> comparable(const std::vector<std::string>& trace) {
  std::vector<std::string> reset_ids;
  for (const std::string& line : trace) {
    if (line.rfind("reset ", 0) == 0) reset_ids.push_back(line.substr(6, line.find(' ', 6) - 6));
  }
  std::vector<std::string> out;
  for (const std::string& line : trace) {
    bool skip = false;
    for (const std::string& id : reset_ids) skip |= line.rfind("body " + id + " ", 0) == 0;
    if (!skip) out.push_back(line);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint8_t flags = in.ConsumeIntegral<uint8_t>();
  const size_t cut_count = in.ConsumeIntegralInRange<size_t>(0, 8);
  std::vector<size_t> cuts;
  for (size_t i = 0; i < cut_count; ++i) cuts.push_back(in.ConsumeIntegral<uint16_t>());
  std::string stream = in.ConsumeRemainingBytesAsString();
  if (flags & 0x01) {
    // The preface and an empty SETTINGS: the fuzzer starts among frames.
    stream = std::string(HTTP2_PREFACE) + std::string("\0\0\0\x04\0\0\0\0\0", 9) + stream;
  }

  Config config;
  config.settings.enable_connect_protocol = flags & 0x02;
  if (flags & 0x04) {
    config.settings.max_concurrent_streams = 3;
    config.settings.initial_window_size = 100;
    config.settings.max_header_list_size = 300;
    config.limits.max_headers = 4;
    config.limits.max_field_bytes = 64;
    config.limits.max_head_bytes = 256;
    config.limits.max_body_bytes = 50;
  }
  config.mode = static_cast<AppMode>((flags >> 3) & 3);

  for (size_t& c : cuts) c = stream.empty() ? 0 : c % (stream.size() + 1);
  std::sort(cuts.begin(), cuts.end());

  const std::vector<std::string> whole = comparable(feed(stream, {}, config));
  const std::vector<std::string> cut = comparable(feed(stream, cuts, config));
  if (whole != cut) {
    std::fprintf(stderr, "whole:\n");
    for (const std::string& e : whole) std::fprintf(stderr, "  %s\n", e.c_str());
    std::fprintf(stderr, "cut:\n");
    for (const std::string& e : cut) std::fprintf(stderr, "  %s\n", e.c_str());
    FUZZ_CHECK(whole == cut);
  }
  return 0;
}
