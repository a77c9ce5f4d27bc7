// ResponseDefaults: the header fields the server adds to every response on
// its own: Date, Server and the operator's --header fields. The one place
// for them over HTTP/1.1 and HTTP/2, for the app's responses and the
// server's own answers (400, 408, 413, 431, 503...). Made once at start from
// the settings, then shared read-only by every shard.
//
// Rules it owns (nowhere else decides them):
// - Date (unless --no-date-header) and Server ("subcorn", unless
//   --no-server-header; a --header "server: ..." names another value) go
//   out unless the app set a field of that name.
// - An extra field goes out unless the app set one of the same name: the
//   app's own wins, so a default never contradicts it.
// - Names go out in lower case (HTTP/2 requires it; HTTP/1.1 does not mind).
// - Refused at start, with the field named: a name that is not a token, a
//   value with CR, LF or NUL, the fields the server frames or speaks for
//   itself (Content-Length, Transfer-Encoding, Connection, Date...), and
//   more than MAX_EXTRA fields.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace subcorn::http {

struct HeaderField {
  std::string name;
  std::string value;
};

class ResponseDefaults {
 public:
  static constexpr size_t MAX_EXTRA = 62;  // two of a 64-bit mask's bits are Date and Server

  // Date and "server: subcorn", nothing else: what the server sends unless
  // told otherwise.
  ResponseDefaults() = default;
  // That one, for whoever is given no other.
  static const ResponseDefaults& standard();

  // Takes the settings; "" when they are usable, else the one-line error
  // (and nothing changed).
  std::string configure(bool date, bool server, const std::vector<HeaderField>& extra);

  // The bit of a default field named `name` (any case), 0 when none: the
  // protocols OR the bits of the app's own field names together, and the
  // fields whose bit is set are not added.
  uint64_t bit_of(std::string_view name) const noexcept;

  // Calls emit(name, value) for each default field the app did not set
  // (`app_set`: its fields' bits), Date with `date`.
  template <class Emit>
  void for_each(std::string_view date, uint64_t app_set, Emit&& emit) const {
    if (date_ && !(app_set & DATE_BIT)) emit(std::string_view("date"), date);
    if (!server_.empty() && !(app_set & SERVER_BIT)) emit(std::string_view("server"), std::string_view(server_));
    for (size_t i = 0; i < extra_.size(); ++i) {
      if (!(app_set & extra_bit(i))) emit(std::string_view(extra_[i].name), std::string_view(extra_[i].value));
    }
  }

  // Appends "name: value\r\n" for each, as for_each.
  void append_lines(std::string& out, std::string_view date, uint64_t app_set) const;

  // The server's own answer over HTTP/1.1, whole: status line, a
  // text/plain body of the reason phrase, these fields and "connection:
  // close". `status` as error_status() maps it (http/response.h).
  void append_error(std::string& out, int status, std::string_view date) const;

 private:
  static constexpr uint64_t DATE_BIT = 1;
  static constexpr uint64_t SERVER_BIT = 2;
  static constexpr uint64_t extra_bit(size_t i) { return uint64_t{4} << i; }

  bool date_ = true;
  std::string server_ = "subcorn";  // "": none
  std::vector<HeaderField> extra_;  // names in lower case
};

}  // namespace subcorn::http
