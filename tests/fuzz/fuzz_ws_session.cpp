// Fuzzes ws::Session, the WebSocket protocol state machine, with and without
// permessage-deflate negotiated. The input is the client's byte stream; its
// last bytes choose the session (deflate, the server's window bits, context
// takeover both ways, a small or large message limit, whether the app echoes
// every message back) and up to 8 cut points. Checked on every next() call:
// - NeedMore consumes everything; no event consumes more than it was given;
//   a view into the input lies within the consumed bytes;
// - the session never holds more than max_message_size of a message;
// - Close and Error are final: the same event again, nothing consumed,
//   nothing sent, and the app can send nothing more;
// - a text message is valid UTF-8; every frame the server writes is a valid
//   unmasked server frame (RSV1 only on a compressed data frame);
// and across feedings: whole, cut at the fuzzer's points and one byte at a
// time (up to 512 bytes) give the same events at the same stream offsets
// (an Error's offset aside: a cut may reveal it earlier) and the same bytes
// to send.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "ws/session.h"

namespace {

using namespace subcorn::ws;

struct Run {
  std::vector<std::string> events;  // one line per event, with its stream offset
  std::string out;
};

uint64_t fnv(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Every frame in `out` is a whole, unmasked server frame.
void check_server_frames(std::string_view out, bool deflate) {
  while (!out.empty()) {
    FUZZ_CHECK(out.size() >= 2);
    auto b0 = static_cast<uint8_t>(out[0]), b1 = static_cast<uint8_t>(out[1]);
    FUZZ_CHECK((b1 & 0x80) == 0);       // never masked
    FUZZ_CHECK((b0 & 0x80) != 0);       // never fragmented
    FUZZ_CHECK((b0 & 0x30) == 0);       // no RSV2, RSV3
    uint8_t op = b0 & 0x0f;
    if (b0 & 0x40) FUZZ_CHECK(deflate && (op == 1 || op == 2));
    FUZZ_CHECK(op == 1 || op == 2 || op == 8 || op == 9 || op == 0xA);
    uint64_t len = b1 & 0x7f;
    size_t at = 2;
    if (len == 126) {
      FUZZ_CHECK(out.size() >= 4);
      len = (uint64_t{static_cast<uint8_t>(out[2])} << 8) | static_cast<uint8_t>(out[3]);
      at = 4;
    } else if (len == 127) {
      FUZZ_CHECK(out.size() >= 10);
      len = 0;
      for (size_t i = 2; i < 10; ++i) len = (len << 8) | static_cast<uint8_t>(out[i]);
      at = 10;
    }
    if (op >= 8) FUZZ_CHECK(len <= 125);
    FUZZ_CHECK(out.size() - at >= len);
    out.remove_prefix(at + static_cast<size_t>(len));
  }
}

Run feed(const std::string& stream, const std::vector<size_t>& cuts, const SessionConfig& config, bool echo) {
  Run run;
  Session session(config);
  std::string pending;
  size_t offset = 0;  // stream bytes consumed so far
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(stream.size());
  for (size_t end : ends) {
    pending.append(stream, from, end - from);
    from = end;
    for (;;) {
      std::vector<char> input(pending.begin(), pending.end());
      size_t consumed = SIZE_MAX;
      Event ev = session.next(input.data(), input.size(), &consumed, run.out);
      FUZZ_CHECK(consumed <= input.size());
      FUZZ_CHECK(session.buffered_bytes() <= config.max_message_size);
      for (std::string_view v : {ev.payload, ev.reason}) {
        if (!input.empty() && v.data() >= input.data() && v.data() < input.data() + input.size()) {
          FUZZ_CHECK(v.data() + v.size() <= input.data() + consumed);
        }
      }
      offset += consumed;
      pending.erase(0, consumed);
      if (ev.type == EventType::NeedMore) {
        FUZZ_CHECK(pending.empty());
        break;
      }
      std::string line = std::to_string(static_cast<int>(ev.type)) + " " + std::to_string(ev.text) + " " +
                         std::to_string(ev.payload.size()) + " " + std::to_string(fnv(ev.payload)) + " " +
                         std::to_string(ev.code) + " " + std::string(ev.reason);
      if (ev.type != EventType::Error) line += " @" + std::to_string(offset);
      run.events.push_back(line);
      if (ev.type == EventType::Message) {
        FUZZ_CHECK(ev.payload.size() <= config.max_message_size);
        if (ev.text) FUZZ_CHECK(is_valid_utf8(ev.payload));
        if (echo) FUZZ_CHECK(session.send_message(ev.text, ev.payload, run.out) == nullptr);
      }
      if (ev.type == EventType::Close || ev.type == EventType::Error) {
        FUZZ_CHECK(session.state() == State::Closed || session.state() == State::CloseReceived);
        FUZZ_CHECK(session.close_code() == ev.code);
        std::string more;
        size_t again = SIZE_MAX;
        std::vector<char> rest(pending.begin(), pending.end());
        Event ev2 = session.next(rest.data(), rest.size(), &again, more);
        FUZZ_CHECK(ev2.type == ev.type && ev2.code == ev.code && ev2.reason == ev.reason);
        FUZZ_CHECK(again == 0 && more.empty());
        FUZZ_CHECK(session.send_message(false, "x", more) != nullptr && more.empty());
        FUZZ_CHECK(session.send_ping("x", more) != nullptr && more.empty());
        check_server_frames(run.out, config.deflate.has_value());
        return run;
      }
    }
  }
  check_server_frames(run.out, config.deflate.has_value());
  return run;
}

// The same events and bytes, or both traces on stderr and a crash.
void check_same(const Run& got, const Run& whole, const char* how) {
  if (got.events == whole.events && got.out == whole.out) return;
  std::fprintf(stderr, "whole:\n");
  for (const std::string& e : whole.events) std::fprintf(stderr, "  %s\n", e.c_str());
  std::fprintf(stderr, "%s:\n", how);
  for (const std::string& e : got.events) std::fprintf(stderr, "  %s\n", e.c_str());
  FUZZ_CHECK(got.events == whole.events);
  FUZZ_CHECK(got.out == whole.out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  // The session, from the last bytes of the input.
  const uint8_t flags = in.ConsumeIntegral<uint8_t>();
  const uint8_t bits = in.ConsumeIntegral<uint8_t>();
  const size_t cut_count = in.ConsumeIntegralInRange<size_t>(0, 8);
  std::vector<size_t> cuts;
  for (size_t i = 0; i < cut_count; ++i) cuts.push_back(in.ConsumeIntegral<uint16_t>());
  const std::string stream = in.ConsumeRemainingBytesAsString();

  SessionConfig config;
  config.max_message_size = (flags & 0x02) ? 16 + size_t{bits} * 4 : 256 * 1024;
  if (flags & 0x01) {
    DeflateParams p;
    // The client's window stays 15: zlib checks a distance against a smaller
    // window only when it reaches into output of an earlier inflate() call,
    // so a client that overshoots the window it agreed to may be refused or
    // not depending on how its message was cut (deflate.h). Compliant
    // clients with smaller windows are covered by the unit round trips.
    p.client_max_window_bits = 15;
    p.server_max_window_bits = 8 + ((bits >> 3) & 7);
    p.client_no_context_takeover = flags & 0x04;
    p.server_no_context_takeover = flags & 0x08;
    config.deflate = p;
    config.compress_threshold = (flags & 0x20) ? 0 : 64;
  }
  const bool echo = flags & 0x10;

  for (size_t& c : cuts) c = stream.empty() ? 0 : c % (stream.size() + 1);
  std::sort(cuts.begin(), cuts.end());

  const Run whole = feed(stream, {}, config, echo);
  const Run cut = feed(stream, cuts, config, echo);
  check_same(cut, whole, "cut");
  if (stream.size() <= 512) {
    std::vector<size_t> every;
    for (size_t i = 1; i < stream.size(); ++i) every.push_back(i);
    const Run bytewise = feed(stream, every, config, echo);
    check_same(bytewise, whole, "byte by byte");
  }
  return 0;
}
