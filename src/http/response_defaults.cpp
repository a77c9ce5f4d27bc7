#include "http/response_defaults.h"

#include <charconv>

#include "http/response.h"
#include "http/status.h"
#include "http/tokens.h"

namespace subcorn::http {
namespace {

// Fields the server writes or speaks for itself: a default for them would
// contradict the framing, the connection's fate or the server's own clock.
constexpr std::string_view RESERVED[] = {
    "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
    "proxy-connection", "te", "trailer", "date",
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

}  // namespace

const ResponseDefaults& ResponseDefaults::standard() {
  static const ResponseDefaults defaults;
  return defaults;
}

std::string ResponseDefaults::configure(bool date, bool server,
                                        const std::vector<HeaderField>& extra) {
  std::string server_value = server ? std::string("subcorn") : std::string();
  std::vector<HeaderField> fields;
  for (const HeaderField& field : extra) {
    if (!valid_header_name(field.name))
      return "--header \"" + field.name + "\": the name is not a valid header name";
    if (!valid_header_value(field.value))
      return "--header \"" + field.name + "\": the value must not contain CR, LF or NUL";
    std::string name = lower(field.name);
    for (std::string_view reserved : RESERVED) {
      if (name == reserved)
        return "--header \"" + field.name + "\": the server sets this field itself" +
               (name == "date" ? " (--no-date-header leaves it out)" : "");
    }
    if (name == "server") {  // names the Server value instead of adding a second field
      server_value = field.value;
      continue;
    }
    fields.push_back({std::move(name), field.value});
  }
  if (fields.size() > MAX_EXTRA)
    return "--header: at most " + std::to_string(MAX_EXTRA) + " fields";
  date_ = date;
  server_ = std::move(server_value);
  extra_ = std::move(fields);
  return {};
}

uint64_t ResponseDefaults::bit_of(std::string_view name) const noexcept {
  if (iequals(name, "date")) return DATE_BIT;
  if (iequals(name, "server")) return SERVER_BIT;
  uint64_t bits = 0;
  for (size_t i = 0; i < extra_.size(); ++i) {
    if (iequals(name, extra_[i].name)) bits |= extra_bit(i);
  }
  return bits;
}

void ResponseDefaults::append_lines(std::string& out, std::string_view date, uint64_t app_set) const {
  for_each(date, app_set, [&out](std::string_view name, std::string_view value) {
    append_header(out, name, value);
  });
}

void ResponseDefaults::append_error(std::string& out, int status, std::string_view date) const {
  status = error_status(status);
  std::string_view reason = status_reason(status);
  char digits[12];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, reason.size());
  (void)ec;  // a reason phrase's length always fits
  append_status_line(out, status);
  append_header(out, "content-type", "text/plain; charset=utf-8");
  append_header(out, "content-length", std::string_view(digits, end - digits));
  append_lines(out, date, 0);
  append_header(out, "connection", "close");
  out.append("\r\n");
  out.append(reason);
}

}  // namespace subcorn::http
