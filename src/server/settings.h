// The engine's settings: plain data, filled from the Python Config by
// module.cpp. python/subcorn/config.py declares every setting once (name,
// default, validation); Config.engine_settings() always passes every key
// below, so these initialisers are never what a server runs with: they
// only keep a Settings made in C++ (the unit tests) in a sane state.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "http/address_set.h"
#include "http/response_defaults.h"
#include "io/tls.h"

namespace subcorn::server {

struct Settings {
  std::string app;           // import string, for log lines
  // The sockets to serve: bound by the supervisor (every --bind, or the
  // ones systemd passed) and inherited; this process listens on each.
  // Empty when connections are handed over (handoff_fd).
  std::vector<int> listen_fds;
  int workers = 1;
  int threads = 1;
  bool main_interpreter = false; // processes mode: the app runs in this process's main interpreter
  int handoff_fd = -1;       // processes mode: connections arrive here from the supervisor
  int ready_fd = -1;         // a supervisor's pipe: "ready\n" once serving, "retire\n" after max_requests
  long max_requests = 0;     // 0: no limit; then recycle (an interpreter, or this process)
  long max_requests_jitter = 0;
  int backlog = 2048;
  long limit_concurrency = 0;           // 0: no limit; beyond it, 503
  long limit_max_connections = 0;       // 0: no limit; beyond it, 503 and close
  long limit_request_line = 0;          // bytes; 0: only the head's limit (414 beyond)
  long limit_request_fields = 0;        // header fields; 0: no limit (431 beyond)
  long limit_request_field_size = 0;    // bytes of one field line; 0: no limit (431 beyond)
  long long limit_request_body = 0;     // bytes; 0: no limit (413 beyond)
  double timeout_request_body = 0;      // longest wait between two reads of a body; 0: none
  double timeout_request = 0;           // a request's whole time; 0: none (504 and cancel)
  double timeout_after_disconnect = 0;  // an ASGI task whose client left is cancelled after this
  double timeout_keep_alive = 5.0;      // idle keep-alive connections close
  double timeout_request_header = 10.0; // a request head must arrive within this
  double timeout_graceful_shutdown = 30.0;
  bool websocket = true;               // --ws auto: upgrade requests become WebSockets (ASGI)
  long long ws_max_size = 16 * 1024 * 1024;  // bytes of one message; beyond it close 1009
  long ws_max_queue = 32;               // messages not yet taken by the app; beyond it stop reading
  double ws_ping_interval = 0;          // seconds between pings; 0: none
  double ws_ping_timeout = 0;           // a pong owed for longer closes the socket; 0: never
  bool ws_per_message_deflate = true;
  io::TlsConfig tls;                    // no certfile: plain TCP (its alpn is the Server's to set)
  std::string tls_ticket_keys;          // from the supervisor: every worker process resumes the others' sessions
  double ssl_handshake_timeout = 10.0;  // a TLS handshake must end within this
  bool ssl_reload = false;              // watch the certificate files, reload when they change
  bool http1 = true;                   // --http auto or 1
  bool http2 = true;                   // --http auto or 2: prior knowledge, h2c, ALPN h2
  long http2_max_concurrent_streams = 100;
  long http2_initial_window_size = 1024 * 1024;
  long http2_max_header_list_size = 64 * 1024;
  double http2_keep_alive_interval = 0;  // seconds between PINGs; 0: none
  bool access_log = true;
  // Behind a proxy: peers in forwarded_allow_ips are trusted proxies. With
  // proxy_headers their X-Forwarded-* and Forwarded fields set each
  // request's client, scheme and host (server/forwarded_info.h); with
  // proxy_protocol every connection must begin with a PROXY header from one
  // of them (http/proxy_protocol.h).
  bool proxy_headers = true;
  http::AddressSet forwarded_allow_ips;  // parsed by module.cpp from the list
  bool proxy_protocol = false;
  std::string access_log_format;  // gunicorn's atoms; "": uvicorn's line
  std::string access_log_file;    // "" or "-": stdout
  bool log_json = false;          // --log-format json: access and engine lines as JSON objects
  int worker_base = 0;            // processes mode: this process's worker number (shard 0's id)
  int metrics_fd = -1;       // --metrics: the supervisor's metrics table (metrics/table.h)
  int metrics_slot = 0;      // the worker number of this process's first shard
  bool log_info = true;      // --log-level info or lower: say what the server does
  std::string shard_config;  // JSON given to subcorn._shard.run in every shard
  // --header, --server-header, --date-header: the fields every response gets
  http::ResponseDefaults response_defaults;
  // --static (server/static_files.h)
  std::vector<std::pair<std::string, std::string>> static_mounts;  // (URL prefix, DIR)
  long static_max_age = -1;  // seconds of Cache-Control: public, max-age; negative: none
};

}  // namespace subcorn::server
