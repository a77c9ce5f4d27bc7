// WsExchange: one WebSocket connection as the ASGI `websocket` adapter sees
// it (py/ws_cycle.h). The server's WebSocket stream implements it; py/ calls
// it and never reaches into server/ any other way. All calls happen on the
// shard thread with the shard's interpreter attached.
//
// It extends Exchange: before the handshake is accepted, the app may answer
// with an HTTP response instead (the ASGI "websocket.http.response"
// extension), which goes through start_response/add_header/send_body with
// the same framing and the same refusals as an HTTP response; and
// app_finished() is how the app's end is reported. Exchange's request-body
// calls (peek_body...) are not used for a WebSocket.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "py/exchange.h"

namespace subcorn::py {

class WsExchange : public Exchange {
 public:
  // Where the handshake is, as the app's messages must respect it.
  enum class Phase {
    Connecting,  // websocket.connect delivered or due; accept/close/denial allowed
    Open,        // accepted (101 written); messages flow both ways
    Denied,      // an HTTP response was begun instead (denial or 403 for a close)
    Closed,      // closed (by either side, or the connection dropped)
  };
  virtual Phase ws_phase() const = 0;

  // websocket.accept: `subprotocol` empty for none (else one the client
  // offered), `headers` extra response headers. Writes the 101 and opens
  // the socket. nullptr, or a message for the app (RuntimeError): a
  // subprotocol the client did not offer, an invalid header, wrong phase.
  virtual const char* ws_accept(std::string_view subprotocol,
                                const std::vector<std::pair<std::string, std::string>>& headers) = 0;

  // websocket.close: before accept, the handshake is refused with 403 (the
  // spec's rule); once open, a close frame with `code` and `reason` goes out
  // and the server waits (bounded) for the client's close. nullptr, or a
  // message for the app (an invalid code).
  virtual const char* ws_close(int code, std::string_view reason) = 0;

  // websocket.send once open. Sent::Blocked: queued, but the client reads
  // slowly: the exchange calls ws_cycle_wake_send() when the output drains
  // (the app's send() waits until then). Sent::Gone: the socket is closed
  // (the app gets the spec's error). `error` is set on misuse.
  virtual Sent ws_send(bool text, std::string_view data, const char** error) = 0;

  // The next thing the client said, for websocket.receive:
  // Message: `*text` and `*data` (valid until ws_consume()); take it with
  // ws_consume(). Wait: nothing yet (the exchange calls
  // ws_cycle_wake_receive() when there is). Closed: the connection is over;
  // `*code` and `*reason` are the client's close (1005 when its close frame
  // had no code; 1006 when the connection dropped without one).
  enum class Next { Message, Wait, Closed };
  virtual Next ws_next(bool* text, std::string_view* data, int* code, std::string_view* reason) = 0;
  virtual void ws_consume() = 0;
};

}  // namespace subcorn::py
