// Static files (--static URL_PREFIX:DIR): which mount a request's path falls
// under, and the file path under DIR that it names, by rules that never let
// a request name anything outside DIR or hidden in it. Pure: views in, a
// decision out; whether the file exists is for the caller to find out.
//
// Decided here:
// - A prefix covers a path equal to it or continuing with '/': "/static"
//   covers "/static" and "/static/a.css", not "/statics". The longest
//   covering prefix wins. Prefixes are compared with the path as sent
//   (before percent-decoding), the query left out.
// - Each segment is percent-decoded on its own. A segment that decodes to
//   something containing '/' ("%2f"), '\' (raw or "%5c") or NUL ("%00"),
//   one that begins with '.' (".", "..", and hidden files such as ".env" or
//   ".git"), and an empty segment inside the path ("a//b") name nothing:
//   404, whatever DIR holds. A '%' not followed by two hex digits is a
//   malformed request: 400.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace subcorn::http {

// A mount's URL prefix as matched: "" for "/", else "/a/b" without a
// trailing slash. nullopt when it does not begin with '/' or holds what a
// request path cannot ('?', '#', whitespace, control characters).
std::optional<std::string> normalize_static_prefix(std::string_view prefix);

// The index of the longest of `prefixes` (normalized) covering `path` (a
// request's origin-form target, query included or not), or -1.
int covering_prefix(const std::vector<std::string>& prefixes, std::string_view path) noexcept;

struct StaticPath {
  enum class Kind {
    Found,       // `relative` names a file or directory to look for
    NotFound,    // it can name nothing servable: 404
    BadRequest,  // malformed percent-encoding: 400
  };
  Kind kind = Kind::NotFound;
  // Decoded, '/'-separated, no leading '/': "css/site.css"; "" for DIR itself.
  std::string relative;
  // The path ended with '/' (or was the prefix followed by '/'): it names a
  // directory, whose index.html is served.
  bool directory = false;
};

// `rest`: what follows the prefix in the request's path, query excluded:
// "" or a view beginning with '/'.
StaticPath decode_static_path(std::string_view rest);

// `target` without its query ("?..."), for the prefix match and decoding.
std::string_view path_without_query(std::string_view target) noexcept;

}  // namespace subcorn::http
