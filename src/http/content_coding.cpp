#include "http/content_coding.h"

#include "http/tokens.h"

namespace subcorn::http {
namespace {

constexpr int NOT_GIVEN = -1;

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
// thousandths; -1 when it is not one.
int parse_qvalue(std::string_view text) noexcept {
  if (text.empty() || (text[0] != '0' && text[0] != '1')) return -1;
  int whole = text[0] - '0';
  text.remove_prefix(1);
  if (text.empty()) return whole * 1000;
  if (text[0] != '.' || text.size() > 4) return -1;
  int thousandths = 0;
  int scale = 100;
  for (char c : text.substr(1)) {
    if (c < '0' || c > '9') return -1;
    thousandths += (c - '0') * scale;
    scale /= 10;
  }
  if (whole == 1 && thousandths != 0) return -1;
  return whole * 1000 + thousandths;
}

// One element, "gzip;q=0.8": the coding's name and its weight (1000 when
// no q is given); false when a q parameter does not parse.
bool read_element(std::string_view element, std::string_view* name, int* weight) noexcept {
  size_t semicolon = element.find(';');
  *name = trim_ows(element.substr(0, semicolon));
  *weight = 1000;
  while (semicolon != std::string_view::npos) {
    element.remove_prefix(semicolon + 1);
    semicolon = element.find(';');
    std::string_view parameter = trim_ows(element.substr(0, semicolon));
    if (parameter.size() >= 2 && ascii_lower(parameter[0]) == 'q' && parameter[1] == '=') {
      *weight = parse_qvalue(parameter.substr(2));
      if (*weight < 0) return false;
    }
  }
  return !name->empty();
}

}  // namespace

CodingPreference accepted_codings(std::optional<std::string_view> accept_encoding) noexcept {
  CodingPreference preference;
  if (!accept_encoding || trim_ows(*accept_encoding).empty()) {
    preference.order[preference.count++] = Coding::Identity;
    return preference;
  }
  // Weights in thousandths, by Coding's value; NOT_GIVEN until named.
  int weight[3] = {NOT_GIVEN, NOT_GIVEN, NOT_GIVEN};
  int any = NOT_GIVEN;
  any_list_element(*accept_encoding, [&](std::string_view element) {
    std::string_view name;
    int w = 0;
    if (!read_element(element, &name, &w)) return false;
    if (iequals(name, "br")) weight[static_cast<int>(Coding::Brotli)] = w;
    else if (iequals(name, "gzip") || iequals(name, "x-gzip")) weight[static_cast<int>(Coding::Gzip)] = w;
    else if (iequals(name, "identity")) weight[static_cast<int>(Coding::Identity)] = w;
    else if (name == "*") any = w;
    return false;
  });
  // Each coding's rank: its weight times two, plus one for a named one, so
  // that an unnamed identity (acceptable by default) sorts below every
  // coding of the same weight that was named.
  int rank[3];
  for (int c = 0; c < 3; ++c) {
    int w = weight[c];
    bool named = w != NOT_GIVEN;
    if (!named) w = any;
    if (!named && c == static_cast<int>(Coding::Identity) && any == NOT_GIVEN) w = 1;  // by default
    rank[c] = w <= 0 ? 0 : w * 2 + (named ? 1 : 0);
  }
  for (int c = 0; c < 3; ++c) {
    if (rank[c] == 0) continue;
    // Insertion by rank; a tie keeps Coding's order (br, gzip, identity).
    int at = preference.count;
    while (at > 0 && rank[static_cast<int>(preference.order[at - 1])] < rank[c]) {
      preference.order[at] = preference.order[at - 1];
      --at;
    }
    preference.order[at] = static_cast<Coding>(c);
    ++preference.count;
  }
  return preference;
}

std::string_view coding_name(Coding coding) noexcept {
  switch (coding) {
    case Coding::Brotli: return "br";
    case Coding::Gzip: return "gzip";
    case Coding::Identity: return "";
  }
  return "";
}

std::string_view coding_suffix(Coding coding) noexcept {
  switch (coding) {
    case Coding::Brotli: return ".br";
    case Coding::Gzip: return ".gz";
    case Coding::Identity: return "";
  }
  return "";
}

}  // namespace subcorn::http
