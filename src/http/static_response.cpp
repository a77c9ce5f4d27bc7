#include "http/static_response.h"

#include <charconv>

#include "http/byte_range.h"
#include "http/http_date.h"
#include "http/response.h"

namespace subcorn::http {
namespace {

std::string decimal(int64_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  (void)ec;  // an int64_t always fits in 24 digits
  return std::string(digits, end);
}

std::string http_date(int64_t unix_seconds) {
  char text[IMF_FIXDATE_LEN];
  format_imf_fixdate(unix_seconds, text);
  return std::string(text, IMF_FIXDATE_LEN);
}

// Seconds of a nanosecond time, rounded down (also before 1970).
int64_t whole_seconds(int64_t ns) noexcept {
  int64_t s = ns / 1'000'000'000;
  return (ns % 1'000'000'000 < 0) ? s - 1 : s;
}

void add_vary(StaticAnswer& answer, bool compressible) {
  if (compressible) answer.headers.emplace_back("vary", "Accept-Encoding");
}

}  // namespace

StaticRequest::StaticRequest(const RequestHead& head) {
  if (head.method == "GET") method_ = Method::Get;
  else if (head.method == "HEAD") method_ = Method::Head;
  if (method_ == Method::Other) return;  // 405: no field matters
  // Fields that are not lists (the dates, If-Range, Range), sent twice,
  // join into a value that parses as nothing, and so are ignored.
  conditions_.if_match = field(head, "if-match", joined_[0]);
  conditions_.if_none_match = field(head, "if-none-match", joined_[1]);
  conditions_.if_modified_since = field(head, "if-modified-since", joined_[2]);
  conditions_.if_unmodified_since = field(head, "if-unmodified-since", joined_[3]);
  conditions_.if_range = field(head, "if-range", joined_[4]);
  range_ = field(head, "range", joined_[5]);
  accept_encoding_ = field(head, "accept-encoding", joined_[6]);
}

std::optional<std::string_view> StaticRequest::field(const RequestHead& head, std::string_view name,
                                                     std::string& storage) {
  std::optional<std::string_view> value;
  for (const Header& h : head.headers) {
    if (h.name != name) continue;
    if (!value) {
      value = h.value;
      continue;
    }
    if (value->data() != storage.data()) storage.assign(*value);
    storage.append(", ");
    storage.append(h.value);
    value = storage;
  }
  return value;
}

StaticAnswer answer_file(const StaticRequest& request, const StaticFileFacts& file, long max_age) {
  StaticAnswer answer;
  std::string etag = file_entity_tag(file.inode, file.mtime_ns, file.size, coding_name(file.coding));
  int64_t modified = whole_seconds(file.mtime_ns);
  Validators current{etag, modified};
  Precondition precondition = evaluate_preconditions(request.conditions(), current);
  if (precondition == Precondition::Failed) {
    answer = answer_refusal(412);
    add_vary(answer, file.compressible);
    return answer;
  }
  auto& h = answer.headers;
  h.reserve(9);
  // RFC 9110 15.4.5: a 304 says what a 200 would of caching and validation.
  if (max_age >= 0) h.emplace_back("cache-control", "public, max-age=" + decimal(max_age));
  h.emplace_back("etag", std::move(etag));
  h.emplace_back("last-modified", http_date(modified));
  add_vary(answer, file.compressible);
  if (precondition == Precondition::NotModified) {
    answer.status = 304;
    return answer;
  }
  h.emplace_back("content-type", std::string(file.content_type));
  if (file.coding != Coding::Identity) h.emplace_back("content-encoding", std::string(coding_name(file.coding)));
  h.emplace_back("accept-ranges", "bytes");
  ByteRange range;
  if (request.range() && if_range_holds(request.conditions(), current))
    range = parse_byte_range(*request.range(), file.size);
  switch (range.kind) {
    case ByteRange::Kind::Unsatisfiable:
      answer.status = 416;
      h.emplace_back("content-range", "bytes */" + decimal(file.size));
      h.emplace_back("content-length", "0");
      return answer;
    case ByteRange::Kind::Partial:
      answer.status = 206;
      answer.file_offset = range.first;
      answer.file_length = range.length;
      h.emplace_back("content-range", "bytes " + decimal(range.first) + "-" +
                                          decimal(range.first + range.length - 1) + "/" +
                                          decimal(file.size));
      break;
    case ByteRange::Kind::Whole:
      answer.file_length = file.size;
      break;
  }
  // Said explicitly: HEAD sends no body but must announce the GET's length.
  h.emplace_back("content-length", decimal(answer.file_length));
  answer.file_body = !request.head() && answer.file_length > 0;
  return answer;
}

StaticAnswer answer_refusal(int status, bool compressible) {
  StaticAnswer answer;
  answer.status = status;
  switch (status) {
    case 400: answer.text = "Bad Request\n"; break;
    case 404: answer.text = "Not Found\n"; break;
    case 405: answer.text = "Method Not Allowed\n"; break;
    case 406: answer.text = "Not Acceptable\n"; break;
    case 412: answer.text = "Precondition Failed\n"; break;
    default: answer.text = reason_phrase(status); break;
  }
  answer.headers.emplace_back("content-type", "text/plain; charset=utf-8");
  if (status == 405) answer.headers.emplace_back("allow", "GET, HEAD");
  add_vary(answer, compressible);
  return answer;
}

StaticAnswer answer_redirect(std::string location) {
  StaticAnswer answer;
  answer.status = 301;
  answer.text = "Moved Permanently\n";
  answer.headers.emplace_back("location", std::move(location));
  answer.headers.emplace_back("content-type", "text/plain; charset=utf-8");
  return answer;
}

}  // namespace subcorn::http
