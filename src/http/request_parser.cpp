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
//   parser buffer or skip more than max_head_bytes. The request line is
//   measured the same way, from the first byte of its method (oversize());
//   a field by the bytes of its name and value, the spans llhttp gives.
// - llhttp's strict mode still accepts a few things we refuse (control bytes
//   in the target and in field values, an "RTSP/1.0" version, transfer codings
//   other than chunked, CONNECT and RTSP methods, a fragment or a '*' target
//   outside OPTIONS, a missing, repeated or invalid Host); those checks live in
//   the callbacks below, so a request that fails them never gives a Head.
#include "http/request_parser.h"

#include <llhttp.h>

#include <algorithm>
#include <cstdint>
#include <optional>

#include "http/request_target.h"

#include "http/tokens.h"

namespace subcorn::http {
namespace {

// Nothing is reserved up front: an idle connection (and one that never sends
// a byte) should cost as little as possible. The buffers grow with the first
// heads a connection sends and are kept for the ones after.

// Which part of a message the parser is in; Head also covers the bytes
// before a request line (llhttp skips empty lines there).
enum class Section { Head, Body, Trailers };

// What next() does with its input.
enum class Phase {
  Parsing,        // llhttp parses
  UnknownMethod,  // llhttp refused a method token; read to its end for the verdict
  Dead,           // an Error was given; it is given again until reset()
};

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

// The methods of HTTP itself that llhttp knows. Its request mode also takes
// RTSP's (DESCRIBE, SETUP...), which an HTTP server does not implement.
bool is_http_method(uint8_t method) {
  switch (method) {
#define SUBCORN_HTTP_METHOD(num, name, string) case HTTP_##name:
    HTTP_METHOD_MAP(SUBCORN_HTTP_METHOD)
#undef SUBCORN_HTTP_METHOD
    case HTTP_PRI:  // the HTTP/2 preface, refused (400) once its version is read
      return true;
    default:
      return false;
  }
}

// A limit as a section offset that cannot overflow when added to another.
int64_t offset_cap(size_t limit) { return static_cast<int64_t>(std::min<uint64_t>(limit, INT64_MAX / 4)); }

// What is being measured against a limit narrower than the section's: the
// request line as a stretch of the section (all its bytes lie between the
// method's first and the version's last), or a field as the bytes of its name
// and value (llhttp gives the colon and the whitespace before a value in no
// span, and a value may have none).
enum class Measuring { Nothing, RequestLine, Field };

struct Refusal {
  int status;
  const char* reason;
};

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

  // The request target's parts, from on_url_complete and (the authority of
  // an origin-form target) on_headers_complete, as offsets into storage.
  struct TargetParts {
    TargetForm form = TargetForm::Origin;
    size_t path_off = 0, path_len = 0;
    bool path_needs_slash = false;  // "http://h?q": the path is "/?q"
    size_t authority_off = 0, authority_len = 0;
  } target;

  Section section = Section::Head;
  // Raw length of the current head/trailer section = section_base + offset
  // into this call's input (negative when the section began inside it).
  int64_t section_base = 0;
  size_t section_fields = 0;
  Measuring measuring = Measuring::Nothing;
  int64_t line_start = 0;  // RequestLine: section offset of the method's first byte
  size_t field_bytes = 0;  // Field: of its name and value so far
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
  Phase phase = Phase::Parsing;
  size_t unknown_method_bytes = 0;  // UnknownMethod: of the token so far
  size_t head_before_method = 0;    // UnknownMethod: the empty lines before it

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

  int64_t section_offset(const char* at) const { return section_base + (at - input); }

  // The limit the section breaks once it reaches `end`, if any. When bytes
  // break two at once (a request line longer than its own limit and the
  // head's), the one they crossed first is named, as it would be had they
  // come one at a time: the verdict never depends on how the input was cut.
  std::optional<Refusal> oversize(const char* end) const {
    int64_t cap = offset_cap(limits.max_head_bytes);
    Refusal refusal{431, section == Section::Trailers ? "trailer section too large" : "request head too large"};
    if (measuring == Measuring::RequestLine) {
      int64_t line_cap = line_start + offset_cap(limits.max_request_line);
      if (line_cap < cap) {
        cap = line_cap;
        refusal = {414, "request line too long"};
      }
    }
    if (section_offset(end) <= cap) return std::nullopt;
    return refusal;
  }

  // After a span of the head or trailers: check sizes before copying anything.
  int check_size(const char* end) {
    if (auto r = oversize(end)) return fail(r->status, r->reason);
    return 0;
  }

  // After a span of a field's name or value (its section size checked first).
  int count_field_bytes(size_t len) {
    field_bytes += len;
    if (field_bytes > limits.max_field_bytes) return fail(431, "header field too large");
    return 0;
  }

  Event die(Event e) {
    phase = Phase::Dead;
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
    s.measuring = Measuring::Nothing;
    s.section_fields = 0;
    s.body_declared = 0;
    s.extension_bytes = 0;
    return 0;
  }

  static int on_method(llhttp_t* p, const char* at, size_t len) {
    Impl& s = of(p);
    if (s.measuring == Measuring::Nothing) {
      s.measuring = Measuring::RequestLine;
      s.line_start = s.section_offset(at);
    }
    return s.check_size(at + len);
  }

  static int on_method_complete(llhttp_t* p) {
    Impl& s = of(p);
    // CONNECT asks for a tunnel. Served as HTTP, its body (llhttp skips it)
    // and the tunnel's bytes would be parsed as requests of their own.
    if (p->method == HTTP_CONNECT) return s.fail(501, "CONNECT: this server is not a proxy");
    if (!is_http_method(p->method)) return s.fail(501, "method not implemented");
    return 0;
  }

  static int on_url(llhttp_t* p, const char* at, size_t len) {
    Impl& s = of(p);
    if (int rc = s.check_size(at + len)) return rc;
    if (std::any_of(at, at + len, is_ctl)) return s.fail(400, "control character in request target");
    s.buf().append(at, len);
    s.target_len += len;
    return 0;
  }

  static int on_url_complete(llhttp_t* p) {
    Impl& s = of(p);
    std::string_view raw = std::string_view(s.buf()).substr(0, s.target_len);
    std::optional<RequestTarget> t = parse_request_target(raw);
    if (!t) return s.fail(400, "invalid request target");
    if (t->form == TargetForm::Asterisk && p->method != HTTP_OPTIONS) {
      return s.fail(400, "asterisk-form target without OPTIONS");
    }
    if (t->form == TargetForm::Absolute && !iequals(t->scheme, "http") && !iequals(t->scheme, "https")) {
      return s.fail(400, "target scheme is not http or https");
    }
    TargetParts& parts = s.target;
    parts.form = t->form;
    parts.path_off = static_cast<size_t>(t->path.data() - raw.data());
    parts.path_len = t->path.size();
    parts.path_needs_slash = t->form == TargetForm::Absolute && !t->path.starts_with('/');
    parts.authority_off = static_cast<size_t>(t->authority.data() - raw.data());
    parts.authority_len = t->authority.size();
    return 0;
  }

  static int on_protocol(llhttp_t* p, const char* at, size_t len) {
    Impl& s = of(p);
    if (int rc = s.check_size(at + len)) return rc;
    for (size_t i = 0; i < len && s.protocol_len < sizeof s.protocol; ++i) s.protocol[s.protocol_len++] = at[i];
    return 0;
  }

  static int on_protocol_complete(llhttp_t* p) {
    // llhttp also speaks RTSP (and ICE) in request mode.
    Impl& s = of(p);
    if (std::string_view(s.protocol, s.protocol_len) != "HTTP") return s.fail(400, "protocol is not HTTP");
    return 0;
  }

  static int on_version(llhttp_t* p, const char* at, size_t len) { return of(p).check_size(at + len); }

  // The request line ends here (its CRLF is not part of it).
  static int on_version_complete(llhttp_t* p) {
    of(p).measuring = Measuring::Nothing;
    return 0;
  }

  static int on_header_field(llhttp_t* p, const char* at, size_t len) {
    Impl& s = of(p);
    if (s.measuring != Measuring::Field) {
      s.measuring = Measuring::Field;
      s.field_bytes = 0;
    }
    if (int rc = s.check_size(at + len)) return rc;
    if (int rc = s.count_field_bytes(len)) return rc;
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
    if (int rc = s.check_size(at + len)) return rc;
    if (int rc = s.count_field_bytes(len)) return rc;
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
    s.measuring = Measuring::Nothing;
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
    const Field* host = nullptr;
    for (const Field& f : s.fields) {
      std::string_view name = b.substr(f.name_off, f.name_len), value = b.substr(f.value_off, f.value_len);
      if (name == "expect" && iequals(value, "100-continue")) expect_continue = true;
      if (name == "transfer-encoding" && !only_chunked(value)) other_coding = true;
      if (name == "host") {
        if (host) return s.fail(400, "more than one host field");
        host = &f;
      }
    }
    if (int rc = s.check_host(p, host)) return rc;
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

  // RFC 9112 3.2: an HTTP/1.1 request has a Host field, any request at most
  // one, and a valid one. Then 3.2.2: an absolute-form target's authority
  // stands in for it (an empty Host is what a client sends for a target with
  // no authority, so it is accepted only there).
  int check_host(llhttp_t* p, const Field* host) {
    if (!host && p->http_minor == 1) return fail(400, "no host field");
    if (host) {
      std::string_view value = std::string_view(buf()).substr(host->value_off, host->value_len);
      bool empty_allowed = target.form == TargetForm::Absolute && value.empty();
      if (!empty_allowed && !valid_host(value)) return fail(400, "invalid host field");
    }
    if (target.form != TargetForm::Absolute) {
      target.authority_off = host ? host->value_off : 0;
      target.authority_len = host ? host->value_len : 0;
    }
    return 0;
  }

  void build_head() {
    std::string& storage = buf();
    if (target.path_needs_slash) {
      // "http://h?q" is "/?q" in origin-form: copy it behind the head, with
      // its '/', so that the path is one view like every other.
      storage.reserve(storage.size() + 1 + target.path_len);  // no move while copying from itself
      size_t from = target.path_off;
      target.path_off = storage.size();
      storage.push_back('/');
      storage.append(storage.data() + from, target.path_len);
      target.path_len += 1;
      target.path_needs_slash = false;
    }
    std::string_view b = storage;
    RequestHead& h = head;
    h.method = info.method;
    h.target = b.substr(0, target_len);
    h.path = b.substr(target.path_off, target.path_len);
    h.authority = b.substr(target.authority_off, target.authority_len);
    h.version_major = 1;
    h.version_minor = info.version_minor;
    h.headers.clear();
    bool absolute = target.form == TargetForm::Absolute, has_host = false;
    for (const Field& f : fields) {
      std::string_view name = b.substr(f.name_off, f.name_len);
      // The one place where the authority replaces the Host field: ASGI's
      // headers, WSGI's HTTP_HOST and the app all see the same host.
      bool replaced = absolute && name == "host";
      has_host = has_host || name == "host";
      h.headers.push_back({name, replaced ? h.authority : b.substr(f.value_off, f.value_len)});
    }
    if (absolute && !has_host) h.headers.push_back({"host", h.authority});  // HTTP/1.0
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
      s.on_method = on_method;
      s.on_method_complete = on_method_complete;
      s.on_url = on_url;
      s.on_url_complete = on_url_complete;
      s.on_protocol = on_protocol;
      s.on_protocol_complete = on_protocol_complete;
      s.on_version = on_version;
      s.on_version_complete = on_version_complete;
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
        if (auto r = oversize(input + pos)) return die({EventType::Error, {}, r->status, r->reason});
        build_head();
        section = Section::Body;
        in_message = true;
        break;
      case EventType::MessageComplete:
        if (section == Section::Trailers) {
          if (auto r = oversize(input + pos)) return die({EventType::Error, {}, r->status, r->reason});
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

  // llhttp says HPE_INVALID_METHOD, at the byte it could not take, both for a
  // method it does not know ("FROB /", "get /", "G /") and for a line that
  // is no "method SP ..." at all ("GARBAGE", " GET", "GET/", a TLS
  // handshake). RFC 9110 9.1 answers the first with 501, the second is a 400,
  // so the token is read to its end before the verdict. It starts where
  // on_method saw it start, if llhttp gave any of it, else at the run of
  // token bytes just before `pos` (a request always starts at the start of a
  // call or after a line end). The empty lines llhttp skipped before it are
  // part of the head, whether they came in this call or an earlier one (where
  // run() counted them): the verdict must not depend on how the input was cut.
  Event refuse_method(std::string_view in, size_t pos, size_t* consumed) {
    phase = Phase::UnknownMethod;
    int64_t start = section_offset(input + pos);
    if (measuring == Measuring::RequestLine) {
      start = line_start;
    } else {
      for (size_t i = std::min(pos, in.size()); i > 0 && is_tchar(in[i - 1]); --i) --start;
    }
    head_before_method = static_cast<size_t>(start);
    unknown_method_bytes = static_cast<size_t>(section_offset(input + pos) - start);
    return read_unknown_method(in, pos, consumed);
  }

  // Nothing of the token is kept, so only its length needs a bound: the
  // request line's, or what is left of the head's when that is the smaller.
  Event read_unknown_method(std::string_view in, size_t from, size_t* consumed) {
    size_t head_room = limits.max_head_bytes - std::min(head_before_method, limits.max_head_bytes);
    size_t max = std::min(limits.max_request_line, head_room);
    bool line = limits.max_request_line < head_room;
    const Event too_long{EventType::Error, {}, line ? 414 : 431, line ? "request line too long" : "request head too large"};
    if (head_before_method > limits.max_head_bytes || unknown_method_bytes > max) {
      *consumed = from;
      return die(too_long);
    }
    for (size_t i = from; i < in.size(); ++i) {
      if (is_tchar(in[i])) {
        if (++unknown_method_bytes > max) {
          *consumed = i;
          return die(too_long);
        }
        continue;
      }
      *consumed = i;
      if (in[i] == ' ' && unknown_method_bytes > 0) return die({EventType::Error, {}, 501, "method not implemented"});
      return die({EventType::Error, {}, 400, "malformed request line"});
    }
    *consumed = in.size();
    return Event{};
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
          if (auto r = oversize(input + len)) return die({EventType::Error, {}, r->status, r->reason});
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
      if (err == HPE_INVALID_METHOD) return refuse_method(std::string_view(input, len), pos, consumed);
      const char* reason = llhttp_get_error_reason(&parser);
      return die({EventType::Error, {}, 400, reason ? reason : "malformed request"});
    }
  }
};

RequestParser::RequestParser(const Limits& limits) : impl_(std::make_unique<Impl>(limits)) {}

RequestParser::~RequestParser() = default;

Event RequestParser::next(std::string_view input, size_t* consumed) {
  *consumed = 0;
  switch (impl_->phase) {
    case Phase::Dead: return impl_->event;
    case Phase::UnknownMethod: return impl_->read_unknown_method(input, 0, consumed);
    case Phase::Parsing: break;
  }
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
  s.measuring = Measuring::Nothing;
  s.has_event = false;
  s.event = Event{};
  s.in_message = false;
  s.phase = Phase::Parsing;
}

}  // namespace subcorn::http
