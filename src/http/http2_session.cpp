// Http2Session on nghttp2 (see http2_session.h for the rules). nghttp2 does
// the frame layer, HPACK, stream states, flow-control accounting and most of
// RFC 9113's checks of a request head (its "HTTP messaging": pseudo-headers,
// connection-specific fields, lowercase names, content-length against DATA,
// :protocol only with SETTINGS_ENABLE_CONNECT_PROTOCOL). This file adds what
// makes it a server of subcorn's: the RequestHead, the limits, the response
// rules shared with HTTP/1.1 (app_response_head.h), the response queues, and
// the flood mitigations nghttp2 leaves to its user.
//
// Mitigations (each ends as the header says):
// - Rapid reset (CVE-2023-44487): nghttp2's stream reset rate limit (token
//   bucket, RESET_BURST then RESET_RATE a second). Over it, nghttp2 sends
//   GOAWAY and takes no new stream; the streams already reset are gone, so
//   the connection then finishes.
// - CONTINUATION flood (CVE-2024-27316): nghttp2 refuses a header block of
//   more than MAX_CONTINUATIONS CONTINUATION frames (a fatal error from
//   mem_recv2: we write GOAWAY ENHANCE_YOUR_CALM ourselves). Each frame is
//   decoded as it arrives, nothing is buffered.
// - HPACK bomb: nghttp2 does not enforce our SETTINGS_MAX_HEADER_LIST_SIZE on
//   what it receives, so on_header counts every field (name + value + 32,
//   RFC 9113 6.5.2) and stops keeping the head once over the limit: 431 on
//   that stream. An indexed field costs nghttp2 a reference, not a copy, so
//   decoding stays proportional to the bytes sent.
// - SETTINGS / PING floods (CVE-2019-9512, -9515): nghttp2 keeps at most
//   MAX_OUTBOUND_ACK unsent ACKs (more: fatal NGHTTP2_ERR_FLOODED, GOAWAY
//   ENHANCE_YOUR_CALM from us) and refuses a SETTINGS frame of more than
//   MAX_SETTINGS entries (its own GOAWAY ENHANCE_YOUR_CALM).
// - Empty DATA frames (CVE-2019-9518), PRIORITY and unknown frames, headers
//   nghttp2 ignores, streams refused over the limit: nghttp2 counts these
//   "glitches" in a token bucket (GLITCH_BURST, then GLITCH_RATE a second,
//   tighter than its defaults of 10000 and 330); over it: GOAWAY
//   ENHANCE_YOUR_CALM.
// - Streams above SETTINGS_MAX_CONCURRENT_STREAMS: before the client has
//   acknowledged our SETTINGS (it may not know the limit yet) each extra
//   stream is refused (RST_STREAM REFUSED_STREAM, a glitch: a client that
//   never acknowledges and keeps trying runs out of glitches); once it has,
//   an extra stream is a connection error (GOAWAY PROTOCOL_ERROR).
// - Request bodies: manual flow control (no_auto_window_update), so a
//   client can never have more than the initial window in flight on a
//   stream whose app has not taken its body.
#include "http/http2_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cstring>
#include <new>
#include <unordered_map>

#include "http/app_response_head.h"
#include "http/http2_frame_heads.h"
#include "http/response.h"
#include "http/tokens.h"

namespace subcorn::http {
namespace {

constexpr uint64_t RESET_BURST = 1000;  // nghttp2's default, named here
constexpr uint64_t RESET_RATE = 33;     // a second
constexpr uint64_t GLITCH_BURST = 1000;
constexpr uint64_t GLITCH_RATE = 100;   // a second
constexpr size_t MAX_CONTINUATIONS = 8; // a header block of 9 frames, 144 KiB at the default frame size
constexpr size_t MAX_SETTINGS = 32;
constexpr size_t MAX_OUTBOUND_ACK = 1000;
constexpr uint64_t CONNECTION_WINDOW_CAP = 16 * 1024 * 1024;
// RFC 9113 6.5.2: a field's size in the header list is name + value + 32.
constexpr size_t FIELD_OVERHEAD = 32;

// The opaque data of our PINGs: a keep-alive, and the round trip between the
// shutdown notice and the final GOAWAY.
constexpr uint8_t KEEPALIVE_PING[8] = {'k', 'e', 'e', 'p', 'a', 'l', 'i', 'v'};
constexpr uint8_t SHUTDOWN_PING[8] = {'s', 'h', 'u', 't', 'd', 'o', 'w', 'n'};

constexpr const char* NO_TRAILERS_ANNOUNCED = "Response trailers sent without being announced.";
constexpr const char* TRAILERS_BEFORE_END = "Response trailers sent before the response body ended.";
constexpr const char* HINTS_AFTER_START = "Early hints sent after the response started.";

// Fields HTTP/2 forbids (RFC 9113 8.2.2): the connection's, not a message's.
bool connection_specific(std::string_view name) {
  return iequals(name, "connection") || iequals(name, "keep-alive") ||
         iequals(name, "proxy-connection") || iequals(name, "transfer-encoding") ||
         iequals(name, "upgrade") || iequals(name, "te");
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

nghttp2_nv make_nv(std::string_view name, std::string_view value) {
  // nghttp2 copies names and values when it takes the list (no NO_COPY flag).
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

// base64url (RFC 4648 5) without padding, as HTTP2-Settings carries it
// (RFC 7540 3.2.1); false on any other character.
bool decode_base64url(std::string_view in, std::string& out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);  // tolerated
  if (in.size() % 4 == 1) return false;
  uint32_t bits = 0;
  int count = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) return false;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return true;
}

// A SETTINGS payload nghttp2 would take without a connection error
// (RFC 9113 6.5.2's ranges), so that a bad HTTP2-Settings is refused before
// anything is queued.
bool valid_settings_payload(std::string_view payload) {
  if (payload.size() % 6 != 0) return false;
  for (size_t at = 0; at < payload.size(); at += 6) {
    auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(payload[at + i])); };
    uint32_t id = (byte(0) << 8) | byte(1);
    uint32_t value = (byte(2) << 24) | (byte(3) << 16) | (byte(4) << 8) | byte(5);
    switch (id) {
      case NGHTTP2_SETTINGS_ENABLE_PUSH:
      case NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL:
        if (value > 1) return false;
        break;
      case NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE:
        if (value > INT32_MAX) return false;
        break;
      case NGHTTP2_SETTINGS_MAX_FRAME_SIZE:
        if (value < 16384 || value > 16777215) return false;
        break;
      default:
        break;
    }
  }
  return true;
}

std::string_view as_view(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

}  // namespace

// A few stream ids remembered, the oldest forgotten first.
class RecentIds {
 public:
  void add(int32_t id) {
    ids_[next_] = id;
    next_ = (next_ + 1) % ids_.size();
  }
  bool contains(int32_t id) const { return std::find(ids_.begin(), ids_.end(), id) != ids_.end(); }

 private:
  std::array<int32_t, 32> ids_{};
  size_t next_ = 0;
};

struct Http2Session::Impl {
  // Where a stream is, as far as the handler is concerned.
  enum class Phase {
    Receiving,  // its head is coming in; the handler does not know it
    Refused,    // the session answered or reset it itself; never reported
    Reported,   // the handler has it (h2_request)
    Reset,      // reported, then reset (by the client, the session or the
                // handler): nothing of the app's goes out any more
  };
  // How the response body ends on the wire.
  enum class BodyEnd { Open, Ended, Short };

  struct Stream {
    int32_t id = 0;
    Phase phase = Phase::Receiving;
    // --- the request ---
    struct Span {
      uint32_t name_at, name_len, value_at, value_len;
    };
    std::string head_text;     // names and values, back to back
    std::vector<Span> fields;  // as received, pseudo-headers included
    Span joined_cookie{};      // see join_cookies()
    size_t list_size = 0;      // RFC 9113 6.5.2 measure
    size_t head_bytes = 0;     // names and values, against max_head_bytes
    size_t regular_fields = 0;
    int refusal = 0;           // the session's own answer (431, 501...), 0 for none
    RequestHead head;
    bool head_request = false;  // HEAD: the response carries no DATA
    bool request_ended = false;
    int64_t body_received = 0;
    size_t unconsumed = 0;  // h2_body bytes the handler has not consume()d
    // --- the response ---
    ResponseWriter::State state = ResponseWriter::State::Idle;
    AppResponseHead app;
    std::vector<std::pair<std::string, std::string>> fields_out;  // names lowercased
    std::string queue;   // body bytes not framed yet, from queue_at
    size_t queue_at = 0;
    int64_t body_given = 0;
    BodyEnd body_end = BodyEnd::Open;
    bool trailers_expected = false;
    bool trailers_given = false;
    std::vector<std::pair<std::string, std::string>> trailer_fields;
    bool deferred = false;  // nghttp2 waits for resume_data
    bool drained = false;   // framed some of its queue in this produce()

    size_t queued() const { return queue.size() - queue_at; }
    bool carries_body() const { return !head_request && status_has_body(app.status()); }
  };

  Http2Settings settings;
  Limits limits;
  Http2Handler& handler;
  nghttp2_session* session = nullptr;
  std::unordered_map<int32_t, Stream> streams;
  DateCache dates;
  bool started = false;
  bool draining = false;        // shutdown() was called
  bool ping_outstanding = false;
  // A connection error: GOAWAY with this code is queued or sent.
  uint32_t failure = NGHTTP2_NO_ERROR;
  bool failed = false;
  // nghttp2 returned a fatal error: the session may not be used again; we
  // write the GOAWAY ourselves (own_goaway) and finish.
  bool fatal = false;
  bool own_goaway_written = false;
  bool streams_ended = false;   // every stream was reported closed at the end
  std::vector<int32_t> drained_ids;
  // The last client streams that closed, and those the server reset itself
  // (RST_STREAM sent): what a frame on a stream nghttp2 has forgotten means
  // (on_begin_frame).
  RecentIds closed_ids;
  RecentIds reset_by_us;
  Http2FrameHeads frame_heads;

  Impl(const Http2Settings& s, const Limits& l, Http2Handler& h) : settings(s), limits(l), handler(h) {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, on_frame_send);
    nghttp2_session_callbacks_set_send_data_callback(callbacks, send_data);
    nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, on_begin_frame);

    nghttp2_option* option = nullptr;
    nghttp2_option_new(&option);
    nghttp2_option_set_no_auto_window_update(option, 1);
    nghttp2_option_set_stream_reset_rate_limit(option, RESET_BURST, RESET_RATE);
    nghttp2_option_set_glitch_rate_limit(option, GLITCH_BURST, GLITCH_RATE);
    nghttp2_option_set_max_continuations(option, MAX_CONTINUATIONS);
    nghttp2_option_set_max_settings(option, MAX_SETTINGS);
    nghttp2_option_set_max_outbound_ack(option, MAX_OUTBOUND_ACK);

    int rv = nghttp2_session_server_new2(&session, callbacks, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
    if (rv != 0) throw std::bad_alloc();  // its only failure: out of memory
  }

  ~Impl() { nghttp2_session_del(session); }

  Stream* find(int32_t id) {
    auto it = streams.find(id);
    return it == streams.end() ? nullptr : &it->second;
  }
  const Stream* find(int32_t id) const {
    auto it = streams.find(id);
    return it == streams.end() ? nullptr : &it->second;
  }

  static Impl& self(void* user_data) { return *static_cast<Impl*>(user_data); }

  // --- the connection's start ---

  void submit_settings() {
    nghttp2_settings_entry entries[4];
    size_t n = 0;
    entries[n++] = {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings.max_concurrent_streams};
    entries[n++] = {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
                    std::min<uint32_t>(settings.initial_window_size, INT32_MAX)};
    entries[n++] = {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, settings.max_header_list_size};
    if (settings.enable_connect_protocol) entries[n++] = {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1};
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, entries, n);
    // The connection's window: every stream's initial window at once, but
    // at most CONNECTION_WINDOW_CAP (or one stream's window, if larger):
    // 100 streams x 1 MiB would let one client park 100 MiB of bodies its
    // apps have not read. Never below HTTP/2's initial 65535.
    uint64_t window = uint64_t{settings.initial_window_size} * settings.max_concurrent_streams;
    window = std::min<uint64_t>(window, std::max<uint64_t>(CONNECTION_WINDOW_CAP, settings.initial_window_size));
    window = std::clamp<uint64_t>(window, 65535, INT32_MAX);
    nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, static_cast<int32_t>(window));
    started = true;
  }

  // --- the request head ---

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Impl& s = self(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    Stream& stream = s.streams[frame->hd.stream_id];
    stream.id = frame->hd.stream_id;
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
    Impl& s = self(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      return 0;  // request trailers: not kept (ASGI and WSGI have none)
    }
    Stream* stream = s.find(frame->hd.stream_id);
    if (!stream || stream->phase != Phase::Receiving) return 0;
    s.take_field(*stream, as_view(name, namelen), as_view(value, valuelen));
    return 0;
  }

  void take_field(Stream& stream, std::string_view name, std::string_view value) {
    stream.list_size += name.size() + value.size() + FIELD_OVERHEAD;
    stream.head_bytes += name.size() + value.size();
    bool pseudo = !name.empty() && name.front() == ':';
    if (!pseudo) {
      ++stream.regular_fields;
      if (name.size() + value.size() > limits.max_field_bytes) stream.refusal = 431;
    }
    if (stream.list_size > settings.max_header_list_size || stream.head_bytes > limits.max_head_bytes ||
        stream.regular_fields > limits.max_headers) {
      stream.refusal = 431;
    }
    // Once refused, nothing more is kept: a bomb costs counting, not memory.
    if (stream.refusal != 0) return;
    Stream::Span span;
    span.name_at = static_cast<uint32_t>(stream.head_text.size());
    span.name_len = static_cast<uint32_t>(name.size());
    stream.head_text.append(name);
    span.value_at = static_cast<uint32_t>(stream.head_text.size());
    span.value_len = static_cast<uint32_t>(value.size());
    stream.head_text.append(value);
    stream.fields.push_back(span);
  }

  // HTTP/2 sends each cookie as its own field; apps read one Cookie
  // header, as HTTP/1.1 has it, so they are joined with "; " (RFC 9113
  // 8.2.3). The joined value goes at the end of the stream's text, before
  // any view into it is taken; null when there are fewer than two.
  const Stream::Span* join_cookies(Stream& stream) {
    size_t count = 0;
    for (const Stream::Span& span : stream.fields) {
      count += std::string_view(stream.head_text.data() + span.name_at, span.name_len) == "cookie";
    }
    if (count < 2) return nullptr;
    std::string joined;
    for (const Stream::Span& span : stream.fields) {
      if (std::string_view(stream.head_text.data() + span.name_at, span.name_len) != "cookie") continue;
      if (!joined.empty()) joined.append("; ");
      joined.append(stream.head_text, span.value_at, span.value_len);
    }
    Stream::Span span{0, 0, static_cast<uint32_t>(stream.head_text.size()), static_cast<uint32_t>(joined.size())};
    stream.head_text.append(joined);
    stream.joined_cookie = span;
    return &stream.joined_cookie;
  }

  // The head is whole: RequestHead views into the stream's own text. Returns
  // the status the session answers with itself (0: report the request), or
  // -1 for a malformed head (reset).
  int build_head(Stream& stream) {
    if (stream.refusal != 0) return stream.refusal;
    RequestHead& head = stream.head;
    head.version_major = 2;
    head.version_minor = 0;
    head.keep_alive = true;
    const Stream::Span* joined_cookie = join_cookies(stream);
    bool cookie_placed = false;
    std::string_view host;
    bool has_host = false;
    for (const Stream::Span& field : stream.fields) {
      const Stream::Span* span = &field;
      std::string_view name(stream.head_text.data() + span->name_at, span->name_len);
      if (joined_cookie && name == "cookie") {
        // One cookie entry, where the first was, holding them all.
        if (cookie_placed) continue;
        cookie_placed = true;
        span = joined_cookie;
      }
      std::string_view value(stream.head_text.data() + span->value_at, span->value_len);
      if (name == ":method") {
        head.method = value;
      } else if (name == ":path") {
        head.target = head.path = value;
      } else if (name == ":authority") {
        head.authority = value;
      } else if (name == ":protocol") {
        head.protocol = value;
      } else if (!name.empty() && name.front() == ':') {
        continue;  // :scheme: the server knows its own
      } else {
        if (name == "host") {
          has_host = true;
          host = value;
        } else if (name == "content-length") {
          head.content_length = parse_content_length(value);
        }
        head.headers.push_back(Header{name, value});
      }
    }
    if (head.method == "CONNECT" && head.protocol.empty()) return 501;  // not a proxy, as over HTTP/1.1
    if (has_host && !head.authority.empty() && host != head.authority) return -1;  // RFC 9113 8.3.1
    if (head.authority.empty()) head.authority = host;
    // Apps read Host (WSGI's HTTP_HOST, Django): one entry, as HTTP/1.1 has.
    if (!has_host && !head.authority.empty()) head.headers.push_back(Header{"host", head.authority});
    if (limits.max_body_bytes >= 0 && head.content_length > limits.max_body_bytes) return 413;
    stream.head_request = head.method == "HEAD";
    return 0;
  }

  void head_complete(Stream& stream, bool end_stream) {
    int answer = build_head(stream);
    if (answer < 0) {
      stream.phase = Phase::Refused;
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream.id, NGHTTP2_PROTOCOL_ERROR);
      return;
    }
    if (answer > 0) {
      stream.phase = Phase::Refused;
      submit_error(stream, answer);
      return;
    }
    stream.phase = Phase::Reported;
    handler.h2_request(stream.id, stream.head, end_stream);
    if (end_stream) report_body_end(stream.id);
  }

  void report_body_end(int32_t id) {
    Stream* stream = find(id);  // the handler may have reset it meanwhile
    if (stream && stream->phase == Phase::Reported) handler.h2_body_end(id);
  }

  // nghttp2 takes `input`; false once it failed for good.
  bool take(std::string_view input) {
    if (fatal) return false;
    nghttp2_ssize n =
        nghttp2_session_mem_recv2(session, reinterpret_cast<const uint8_t*>(input.data()), input.size());
    if (n >= 0) return true;
    switch (n) {
      case NGHTTP2_ERR_FLOODED:
      case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
        fail_fatally(NGHTTP2_ENHANCE_YOUR_CALM);
        break;
      case NGHTTP2_ERR_BAD_CLIENT_MAGIC:
        fail_fatally(NGHTTP2_PROTOCOL_ERROR);
        break;
      default:
        fail_fatally(NGHTTP2_INTERNAL_ERROR);
        break;
    }
    end_streams();
    return false;
  }

  // The frames nghttp2 drops before any callback sees them (see
  // http2_frame_heads.h): DATA, and PRIORITY.
  static bool judged_here(const Http2FrameHead& head) {
    return head.type == NGHTTP2_DATA || head.type == NGHTTP2_PRIORITY;
  }

  // RFC 9113 5.1: DATA on a closed stream is a STREAM_CLOSED error, unless
  // the server reset that stream itself (what was in flight is ignored,
  // 5.4.2). 5.3.1: a stream that depends on itself is a PROTOCOL_ERROR.
  void judge(const Http2FrameHead& head) {
    const int32_t id = head.stream_id;
    if (head.type == NGHTTP2_PRIORITY) {
      // A stream error, but the stream is mostly idle (nghttp2 sends no
      // RST_STREAM for an idle stream), so the connection ends: only a
      // broken client does this.
      if (id != 0 && head.depends_on == id) nghttp2_session_terminate_session(session, NGHTTP2_PROTOCOL_ERROR);
      return;
    }
    if (id <= 0 || id % 2 == 0 || id > nghttp2_session_get_last_proc_stream_id(session)) return;
    nghttp2_stream* stream = nghttp2_session_find_stream(session, id);
    if (stream && nghttp2_stream_get_state(stream) != NGHTTP2_STREAM_STATE_CLOSED) return;
    if (reset_by_us.contains(id)) return;
    nghttp2_session_terminate_session(session, NGHTTP2_STREAM_CLOSED);
  }

  // --- frames in ---

  // HEADERS nghttp2 no longer judges. It keeps no closed streams (it
  // dropped RFC 7540's priority tree), so it quietly ignores HEADERS on a
  // stream that is over. RFC 9113 says: HEADERS on a closed stream is a
  // STREAM_CLOSED connection error (5.1), a new stream id below one already
  // used a PROTOCOL_ERROR (5.1.1), as is a PRIORITY frame on stream 0 (6.3);
  // frames still in flight on a stream the server reset are ignored (5.4.2).
  // (DATA and PRIORITY payloads are judged in receive(): nghttp2 drops those
  // before this callback.)
  static int on_begin_frame(nghttp2_session* session, const nghttp2_frame_hd* hd, void* user_data) {
    Impl& s = self(user_data);
    const int32_t id = hd->stream_id;
    if (hd->type == NGHTTP2_PRIORITY && id == 0) {
      nghttp2_session_terminate_session(session, NGHTTP2_PROTOCOL_ERROR);
      return 0;
    }
    if (hd->type != NGHTTP2_HEADERS) return 0;
    if (id <= 0 || id % 2 == 0 || id > nghttp2_session_get_last_proc_stream_id(session)) return 0;
    // nghttp2 may still hold a stream it has closed; a live one is its to judge.
    nghttp2_stream* stream = nghttp2_session_find_stream(session, id);
    if (stream && nghttp2_stream_get_state(stream) != NGHTTP2_STREAM_STATE_CLOSED) return 0;
    if (s.reset_by_us.contains(id)) return 0;
    bool used = s.closed_ids.contains(id);
    nghttp2_session_terminate_session(session, used ? NGHTTP2_STREAM_CLOSED : NGHTTP2_PROTOCOL_ERROR);
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Impl& s = self(user_data);
    const int32_t id = frame->hd.stream_id;
    const bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        Stream* stream = s.find(id);
        if (!stream) break;
        if (end_stream) stream->request_ended = true;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
          s.head_complete(*stream, end_stream);
        } else if (end_stream) {
          s.report_body_end(id);  // trailers end the body
        }
        break;
      }
      case NGHTTP2_DATA:
        if (Stream* stream = s.find(id); stream && end_stream) {
          stream->request_ended = true;
          s.report_body_end(id);
        }
        break;
      case NGHTTP2_RST_STREAM:
        if (Stream* stream = s.find(id); stream && stream->phase == Phase::Reported) {
          stream->phase = Phase::Reset;
          s.handler.h2_stream_reset(id, frame->rst_stream.error_code);
        }
        break;
      case NGHTTP2_PING:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK) s.ping_acked(frame->ping.opaque_data);
        break;
      default:
        break;
    }
    return 0;
  }

  void ping_acked(const uint8_t* opaque) {
    if (std::memcmp(opaque, KEEPALIVE_PING, 8) == 0) {
      ping_outstanding = false;
    } else if (std::memcmp(opaque, SHUTDOWN_PING, 8) == 0) {
      // A round trip after the shutdown notice: every stream the client
      // opened before it saw the notice has reached us. Now the real one.
      nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session),
                            NGHTTP2_NO_ERROR, nullptr, 0);
    }
  }

  static int on_data_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                           void* user_data) {
    Impl& s = self(user_data);
    Stream* stream = s.find(id);
    if (!stream || stream->phase != Phase::Reported) {
      // Nobody will take these bytes: give the window back at once.
      nghttp2_session_consume(s.session, id, len);
      return 0;
    }
    stream->body_received += static_cast<int64_t>(len);
    if (s.limits.max_body_bytes >= 0 && stream->body_received > s.limits.max_body_bytes) {
      nghttp2_session_consume(s.session, id, len);
      s.body_too_large(*stream);
      return 0;
    }
    stream->unconsumed += len;
    s.handler.h2_body(id, as_view(data, len));
    return 0;
  }

  // Limits::max_body_bytes: 413 while the app's response has not begun
  // (the app is told its stream was reset), else a reset.
  void body_too_large(Stream& stream) {
    stream.phase = Phase::Reset;
    if (stream.state == ResponseWriter::State::Idle || stream.state == ResponseWriter::State::Started) {
      submit_error(stream, 413);
      handler.h2_stream_reset(stream.id, NGHTTP2_NO_ERROR);
    } else {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream.id, NGHTTP2_CANCEL);
      handler.h2_stream_reset(stream.id, NGHTTP2_CANCEL);
    }
  }

  static int on_stream_close(nghttp2_session*, int32_t id, uint32_t error_code, void* user_data) {
    Impl& s = self(user_data);
    s.close_stream(id, error_code);
    return 0;
  }

  void close_stream(int32_t id, uint32_t error_code) {
    closed_ids.add(id);
    Stream* stream = find(id);
    if (!stream) return;
    // What the handler did not take goes back to the connection's window
    // (nghttp2 returns the stream's own with the stream).
    if (stream->unconsumed > 0 && !fatal) nghttp2_session_consume_connection(session, stream->unconsumed);
    stream->unconsumed = 0;
    if (stream->phase == Phase::Reported && error_code != NGHTTP2_NO_ERROR) {
      stream->phase = Phase::Reset;
      handler.h2_stream_reset(id, error_code);
    }
    if (stream->phase == Phase::Reported || stream->phase == Phase::Reset) handler.h2_stream_closed(id);
    streams.erase(id);
  }

  // --- frames out ---

  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Impl& s = self(user_data);
    if (frame->hd.type == NGHTTP2_RST_STREAM) s.reset_by_us.add(frame->hd.stream_id);
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR) {
      s.failed = true;
      s.failure = frame->goaway.error_code;
    }
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      Stream* stream = s.find(frame->hd.stream_id);
      // The response is whole while the request still comes: ask the client
      // to stop sending without an error (RFC 9113 8.1).
      if (stream && !stream->request_ended) {
        nghttp2_submit_rst_stream(s.session, NGHTTP2_FLAG_NONE, stream->id, NGHTTP2_NO_ERROR);
      }
    }
    return 0;
  }

  // The body's bytes for one DATA frame, read straight from the stream's
  // queue into produce()'s output (NO_COPY: send_data appends them).
  static nghttp2_ssize read_body(nghttp2_session*, int32_t id, uint8_t*, size_t length, uint32_t* flags,
                                 nghttp2_data_source*, void* user_data) {
    Impl& s = self(user_data);
    Stream* stream = s.find(id);
    if (!stream) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    const size_t available = stream->queued();
    const size_t n = std::min(length, available);
    const bool all_of_it = stream->body_end != BodyEnd::Open && n == available;
    // Shorter than its Content-Length: the client must not take it for
    // whole. The bytes go, then RST_STREAM (INTERNAL_ERROR) instead of
    // END_STREAM.
    if (all_of_it && stream->body_end == BodyEnd::Short && n == 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    const bool waits_for_trailers = stream->trailers_expected && !stream->trailers_given;
    if (!all_of_it || stream->body_end == BodyEnd::Short || waits_for_trailers) {
      if (n == 0) {
        stream->deferred = true;  // body() or trailers() resumes it
        return NGHTTP2_ERR_DEFERRED;
      }
      *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
      return static_cast<nghttp2_ssize>(n);
    }
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (stream->trailers_expected) {
      // The trailers' HEADERS carry END_STREAM (an empty last DATA is not sent).
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      s.submit_trailers(*stream);
    }
    if (n > 0) *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    return static_cast<nghttp2_ssize>(n);
  }

  static int send_data(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd, size_t length,
                       nghttp2_data_source*, void* user_data) {
    Impl& s = self(user_data);
    Stream* stream = s.find(frame->hd.stream_id);
    if (!stream || !s.out || stream->queued() < length) return NGHTTP2_ERR_CALLBACK_FAILURE;
    s.out->append(reinterpret_cast<const char*>(framehd), 9);
    s.out->append(stream->queue, stream->queue_at, length);
    stream->queue_at += length;
    // Framed bytes leave the queue once they are half of it, so a stream
    // that is never quite drained (a long stream, an app that keeps a little
    // ahead) does not grow its queue for ever; the move is amortised.
    if (stream->queue_at == stream->queue.size()) {
      stream->queue.clear();
      stream->queue_at = 0;
    } else if (stream->queue_at >= stream->queue.size() / 2) {
      stream->queue.erase(0, stream->queue_at);
      stream->queue_at = 0;
    }
    if (!stream->drained) {
      stream->drained = true;
      s.drained_ids.push_back(stream->id);
    }
    // nghttp2 goes on to the next frame within the same mem_send2() call
    // after a NO_COPY one: pausing is how produce() keeps to its budget.
    return s.out->size() - s.out_start >= s.out_budget ? NGHTTP2_ERR_PAUSE : 0;
  }

  std::string* out = nullptr;  // produce()'s output while it runs
  size_t out_start = 0;
  size_t out_budget = 0;

  // --- responses ---

  void submit_trailers(Stream& stream) {
    std::vector<nghttp2_nv> nva;
    for (const auto& [name, value] : stream.trailer_fields) nva.push_back(make_nv(name, value));
    nghttp2_submit_trailer(session, stream.id, nva.data(), nva.size());
    stream.trailer_fields.clear();
  }

  // Sends the HEADERS of the response taken so far, with a body to follow
  // from the queue unless none can.
  void submit_head(Stream& stream, int64_t whole_length) {
    char status[4] = {};
    std::to_chars(status, status + 3, stream.app.status());
    std::string length;
    std::vector<nghttp2_nv> nva;
    nva.reserve(stream.fields_out.size() + 4);
    nva.push_back(make_nv(":status", std::string_view(status, 3)));
    for (const auto& [name, value] : stream.fields_out) nva.push_back(make_nv(name, value));
    // A whole body known at once gets its length, as over HTTP/1.1 (also
    // for HEAD: the head a GET would get). 204 and 304 never do.
    if (stream.app.content_length() < 0 && whole_length >= 0 && status_has_body(stream.app.status())) {
      length = std::to_string(whole_length);
      nva.push_back(make_nv("content-length", length));
    }
    uint64_t app_set = 0;
    for (const auto& field : stream.fields_out) app_set |= settings.defaults->bit_of(field.first);
    settings.defaults->for_each(dates.now(), app_set, [&nva](std::string_view name, std::string_view value) {
      nva.push_back(make_nv(name, value));
    });
    stream.state = ResponseWriter::State::Streaming;
    // No DATA ever for HEAD, 204, 304; and none for an empty whole body
    // without trailers to wait for.
    bool headers_only = !stream.carries_body() ||
                        (stream.body_end != BodyEnd::Open && stream.queued() == 0 &&
                         !stream.trailers_expected && stream.body_end != BodyEnd::Short);
    nghttp2_data_provider2 provider;
    provider.source.ptr = nullptr;
    provider.read_callback = read_body;
    nghttp2_submit_response2(session, stream.id, nva.data(), nva.size(), headers_only ? nullptr : &provider);
    stream.fields_out.clear();  // nghttp2 copied them
  }

  // The server's own answer (413, 431, 500...): a short text/plain body.
  void submit_error(Stream& stream, int status) {
    status = error_status(status);
    std::string_view text = reason_phrase(status);
    stream.app.reset();
    stream.fields_out.clear();
    stream.app.start(status);
    bool forward = false;
    stream.app.take("content-type", "text/plain; charset=utf-8", &forward);
    stream.fields_out.emplace_back("content-type", "text/plain; charset=utf-8");
    stream.trailers_expected = false;
    stream.queue.clear();
    stream.queue_at = 0;
    if (stream.carries_body()) stream.queue.assign(text);
    stream.body_end = BodyEnd::Ended;
    submit_head(stream, static_cast<int64_t>(text.size()));
    stream.state = ResponseWriter::State::Complete;
  }

  void resume(Stream& stream) {
    if (stream.deferred) {
      stream.deferred = false;
      nghttp2_session_resume_data(session, stream.id);
    }
  }

  // The app may still talk to a stream it was told is gone: what it says
  // goes nowhere, as writes to a client that left do over HTTP/1.1.
  Stream* app_stream(int32_t id) {
    Stream* stream = find(id);
    return stream && stream->phase == Phase::Reported ? stream : nullptr;
  }

  const char* body(int32_t id, std::string_view data, bool more) {
    Stream* stream = app_stream(id);
    if (!stream) return nullptr;
    using State = ResponseWriter::State;
    if (stream->state == State::Idle) return app_mistake::NOT_STARTED;
    if (stream->state == State::Complete || stream->body_end != BodyEnd::Open) return app_mistake::ALREADY_COMPLETE;
    const int64_t size = static_cast<int64_t>(data.size());
    // 204 and 304 frame nothing, so no length to overrun (as ResponseWriter).
    if (status_has_body(stream->app.status())) {
      if (const char* mistake = stream->app.too_long(stream->body_given, size)) return mistake;
    }
    const bool first = stream->state == State::Started;
    stream->body_given += size;
    if (stream->carries_body()) stream->queue.append(data);
    if (!more) {
      int64_t declared = stream->app.content_length();
      bool short_body = stream->carries_body() && declared >= 0 && stream->body_given < declared;
      stream->body_end = short_body ? BodyEnd::Short : BodyEnd::Ended;
    }
    if (first) {
      submit_head(*stream, more ? -1 : size);
    } else {
      resume(*stream);
    }
    // Trailers, when announced, complete it; HEAD, 204 and 304 have none.
    if (!more && (!stream->trailers_expected || !stream->carries_body())) stream->state = State::Complete;
    return nullptr;
  }

  // Checks and lowercases fields for trailers or 103, without the ones
  // HTTP/2 forbids.
  const char* take_fields(const std::vector<std::pair<std::string, std::string>>& in,
                          std::vector<std::pair<std::string, std::string>>& out) {
    out.clear();
    for (const auto& [name, value] : in) {
      if (!valid_header_name(name)) return app_mistake::BAD_NAME;
      if (!valid_header_value(value)) return app_mistake::BAD_VALUE;
      if (connection_specific(name)) continue;
      out.emplace_back(lowercase(name), std::string(trim_ows(value)));
    }
    return nullptr;
  }

  // --- output ---

  void produce(std::string& output, size_t budget) {
    if (fatal) {
      if (!own_goaway_written) {
        write_own_goaway(output);
        own_goaway_written = true;
      }
      end_streams();
      return;
    }
    const size_t start = output.size();
    out = &output;
    out_start = start;
    out_budget = budget;
    for (;;) {
      while (output.size() - start < budget) {
        const uint8_t* data = nullptr;
        nghttp2_ssize n = nghttp2_session_mem_send2(session, &data);
        if (n < 0) {
          fail_fatally(NGHTTP2_INTERNAL_ERROR);
          out = nullptr;
          write_own_goaway(output);
          own_goaway_written = true;
          end_streams();
          return;
        }
        if (n == 0) break;
        output.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
      }
      if (drained_ids.empty()) break;
      // The handler may queue more from here; loop while there is budget.
      std::vector<int32_t> ids;
      ids.swap(drained_ids);
      for (int32_t id : ids) {
        if (Stream* stream = find(id)) {
          stream->drained = false;
          if (stream->phase == Phase::Reported) handler.h2_output_drained(id);
        }
      }
      if (output.size() - start >= budget) break;
    }
    out = nullptr;
    if (finished()) end_streams();
  }

  // GOAWAY (RFC 9113 6.8) for when nghttp2 can no longer write one.
  void write_own_goaway(std::string& output) {
    uint32_t last = static_cast<uint32_t>(nghttp2_session_get_last_proc_stream_id(session));
    const uint8_t frame[17] = {0, 0, 8, NGHTTP2_GOAWAY, 0, 0, 0, 0, 0,
                               static_cast<uint8_t>((last >> 24) & 0x7f), static_cast<uint8_t>(last >> 16),
                               static_cast<uint8_t>(last >> 8), static_cast<uint8_t>(last),
                               static_cast<uint8_t>(failure >> 24), static_cast<uint8_t>(failure >> 16),
                               static_cast<uint8_t>(failure >> 8), static_cast<uint8_t>(failure)};
    output.append(reinterpret_cast<const char*>(frame), sizeof frame);
  }

  void fail_fatally(uint32_t code) {
    fatal = true;
    failed = true;
    failure = code;
  }

  bool finished() const {
    if (fatal) return own_goaway_written;
    return started && nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0;
  }

  // The connection ends: every stream still reported learns it.
  void end_streams() {
    if (streams_ended) return;
    streams_ended = true;
    std::vector<int32_t> ids;
    for (const auto& [id, stream] : streams) ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    for (int32_t id : ids) close_stream(id, failed ? failure : uint32_t{NGHTTP2_CANCEL});
  }
};

Http2Session::Http2Session(const Http2Settings& settings, const Limits& limits, Http2Handler& handler)
    : impl_(std::make_unique<Impl>(settings, limits, handler)) {}

Http2Session::~Http2Session() {
  // The streams still open end with the connection (Http2Handler's promise:
  // h2_stream_closed for every reported stream).
  impl_->end_streams();
}

void Http2Session::start() {
  if (!impl_->started) impl_->submit_settings();
}

bool Http2Session::start_upgraded(const RequestHead& head, std::string_view http2_settings) {
  Impl& s = *impl_;
  if (s.started) return false;
  std::string payload;
  if (!decode_base64url(trim_ows(http2_settings), payload) || !valid_settings_payload(payload)) return false;
  const bool head_request = head.method == "HEAD";
  if (nghttp2_session_upgrade2(s.session, reinterpret_cast<const uint8_t*>(payload.data()), payload.size(),
                               head_request, nullptr) != 0) {
    return false;
  }
  s.submit_settings();
  // Stream 1 is the HTTP/1.1 request, without the fields of its connection.
  Impl::Stream& stream = s.streams[1];
  stream.id = 1;
  stream.request_ended = true;
  auto add = [&stream, &s](std::string_view name, std::string_view value) { s.take_field(stream, name, value); };
  add(":method", head.method);
  add(":path", head.target);
  if (!head.authority.empty()) add(":authority", head.authority);
  for (const Header& h : head.headers) {
    if (connection_specific(h.name) || h.name == "http2-settings") continue;
    add(h.name, h.value);
  }
  s.head_complete(stream, true);
  return true;
}

bool Http2Session::receive(std::string_view input) {
  Impl& s = *impl_;
  if (s.fatal) return false;
  // nghttp2 is fed up to the last byte of each frame head the session must
  // judge itself (Http2FrameHeads), so that it has acted on every frame
  // before that one, and not yet on that one.
  size_t fed = 0;
  bool ok = true;
  s.frame_heads.feed(input, [&](const Http2FrameHead& head, size_t end) {
    if (!ok || !s.judged_here(head)) return;
    ok = s.take(input.substr(fed, end - 1 - fed));
    fed = end - 1;
    if (ok) s.judge(head);
  });
  if (ok) ok = s.take(input.substr(fed));
  return ok && !s.failed;
}

void Http2Session::produce(std::string& out, size_t budget) { impl_->produce(out, budget); }

bool Http2Session::wants_output() const {
  const Impl& s = *impl_;
  if (s.fatal) return !s.own_goaway_written;
  return nghttp2_session_want_write(s.session) != 0;
}

Http2Session::State Http2Session::state() const noexcept {
  const Impl& s = *impl_;
  if (s.finished()) return State::Finished;
  if (s.failed) return State::Failed;
  if (s.draining) return State::Draining;
  return State::Open;
}

size_t Http2Session::open_streams() const { return impl_->streams.size(); }

const char* Http2Session::start_response(int32_t id, int status) {
  Impl::Stream* stream = impl_->app_stream(id);
  if (!stream) return nullptr;
  if (stream->state != ResponseWriter::State::Idle) return app_mistake::ALREADY_STARTED;
  if (const char* mistake = stream->app.start(status)) return mistake;
  stream->state = ResponseWriter::State::Started;
  return nullptr;
}

const char* Http2Session::header(int32_t id, std::string_view name, std::string_view value) {
  Impl::Stream* stream = impl_->app_stream(id);
  if (!stream) return nullptr;
  if (stream->state == ResponseWriter::State::Idle) return app_mistake::NOT_STARTED;
  if (stream->state != ResponseWriter::State::Started) return app_mistake::HEAD_ALREADY_SENT;
  bool forward = false;
  if (const char* mistake = stream->app.take(name, value, &forward)) {
    // As ResponseWriter does: a refused header forgets the response taken so far.
    stream->app.reset();
    stream->fields_out.clear();
    stream->state = ResponseWriter::State::Idle;
    return mistake;
  }
  if (forward && !connection_specific(name)) {
    stream->fields_out.emplace_back(lowercase(name), std::string(trim_ows(value)));
  }
  return nullptr;
}

void Http2Session::expect_trailers(int32_t id) {
  if (Impl::Stream* stream = impl_->app_stream(id); stream && stream->state != ResponseWriter::State::Complete) {
    stream->trailers_expected = true;
  }
}

const char* Http2Session::body(int32_t id, std::string_view data, bool more) {
  return impl_->body(id, data, more);
}

const char* Http2Session::trailers(int32_t id, const std::vector<std::pair<std::string, std::string>>& fields) {
  Impl& s = *impl_;
  Impl::Stream* stream = s.app_stream(id);
  if (!stream) return nullptr;
  if (stream->state == ResponseWriter::State::Idle) return app_mistake::NOT_STARTED;
  if (stream->state == ResponseWriter::State::Complete) {
    // HEAD, 204 and 304 end with their HEADERS: trailers have nothing to follow.
    return stream->trailers_expected && !stream->carries_body() ? nullptr : app_mistake::ALREADY_COMPLETE;
  }
  if (!stream->trailers_expected) return NO_TRAILERS_ANNOUNCED;
  if (stream->body_end == Impl::BodyEnd::Open) return TRAILERS_BEFORE_END;
  if (const char* mistake = s.take_fields(fields, stream->trailer_fields)) return mistake;
  stream->trailers_given = true;
  stream->state = ResponseWriter::State::Complete;
  s.resume(*stream);
  return nullptr;
}

const char* Http2Session::early_hints(int32_t id,
                                      const std::vector<std::pair<std::string, std::string>>& fields) {
  Impl& s = *impl_;
  Impl::Stream* stream = s.app_stream(id);
  if (!stream) return nullptr;
  if (stream->state != ResponseWriter::State::Idle && stream->state != ResponseWriter::State::Started) {
    return HINTS_AFTER_START;
  }
  std::vector<std::pair<std::string, std::string>> taken;
  if (const char* mistake = s.take_fields(fields, taken)) return mistake;
  std::vector<nghttp2_nv> nva;
  nva.push_back(make_nv(":status", "103"));
  for (const auto& [name, value] : taken) nva.push_back(make_nv(name, value));
  nghttp2_submit_headers(s.session, NGHTTP2_FLAG_NONE, id, nullptr, nva.data(), nva.size(), nullptr);
  return nullptr;
}

size_t Http2Session::buffered(int32_t id) const {
  const Impl::Stream* stream = impl_->find(id);
  return stream ? stream->queued() : 0;
}

ResponseWriter::State Http2Session::response_state(int32_t id) const {
  const Impl::Stream* stream = impl_->find(id);
  return stream ? stream->state : ResponseWriter::State::Idle;
}

bool Http2Session::write_error(int32_t id, int status) {
  Impl& s = *impl_;
  Impl::Stream* stream = s.app_stream(id);
  if (!stream) return false;
  if (stream->state != ResponseWriter::State::Idle && stream->state != ResponseWriter::State::Started) {
    return false;
  }
  s.submit_error(*stream, status);
  return true;
}

void Http2Session::reset_stream(int32_t id, uint32_t error_code) {
  Impl& s = *impl_;
  Impl::Stream* stream = s.find(id);
  if (!stream || s.fatal) return;
  if (stream->phase == Impl::Phase::Reported) stream->phase = Impl::Phase::Reset;  // the handler knows
  nghttp2_submit_rst_stream(s.session, NGHTTP2_FLAG_NONE, id, error_code);
}

void Http2Session::consume(int32_t id, size_t n) {
  Impl& s = *impl_;
  Impl::Stream* stream = s.find(id);
  // A closed stream's bytes went back to the connection when it closed.
  if (!stream || s.fatal) return;
  n = std::min(n, stream->unconsumed);
  if (n == 0) return;
  stream->unconsumed -= n;
  nghttp2_session_consume(s.session, id, n);
}

void Http2Session::shutdown() {
  Impl& s = *impl_;
  if (s.draining || s.fatal || !s.started) return;
  s.draining = true;
  // Two steps (RFC 9113 6.8): a GOAWAY naming the highest stream id, so the
  // client opens no new stream, then a PING; its ACK says every stream sent
  // before the notice has arrived, and the real GOAWAY names the last one.
  nghttp2_submit_shutdown_notice(s.session);
  nghttp2_submit_ping(s.session, NGHTTP2_FLAG_NONE, SHUTDOWN_PING);
}

void Http2Session::ping() {
  Impl& s = *impl_;
  if (s.fatal || !s.started) return;
  nghttp2_submit_ping(s.session, NGHTTP2_FLAG_NONE, KEEPALIVE_PING);
  s.ping_outstanding = true;
}

bool Http2Session::ping_outstanding() const noexcept { return impl_->ping_outstanding; }

}  // namespace subcorn::http
