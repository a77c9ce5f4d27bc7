// What the server answers for a static file (--static), decided from the
// request's fields and the file's facts: the status, the header fields and
// which bytes of the file form the body. Pure: the caller has found and
// opened the file (server/static_files.h) and sends what this says.
//
// Decided here:
// - GET and HEAD only; any other method gets 405 with "Allow: GET, HEAD".
// - Every file answer carries ETag (strong, http/conditional.h),
//   Last-Modified, Cache-Control ("public, max-age=N" from --static-max-age,
//   none when N < 0), Accept-Ranges: bytes, and Content-Type from the name
//   the client asked for (http/media_types.h); one served from a ".br" or
//   ".gz" sibling adds its Content-Encoding, and every answer for a
//   compressible type says Vary: Accept-Encoding, the 304 and 416 too, so
//   that a cache never hands the compressed body to a client that did not
//   ask for it.
// - Preconditions before Range (RFC 9110 13.2.2): 412, 304, then 206 or 416
//   (http/byte_range.h) when If-Range allows the Range, else 200.
// - The server's refusals (400, 404, 405, 406) are short text/plain answers
//   that keep the connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/conditional.h"
#include "http/content_coding.h"
#include "http/request_parser.h"

namespace subcorn::http {

// What of a request the static rules read, taken from its head once.
class StaticRequest {
 public:
  explicit StaticRequest(const RequestHead& head);
  // Its views may point into its own storage.
  StaticRequest(const StaticRequest&) = delete;
  StaticRequest& operator=(const StaticRequest&) = delete;

  bool get_or_head() const noexcept { return method_ != Method::Other; }
  bool head() const noexcept { return method_ == Method::Head; }
  const Conditions& conditions() const noexcept { return conditions_; }
  std::optional<std::string_view> range() const noexcept { return range_; }
  std::optional<std::string_view> accept_encoding() const noexcept { return accept_encoding_; }

 private:
  enum class Method { Get, Head, Other };
  // A field's value: the only one's, or several joined with ", " into
  // `storage` (RFC 9110 5.3: a list field may be sent as several lines).
  static std::optional<std::string_view> field(const RequestHead& head, std::string_view name,
                                               std::string& storage);

  Method method_ = Method::Other;
  Conditions conditions_;
  std::optional<std::string_view> range_;
  std::optional<std::string_view> accept_encoding_;
  std::string joined_[7];  // one per field: its lines joined, when it came more than once
};

// The file as served: the one opened (maybe a compressed sibling) and the
// name it was asked for.
struct StaticFileFacts {
  uint64_t inode = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;                // nanoseconds since the epoch
  std::string_view content_type;       // from the name asked for
  Coding coding = Coding::Identity;    // a sibling's coding, or identity
  bool compressible = false;           // the type: Vary: Accept-Encoding
};

struct StaticAnswer {
  int status = 200;
  std::vector<std::pair<std::string_view, std::string>> headers;
  // The body: `file_length` bytes of the file from `file_offset` (200, 206;
  // nothing is sent for HEAD, the head says the length), or `text`.
  int64_t file_offset = 0;
  int64_t file_length = 0;
  bool file_body = false;
  std::string_view text;
};

// The answer for an existing regular file. `max_age`: --static-max-age
// (negative: no Cache-Control).
StaticAnswer answer_file(const StaticRequest& request, const StaticFileFacts& file, long max_age);

// The server's refusal with `status` (400, 404, 405, 406): a short text
// body; 405 says which methods are allowed. `compressible`: the name asked
// for is of a compressible type (the 406 says Vary).
StaticAnswer answer_refusal(int status, bool compressible = false);

// 301 to `location` (a directory asked for without its trailing slash).
StaticAnswer answer_redirect(std::string location);

}  // namespace subcorn::http
