#include "metrics/exposition.h"

#include <charconv>

namespace subcorn::metrics {
namespace {

void family(std::string& out, const char* name, const char* type, const char* help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

// The shortest plain decimal that reads back as the same double ("0.0005",
// not "0.00050000000000000001" nor "5e-04").
void number(std::string& out, double value) {
  char text[400];
  auto [end, error] = std::to_chars(text, text + sizeof text, value, std::chars_format::fixed);
  out.append(text, error == std::errc() ? end : text);
}

void sample(std::string& out, const char* name, const std::string& labels, uint64_t value) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(std::to_string(value)).append("\n");
}

void sample(std::string& out, const char* name, const std::string& labels, double value) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ");
  number(out, value);
  out.append("\n");
}

std::string label(std::string_view name, std::string_view value) {
  return std::string(name) + "=\"" + std::string(value) + "\"";
}

std::string worker(size_t slot) { return label("worker", std::to_string(slot)); }

}  // namespace

std::string render(const Snapshot& snap) {
  std::string out;
  out.reserve(4096 + snap.workers.size() * 512);
  const auto& t = snap.totals;

  family(out, "subcorn_requests_total", "counter",
         "HTTP requests answered, by method and status class (the app's answers and the server's own).");
  for (int m = 0; m < METHOD_COUNT; ++m)
    for (int c = 0; c < STATUS_CLASS_COUNT; ++c)
      sample(out, "subcorn_requests_total",
             label("method", METHOD_NAMES[static_cast<size_t>(m)]) + "," +
                 label("code", STATUS_CLASS_NAMES[static_cast<size_t>(c)]),
             t[static_cast<size_t>(counter::requests(static_cast<Method>(m), c))]);

  family(out, "subcorn_request_duration_seconds", "histogram",
         "From the app's start to the last byte of its response handed to the connection.");
  uint64_t cumulative = 0;
  for (int b = 0; b < DURATION_BUCKETS; ++b) {
    cumulative += t[static_cast<size_t>(counter::DURATION + b)];
    std::string le = b + 1 < DURATION_BUCKETS ? std::string() : std::string("+Inf");
    if (le.empty()) {
      std::string text;
      number(text, DURATION_BOUNDS[static_cast<size_t>(b)]);
      le = text;
    }
    sample(out, "subcorn_request_duration_seconds_bucket", label("le", le), cumulative);
  }
  sample(out, "subcorn_request_duration_seconds_sum", "",
         static_cast<double>(t[counter::DURATION_SUM_NS]) / 1e9);
  sample(out, "subcorn_request_duration_seconds_count", "", cumulative);

  family(out, "subcorn_requests_in_flight", "gauge", "HTTP requests whose app is running.");
  sample(out, "subcorn_requests_in_flight", "",
         static_cast<double>(snap.gauges[gauge::IN_FLIGHT]));

  family(out, "subcorn_connections", "gauge", "Open client connections, by protocol.");
  for (int p = 0; p < PROTOCOL_COUNT; ++p)
    sample(out, "subcorn_connections", label("protocol", PROTOCOL_NAMES[static_cast<size_t>(p)]),
           static_cast<double>(snap.gauges[static_cast<size_t>(gauge::CONNECTIONS + p)]));

  family(out, "subcorn_received_bytes_total", "counter",
         "Bytes read from clients (after TLS decryption).");
  sample(out, "subcorn_received_bytes_total", "", t[counter::BYTES_IN]);
  family(out, "subcorn_sent_bytes_total", "counter", "Bytes written to clients (before TLS encryption).");
  sample(out, "subcorn_sent_bytes_total", "", t[counter::BYTES_OUT]);

  family(out, "subcorn_rejections_total", "counter",
         "Requests and connections the server refused by itself, by status.");
  for (int r = 0; r < REJECTION_COUNT; ++r)
    sample(out, "subcorn_rejections_total",
           label("status", std::to_string(REJECTION_STATUSES[static_cast<size_t>(r)])),
           snap.rejections[static_cast<size_t>(r)]);

  // One family per worker number, one sample per worker.
  auto per_worker = [&](const char* name, const char* type, const char* help, auto value_of) {
    family(out, name, type, help);
    for (size_t w = 0; w < snap.workers.size(); ++w) sample(out, name, worker(w), value_of(snap.workers[w]));
  };
  per_worker("subcorn_worker_requests_total", "counter", "Requests answered by each worker.",
             [](const WorkerSnapshot& w) {
               uint64_t served = 0;
               for (int i = 0; i < METHOD_COUNT * STATUS_CLASS_COUNT; ++i)
                 served += w.counters[static_cast<size_t>(counter::REQUESTS + i)];
               return served;
             });
  per_worker("subcorn_worker_busy_ratio", "gauge",
             "Share of the last second the worker's shard thread spent on a CPU.",
             [](const WorkerSnapshot& w) { return w.busy_ratio; });
  per_worker("subcorn_worker_loop_lag_seconds", "gauge",
             "How late the worker's event loop runs its once-a-second tick.",
             [](const WorkerSnapshot& w) { return w.lag_seconds; });
  per_worker("subcorn_worker_recycles_total", "counter",
             "Times the worker was replaced by a fresh interpreter or process (--max-requests, "
             "--workers-max-rss, a reload).",
             [](const WorkerSnapshot& w) { return w.recycles; });
  per_worker("subcorn_worker_restarts_total", "counter",
             "Times the worker's process died and was started again.",
             [](const WorkerSnapshot& w) { return w.restarts; });
  return out;
}

}  // namespace subcorn::metrics
