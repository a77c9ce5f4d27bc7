// Content-Type for a static file, from its name's extension: a compact
// table of the types a web app's static files have (pages, styles,
// scripts, data, images, fonts, media, archives). Text types say
// charset=utf-8, which is what the files of a web app are written in.
// Anything else is application/octet-stream.
//
// `compressible` marks the types worth precompressing: only for those does
// the server look for ".br"/".gz" siblings and say Vary: Accept-Encoding
// (images, fonts in woff/woff2, media and archives are compressed already).
#pragma once

#include <string_view>

namespace subcorn::http {

struct MediaType {
  std::string_view content_type;
  bool compressible = false;
};

// By the extension of `file_name`'s last segment, case-insensitively.
MediaType media_type_for(std::string_view file_name) noexcept;

}  // namespace subcorn::http
