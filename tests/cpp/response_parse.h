// A real client's reading of a response: llhttp (strict) in response mode is
// the judge of valid HTTP for the response tests.
#pragma once

#include <llhttp.h>

#include <string>
#include <string_view>

namespace subcorn::http::test {

struct Parsed {
  int status = 0;
  std::string body;
  std::string headers;  // "name: value\n" each, as received
  bool complete = false;
  bool keep_alive = true;
  llhttp_errno_t error = HPE_OK;
};

// Parses one complete response as a client would. `head_request`: the
// response answers a HEAD (no body follows its head, whatever it announces).
// The end of the text counts as the connection's close, which ends a body
// delimited by the close.
Parsed parse_response(std::string_view text, bool head_request = false);

}  // namespace subcorn::http::test
