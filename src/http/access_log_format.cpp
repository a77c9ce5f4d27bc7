#include "http/access_log_format.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>

#include "http/tokens.h"

namespace subcorn::http {

namespace {

constexpr std::string_view LEVEL_PREFIX = "INFO:     ";

void append_number(std::string& out, uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, end);
}

// Apache's escaping for a text line: a quote or backslash gets a backslash,
// a control byte (a forged newline) becomes \xHH.
void append_escaped(std::string& out, std::string_view text) {
  static constexpr char HEX[] = "0123456789abcdef";
  size_t clean = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\') continue;
    out.append(text.substr(clean, i - clean));
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else {
      out.append("\\x");
      out.push_back(HEX[c >> 4]);
      out.push_back(HEX[c & 15]);
    }
    clean = i + 1;
  }
  out.append(text.substr(clean));
}

void append_or_dash(std::string& out, std::string_view text) {
  if (text.empty()) out.push_back('-');
  else append_escaped(out, text);
}

std::string_view version_text(const RequestHead& head) {
  if (head.version_major == 2) return "HTTP/2";
  return head.version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
}

// "1.2.3.4:5" -> "1.2.3.4", "::1:5" -> "::1", "unix" -> "unix".
std::string_view remote_address(std::string_view client) {
  size_t colon = client.rfind(':');
  if (colon == std::string_view::npos) return client;
  std::string_view host = client.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return host;
}

std::string_view request_header(const RequestHead& head, std::string_view name) {
  for (const Header& h : head.headers)
    if (h.name == name) return h.value;
  return {};
}

std::string_view response_header(const AccessRecord& r, std::string_view name) {
  for (const Header& h : r.response_headers)
    if (h.name == name) return h.value;
  return {};
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// The user name of "Authorization: Basic base64(user:password)", or "".
std::string basic_auth_user(const RequestHead& head) {
  std::string_view value = request_header(head, "authorization");
  constexpr std::string_view SCHEME = "basic ";
  if (value.size() <= SCHEME.size() || !iequals(value.substr(0, SCHEME.size()), SCHEME)) return {};
  std::string decoded;
  uint32_t bits = 0;
  int count = 0;
  for (char c : value.substr(SCHEME.size())) {
    if (c == '=') break;
    int v = base64_value(c);
    if (v < 0) return {};
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      decoded.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  size_t colon = decoded.find(':');
  return colon == std::string::npos ? std::string() : decoded.substr(0, colon);
}

void append_fixed(std::string& out, double value, int decimals) {
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  if (n > 0) out.append(buf, static_cast<size_t>(n));
}

uint64_t whole(double seconds, double unit) {
  return seconds <= 0 ? 0 : static_cast<uint64_t>(seconds * unit);
}

}  // namespace

// ---- the clock's texts ---------------------------------------------------------------

std::string_view AccessLogClock::common_log_time(long long unix_time) {
  if (unix_time != clf_second_) {
    static constexpr const char* MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = static_cast<time_t>(unix_time);
    std::tm tm{};
    localtime_r(&t, &tm);
    long offset = tm.tm_gmtoff / 60;
    char sign = offset < 0 ? '-' : '+';
    if (offset < 0) offset = -offset;
    int n = std::snprintf(clf_, sizeof clf_, "[%02d/%s/%04d:%02d:%02d:%02d %c%02ld%02ld]",
                          tm.tm_mday, MONTHS[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
                          tm.tm_min, tm.tm_sec, sign, offset / 60, offset % 60);
    clf_len_ = n > 0 ? static_cast<size_t>(n) : 0;
    clf_second_ = unix_time;
  }
  return {clf_, clf_len_};
}

std::string_view AccessLogClock::iso_time(long long unix_time) {
  if (unix_time != iso_second_) {
    time_t t = static_cast<time_t>(unix_time);
    std::tm tm{};
    gmtime_r(&t, &tm);
    int n = std::snprintf(iso_, sizeof iso_, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                          tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    iso_len_ = n > 0 ? static_cast<size_t>(n) : 0;
    iso_second_ = unix_time;
  }
  return {iso_, iso_len_};
}

// ---- compiling -------------------------------------------------------------------------

AccessLogFormat AccessLogFormat::uvicorn(Output output) {
  AccessLogFormat f;
  f.output_ = output;
  f.uvicorn_ = true;
  f.needs_duration_ = output == Output::Json;
  f.needs_wall_time_ = output == Output::Json;
  return f;
}

std::optional<AccessLogFormat> AccessLogFormat::compile(std::string_view format, Output output,
                                                        long pid, std::string* error) {
  struct Name {
    std::string_view name;
    Atom atom;
  };
  static constexpr Name NAMES[] = {
      {"h", Atom::RemoteAddress}, {"client", Atom::Client}, {"l", Atom::Ident},
      {"u", Atom::User},          {"t", Atom::Time},        {"r", Atom::RequestLine},
      {"s", Atom::Status},        {"b", Atom::Bytes},       {"f", Atom::Referer},
      {"a", Atom::UserAgent},     {"L", Atom::SecondsDecimal}, {"M", Atom::Milliseconds},
      {"D", Atom::Microseconds},  {"T", Atom::Seconds},     {"p", Atom::Pid},
      {"m", Atom::Method},        {"U", Atom::Path},        {"q", Atom::Query},
      {"H", Atom::Version},       {"worker", Atom::Worker}, {"protocol", Atom::Protocol},
  };
  AccessLogFormat f;
  f.output_ = output;
  f.needs_duration_ = output == Output::Json;
  f.needs_wall_time_ = output == Output::Json;
  f.pid_ = "<" + std::to_string(pid) + ">";
  std::string literal;
  auto flush_literal = [&] {
    if (!literal.empty()) f.program_.push_back({Atom::Literal, std::move(literal)});
    literal.clear();
  };
  size_t i = 0;
  while (i < format.size()) {
    char c = format[i];
    if (c != '%') {
      literal.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '%') {
      literal.push_back('%');
      i += 2;
      continue;
    }
    // "%(" name ")s"
    if (i + 1 >= format.size() || format[i + 1] != '(') {
      *error = "--access-log-format: a '%' at offset " + std::to_string(i) +
               " starts no atom (write %(name)s, or %% for a percent sign)";
      return std::nullopt;
    }
    size_t close = format.find(')', i + 2);
    if (close == std::string_view::npos) {
      *error = "--access-log-format: the atom at offset " + std::to_string(i) + " has no ')'";
      return std::nullopt;
    }
    std::string_view name = format.substr(i + 2, close - i - 2);
    std::string_view atom_text = format.substr(i, std::min(close + 2, format.size()) - i);
    if (close + 1 >= format.size() || format[close + 1] != 's') {
      *error = "--access-log-format: " + std::string(atom_text) +
               " must end in 's' (every atom is text: %(" + std::string(name) + ")s)";
      return std::nullopt;
    }
    i = close + 2;
    if (name.size() >= 3 && name.front() == '{' && name[name.size() - 2] == '}' &&
        (name.back() == 'i' || name.back() == 'o')) {
      std::string header(name.substr(1, name.size() - 3));
      if (header.empty() || !std::all_of(header.begin(), header.end(), is_tchar)) {
        *error = "--access-log-format: " + std::string(atom_text) + " names no header field";
        return std::nullopt;
      }
      for (char& ch : header) ch = ascii_lower(ch);
      flush_literal();
      if (name.back() == 'i') {
        f.program_.push_back({Atom::RequestHeader, std::move(header)});
      } else {
        if (std::find(f.response_header_names_.begin(), f.response_header_names_.end(), header) ==
            f.response_header_names_.end())
          f.response_header_names_.push_back(header);
        f.program_.push_back({Atom::ResponseHeader, std::move(header)});
      }
      continue;
    }
    const Name* found = nullptr;
    for (const Name& n : NAMES)
      if (n.name == name) found = &n;
    if (!found) {
      *error = "--access-log-format: unknown atom " + std::string(atom_text) +
               " (known: h l u t r s b f a L M D T p m U q H client worker protocol, "
               "{header}i, {header}o)";
      return std::nullopt;
    }
    flush_literal();
    f.program_.push_back({found->atom, {}});
    if (found->atom == Atom::Time) f.needs_wall_time_ = true;
    if (found->atom == Atom::SecondsDecimal || found->atom == Atom::Milliseconds ||
        found->atom == Atom::Microseconds || found->atom == Atom::Seconds)
      f.needs_duration_ = true;
  }
  flush_literal();
  return f;
}

// ---- formatting ------------------------------------------------------------------------

void AccessLogFormat::append(std::string& out, const AccessRecord& record,
                             AccessLogClock& clock) const {
  if (output_ == Output::Json) {
    append_json(out, record, clock);
  } else if (uvicorn_) {
    out.append(LEVEL_PREFIX);
    append_uvicorn(out, record);
  } else {
    append_text(out, record, clock);
  }
  out.push_back('\n');
}

// 'host:port - "GET /p HTTP/1.1" 200', or for an accepted WebSocket
// 'host:port - "WebSocket /p" [accepted]'.
void AccessLogFormat::append_uvicorn(std::string& out, const AccessRecord& r) const {
  const RequestHead& head = *r.head;
  out.append(r.client).append(" - \"");
  if (r.websocket_accepted) {
    out.append("WebSocket ");
    append_escaped(out, head.target);
    out.append(head.version_major == 2 ? "\" [accepted, HTTP/2]" : "\" [accepted]");
    return;
  }
  append_escaped(out, head.method);
  out.push_back(' ');
  append_escaped(out, head.target);
  out.push_back(' ');
  out.append(version_text(head)).append("\" ");
  append_number(out, static_cast<uint64_t>(r.status));
}

void AccessLogFormat::append_text(std::string& out, const AccessRecord& r,
                                  AccessLogClock& clock) const {
  const RequestHead& head = *r.head;
  for (const Op& op : program_) {
    switch (op.atom) {
      case Atom::Literal: out.append(op.text); break;
      case Atom::RemoteAddress: out.append(remote_address(r.client)); break;
      case Atom::Client: out.append(r.client); break;
      case Atom::Ident: out.push_back('-'); break;
      case Atom::User: append_or_dash(out, basic_auth_user(head)); break;
      case Atom::Time: out.append(clock.common_log_time(r.unix_time)); break;
      case Atom::RequestLine:
        append_escaped(out, head.method);
        out.push_back(' ');
        append_escaped(out, head.target);
        out.push_back(' ');
        out.append(version_text(head));
        break;
      case Atom::Status: append_number(out, static_cast<uint64_t>(r.status)); break;
      case Atom::Bytes: append_number(out, r.response_bytes); break;
      case Atom::Referer: append_or_dash(out, request_header(head, "referer")); break;
      case Atom::UserAgent: append_or_dash(out, request_header(head, "user-agent")); break;
      case Atom::SecondsDecimal: append_fixed(out, r.duration > 0 ? r.duration : 0, 6); break;
      case Atom::Milliseconds: append_number(out, whole(r.duration, 1e3)); break;
      case Atom::Microseconds: append_number(out, whole(r.duration, 1e6)); break;
      case Atom::Seconds: append_number(out, whole(r.duration, 1)); break;
      case Atom::Pid: out.append(pid_); break;
      case Atom::Method: append_escaped(out, head.method); break;
      case Atom::Path: {
        std::string_view path = head.path;
        append_escaped(out, path.substr(0, path.find('?')));
        break;
      }
      case Atom::Query: {
        size_t q = head.path.find('?');
        if (q != std::string_view::npos) append_escaped(out, head.path.substr(q + 1));
        break;
      }
      case Atom::Version: out.append(version_text(head)); break;
      case Atom::RequestHeader: append_or_dash(out, request_header(head, op.text)); break;
      case Atom::ResponseHeader: append_or_dash(out, response_header(r, op.text)); break;
      case Atom::Worker: append_number(out, static_cast<uint64_t>(r.worker)); break;
      case Atom::Protocol: out.append(r.protocol); break;
    }
  }
}

void AccessLogFormat::append_json(std::string& out, const AccessRecord& r,
                                  AccessLogClock& clock) const {
  const RequestHead& head = *r.head;
  auto field = [&out](std::string_view name, std::string_view value) {
    out.append(",\"").append(name).append("\":\"");
    append_json_string_body(out, value);
    out.push_back('"');
  };
  out.append("{\"time\":\"").append(clock.iso_time(r.unix_time));
  out.append("\",\"level\":\"INFO\",\"logger\":\"subcorn.access\",\"worker\":");
  append_number(out, static_cast<uint64_t>(r.worker));
  field("client", r.client);
  field("method", head.method);
  field("path", head.target);
  field("version", version_text(head));
  field("protocol", r.protocol);
  out.append(",\"status\":");
  append_number(out, static_cast<uint64_t>(r.status));
  out.append(",\"bytes\":");
  append_number(out, r.response_bytes);
  out.append(",\"duration_ms\":");
  append_fixed(out, r.duration > 0 ? r.duration * 1e3 : 0, 3);
  if (r.websocket_accepted) out.append(",\"websocket\":true");
  // The line a text log would have, so a format given still shows.
  std::string message;
  if (uvicorn_) append_uvicorn(message, r);
  else append_text(message, r, clock);
  field("message", message);
  out.push_back('}');
}

void append_json_string_body(std::string& out, std::string_view text) {
  static constexpr char HEX[] = "0123456789abcdef";
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c < 0x20 || c == 0x7f) {
        out.append("\\u00");
        out.push_back(HEX[c >> 4]);
        out.push_back(HEX[c & 15]);
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence passes whole when it is well formed (no overlong
    // form, no surrogate, nothing above U+10FFFF); anything else is U+FFFD.
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    bool valid = len != 0 && c <= 0xf4 && i + len <= text.size();
    for (size_t k = 1; valid && k < len; ++k)
      valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    if (valid && len >= 3) {
      auto c1 = static_cast<unsigned char>(text[i + 1]);
      if (c == 0xe0 && c1 < 0xa0) valid = false;   // overlong
      if (c == 0xed && c1 >= 0xa0) valid = false;  // surrogates
      if (c == 0xf0 && c1 < 0x90) valid = false;   // overlong
      if (c == 0xf4 && c1 >= 0x90) valid = false;  // above U+10FFFF
    }
    if (valid) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out.append("\\ufffd");
      ++i;
    }
  }
}

}  // namespace subcorn::http
