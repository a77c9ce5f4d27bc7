// Exchange: one request/response as the app adapters (ASGI here, WSGI later)
// see it. The server's connection implements it; py/ calls it and never
// reaches into server/ any other way. All calls happen on the shard thread
// with the shard's interpreter attached.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/unique_fd.h"

namespace subcorn::py {

// Header fields as an app gives them (trailers, early hints): name, value.
using Fields = std::vector<std::pair<std::string, std::string>>;

class Exchange {
 public:
  virtual ~Exchange() = default;

  // --- the request body, for receive() ---
  enum class BodyState { Data, Wait, Gone };
  // Data: `data` holds the next body bytes buffered (possibly empty when the
  // body just ended) and `more` says whether more will come after them; call
  // consume_body(n) once the first n of them are taken (n <= data.size()).
  // Wait: nothing new yet; the exchange will call cycle_wake_receive() when
  // there is. Gone: the client left.
  virtual BodyState peek_body(std::string_view& data, bool& more) = 0;
  virtual void consume_body(size_t n) = 0;
  // A receive() is about to wait: the moment to send "100 Continue".
  virtual void body_wanted() = 0;
  // On a worker thread (WSGI --threads): waits, without the GIL, until more
  // of the body arrived, it ended or the client left. Elsewhere: returns.
  virtual void wait_for_body() = 0;

  // --- the response, for send() ---
  // Each returns nullptr, or an error message for the app (RuntimeError).
  virtual const char* start_response(int status) = 0;
  virtual const char* add_header(std::string_view name, std::string_view value) = 0;
  enum class Sent { Done, Blocked, Gone };
  // Blocked: written to the buffer, but the client reads slowly; the exchange
  // calls cycle_wake_send() when the buffer drains. `error` is set on misuse.
  virtual Sent send_body(std::string_view data, bool more, const char** error) = 0;
  // Sends `count` bytes of `file` from `offset` with sendfile() (over
  // HTTP/2: read into DATA). `more`: body parts follow (ASGI zerocopysend's
  // more_body); the next part waits until these bytes are out, so a part
  // with `more` returns Blocked while they are not.
  virtual Sent send_file(io::UniqueFd file, long long offset, long long count, bool more,
                         const char** error) = 0;
  // Response bytes written but not sent yet (a WSGI write() bounds it).
  virtual size_t output_buffered() const = 0;
  virtual bool response_started() const = 0;
  virtual bool response_complete() const = 0;

  // HTTP/2 only (the scope offers them there; over HTTP/1.1 they are taken
  // and dropped): the response announced trailers ("trailers": True in
  // http.response.start), the trailers themselves (more: more_trailers),
  // and 103 Early Hints before the response starts. nullptr or a mistake.
  virtual void expect_trailers() {}
  virtual const char* send_trailers(const Fields&, bool /*more*/) { return nullptr; }
  virtual const char* send_early_hints(const Fields&) { return nullptr; }

  // The app's coroutine ended; `failed` when it raised (already logged).
  virtual void app_finished(bool failed) = 0;

  // Which request the app's error lines belong to (empty views: none), and
  // the worker that runs it.
  struct RequestLabel {
    std::string_view method;
    std::string_view path;
    std::string_view client;
  };
  virtual RequestLabel request_label() const { return {}; }
  virtual int worker_id() const { return -1; }
};

}  // namespace subcorn::py
