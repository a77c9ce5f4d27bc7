// RequestParser over llhttp. How the pieces fit:
//
// - llhttp runs strict (no lenient flags). Its callbacks copy the head into
//   parser-owned storage and, when they have an event for the caller, return
//   HPE_PAUSED; llhttp_get_error_pos() then says exactly how many bytes that
//   event used, and llhttp_resume() lets the next call carry on from there.
//   This is what leaves the bytes of a pipelined request unconsumed.
// - A pause with no event is internal (the trailer section starts there);
//   next() notes the position and keeps going within the same call.
// - Sizes of the head and trailer sections are counted in raw bytes,
//   whitespace and CRLFs included, so no head or trailer section can make the
//   parser buffer or skip more than max_head_bytes.
// - llhttp's strict mode still accepts a few things we refuse (control bytes
//   in the target and in field values, an "RTSP/1.0" version, transfer codings
//   other than chunked); those checks live in the callbacks below.
#include "http/request_parser.h"

#include <llhttp.h>

#include <algorithm>
#include <cstdint>

#include "http/tokens.h"

namespace subcorn::http {
namespace {

// Nothing is reserved up front: an idle connection (and one that never sends
// a byte) should cost as little as possible. The buffers grow with the first
// heads a connection sends and are kept for the ones after.

// Which part of a message the parser is in; Head also covers the bytes
// before a request line (llhttp skips empty lines there).
enum class Section { Head, Body, Trailers };

// A header field as offsets: the storage may grow (and move) while the head
// is still arriving, so views are made only once it is complete.
struct Field {
  size_t name_off, name_len, value_off, value_len;
};

// Control bytes other than HTAB (RFC 9110 field-value and request-target
// allow neither; llhttp lets NUL, 0x01.. and DEL through).
constexpr bool is_ctl(char ch) {
  auto c = static_cast<unsigned char>(ch);
  return (c < 0x20 && c != '\t') || c == 0x7f;
}

// True when every coding in a Transfer-Encoding list is "chunked". llhttp
// has already checked that chunked is last and appears once.
bool only_chunked(std::string_view list) {
  return !any_list_element(list, [](std::string_view coding) { return !iequals(coding, "chunked"); });
}

}  // namespace

struct RequestParser::Impl {
  llhttp_t parser;
  Limits limits;
  RequestHead head;

  // Two buffers so that head() stays valid while the next request's head is
  // arriving: one holds the head last delivered, the other fills.
  std::string storage[2];
  int filling = 1;
  std::vector<Field> fields;
  size_t target_len = 0;
  size_t name_off = 0, name_len = 0, value_off = 0;
  bool in_name = false, in_value = false;
  char protocol[8] = {};
  size_t protocol_len = 0;

  Section section = Section::Head;
  // Raw length of the current head/trailer section = section_base + offset
  // into this call's input (negative when the section began inside it).
  int64_t section_base = 0;
  size_t section_fields = 0;
  int64_t body_declared = 0;  // sum of chunk sizes seen, for max_body_bytes
  size_t extension_bytes = 0;  // chunk extensions seen in this message

  // What llhttp knows only inside on_headers_complete, held for deliver().
  struct HeadInfo {
    const char* method = "";
    int version_minor = 1;
    bool keep_alive = true, chunked = false, expect_continue = false, upgrade = false;
    int64_t content_length = -1;
  } info;

  const char* input = nullptr;  // this call's input, for raw offsets
  bool has_event = false;
  Event event;
  bool in_message = false;
  bool dead = false;

  explicit Impl(const Limits& l) : limits(l) {
    llhttp_init(&parser, HTTP_REQUEST, &settings());
    parser.data = this;
  }

  static Impl& of(llhttp_t* p) { return *static_cast<Impl*>(p->data); }
  std::string& buf() { return storage[filling]; }

  // Ends parsing with a protocol error; llhttp stops on the non-zero return.
  int fail(int status, const char* reason) {
    has_event = true;
    event = Event{EventType::Error, {}, status, reason};
    return HPE_USER;
  }

  int emit(EventType type, std::string_view body = {}) {
    has_event = true;
    event = Event{type, body, 0, {}};
    return HPE_PAUSED;
  }

  bool section_too_long(const char* at) const {
    auto max = static_cast<int64_t>(std::min<uint64_t>(limits.max_head_bytes, INT64_MAX));
    return section_base + (at - input) > max;
  }

  // A span of the head: check the raw size before copying anything.
  int head_span(const char* at, size_t len) {
    if (section_too_long(at + len)) return fail(431, "request head too large");
    return 0;
  }

  Event die(Event e) {
    dead = true;
    in_message = false;
    event = e;
    return e;
  }

  // --- llhttp callbacks ---

  static int on_message_begin(llhttp_t* p) {
    Impl& s = of(p);
    s.filling = 1 - s.filling;
    s.buf().clear();
    s.fields.clear();
    s.target_len = 0;
    s.in_name = s.in_value = false;
    s.protocol_len = 0;
    s.section_fields = 0;
    s.body_declared = 0;
    s.extension_bytes = 0;
    return 0;
  }

  static int on_url(llhttp_t* p, const char* at, size_t len) {
    Impl& s = of(p);
    if (int rc = s.head_span(at, len)) return rc;
    if (std::any_of(at, at + len, is_ctl)) return s.fail(400, "control character in request target");
    s.buf().append(at, len);
    s.target_len += len;
    return 0;
  }

  static int on_protocol(llhttp_t* p, const char* at, size_t len) {
    Impl& s = of(p);
    for (size_t i = 0; i < len && s.protocol_len < sizeof s.protocol; ++i) s.protocol[s.protocol_len++] = at[i];
    return 0;
  }

  static int on_protocol_complete(llhttp_t* p) {
    // llhttp also speaks RTSP (and ICE) in request mode.
    Impl& s = of(p);
    if (std::string_view(s.protocol, s.protocol_len) != "HTTP") return s.fail(400, "protocol is not HTTP");
    return 0;
  }

  static int on_header_field(llhttp_t* p, const char* at, size_t len) {
    Impl& s = of(p);
    if (int rc = s.head_span(at, len)) return rc;
    if (s.section == Section::Trailers) return 0;  // counted, not kept
    std::string& b = s.buf();
    if (!s.in_name) {
      s.in_name = true;
      s.name_off = b.size();
    }
    // Lowercase once, here, as ASGI and WSGI both want it.
    size_t old = b.size();
    b.append(at, len);
    for (size_t i = old; i < b.size(); ++i) b[i] = ascii_lower(b[i]);
    return 0;
  }

  static int on_header_field_complete(llhttp_t* p) {
    Impl& s = of(p);
    if (++s.section_fields > s.limits.max_headers) return s.fail(431, "too many header fields");
    if (s.section == Section::Trailers) return 0;
    s.in_name = false;
    s.name_len = s.buf().size() - s.name_off;
    return 0;
  }

  static int on_header_value(llhttp_t* p, const char* at, size_t len) {
    Impl& s = of(p);
    if (int rc = s.head_span(at, len)) return rc;
    if (std::any_of(at, at + len, is_ctl)) return s.fail(400, "control character in header value");
    if (s.section == Section::Trailers) return 0;
    std::string& b = s.buf();
    if (!s.in_value) {
      s.in_value = true;
      s.value_off = b.size();
    }
    b.append(at, len);
    return 0;
  }

  static int on_header_value_complete(llhttp_t* p) {
    Impl& s = of(p);
    if (s.section == Section::Trailers) return 0;
    size_t end = s.buf().size();
    size_t off = s.in_value ? s.value_off : end;  // an empty value may have no span
    s.in_value = false;
    // llhttp skips leading whitespace but keeps trailing whitespace.
    std::string_view b = s.buf();
    while (off < end && is_ows(b[off])) ++off;
    while (end > off && is_ows(b[end - 1])) --end;
    s.fields.push_back(Field{s.name_off, s.name_len, off, end - off});
    return 0;
  }

  static int on_headers_complete(llhttp_t* p) {
    Impl& s = of(p);
    if (p->http_major != 1) return s.fail(400, "unsupported HTTP version");
    std::string_view b = s.buf();
    bool expect_continue = false, other_coding = false;
    for (const Field& f : s.fields) {
      std::string_view name = b.substr(f.name_off, f.name_len), value = b.substr(f.value_off, f.value_len);
      if (name == "expect" && iequals(value, "100-continue")) expect_continue = true;
      if (name == "transfer-encoding" && !only_chunked(value)) other_coding = true;
    }
    if (p->flags & F_TRANSFER_ENCODING) {
      // llhttp would refuse these after this callback returns; refusing here
      // means no Head event is ever given for a request that then fails.
      if (!(p->flags & F_CHUNKED)) return s.fail(400, "transfer-encoding does not end in chunked");
      if (p->flags & F_CONTENT_LENGTH) return s.fail(400, "both content-length and transfer-encoding");
      // RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty.
      if (p->http_minor == 0) return s.fail(400, "transfer-encoding in HTTP/1.0");
      if (other_coding) return s.fail(501, "transfer coding not implemented");
    }
    bool has_length = (p->flags & F_CONTENT_LENGTH) != 0;
    if (has_length && s.limits.max_body_bytes >= 0 &&
        p->content_length > static_cast<uint64_t>(s.limits.max_body_bytes)) {
      return s.fail(413, "content-length above limit");
    }
    // Only the scalars are kept here: head() itself is rebuilt in deliver(),
    // after the last size check, so a request that fails never disturbs the
    // head of the one before it.
    HeadInfo& i = s.info;
    i.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
    i.version_minor = p->http_minor;
    i.keep_alive = llhttp_should_keep_alive(p) != 0;
    i.chunked = (p->flags & F_CHUNKED) != 0;
    // llhttp refuses values that overflow uint64; one above INT64_MAX can
    // only pass with no body limit, and is clamped rather than wrapped.
    i.content_length = has_length ? static_cast<int64_t>(std::min<uint64_t>(p->content_length, INT64_MAX)) : -1;
    i.expect_continue = expect_continue;
    i.upgrade = (p->flags & F_UPGRADE) && (p->flags & F_CONNECTION_UPGRADE);
    return s.emit(EventType::Head);
  }

  void build_head() {
    std::string_view b = buf();
    RequestHead& h = head;
    h.method = info.method;
    h.target = b.substr(0, target_len);
    h.version_major = 1;
    h.version_minor = info.version_minor;
    h.headers.clear();
    for (const Field& f : fields) h.headers.push_back({b.substr(f.name_off, f.name_len), b.substr(f.value_off, f.value_len)});
    h.keep_alive = info.keep_alive;
    h.chunked = info.chunked;
    h.content_length = info.content_length;
    h.expect_continue = info.expect_continue;
    h.upgrade = info.upgrade;
  }

  static int on_chunk_header(llhttp_t* p) {
    Impl& s = of(p);
    uint64_t size = p->content_length;
    if (size == 0) {
      // The last chunk: trailers follow. Pause without an event so that
      // next() learns where the trailer section starts.
      return HPE_PAUSED;
    }
    int64_t max = s.limits.max_body_bytes;
    if (max >= 0 && size > static_cast<uint64_t>(max - s.body_declared)) return s.fail(413, "chunked body above limit");
    s.body_declared += static_cast<int64_t>(size);
    return 0;
  }

  // Extensions are parsed (and validated) by llhttp but never used; bound
  // them anyway, or a client could send an endless chunk-size line.
  static int on_chunk_extension(llhttp_t* p, const char*, size_t len) {
    Impl& s = of(p);
    s.extension_bytes += len;
    if (s.extension_bytes > s.limits.max_head_bytes) return s.fail(400, "chunk extensions too long");
    return 0;
  }

  static int on_body(llhttp_t* p, const char* at, size_t len) {
    if (len == 0) return 0;
    return of(p).emit(EventType::Body, std::string_view(at, len));
  }

  static int on_message_complete(llhttp_t* p) { return of(p).emit(EventType::MessageComplete); }

  static const llhttp_settings_t& settings() {
    static const llhttp_settings_t s = [] {
      llhttp_settings_t s;
      llhttp_settings_init(&s);
      s.on_message_begin = on_message_begin;
      s.on_url = on_url;
      s.on_protocol = on_protocol;
      s.on_protocol_complete = on_protocol_complete;
      s.on_header_field = on_header_field;
      s.on_header_field_complete = on_header_field_complete;
      s.on_header_value = on_header_value;
      s.on_header_value_complete = on_header_value_complete;
      s.on_headers_complete = on_headers_complete;
      s.on_chunk_header = on_chunk_header;
      s.on_chunk_extension_name = on_chunk_extension;
      s.on_chunk_extension_value = on_chunk_extension;
      s.on_body = on_body;
      s.on_message_complete = on_message_complete;
      return s;
    }();
    return s;
  }

  // An event a callback paused for, `pos` bytes into the input.
  Event deliver(size_t pos, size_t* consumed) {
    *consumed = pos;
    switch (event.type) {
      case EventType::Head:
        if (section_too_long(input + pos)) return die({EventType::Error, {}, 431, "request head too large"});
        build_head();
        section = Section::Body;
        in_message = true;
        break;
      case EventType::MessageComplete:
        if (section == Section::Trailers && section_too_long(input + pos)) {
          return die({EventType::Error, {}, 431, "trailer section too large"});
        }
        // The next head starts exactly where the caller's next input starts.
        section = Section::Head;
        section_base = 0;
        in_message = false;
        break;
      default:
        break;
    }
    return event;
  }

  Event run(std::string_view in, size_t* consumed) {
    // llhttp treats a null pointer as "no open span"; never hand it one.
    static const char nothing = 0;
    input = in.empty() ? &nothing : in.data();
    size_t len = in.size();
    size_t off = 0;
    for (;;) {
      has_event = false;
      llhttp_errno_t err = llhttp_execute(&parser, input + off, len - off);
      if (err == HPE_OK) {
        *consumed = len;
        if (section != Section::Body) {
          if (section_too_long(input + len)) {
            return die({EventType::Error, {}, 431,
                        section == Section::Head ? "request head too large" : "trailer section too large"});
          }
          section_base += static_cast<int64_t>(len);
        }
        return Event{};
      }
      size_t pos = static_cast<size_t>(llhttp_get_error_pos(&parser) - input);
      if (err == HPE_PAUSED) {
        llhttp_resume(&parser);
        if (has_event) return deliver(pos, consumed);
        section = Section::Trailers;
        section_base = -static_cast<int64_t>(pos);
        section_fields = 0;
        off = pos;
        continue;
      }
      if (err == HPE_PAUSED_UPGRADE) {
        // The previous request asked for an upgrade. The server stops feeding
        // us if it switches protocols; if we are called, it did not, and
        // what follows is HTTP/1.1 again.
        llhttp_resume_after_upgrade(&parser);
        off = pos;
        continue;
      }
      *consumed = pos;
      if (has_event && event.type == EventType::Error) return die(event);
      if (err == HPE_PAUSED_H2_UPGRADE) return die({EventType::Error, {}, 400, "HTTP/2 connection preface"});
      const char* reason = llhttp_get_error_reason(&parser);
      return die({EventType::Error, {}, 400, reason ? reason : "malformed request"});
    }
  }
};

RequestParser::RequestParser(const Limits& limits) : impl_(std::make_unique<Impl>(limits)) {}

RequestParser::~RequestParser() = default;

Event RequestParser::next(std::string_view input, size_t* consumed) {
  *consumed = 0;
  if (impl_->dead) return impl_->event;
  return impl_->run(input, consumed);
}

const RequestHead& RequestParser::head() const noexcept { return impl_->head; }

bool RequestParser::in_message() const noexcept { return impl_->in_message; }

void RequestParser::reset() {
  Impl& s = *impl_;
  llhttp_reset(&s.parser);
  std::vector<Header> headers = std::move(s.head.headers);
  headers.clear();
  s.head = RequestHead{};
  s.head.headers = std::move(headers);
  s.section = Section::Head;
  s.section_base = 0;
  s.has_event = false;
  s.event = Event{};
  s.in_message = false;
  s.dead = false;
}

}  // namespace subcorn::http
