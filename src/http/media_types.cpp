#include "http/media_types.h"

#include "http/tokens.h"

namespace subcorn::http {
namespace {

struct Entry {
  std::string_view extension;  // lowercase, without the dot
  MediaType type;
};

constexpr bool COMPRESSIBLE = true;
constexpr bool COMPRESSED = false;

// The most asked-for first: fifty entries, scanned in order (a few short
// compares; no hashing to set up for so few).
constexpr Entry kTypes[] = {
    {"html", {"text/html; charset=utf-8", COMPRESSIBLE}},
    {"htm", {"text/html; charset=utf-8", COMPRESSIBLE}},
    {"css", {"text/css; charset=utf-8", COMPRESSIBLE}},
    {"js", {"text/javascript; charset=utf-8", COMPRESSIBLE}},
    {"mjs", {"text/javascript; charset=utf-8", COMPRESSIBLE}},
    {"cjs", {"text/javascript; charset=utf-8", COMPRESSIBLE}},
    {"json", {"application/json", COMPRESSIBLE}},
    {"map", {"application/json", COMPRESSIBLE}},
    {"webmanifest", {"application/manifest+json", COMPRESSIBLE}},
    {"txt", {"text/plain; charset=utf-8", COMPRESSIBLE}},
    {"md", {"text/markdown; charset=utf-8", COMPRESSIBLE}},
    {"csv", {"text/csv; charset=utf-8", COMPRESSIBLE}},
    {"xml", {"application/xml", COMPRESSIBLE}},
    {"rss", {"application/rss+xml", COMPRESSIBLE}},
    {"atom", {"application/atom+xml", COMPRESSIBLE}},
    {"svg", {"image/svg+xml", COMPRESSIBLE}},
    {"ics", {"text/calendar; charset=utf-8", COMPRESSIBLE}},
    {"yaml", {"application/yaml", COMPRESSIBLE}},
    {"yml", {"application/yaml", COMPRESSIBLE}},
    {"wasm", {"application/wasm", COMPRESSIBLE}},
    {"pdf", {"application/pdf", COMPRESSED}},
    {"ttf", {"font/ttf", COMPRESSIBLE}},
    {"otf", {"font/otf", COMPRESSIBLE}},
    {"eot", {"application/vnd.ms-fontobject", COMPRESSIBLE}},
    {"woff", {"font/woff", COMPRESSED}},
    {"woff2", {"font/woff2", COMPRESSED}},
    {"ico", {"image/vnd.microsoft.icon", COMPRESSIBLE}},
    {"bmp", {"image/bmp", COMPRESSIBLE}},
    {"png", {"image/png", COMPRESSED}},
    {"jpg", {"image/jpeg", COMPRESSED}},
    {"jpeg", {"image/jpeg", COMPRESSED}},
    {"gif", {"image/gif", COMPRESSED}},
    {"webp", {"image/webp", COMPRESSED}},
    {"avif", {"image/avif", COMPRESSED}},
    {"mp4", {"video/mp4", COMPRESSED}},
    {"webm", {"video/webm", COMPRESSED}},
    {"ogv", {"video/ogg", COMPRESSED}},
    {"mp3", {"audio/mpeg", COMPRESSED}},
    {"ogg", {"audio/ogg", COMPRESSED}},
    {"oga", {"audio/ogg", COMPRESSED}},
    {"wav", {"audio/wav", COMPRESSIBLE}},
    {"flac", {"audio/flac", COMPRESSED}},
    {"zip", {"application/zip", COMPRESSED}},
    {"gz", {"application/gzip", COMPRESSED}},
    {"br", {"application/octet-stream", COMPRESSED}},
    {"zst", {"application/zstd", COMPRESSED}},
    {"tar", {"application/x-tar", COMPRESSIBLE}},
};

constexpr MediaType kUnknown = {"application/octet-stream", COMPRESSED};

}  // namespace

MediaType media_type_for(std::string_view file_name) noexcept {
  size_t slash = file_name.rfind('/');
  if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
  size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos) return kUnknown;
  std::string_view extension = file_name.substr(dot + 1);
  for (const Entry& entry : kTypes)
    if (iequals(extension, entry.extension)) return entry.type;
  return kUnknown;
}

}  // namespace subcorn::http
