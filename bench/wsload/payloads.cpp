#include "payloads.h"

#include <array>
#include <cstdio>
#include <string_view>

#include "rng.h"

namespace wsload {

namespace {

constexpr std::array<std::string_view, 24> FIRST_NAMES = {
    "alice", "bruno", "chiara", "dmitri", "elena", "farid", "grace", "hiro",
    "ines", "jonas", "keiko", "lucas", "maya", "nils", "olga", "pedro",
    "quinn", "rosa", "samir", "tamar", "ugo", "vera", "wen", "yusuf"};
constexpr std::array<std::string_view, 20> LAST_NAMES = {
    "morgan", "silva", "rossi", "ivanov", "novak", "haddad", "okafor", "tanaka",
    "garcia", "berg", "sato", "martin", "kaur", "lind", "petrova", "costa",
    "reyes", "cohen", "bianchi", "weber"};
constexpr std::array<std::string_view, 12> CITIES = {
    "Lisbon", "Osaka", "Toronto", "Nairobi", "Berlin", "Lima",
    "Oslo", "Cairo", "Seoul", "Dublin", "Porto", "Austin"};
constexpr std::array<std::string_view, 10> TAGS = {
    "admin", "beta", "billing", "support", "mobile", "trial", "vip", "eu", "us", "api"};
constexpr std::array<std::string_view, 4> DOMAINS = {
    "example.org", "mail.example.com", "corp.example.net", "example.io"};

// One record, about 210 bytes, its fields drawn from the generator (each
// draw in its own statement: the order of a call's arguments is unspecified).
void append_record(std::string& out, Rng& rng, uint64_t id) {
  auto first = FIRST_NAMES[rng.below(FIRST_NAMES.size())];
  auto last = LAST_NAMES[rng.below(LAST_NAMES.size())];
  auto city = CITIES[rng.below(CITIES.size())];
  auto domain = DOMAINS[id % DOMAINS.size()];
  uint32_t mail_number = rng.below(100);
  bool active = rng.below(3) != 0;
  uint32_t score = rng.below(10000);
  uint32_t month = 1 + rng.below(12), day = 1 + rng.below(28);
  uint32_t hour = rng.below(24), minute = rng.below(60), second = rng.below(60);
  char buf[512];
  int n = std::snprintf(
      buf, sizeof buf,
      "{\"id\":%llu,\"user\":\"%.*s.%.*s\",\"email\":\"%.*s.%.*s%u@%.*s\","
      "\"active\":%s,\"score\":%u.%02u,\"city\":\"%.*s\","
      "\"created\":\"2026-%02u-%02uT%02u:%02u:%02uZ\",\"tags\":[",
      static_cast<unsigned long long>(id), static_cast<int>(first.size()), first.data(),
      static_cast<int>(last.size()), last.data(), static_cast<int>(first.size()), first.data(),
      static_cast<int>(last.size()), last.data(), mail_number, static_cast<int>(domain.size()),
      domain.data(), active ? "true" : "false", score / 100, score % 100,
      static_cast<int>(city.size()), city.data(), month, day, hour, minute, second);
  out.append(buf, static_cast<size_t>(n));
  uint32_t tags = 1 + rng.below(3);
  for (uint32_t t = 0; t < tags; ++t) {
    if (t) out += ',';
    out += '"';
    out += TAGS[rng.below(TAGS.size())];
    out += '"';
  }
  uint32_t logins = rng.below(5000), balance = rng.below(10000000);
  n = std::snprintf(buf, sizeof buf, "],\"logins\":%u,\"balance\":%u.%02u}", logins,
                    balance / 100, balance % 100);
  out.append(buf, static_cast<size_t>(n));
}

}  // namespace

std::string random_bytes(size_t size, uint64_t seed) {
  Rng rng(seed);
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>(rng.next() >> 56);
  return out;
}

std::string json_text(size_t size, uint64_t seed) {
  Rng rng(seed);
  std::string out = "{\"page\":" + std::to_string(seed) + ",\"items\":[";
  const std::string_view close = "]}";
  // Records while a whole one still fits, then padding.
  uint64_t id = seed * 1000;
  std::string record;
  while (true) {
    record.clear();
    append_record(record, rng, ++id);
    size_t comma = out.back() == '[' ? 0 : 1;
    if (out.size() + comma + record.size() + close.size() > size) break;
    if (comma) out += ',';
    out += record;
  }
  // JSON allows whitespace between tokens: pad up to the exact size.
  if (out.size() + close.size() < size) out.append(size - out.size() - close.size(), ' ');
  out += close;
  out.resize(size);  // only cuts when size is too small for even one record
  return out;
}

Pool::Pool(Kind kind, size_t message_size, size_t count, uint64_t seed) : kind_(kind) {
  messages_.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    uint64_t message_seed = seed + i;
    messages_.push_back(kind == Kind::Text ? json_text(message_size, message_seed)
                                           : random_bytes(message_size, message_seed));
  }
}

}  // namespace wsload
