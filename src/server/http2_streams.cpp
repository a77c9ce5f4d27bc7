#include "server/http2_streams.h"

#include <unistd.h>

#include <algorithm>

#include "server/connection.h"
#include "server/shard.h"
#include "ws/handshake.h"

namespace subcorn::server {
namespace {

// nghttp2's error codes (RFC 9113 7), as the session takes them.
constexpr uint32_t INTERNAL_ERROR = 0x2;
constexpr uint32_t CANCEL = 0x8;
// A file part (wsgi.file_wrapper, pathsend) is read into DATA this much at a
// time: HTTP/2 frames the bytes itself, so sendfile() cannot carry them.
constexpr size_t FILE_READ_SIZE = 64 * 1024;

http::Http2Settings session_settings(const Shard& shard) {
  const Settings& s = shard.settings();
  http::Http2Settings h2;
  h2.max_concurrent_streams = static_cast<uint32_t>(s.http2_max_concurrent_streams);
  h2.initial_window_size = static_cast<uint32_t>(s.http2_initial_window_size);
  h2.max_header_list_size = static_cast<uint32_t>(s.http2_max_header_list_size);
  // RFC 8441: WebSocket over HTTP/2, where the app can take one.
  h2.enable_connect_protocol = s.websocket && !shard.adapter().wants_body_first();
  return h2;
}

}  // namespace

// One stream: the request as the app sees it, and what the server keeps of
// it (the file being sent, how much body is owed back to the window).
struct Http2Streams::Entry {
  Entry(Shard& shard, StreamHost& host, int32_t stream_id, const http::RequestHead& request)
      : stream(shard, host), head(request) {
    stream.id = stream_id;
  }
  Stream stream;
  const http::RequestHead& head;  // the session's, valid until h2_stream_closed
  // Request body received and not yet given back to the stream's window.
  size_t unacknowledged = 0;
  double started_at = 0;          // for --timeout-request
  io::UniqueFd file;              // a file part being read into DATA
  int64_t file_offset = 0;
  int64_t file_left = 0;
  int status = 0;                 // the response's, for the access log
  py::Fields trailers;            // gathered across more_trailers
  enum class Phase { Open, Reset, Closed } phase = Phase::Open;
  // An RFC 8441 WebSocket on this stream (its host first: it outlives it).
  std::unique_ptr<WsBridge> ws_host;
  std::unique_ptr<WsStream> ws;
};

// The host of an RFC 8441 WebSocket: its frames are the stream's DATA, in
// both directions, and the stream's window opens as the WebSocket takes
// bytes (so --ws-max-queue holds the client back as over HTTP/1.1).
// "Closing the transport" ends the stream.
class Http2Streams::WsBridge final : public WsHost {
 public:
  WsBridge(Http2Streams& owner, Entry& entry) : owner_(owner), entry_(entry) {}

  // DATA for the WebSocket: kept until it takes it.
  void arrived(std::string_view data) {
    in_.append(data);
    feed();
  }
  void feed() {
    WsStream& ws = *entry_.ws;
    if (entry_.phase != Entry::Phase::Open || ws.ws_phase() != py::WsExchange::Phase::Open) return;
    size_t consumed = 0;
    if (in_pos_ < in_.size()) ws.receive(in_.data() + in_pos_, in_.size() - in_pos_, &consumed);
    in_pos_ += consumed;
    if (in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    }
    if (consumed > 0) owner_.session_.consume(entry_.stream.id, consumed);
    if (!out_.empty() || ws.transport_done()) ws_flush();
  }

  std::string& ws_output() override { return out_; }
  bool ws_flush() override {
    int32_t id = entry_.stream.id;
    if (entry_.phase != Entry::Phase::Open) return false;
    if (!out_.empty()) {
      owner_.session_.body(id, out_, true);
      out_.clear();
    }
    // The close handshake is over: the stream ends with the last frame.
    if (entry_.ws->transport_done()) end_stream();
    owner_.pump();
    return entry_.phase == Entry::Phase::Open;
  }
  size_t ws_output_buffered() const override {
    return owner_.session_.buffered(entry_.stream.id) + out_.size();
  }
  bool ws_output_full() const override {
    return ws_output_buffered() >= Connection::OUTPUT_HIGH_WATER;
  }
  const char* ws_http_start(int status) override {
    const char* mistake = owner_.session_.start_response(entry_.stream.id, status);
    if (!mistake) entry_.status = status;
    return mistake;
  }
  const char* ws_http_header(std::string_view name, std::string_view value) override {
    return owner_.session_.header(entry_.stream.id, name, value);
  }
  py::Exchange::Sent ws_http_body(std::string_view data, bool more, const char** error) override {
    return owner_.stream_send_body(entry_.stream, data, more, error);
  }
  http::ResponseWriter::State ws_http_state() const override {
    return owner_.session_.response_state(entry_.stream.id);
  }
  // RFC 8441 5: a 2xx accepts; then every DATA byte is the WebSocket's.
  void ws_switch(const ws::HandshakeResult&, const ws::Fields& fields) override {
    int32_t id = entry_.stream.id;
    http::Http2Session& session = owner_.session_;
    entry_.status = 200;
    const char* mistake = session.start_response(id, 200);
    for (const auto& [name, value] : fields)
      if (!mistake) mistake = session.header(id, name, value);
    if (!mistake) mistake = session.body(id, {}, true);
    if (mistake) {
      // accept_fields() checked them: this is the server's own fault.
      owner_.shard_.log_error(mistake);
      session.reset_stream(id, INTERNAL_ERROR);
      return;
    }
    if (owner_.shard_.access_log_enabled())
      owner_.shard_.log_access(entry_.ws->peer_for_log(owner_.carrier_.h2_peer()), entry_.head, 200, nullptr,
                               "websocket-h2", true);
    feed();
    owner_.pump();
  }
  void ws_input_resumed() override { feed(); }
  std::string_view ws_client() const override { return owner_.carrier_.h2_peer(); }
  void ws_http_finished(bool failed) override {
    if (!failed && ws_http_state() == http::ResponseWriter::State::Idle)
      owner_.shard_.log_error("ASGI callable returned without sending handshake.");
    owner_.stream_app_finished(entry_.stream, true, true);
  }
  void ws_close_transport() override {
    if (entry_.phase != Entry::Phase::Open) return;
    if (entry_.ws->transport_done()) {
      end_stream();
    } else {
      // The peer stopped answering (pings, the close handshake).
      entry_.phase = Entry::Phase::Reset;
      owner_.session_.reset_stream(entry_.stream.id, CANCEL);
    }
    owner_.pump();
  }

 private:
  void end_stream() {
    if (ended_) return;
    ended_ = true;
    owner_.session_.body(entry_.stream.id, {}, false);
  }

  Http2Streams& owner_;
  Entry& entry_;
  std::string out_;  // frames written by the WebSocket, not yet queued
  std::string in_;   // DATA received, not yet taken by the WebSocket
  size_t in_pos_ = 0;
  bool ended_ = false;  // END_STREAM queued
};

Http2Streams::Http2Streams(Shard& shard, Http2Carrier& carrier)
    : shard_(shard), carrier_(carrier), session_(session_settings(shard), shard.limits(), *this) {
  now_ = idle_since_ = last_ping_ = shard.now();
}

Http2Streams::~Http2Streams() { peer_left(); }

void Http2Streams::start() {
  session_.start();
  pump();
}

bool Http2Streams::start_upgraded(const http::RequestHead& head, std::string_view http2_settings) {
  if (!session_.start_upgraded(head, http2_settings)) return false;
  pump();
  return true;
}

Http2Streams::Entry* Http2Streams::find(int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

// A stream's entry, also once the session closed it (a worker thread may
// still be running its app: it gets Gone from then on).
Http2Streams::Entry& Http2Streams::entry_of(const Stream& s) const {
  auto it = streams_.find(s.id);
  if (it != streams_.end() && &it->second->stream == &s) return *it->second;
  for (const auto& e : closed_)
    if (&e->stream == &s) return *e;
  std::abort();  // a stream is in one of the two until it is freed
}

// ---- input ----------------------------------------------------------------

void Http2Streams::receive(std::string_view input) {
  // Apps that answer at once (inside their stream's start) only queue their
  // frames; they go out below, in one write for the whole batch rather than
  // a write (and a wake-up of the client) per stream.
  receiving_ = true;
  session_.receive(input);
  receiving_ = false;
  pump();
}

void Http2Streams::h2_request(int32_t id, const http::RequestHead& head, bool) {
  auto [it, fresh] = streams_.try_emplace(id, nullptr);
  if (!fresh) return;  // the session reports each stream once
  it->second = std::make_unique<Entry>(shard_, *this, id, head);
  Entry& e = *it->second;
  idle_since_ = 0;
  if (shard_.adapter().takes_websocket(head)) {
    start_websocket(e);
    return;
  }
  if (head.method == "CONNECT") {
    // A plain CONNECT (the session lets only extended ones through, and
    // only when offered) is not for an origin server.
    answer_error(e, 501);
    return;
  }
  e.stream.begin();
  try_start(e);
}

// RFC 8441: an extended CONNECT for the app's WebSocket. A handshake that
// is not valid is refused (400, 426); a valid one waits for the app.
void Http2Streams::start_websocket(Entry& e) {
  ws::HandshakeResult handshake =
      ws::check_handshake(e.head, WsStream::deflate_config(shard_.settings()));
  if (handshake.status != 0) {
    answer_error(e, handshake.status);
    return;
  }
  e.ws_host = std::make_unique<WsBridge>(*this, e);
  e.ws = std::make_unique<WsStream>(shard_, *e.ws_host, std::move(handshake));
  if (!e.ws->admit()) {
    answer_error(e, 503);
    return;
  }
  e.ws->start(e.head, carrier_.h2_info());
}

// Starts the app once the adapter allows it (WSGI on the shard thread waits
// for the whole body).
void Http2Streams::try_start(Entry& e) {
  if (e.phase != Entry::Phase::Open || e.stream.app_state() != Stream::AppState::Waiting) return;
  if (!shard_.adapter().may_start(e.head, e.stream.body_complete())) return;
  if (!e.stream.admit()) {
    answer_error(e, 503);
    return;
  }
  e.started_at = now_;
  // Bytes that arrived before the app ran were given back already; from
  // now on the app's reading opens the window.
  e.stream.start(e.head, carrier_.h2_info());
}

void Http2Streams::h2_body(int32_t id, std::string_view data) {
  Entry* e = find(id);
  if (!e) return;
  if (e->ws) {
    if (e->phase == Entry::Phase::Open) e->ws_host->arrived(data);
    return;
  }
  e->unacknowledged += data.size();
  if (!e->stream.wants_body()) {
    give_back_unread(*e);  // nobody will read it: drop it, keep the client going
    return;
  }
  std::string error;
  if (!e->stream.add_body(data, &error)) {
    shard_.log_error("Could not keep the request body: " + error, &e->head, carrier_.h2_peer());
    answer_error(*e, 503);
    return;
  }
  // An app that has not started (it wants the body whole first) cannot take
  // bytes back, so the window opens as they arrive; the spool keeps them
  // (memory, then a temporary file). A running app opens it by reading.
  if (!e->stream.app_active()) give_back_unread(*e);
  e->stream.notify_body();
}

void Http2Streams::h2_body_end(int32_t id) {
  Entry* e = find(id);
  if (!e) return;
  if (e->ws) {
    // The client ended its side: for a WebSocket, as a TCP end of file.
    if (!e->ws->transport_done()) e->ws->peer_left();
    return;
  }
  e->stream.body_ended();
  e->stream.notify_body();
  try_start(*e);
}

// Opens the stream's window by what nobody holds unread any more: what a
// running app has taken; everything, when no running app will take bytes
// back by reading (one that waits for the whole body before it starts, one
// that has finished).
void Http2Streams::give_back_unread(Entry& e) {
  size_t owed = e.unacknowledged;
  if (e.stream.app_active() && e.stream.wants_body())
    owed -= std::min(owed, e.stream.body_buffered());
  if (owed == 0) return;
  e.unacknowledged -= owed;
  session_.consume(e.stream.id, owed);
}

void Http2Streams::stream_body_taken(Stream& s) {
  Entry& e = entry_of(s);
  if (e.phase != Entry::Phase::Open) return;
  give_back_unread(e);
  pump();
}

void Http2Streams::h2_stream_reset(int32_t id, uint32_t) {
  Entry* e = find(id);
  if (!e || e->phase != Entry::Phase::Open) return;
  e->phase = Entry::Phase::Reset;
  e->file.reset();
  // The app's receive() says http.disconnect (websocket.disconnect); a
  // paused WSGI call ends.
  if (e->ws) e->ws->peer_left();
  else e->stream.peer_left();
}

void Http2Streams::h2_stream_closed(int32_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  std::unique_ptr<Entry> e = std::move(it->second);
  streams_.erase(it);
  if (e->phase == Entry::Phase::Open) {
    if (e->ws) e->ws->peer_left();
    else if (e->stream.app_state() != Stream::AppState::None &&
             e->stream.app_state() != Stream::AppState::Finished)
      e->stream.peer_left();
  }
  e->phase = Entry::Phase::Closed;
  e->file.reset();
  e->stream.end();  // the head goes with the session's stream
  closed_.push_back(std::move(e));
  if (streams_.empty()) idle_since_ = now_;
}

// ---- output -------------------------------------------------------------------

void Http2Streams::pump() {
  // Re-entered from a callback (an app resumed by h2_output_drained writes
  // again): the outer loop produces what it queued. Inside receive(): at
  // its end.
  if (pumping_ || receiving_) return;
  pumping_ = true;
  std::string& out = carrier_.h2_output();
  for (;;) {
    size_t buffered = carrier_.h2_output_buffered();
    if (buffered >= Connection::OUTPUT_HIGH_WATER) break;
    size_t before = out.size();
    session_.produce(out, Connection::OUTPUT_HIGH_WATER - buffered);
    if (out.size() == before) break;
    if (!carrier_.h2_flush()) {
      pumping_ = false;
      return;  // closed
    }
  }
  pumping_ = false;
  http::Http2Session::State state = session_.state();
  bool over = state == http::Http2Session::State::Finished ||
              state == http::Http2Session::State::Failed ||
              (state == http::Http2Session::State::Draining && session_.open_streams() == 0);
  if (over && carrier_.h2_output_buffered() == 0 && !session_.wants_output()) carrier_.h2_close();
}

void Http2Streams::h2_output_drained(int32_t id) {
  Entry* e = find(id);
  if (!e || e->phase != Entry::Phase::Open) return;
  if (e->file) send_file_part(*e);
  if (session_.buffered(id) >= Connection::OUTPUT_HIGH_WATER) return;
  if (e->ws) {
    e->ws->notify_output();
    return;
  }
  if (e->stream.paused()) e->stream.resume();
  else e->stream.notify_output();
}

const char* Http2Streams::stream_start_response(Stream& s, int status) {
  if (entry_of(s).phase != Entry::Phase::Open) return nullptr;  // nobody listens; send says Gone
  const char* mistake = session_.start_response(s.id, status);
  if (!mistake) entry_of(s).status = status;
  return mistake;
}

const char* Http2Streams::stream_add_header(Stream& s, std::string_view name,
                                            std::string_view value) {
  if (entry_of(s).phase != Entry::Phase::Open) return nullptr;
  return session_.header(s.id, name, value);
}

py::Exchange::Sent Http2Streams::stream_send_body(Stream& s, std::string_view data, bool more,
                                                  const char** error) {
  Entry& e = entry_of(s);
  if (e.phase != Entry::Phase::Open) return py::Exchange::Sent::Gone;
  if (const char* mistake = session_.body(s.id, data, more)) {
    *error = mistake;
    return py::Exchange::Sent::Done;
  }
  if (!more) response_sent(e, 0);
  pump();
  if (e.phase != Entry::Phase::Open) return py::Exchange::Sent::Gone;
  s.wait_while_output_full(Connection::OUTPUT_HIGH_WATER);
  if (e.phase != Entry::Phase::Open) return py::Exchange::Sent::Gone;
  if (session_.buffered(s.id) >= Connection::OUTPUT_HIGH_WATER) return py::Exchange::Sent::Blocked;
  return py::Exchange::Sent::Done;
}

// The file's bytes become DATA as the stream drains; the response is
// complete for the app at once, as over HTTP/1.1.
py::Exchange::Sent Http2Streams::stream_send_file(Stream& s, io::UniqueFd file, long long offset,
                                                  long long count, const char** error) {
  Entry& e = entry_of(s);
  if (e.phase != Entry::Phase::Open) return py::Exchange::Sent::Gone;
  e.file = std::move(file);
  e.file_offset = offset;
  e.file_left = count;
  // The first part starts the response (and checks the app's framing).
  if (const char* mistake = session_.body(s.id, {}, count > 0)) {
    e.file.reset();
    *error = mistake;
    return py::Exchange::Sent::Done;
  }
  response_sent(e, 0);
  if (count > 0) send_file_part(e);
  else e.file.reset();
  pump();
  return e.phase == Entry::Phase::Open ? py::Exchange::Sent::Done : py::Exchange::Sent::Gone;
}

void Http2Streams::send_file_part(Entry& e) {
  char buffer[FILE_READ_SIZE];
  while (e.file_left > 0 && session_.buffered(e.stream.id) < Connection::OUTPUT_HIGH_WATER) {
    size_t want = static_cast<size_t>(std::min<int64_t>(e.file_left, FILE_READ_SIZE));
    ssize_t n = ::pread(e.file.get(), buffer, want, e.file_offset);
    if (n <= 0) {
      // The file shrank or cannot be read: the promised length cannot be
      // kept, so the stream ends in a reset rather than short.
      if (n < 0 && errno == EINTR) continue;
      e.file.reset();
      e.file_left = 0;
      session_.reset_stream(e.stream.id, INTERNAL_ERROR);
      return;
    }
    e.file_offset += n;
    e.file_left -= n;
    session_.body(e.stream.id, std::string_view(buffer, static_cast<size_t>(n)), e.file_left > 0);
  }
  if (e.file_left == 0) e.file.reset();
}

size_t Http2Streams::stream_output_buffered(const Stream& s) const {
  if (entry_of(s).phase != Entry::Phase::Open) return 0;
  return session_.buffered(s.id);
}

http::ResponseWriter::State Http2Streams::stream_response_state(const Stream& s) const {
  // A stream reset or closed takes nothing more: as if its response were whole.
  if (entry_of(s).phase != Entry::Phase::Open) return http::ResponseWriter::State::Complete;
  return session_.response_state(s.id);
}

void Http2Streams::stream_expect_trailers(Stream& s) {
  if (entry_of(s).phase == Entry::Phase::Open) session_.expect_trailers(s.id);
}

const char* Http2Streams::stream_send_trailers(Stream& s, const py::Fields& fields, bool more) {
  if (entry_of(s).phase != Entry::Phase::Open) return nullptr;
  Entry& e = entry_of(s);
  e.trailers.insert(e.trailers.end(), fields.begin(), fields.end());
  if (more) return nullptr;
  const char* mistake = session_.trailers(s.id, e.trailers);
  e.trailers.clear();
  pump();
  return mistake;
}

const char* Http2Streams::stream_send_early_hints(Stream& s, const py::Fields& fields) {
  if (entry_of(s).phase != Entry::Phase::Open) return nullptr;
  const char* mistake = session_.early_hints(s.id, fields);
  pump();
  return mistake;
}

// The app is done with its stream: an answer it never began is the
// server's 500; one it began and did not finish can only be reset.
void Http2Streams::stream_app_finished(Stream& s, bool failed, bool) {
  Entry& e = entry_of(s);
  if (e.phase == Entry::Phase::Open) {
    using State = http::ResponseWriter::State;
    State state = session_.response_state(s.id);
    if (state == State::Idle || state == State::Started) {
      if (!failed)
        shard_.log_error(state == State::Idle
                             ? "ASGI callable returned without starting response."
                             : "ASGI callable returned without completing response.",
                         &e.head, carrier_.h2_peer());
      answer_error(e, 500);
    } else if (state != State::Complete && !e.file) {
      if (!failed)
        shard_.log_error("ASGI callable returned without completing response.", &e.head,
                         carrier_.h2_peer());
      session_.reset_stream(s.id, INTERNAL_ERROR);
    }
    // A body still arriving is read by nobody now.
    give_back_unread(e);
  }
  pump();
}

void Http2Streams::answer_error(Entry& e, int status) {
  if (session_.write_error(e.stream.id, status)) {
    response_sent(e, status);
    if (metrics::ShardBlock* m = shard_.meter()) metrics::count_rejection(*m, status);
  } else {
    session_.reset_stream(e.stream.id, INTERNAL_ERROR);
  }
  if (e.stream.app_state() == Stream::AppState::Waiting) e.stream.end();
  pump();
}

// A stream's response went out: the access log and the metrics hear of it
// (`status` 0: the app's, as it started it).
void Http2Streams::response_sent(Entry& e, int status) {
  if (metrics::ShardBlock* m = shard_.meter())
    metrics::count_response(*m, e.head.method, status == 0 ? e.status : status,
                            e.stream.take_duration_ns());
  log_access(e, status);
}

void Http2Streams::log_access(const Entry& e, int status) {
  if (!shard_.access_log_enabled()) return;
  const AccessTally* tally = status == 0 ? &e.stream.tally : nullptr;
  if (status == 0) status = e.status;
  std::string_view peer = e.ws ? e.ws->peer_for_log(carrier_.h2_peer())
                                : e.stream.peer_for_log(carrier_.h2_peer());
  shard_.log_access(peer, e.head, status, tally,
                    carrier_.h2_info().secure ? "h2" : "h2c");
}

// ---- the connection's life --------------------------------------------------------

// Calls `fn` for every open stream. What `fn` does may close streams (an
// answer goes out, the session reports the stream closed), so it walks a
// copy of the ids.
template <typename Fn>
void Http2Streams::for_each_open(Fn fn) {
  std::vector<int32_t> ids;
  ids.reserve(streams_.size());
  for (const auto& [id, e] : streams_)
    if (e->phase == Entry::Phase::Open) ids.push_back(id);
  for (int32_t id : ids)
    if (Entry* e = find(id); e && e->phase == Entry::Phase::Open) fn(*e);
}

void Http2Streams::collect() {
  std::erase_if(closed_, [](const std::unique_ptr<Entry>& e) { return !e->stream.busy(); });
}

bool Http2Streams::busy() const {
  for (const auto& [id, e] : streams_)
    if (e->stream.busy()) return true;
  for (const auto& e : closed_)
    if (e->stream.busy()) return true;
  return false;
}

bool Http2Streams::idle() const { return streams_.empty(); }

void Http2Streams::on_tick(double now) {
  now_ = now;
  const Settings& s = shard_.settings();
  collect();
  if (s.timeout_request > 0) {
    for_each_open([&](Entry& e) {
      if (!e.stream.app_active() || now - e.started_at <= s.timeout_request) return;
      shard_.log_error("Request took longer than --timeout-request", &e.head, carrier_.h2_peer());
      e.stream.cancel();
      answer_error(e, 504);
    });
  }
  for_each_open([now](Entry& e) {
    if (e.ws) e.ws->on_tick(now);
  });
  if (s.http2_keep_alive_interval > 0 && now - last_ping_ >= s.http2_keep_alive_interval) {
    // The PING before this one is still unanswered after a whole interval.
    if (session_.ping_outstanding()) {
      carrier_.h2_close();
      return;
    }
    last_ping_ = now;
    session_.ping();
  }
  if (idle_since_ > 0 && streams_.empty() && now - idle_since_ > s.timeout_keep_alive) {
    session_.shutdown();  // GOAWAY, then close once it is out
    idle_since_ = 0;
  }
  pump();
}

void Http2Streams::drain() {
  uint16_t code = shard_.going_away_code();
  for_each_open([code](Entry& e) {
    if (e.ws) e.ws->going_away(code);
  });
  session_.shutdown();
  pump();
}

void Http2Streams::peer_left() {
  for_each_open([](Entry& e) {
    e.phase = Entry::Phase::Reset;
    e.file.reset();
    if (e.ws) e.ws->peer_left();
    else e.stream.peer_left();
  });
}

void Http2Streams::cancel_all() {
  for (auto& [id, e] : streams_) {
    if (e->ws) e->ws->cancel();
    else e->stream.cancel();
  }
}

}  // namespace subcorn::server
