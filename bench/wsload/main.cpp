// wsload: a WebSocket (RFC 6455) load generator for bench/. See client.h for
// what it sends and checks; it prints one JSON line (see print_json), and
// exits 1 with the reason on stderr when the run failed, 2 on bad arguments.
//
//   wsload --port 8000 [--host 127.0.0.1] [--path /] [--connections 64]
//          [--duration 10] [--mode echo|broadcast] [--kind binary|text]
//          [--size 1024] [--deflate] [--messages N]
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <algorithm>

#include "client.h"

namespace {

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "wsload: %s\nusage: wsload --port N [--host H] [--path P] [--connections N] "
               "[--duration S] [--mode echo|broadcast] [--kind binary|text] [--size BYTES] "
               "[--deflate] [--messages N]\n",
               problem.c_str());
  std::exit(2);
}

double number(const char* flag, const char* value, double low, double high) {
  char* end = nullptr;
  double parsed = std::strtod(value, &end);
  if (end == value || *end != '\0' || parsed < low || parsed > high) {
    usage(std::string("bad value for ") + flag + ": " + value);
  }
  return parsed;
}

wsload::Options parse(int argc, char** argv) {
  wsload::Options options;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--deflate") {
      options.deflate = true;
      continue;
    }
    if (i + 1 >= argc) usage("missing value for " + flag);
    const char* value = argv[++i];
    if (flag == "--host") options.host = value;
    else if (flag == "--port") options.port = static_cast<int>(number("--port", value, 1, 65535));
    else if (flag == "--path") options.path = value;
    else if (flag == "--connections")
      options.connections = static_cast<size_t>(number("--connections", value, 1, 100000));
    else if (flag == "--duration") options.duration = number("--duration", value, 0.001, 86400);
    else if (flag == "--size") options.size = static_cast<size_t>(number("--size", value, 16, 64 << 20));
    else if (flag == "--messages")
      options.messages = static_cast<uint64_t>(number("--messages", value, 0, 1e12));
    else if (flag == "--mode") {
      if (std::strcmp(value, "echo") == 0) options.mode = wsload::Mode::Echo;
      else if (std::strcmp(value, "broadcast") == 0) options.mode = wsload::Mode::Broadcast;
      else usage(std::string("unknown mode ") + value);
    } else if (flag == "--kind") {
      if (std::strcmp(value, "binary") == 0) options.kind = wsload::Kind::Binary;
      else if (std::strcmp(value, "text") == 0) options.kind = wsload::Kind::Text;
      else usage(std::string("unknown kind ") + value);
    } else {
      usage("unknown option " + flag);
    }
  }
  if (options.port == 0) usage("--port is required");
  if (options.path.empty() || options.path[0] != '/') usage("--path must start with /");
  bool broadcast = options.mode == wsload::Mode::Broadcast;
  if (broadcast && (options.deflate || options.kind == wsload::Kind::Text)) {
    // Broadcast messages differ in their header, so they cannot be compressed once up front.
    usage("--mode broadcast sends binary messages without compression");
  }
  return options;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + '"';
}

uint32_t percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t index = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

void print_json(const wsload::Options& options, wsload::Results& results) {
  std::sort(results.latencies_us.begin(), results.latencies_us.end());
  const auto& l = results.latencies_us;
  std::printf(
      "{\"messages\": %llu, \"sent\": %llu, \"seconds\": %.6f, \"errors\": %llu, \"lost\": %llu, "
      "\"lost_reason\": %s, \"p50_us\": %u, \"p90_us\": %u, \"p99_us\": %u, \"max_us\": %u, "
      "\"connections\": %zu, \"extensions\": %s}\n",
      static_cast<unsigned long long>(results.messages), static_cast<unsigned long long>(results.sent),
      results.seconds, static_cast<unsigned long long>(results.errors),
      static_cast<unsigned long long>(results.lost), json_string(results.lost_reason).c_str(),
      percentile(l, 50), percentile(l, 90), percentile(l, 99), l.empty() ? 0 : l.back(),
      options.connections, json_string(results.extensions).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  wsload::Options options = parse(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);  // a server that goes away is an error to count, not a death
  wsload::Results results = wsload::run(options);
  if (!results.fatal.empty()) {
    std::fprintf(stderr, "wsload: %s\n", results.fatal.c_str());
    return 1;
  }
  print_json(options, results);
  return 0;
}
