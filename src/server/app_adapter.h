// AppAdapter: how a shard runs its app for a stream, the one place for the
// ASGI / WSGI / --threads policy:
// - ASGI: an eager task per request (py/http_cycle.h); the body streams.
// - WSGI on the shard thread (--threads 1): the shard thread must never wait
//   for bytes, so the app starts once the whole body is here.
// - WebSocket (--ws auto, ASGI only): an upgrade request becomes a
//   `websocket` scope (py/ws_cycle.h); a WSGI app, or --ws none, gets it as
//   a plain HTTP request.
// - WSGI on a worker thread (--threads K): the app may start at the head and
//   read the body as it comes, if its length is declared (WSGI apps such as
//   Django read CONTENT_LENGTH); a chunked body is still read whole first.
#pragma once

#include "http/request_parser.h"
#include "py/asgi_scope.h"

namespace subcorn::server {

class Shard;
class Stream;
class WsStream;

class AppAdapter {
 public:
  explicit AppAdapter(Shard& shard) : shard_(shard) {}

  // The app needs the body before it starts (WSGI): the stream asks for it
  // at once ("100 Continue") rather than when the app reads.
  bool wants_body_first() const;
  // May the app start now, with so much of the request received?
  bool may_start(const http::RequestHead& head, bool body_complete) const;
  // Runs the app for `stream` (on this thread, or as a worker's job).
  void start(Stream& stream, const http::RequestHead& head, const py::ConnectionInfo& info) const;
  // Is this request a WebSocket for the app (rather than plain HTTP)?
  bool takes_websocket(const http::RequestHead& head) const;
  void start_websocket(WsStream& stream, const http::RequestHead& head,
                       const py::ConnectionInfo& info) const;

 private:
  Shard& shard_;
};

}  // namespace subcorn::server
