#include "response_parse.h"

namespace subcorn::http::test {

Parsed parse_response(std::string_view text, bool head_request) {
  Parsed out;
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_header_field = [](llhttp_t* p, const char* at, size_t n) {
    static_cast<Parsed*>(p->data)->headers.append(at, n).append(": ");
    return 0;
  };
  s.on_header_value = [](llhttp_t* p, const char* at, size_t n) {
    static_cast<Parsed*>(p->data)->headers.append(at, n).append("\n");
    return 0;
  };
  if (head_request) {
    // 1 from on_headers_complete: "no body", as a client that sent HEAD says.
    s.on_headers_complete = [](llhttp_t*) { return 1; };
  }
  s.on_body = [](llhttp_t* p, const char* at, size_t n) {
    static_cast<Parsed*>(p->data)->body.append(at, n);
    return 0;
  };
  s.on_message_complete = [](llhttp_t* p) {
    auto* out = static_cast<Parsed*>(p->data);
    out->complete = true;
    out->status = p->status_code;
    out->keep_alive = llhttp_should_keep_alive(p) != 0;
    return 0;
  };
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, &s);
  parser.data = &out;
  out.error = llhttp_execute(&parser, text.data(), text.size());
  if (out.error == HPE_OK && !out.complete) out.error = llhttp_finish(&parser);
  return out;
}

}  // namespace subcorn::http::test
