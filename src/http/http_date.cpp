#include "http/http_date.h"

#include <ctime>
#include <string_view>

#include "http/response.h"

namespace subcorn::http {
namespace {

void put2(char* out, int v) noexcept {
  out[0] = static_cast<char>('0' + v / 10);
  out[1] = static_cast<char>('0' + v % 10);
}

constexpr std::string_view kDayNames[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::string_view kLongDayNames[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                              "Thursday", "Friday", "Saturday"};
constexpr std::string_view kMonthNames[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days from 1970-01-01 to year-month-day in the proleptic Gregorian
// calendar (month 1-12): the era arithmetic of "days from civil".
long long days_from_civil(long long year, int month, int day) noexcept {
  year -= month <= 2 ? 1 : 0;
  const long long era = (year >= 0 ? year : year - 399) / 400;
  const long long year_of_era = year - era * 400;
  const int shifted_month = month > 2 ? month - 3 : month + 9;  // March is 0
  const long long day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
  const long long day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

bool leap_year(long long year) noexcept {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(long long year, int month) noexcept {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && leap_year(year) ? 29 : kDays[month - 1];
}

// Reads a date's parts from the front of a view; each call takes exactly
// what it names or fails, and failures stick (ok() says).
class DateReader {
 public:
  explicit DateReader(std::string_view text) : rest_(text) {}

  bool ok() const noexcept { return ok_; }
  bool at_end() const noexcept { return ok_ && rest_.empty(); }

  void literal(std::string_view expected) noexcept {
    if (ok_ && rest_.starts_with(expected)) rest_.remove_prefix(expected.size());
    else ok_ = false;
  }
  // Exactly `count` digits.
  int digits(int count) noexcept {
    int value = 0;
    for (int i = 0; i < count; ++i) {
      if (!ok_ || rest_.empty() || rest_[0] < '0' || rest_[0] > '9') {
        ok_ = false;
        return 0;
      }
      value = value * 10 + (rest_[0] - '0');
      rest_.remove_prefix(1);
    }
    return value;
  }
  // asctime's day of the month: two digits, or a space and one digit.
  int padded_day() noexcept {
    if (ok_ && rest_.starts_with(' ')) {
      rest_.remove_prefix(1);
      return digits(1);
    }
    return digits(2);
  }
  // Which of `names` comes next (case-sensitive, as RFC 9110 writes them): its index.
  template <size_t N>
  int name(const std::string_view (&names)[N]) noexcept {
    for (size_t i = 0; ok_ && i < N; ++i) {
      if (rest_.starts_with(names[i])) {
        rest_.remove_prefix(names[i].size());
        return static_cast<int>(i);
      }
    }
    ok_ = false;
    return 0;
  }
  // "HH:MM:SS" as seconds into the day.
  int time_of_day() noexcept {
    int hour = digits(2);
    literal(":");
    int minute = digits(2);
    literal(":");
    int second = digits(2);
    // 60: a leap second, which RFC 9110 allows (it is read as the next second).
    if (hour > 23 || minute > 59 || second > 60) ok_ = false;
    return hour * 3600 + minute * 60 + second;
  }

 private:
  std::string_view rest_;
  bool ok_ = true;
};

std::optional<long long> to_unix(long long year, int month, int day, int seconds) noexcept {
  if (day < 1 || day > days_in_month(year, month)) return std::nullopt;
  return days_from_civil(year, month, day) * 86400 + seconds;
}

// What follows the day name in the forms that put the day first:
// IMF-fixdate's ", 06 Nov 1994 08:49:37 GMT" (separator " ", a four-digit
// year) and RFC 850's ", 06-Nov-94 08:49:37 GMT" ("-", two digits).
std::optional<long long> day_first_after_day(DateReader r, std::string_view separator,
                                            int year_digits) noexcept {
  r.literal(", ");
  int day = r.digits(2);
  r.literal(separator);
  int month = r.name(kMonthNames) + 1;
  r.literal(separator);
  int year = r.digits(year_digits);
  r.literal(" ");
  int seconds = r.time_of_day();
  r.literal(" GMT");
  if (!r.at_end()) return std::nullopt;
  if (year_digits == 2) year += year < 70 ? 2000 : 1900;
  return to_unix(year, month, day, seconds);
}

// "Sun Nov  6 08:49:37 1994", after the day name.
std::optional<long long> asctime_after_day(DateReader r) noexcept {
  r.literal(" ");
  int month = r.name(kMonthNames) + 1;
  r.literal(" ");
  int day = r.padded_day();
  r.literal(" ");
  int seconds = r.time_of_day();
  r.literal(" ");
  int year = r.digits(4);
  if (!r.at_end()) return std::nullopt;
  return to_unix(year, month, day, seconds);
}

}  // namespace

std::optional<long long> parse_http_date(std::string_view text) noexcept {
  // A long day name (RFC 850) also starts with its short one: try it first.
  DateReader long_day(text);
  long_day.name(kLongDayNames);
  if (long_day.ok()) return day_first_after_day(long_day, "-", 2);
  DateReader short_day(text);
  short_day.name(kDayNames);
  if (!short_day.ok()) return std::nullopt;
  if (text.size() > 3 && text[3] == ',') return day_first_after_day(short_day, " ", 4);
  return asctime_after_day(short_day);
}

void format_imf_fixdate(long long unix_seconds, char* out) noexcept {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  int year = tm.tm_year + 1900;
  char* p = out;
  for (char c : kDayNames[tm.tm_wday]) *p++ = c;
  *p++ = ',';
  *p++ = ' ';
  put2(p, tm.tm_mday);
  p += 2;
  *p++ = ' ';
  for (char c : kMonthNames[tm.tm_mon]) *p++ = c;
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
