// Conditional requests (RFC 9110 section 13) for a representation the
// server holds: its entity tag, its Last-Modified time, and what the
// request's preconditions make of them. Pure: field values in, a decision out.
//
// Decided here:
// - Entity tags are strong ("..." without W/): the bytes served are exactly
//   the file's, so a Range request may be resumed against them (If-Range
//   needs a strong tag, RFC 9110 13.1.5).
// - A field that does not parse (a date in no HTTP form, an entity-tag list
//   with junk in it) is ignored, as if it were absent (RFC 9110 13.1.3 says
//   so for dates; for tag lists it is the reading that never answers 412 or
//   304 on a guess).
// - Evaluated in RFC 9110 13.2.2's order, for GET and HEAD: If-Match, else
//   If-Unmodified-Since (412 when false); If-None-Match, else
//   If-Modified-Since (304 when false). If-Range is asked separately, by
//   whoever considers the Range.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace subcorn::http {

// A representation's validators.
struct Validators {
  std::string_view etag;      // a strong entity-tag, quotes included: "\"5f3a-c350\""
  int64_t last_modified = 0;  // Unix seconds (what Last-Modified shows)
};

// The request's precondition fields, each absent (nullopt) or its value.
struct Conditions {
  std::optional<std::string_view> if_match;
  std::optional<std::string_view> if_none_match;
  std::optional<std::string_view> if_modified_since;
  std::optional<std::string_view> if_unmodified_since;
  std::optional<std::string_view> if_range;
};

enum class Precondition {
  Proceed,      // answer as if unconditional
  NotModified,  // 304
  Failed,       // 412
};

// The outcome of a GET or HEAD's preconditions for a representation that exists.
Precondition evaluate_preconditions(const Conditions& conditions, const Validators& current) noexcept;

// Whether a Range may be honoured given If-Range: true without one; with
// one, only when it names the current representation (its strong entity
// tag, or exactly its Last-Modified date).
bool if_range_holds(const Conditions& conditions, const Validators& current) noexcept;

// How an entity-tag list (If-Match, If-None-Match) matches `etag`.
enum class TagMatch { Match, NoMatch, Invalid };
// `weak`: weak comparison (W/ ignored on both sides, for If-None-Match);
// otherwise strong (a weak tag never matches, for If-Match). "*" matches.
TagMatch match_entity_tags(std::string_view list, std::string_view etag, bool weak) noexcept;

// A strong entity tag for a file version: its inode, modification time
// (nanoseconds) and size in hex, and `suffix` (a content coding's, so that
// a compressed sibling never shares the original's tag) if not empty:
// "\"<inode>-<mtime>-<size>\"" or "\"<inode>-<mtime>-<size>-br\"".
// The inode is there for builds that set every mtime to one fixed time
// (reproducible builds, SOURCE_DATE_EPOCH): a new version of the same size,
// deployed as a new file (copied, renamed into place), still gets a new tag. The price is that
// two machines serving copies of the same tree give different tags.
std::string file_entity_tag(uint64_t inode, int64_t mtime_ns, int64_t size, std::string_view suffix);

}  // namespace subcorn::http
