// Fuzzes RequestParser the way a connection drives it: the input arrives in
// two reads split at a fuzzer-chosen point, with small limits so that the
// 413/431 paths are reached too. Invariants are checked with explicit traps
// (not assert: the build may define NDEBUG).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/request_parser.h"

namespace {

using subcorn::http::Event;
using subcorn::http::EventType;
using subcorn::http::Limits;
using subcorn::http::RequestHead;
using subcorn::http::RequestParser;

#define CHECK(cond)                                                  \
  do {                                                               \
    if (!(cond)) {                                                   \
      std::fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                  \
    }                                                                \
  } while (0)

std::vector<std::string> copy_head(const RequestHead& h) {
  std::vector<std::string> out{std::string(h.method), std::string(h.target)};
  for (const auto& hd : h.headers) {
    out.emplace_back(hd.name);
    out.emplace_back(hd.value);
  }
  return out;
}

void check_head(const RequestHead& h) {
  CHECK(!h.method.empty());
  CHECK(!h.target.empty());
  CHECK(h.version_major == 1);
  CHECK(h.content_length >= -1);
  CHECK(!(h.chunked && h.content_length >= 0));
  for (const auto& hd : h.headers) {
    CHECK(!hd.name.empty());
    for (char c : hd.name) CHECK(!(c >= 'A' && c <= 'Z'));
    if (!hd.value.empty()) {
      CHECK(hd.value.front() != ' ' && hd.value.front() != '\t');
      CHECK(hd.value.back() != ' ' && hd.value.back() != '\t');
    }
    for (char c : hd.value) CHECK(c != '\r' && c != '\n' && c != '\0');
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // First byte: where the input is split; second: which limits apply.
  size_t split = data[0];
  uint8_t mode = data[1];
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (split > input.size()) split = input.size();

  Limits limits;
  if (mode & 1) limits.max_head_bytes = 64 + (mode >> 2) * 4;
  if (mode & 2) limits.max_headers = mode >> 4;
  if (mode & 0x80) limits.max_body_bytes = mode & 0x3f;
  RequestParser parser(limits);

  std::string pending;
  std::vector<std::string> saved_head;
  bool have_head = false, in_body = false, dead = false;
  for (std::string_view piece : {input.substr(0, split), input.substr(split)}) {
    pending.append(piece);
    int idle = 0;
    while (!dead) {
      if (have_head) CHECK(copy_head(parser.head()) == saved_head);  // views still valid
      size_t consumed = SIZE_MAX;
      Event ev = parser.next(pending, &consumed);
      CHECK(consumed <= pending.size());
      idle = consumed == 0 ? idle + 1 : 0;
      CHECK(idle <= 2);  // no endless stream of events that consume nothing
      switch (ev.type) {
        case EventType::NeedMore:
          CHECK(consumed == pending.size());
          break;
        case EventType::Head:
          CHECK(!in_body);
          CHECK(consumed > 0);
          CHECK(parser.in_message());
          check_head(parser.head());
          saved_head = copy_head(parser.head());
          have_head = in_body = true;
          break;
        case EventType::Body:
          CHECK(in_body);
          CHECK(!ev.body.empty());
          CHECK(ev.body.data() >= pending.data());
          CHECK(ev.body.data() + ev.body.size() <= pending.data() + consumed);
          break;
        case EventType::MessageComplete:
          CHECK(in_body);
          CHECK(!parser.in_message());
          in_body = false;
          break;
        case EventType::Error: {
          CHECK(ev.status == 400 || ev.status == 413 || ev.status == 414 || ev.status == 431 || ev.status == 501);
          CHECK(!ev.reason.empty());
          CHECK(!parser.in_message());
          size_t again = SIZE_MAX;
          Event ev2 = parser.next(pending, &again);
          CHECK(ev2.type == EventType::Error && ev2.status == ev.status && again == 0);
          dead = true;
          break;
        }
      }
      pending.erase(0, consumed);
      if (ev.type == EventType::NeedMore) break;
    }
  }
  // A reset parser must take a fresh request (HTTP/1.0: no Host needed, so
  // no header field, which max_headers may forbid).
  parser.reset();
  size_t consumed = 0;
  Event ev = parser.next("GET / HTTP/1.0\r\n\r\n", &consumed);
  CHECK(ev.type == EventType::Head && consumed == 18);
  return 0;
}
