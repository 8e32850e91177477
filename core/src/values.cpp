#include <sourcery/errors.hpp>
#include <sourcery/registry.hpp>
#include <sourcery/events.hpp>

#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include <cstdio>
#include <ctime>

namespace sourcery {

expected_version::expected_version(int v) : value_(static_cast<std::uint64_t>(v)) {
  if (v < 0)
    throw invalid_argument("expected version must not be negative, got " + std::to_string(v));
}

timestamp timestamp::now() noexcept {
  return timestamp{std::chrono::time_point_cast<duration>(std::chrono::system_clock::now())};
}

std::string timestamp::to_string() const {
  // Floor division without negating: defined for every value, INT64_MIN too
  // (issue 14: `-us` overflowed).
  auto us = micros();
  auto secs = us / 1'000'000;
  auto frac = us % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    secs -= 1;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  if (!gmtime_r(&t, &tm)) { // not with a 64-bit time_t: ±292,277 years fit an int
    // Appended rather than `"(" + ...`, on which GCC 12 warns falsely (-Wrestrict, bug 105329).
    std::string text = "(";
    text += std::to_string(us);
    text += " microseconds since 1970)";
    return text;
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(frac));
  return buf;
}

timestamp timestamp::parse(std::string_view text) {
  int y, mo, d, h, mi, s;
  long long frac = 0;
  int consumed = 0;
  std::string str(text);
  char fracbuf[8] = {};
  int n = std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed);
  if (n != 6)
    throw invalid_argument("malformed timestamp '" + str + "'");
  std::string_view rest = text.substr(static_cast<std::size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    std::size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9')
      ++digits;
    if (digits == 0 || digits > 6)
      throw invalid_argument("malformed timestamp '" + str + "'");
    for (std::size_t i = 0; i < 6; ++i)
      fracbuf[i] = i < digits ? rest[i] : '0';
    frac = std::atoll(fracbuf);
    rest.remove_prefix(digits);
  }
  if (rest != "Z" && rest != "+00:00")
    throw invalid_argument("timestamp '" + str + "' is not UTC");
  using namespace std::chrono;
  auto ymd = year{y} / month{static_cast<unsigned>(mo)} / day{static_cast<unsigned>(d)};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60)
    throw invalid_argument("malformed timestamp '" + str + "'");
  auto tp = sys_days{ymd} + hours{h} + minutes{mi} + seconds{s} + microseconds{frac};
  return timestamp{time_point_cast<duration>(tp)};
}

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v, const timestamp& t) {
  // The JSON form has four-digit years; other years would not read back.
  // Compared in microseconds: a civil date is not computed (nor defined) for
  // the whole range of the representation.
  using namespace std::chrono;
  constexpr auto first = sys_days{year{0} / January / 1};
  constexpr auto last = sys_days{year{9999} / December / 31} + days{1};
  if (t.time < first || t.time >= last)
    throw invalid_argument("timestamp " + t.to_string()
                           + " is outside the years 0000-9999 that its JSON form holds");
  v = boost::json::string(t.to_string());
}

timestamp tag_invoke(const boost::json::value_to_tag<timestamp>&, const boost::json::value& v) {
  return timestamp::parse(v.as_string());
}

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v, const context& c) {
  // Checked before the copy below, which (like all of Boost.JSON's copies)
  // recurses once per level: a context too deep to store is refused here.
  serde::detail::check_encodable(c.extra);
  boost::json::object obj = c.extra;
  if (c.correlation_id)
    obj["correlation_id"] = to_string(*c.correlation_id);
  if (c.causation_id)
    obj["causation_id"] = to_string(*c.causation_id);
  v = std::move(obj);
}

context tag_invoke(const boost::json::value_to_tag<context>&, const boost::json::value& v) {
  context c;
  c.extra = v.as_object();
  auto take = [&](const char* key, std::optional<uuid>& out) {
    if (auto* it = c.extra.if_contains(key); it && it->is_string()) {
      out = parse_uuid(it->get_string());
      c.extra.erase(key);
    }
  };
  take("correlation_id", c.correlation_id);
  take("causation_id", c.causation_id);
  return c;
}

} // namespace sourcery

namespace boost::uuids {

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v, const uuid& id) {
  v = boost::json::string(sourcery::to_string(id));
}

uuid tag_invoke(const boost::json::value_to_tag<uuid>&, const boost::json::value& v) {
  return sourcery::parse_uuid(v.as_string());
}

} // namespace boost::uuids
