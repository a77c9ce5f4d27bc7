#include "http/static_path.h"

namespace subcorn::http {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool covers(std::string_view prefix, std::string_view path) noexcept {
  if (!path.starts_with(prefix)) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

// Decodes one segment into `out`; Kind::Found when it may name a file.
StaticPath::Kind decode_segment(std::string_view segment, std::string& out) {
  size_t start = out.size();
  for (size_t i = 0; i < segment.size(); ++i) {
    char c = segment[i];
    if (c == '%') {
      if (segment.size() - i < 3) return StaticPath::Kind::BadRequest;
      int high = hex_value(segment[i + 1]);
      int low = hex_value(segment[i + 2]);
      if (high < 0 || low < 0) return StaticPath::Kind::BadRequest;
      c = static_cast<char>(high * 16 + low);
      i += 2;
    }
    if (c == '/' || c == '\\' || c == '\0') return StaticPath::Kind::NotFound;
    out.push_back(c);
  }
  if (out.size() == start || out[start] == '.') return StaticPath::Kind::NotFound;
  return StaticPath::Kind::Found;
}

}  // namespace

std::optional<std::string> normalize_static_prefix(std::string_view prefix) {
  if (!prefix.starts_with('/')) return std::nullopt;
  for (char c : prefix) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '?' || c == '#' || u <= 0x20 || u == 0x7f) return std::nullopt;
  }
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  return std::string(prefix);
}

int covering_prefix(const std::vector<std::string>& prefixes, std::string_view path) noexcept {
  path = path_without_query(path);
  int best = -1;
  for (size_t i = 0; i < prefixes.size(); ++i) {
    if (!covers(prefixes[i], path)) continue;
    if (best < 0 || prefixes[i].size() > prefixes[static_cast<size_t>(best)].size())
      best = static_cast<int>(i);
  }
  return best;
}

StaticPath decode_static_path(std::string_view rest) {
  StaticPath result;
  if (rest.empty()) {
    result.kind = StaticPath::Kind::Found;
    return result;  // the mount's directory itself, named without its slash
  }
  if (rest.front() != '/') return result;
  rest.remove_prefix(1);
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    if (!result.relative.empty()) result.relative.push_back('/');
    StaticPath::Kind kind = decode_segment(segment, result.relative);
    if (kind != StaticPath::Kind::Found) {
      result.kind = kind;
      result.relative.clear();
      return result;
    }
    if (slash == std::string_view::npos) {
      rest = {};
      break;
    }
    rest.remove_prefix(slash + 1);
    if (rest.empty()) result.directory = true;  // the path ended with '/'
  }
  if (result.relative.empty()) result.directory = true;  // "/": the mount's root
  result.kind = StaticPath::Kind::Found;
  return result;
}

std::string_view path_without_query(std::string_view target) noexcept {
  return target.substr(0, target.find('?'));
}

}  // namespace subcorn::http
