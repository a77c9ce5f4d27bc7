#include "http/http_date.h"

#include <ctime>

#include "http/response.h"

namespace subcorn::http {
namespace {

void put2(char* out, int v) noexcept {
  out[0] = static_cast<char>('0' + v / 10);
  out[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

void format_imf_fixdate(long long unix_seconds, char* out) noexcept {
  static constexpr char kDays[] = "SunMonTueWedThuFriSat";
  static constexpr char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  int year = tm.tm_year + 1900;
  char* p = out;
  for (int i = 0; i < 3; ++i) *p++ = kDays[tm.tm_wday * 3 + i];
  *p++ = ',';
  *p++ = ' ';
  put2(p, tm.tm_mday);
  p += 2;
  *p++ = ' ';
  for (int i = 0; i < 3; ++i) *p++ = kMonths[tm.tm_mon * 3 + i];
  *p++ = ' ';
  put2(p, (year / 100) % 100);
  put2(p + 2, year % 100);
  p += 4;
  *p++ = ' ';
  put2(p, tm.tm_hour);
  p[2] = ':';
  put2(p + 3, tm.tm_min);
  p[5] = ':';
  put2(p + 6, tm.tm_sec);
  p += 8;
  *p++ = ' ';
  *p++ = 'G';
  *p++ = 'M';
  *p++ = 'T';
}

std::string_view DateCache::now() {
  // time() is cheap (vDSO) and whole seconds are all the header can show, so
  // the text is rebuilt at most once a second however many responses go out.
  long long second = static_cast<long long>(std::time(nullptr));
  if (second != second_) {
    format_imf_fixdate(second, text_);
    len_ = IMF_FIXDATE_LEN;
    second_ = second;
  }
  return {text_, len_};
}

}  // namespace subcorn::http
