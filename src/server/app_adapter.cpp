#include "server/app_adapter.h"

#include "py/http_cycle.h"
#include "py/ws_cycle.h"
#include "py/wsgi.h"
#include "ws/handshake.h"
#include "server/shard.h"
#include "server/stream.h"
#include "server/ws_stream.h"

namespace subcorn::server {

bool AppAdapter::wants_body_first() const { return shard_.app().wsgi; }

bool AppAdapter::may_start(const http::RequestHead& head, bool body_complete) const {
  if (!shard_.app().wsgi || body_complete) return true;
  return shard_.workers().running() && head.content_length >= 0;
}

void AppAdapter::start(Stream& stream, const http::RequestHead& head, const py::ConnectionInfo& info) const {
  py::AppContext& app = shard_.app();
  if (!app.wsgi) {
    stream.set_cycle(py::start_http_cycle(app, shard_.scope_template(), &stream, head, info));
    return;
  }
  long long length = stream.wsgi_length(head);
  if (shard_.workers().running()) {
    // On the worker, connections are only touched with the interpreter's
    // GIL held (the shard thread holds it in on_poll and runs no Python code
    // on a WSGI connection's path): the GIL serialises the worker and the
    // shard. Nothing of the stream is touched after app_finished(), which
    // cleared busy(): the shard may free it once the worker lets go of the
    // GIL. (A worker's call never pauses: it waits inside send_body.)
    stream.set_busy();
    Shard* shard = &shard_;
    shard_.workers().submit([shard, &stream, &head, &info, length] {
      py::WsgiCallPtr never_paused =
          py::run_wsgi(shard->app(), shard->scope_template(), &stream, head, length, info);
      (void)never_paused;  // the stream may be gone already: not touched here
    });
    return;
  }
  py::WsgiCallPtr paused = py::run_wsgi(app, shard_.scope_template(), &stream, head, length, info);
  if (paused) stream.set_paused(std::move(paused));
}

bool AppAdapter::takes_websocket(const http::RequestHead& head) const {
  // HTTP/1.1 says Upgrade; HTTP/2 says :protocol (RFC 8441).
  return (head.upgrade || !head.protocol.empty()) && shard_.settings().websocket &&
         !shard_.app().wsgi &&
         ws::is_websocket_upgrade(head);
}

void AppAdapter::start_websocket(WsStream& stream, const http::RequestHead& head,
                                 const py::ConnectionInfo& info) const {
  stream.set_cycle(py::start_ws_cycle(shard_.app(), shard_.ws_scope_template(), &stream, head,
                                      info, info.secure));
}

}  // namespace subcorn::server
