// StaticFiles: --static URL_PREFIX:DIR. A request under a prefix is answered
// by the engine, on the shard thread, and never reaches the app: the path is
// mapped and checked (http/static_path.h), the file opened without leaving
// DIR (io/file_open.h), a precompressed sibling chosen
// (http/content_coding.h), and the answer decided (http/static_response.h).
// It goes out through the request's py::Exchange like an app's response, so
// the framing, sendfile() (plain HTTP/1.1), the TLS copy, HTTP/2's DATA, the
// access log and the metrics are the same as for the app's answers.
//
// Decided here:
// - A missing file is 404 from the engine; it does not fall through to the
//   app (as granian's static route and an nginx location do): the prefix
//   belongs to the files, and probes for missing files never cost Python.
// - A directory is 404, unless it holds an index.html: that is served when
//   the path ends with '/', and a path without the slash is redirected
//   (301) to it, so that the page's relative links resolve.
// - A precompressed sibling ("app.js.br", "app.js.gz") is looked for only
//   for a compressible type, in the client's order of preference; none
//   there means the file itself, unless the client refused identity: 406.
// - Each DIR is opened once, when the worker starts: a DIR renamed or
//   replaced after that (a "current" symlink switched to a new release) is
//   seen by the workers started after it (a reload).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/request_parser.h"
#include "io/unique_fd.h"
#include "py/exchange.h"

namespace subcorn::server {

class StaticFiles {
 public:
  // Opens each mount's DIR; false and `error` (one line) when a prefix is
  // not valid or a DIR cannot be opened. `max_age`: --static-max-age
  // (negative: no Cache-Control).
  bool open(const std::vector<std::pair<std::string, std::string>>& mounts, long max_age,
            std::string* error);

  // Is `head` under a mount (and so answered here, never by the app)?
  bool covers(const http::RequestHead& head) const noexcept;

  // Answers `head` (which covers() accepted) on `exchange`, completely.
  // Returns "" or a line for the error log: the file could not be opened
  // for a reason other than its absence (500), or the exchange refused the
  // answer (the app's mistakes it guards against are not ours to make).
  std::string answer(py::Exchange& exchange, const http::RequestHead& head) const;

 private:
  struct Mount {
    std::string dir;  // for log lines
    io::UniqueFd fd;  // O_PATH
  };
  std::vector<std::string> prefixes_;  // normalized, one per mount
  std::vector<Mount> mounts_;
  long max_age_ = -1;
};

}  // namespace subcorn::server
