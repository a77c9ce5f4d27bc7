#include "http/conditional.h"

#include <charconv>

#include "http/http_date.h"
#include "http/tokens.h"

namespace subcorn::http {
namespace {

// etagc = "!" / %x23-7E / obs-text (RFC 9110 8.8.3): anything visible but DQUOTE.
bool is_etagc(char c) noexcept {
  unsigned char u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u <= 0x7e) || u >= 0x80;
}

// The opaque part of an entity-tag (quotes included), or "" when `tag` is
// not one; `*weak` says whether it had W/.
std::string_view opaque_tag(std::string_view tag, bool* weak) noexcept {
  *weak = tag.starts_with("W/");
  if (*weak) tag.remove_prefix(2);
  if (tag.size() < 2 || tag.front() != '"' || tag.back() != '"') return {};
  for (char c : tag.substr(1, tag.size() - 2))
    if (!is_etagc(c)) return {};
  return tag;
}

// RFC 9110 13.2.2 step 1/2: is the If-Match (or If-Unmodified-Since) condition false?
bool unmodified_condition_fails(const Conditions& c, const Validators& current) noexcept {
  if (c.if_match) {
    TagMatch m = match_entity_tags(*c.if_match, current.etag, false);
    if (m != TagMatch::Invalid) return m == TagMatch::NoMatch;
  }
  if (c.if_unmodified_since && !c.if_match) {
    std::optional<long long> date = parse_http_date(*c.if_unmodified_since);
    if (date) return current.last_modified > *date;
  }
  return false;
}

// Steps 3/4: does If-None-Match (or If-Modified-Since) say the client's copy is current?
bool not_modified(const Conditions& c, const Validators& current) noexcept {
  if (c.if_none_match) {
    TagMatch m = match_entity_tags(*c.if_none_match, current.etag, true);
    if (m != TagMatch::Invalid) return m == TagMatch::Match;
  }
  if (c.if_modified_since && !c.if_none_match) {
    std::optional<long long> date = parse_http_date(*c.if_modified_since);
    if (date) return current.last_modified <= *date;
  }
  return false;
}

}  // namespace

TagMatch match_entity_tags(std::string_view list, std::string_view etag, bool weak) noexcept {
  list = trim_ows(list);
  if (list == "*") return TagMatch::Match;
  if (list.empty()) return TagMatch::Invalid;
  bool current_weak = false;
  std::string_view current = opaque_tag(etag, &current_weak);
  bool matched = false;
  // Elements are read one by one rather than split at commas: a comma may
  // sit inside the quotes of a tag.
  while (!list.empty()) {
    size_t start = list.starts_with("W/") ? 2 : 0;
    if (list.size() <= start || list[start] != '"') return TagMatch::Invalid;
    size_t close = list.find('"', start + 1);
    if (close == std::string_view::npos) return TagMatch::Invalid;
    bool tag_weak = false;
    std::string_view tag = opaque_tag(list.substr(0, close + 1), &tag_weak);
    if (tag.empty()) return TagMatch::Invalid;
    if (tag == current && (weak || (!tag_weak && !current_weak))) matched = true;
    list = trim_ows(list.substr(close + 1));
    if (list.empty()) break;
    if (list.front() != ',') return TagMatch::Invalid;
    // Empty elements (",,") are allowed, as in any list (RFC 9110 5.6.1).
    while (!list.empty() && (list.front() == ',' || is_ows(list.front()))) list.remove_prefix(1);
  }
  return matched ? TagMatch::Match : TagMatch::NoMatch;
}

Precondition evaluate_preconditions(const Conditions& conditions, const Validators& current) noexcept {
  if (unmodified_condition_fails(conditions, current)) return Precondition::Failed;
  if (not_modified(conditions, current)) return Precondition::NotModified;
  return Precondition::Proceed;
}

bool if_range_holds(const Conditions& conditions, const Validators& current) noexcept {
  if (!conditions.if_range) return true;
  std::string_view value = trim_ows(*conditions.if_range);
  if (value.starts_with('"') || value.starts_with("W/")) {
    // Strong comparison: a weak tag never matches (RFC 9110 13.1.5).
    bool weak = false;
    std::string_view tag = opaque_tag(value, &weak);
    bool current_weak = false;
    return !weak && !tag.empty() && tag == opaque_tag(current.etag, &current_weak) && !current_weak;
  }
  std::optional<long long> date = parse_http_date(value);
  return date && *date == current.last_modified;
}

std::string file_entity_tag(uint64_t inode, int64_t mtime_ns, int64_t size, std::string_view suffix) {
  std::string tag;
  tag.reserve(64);
  tag.push_back('"');
  auto append_hex = [&tag](uint64_t n) {
    char digits[16];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n, 16);
    (void)ec;  // 64 bits always fit in 16 hex digits
    tag.append(digits, end);
  };
  append_hex(inode);
  tag.push_back('-');
  append_hex(static_cast<uint64_t>(mtime_ns));
  tag.push_back('-');
  append_hex(static_cast<uint64_t>(size));
  if (!suffix.empty()) {
    tag.push_back('-');
    tag.append(suffix);
  }
  tag.push_back('"');
  return tag;
}

}  // namespace subcorn::http
