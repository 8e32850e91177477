// Axis ticks for the report's picture (issue 22, item 7): round numbers a
// reader takes in at a glance — steps of 1, 2, 2.5 or 5 × 10^k on a linear
// axis, 1, 2 and 5 × 10^k on a logarithmic one — and their labels with SI
// prefixes and units: "250k", "1.5M" events/s, "500 µs", "2 ms", "64 MiB",
// "30 s", "2 min". Standard C++ only; tested by tests/apps/nice_ticks_test.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

namespace harness::ticks {

/// An axis from `lo` to `hi` (the ends are ticks) and its ticks, ascending.
struct axis {
  double lo = 0;
  double hi = 1;
  std::vector<double> at;
};

/// The smallest step of 1, 2, 2.5 or 5 × 10^k that cuts `range` into at
/// most `intervals` parts; 1 for an empty or non-finite range.
inline double nice_step(double range, int intervals) {
  if (!(range > 0) || !std::isfinite(range) || intervals < 1)
    return 1;
  double raw = range / intervals;
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * magnitude >= raw * (1 - 1e-9))
      return m * magnitude;
  return 10 * magnitude;
}

/// `i` × `step` without the error of repeated addition (3 × 0.1 is 0.3).
inline double multiple(long i, double step) {
  double v = static_cast<double>(i) * step;
  double scale = std::pow(10.0, 12 - std::floor(std::log10(std::max(std::abs(v), 1e-300))));
  return v == 0 ? 0 : std::round(v * scale) / scale;
}

/// A linear axis from 0 to the first tick at or above `max`, with at most
/// `intervals` intervals of one nice_step. A `max` of 0 or less (or not a
/// number) gives 0 to 1.
inline axis linear(double max, int intervals = 5) {
  if (!(max > 0) || !std::isfinite(max))
    max = 1;
  double step = nice_step(max, intervals);
  long n = static_cast<long>(std::ceil(max / step * (1 - 1e-9)));
  axis out;
  out.lo = 0;
  for (long i = 0; i <= std::max(n, 1L); ++i)
    out.at.push_back(multiple(i, step));
  out.hi = out.at.back();
  return out;
}

/// A logarithmic axis over [min, max] (both > 0; clamped to at least 1e-9):
/// its ends and ticks are 1, 2 and 5 × 10^k, the ends the nearest such
/// values around the data; when that gives more than `max_ticks` ticks, whole
/// decades only.
inline axis logarithmic(double min, double max, int max_ticks = 8) {
  min = std::max(std::isfinite(min) ? min : 1.0, 1e-9);
  max = std::max(std::isfinite(max) ? max : min, min);
  long d_lo = static_cast<long>(std::floor(std::log10(min) + 1e-9));
  long d_hi = static_cast<long>(std::ceil(std::log10(max) - 1e-9));
  auto candidates = [&](std::initializer_list<double> mantissas) {
    std::vector<double> all;
    for (long d = d_lo; d <= d_hi; ++d)
      for (double m : mantissas)
        all.push_back(m * std::pow(10.0, static_cast<double>(d)));
    all.push_back(std::pow(10.0, static_cast<double>(d_hi + 1)));
    // The ends: the last candidate at or below min, the first at or above max.
    auto eps = 1e-9;
    auto first =
      std::find_if(all.rbegin(), all.rend(), [&](double v) { return v <= min * (1 + eps); });
    auto last =
      std::find_if(all.begin(), all.end(), [&](double v) { return v >= max * (1 - eps); });
    std::vector<double> out(first == all.rend() ? all.begin() : std::prev(first.base()),
                            last == all.end() ? all.end() : std::next(last));
    if (out.size() < 2) // min == max on a tick: one step up
      out.push_back(*std::upper_bound(all.begin(), all.end(), out.back()));
    return out;
  };
  auto at = candidates({1, 2, 5});
  if (static_cast<int>(at.size()) > max_ticks)
    at = candidates({1});
  return {at.front(), at.back(), at};
}

/// `v` in the shortest form with at most three significant digits below
/// 1,000 (2.5, 250, 1.25), whole from 1,000 on (1000, 2500).
inline std::string shortest(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, std::abs(v) >= 1000 ? "%.0f" : "%.3g", v);
  return buf;
}

/// `v` with an SI prefix: 0, 500, 250k, 1M, 1.5M, 2G.
inline std::string si(double v) {
  double a = std::abs(v);
  if (a >= 1e9 * (1 - 1e-9))
    return shortest(v / 1e9) + "G";
  if (a >= 1e6 * (1 - 1e-9))
    return shortest(v / 1e6) + "M";
  if (a >= 1e3 * (1 - 1e-9))
    return shortest(v / 1e3) + "k";
  return shortest(v);
}

/// A latency given in µs: 500 µs, 1 ms, 2.5 ms, 1 s.
inline std::string micros(double us) {
  if (us >= 1e6 * (1 - 1e-9))
    return shortest(us / 1e6) + " s";
  if (us >= 1e3 * (1 - 1e-9))
    return shortest(us / 1e3) + " ms";
  return shortest(us) + " µs";
}

/// A memory size given in MiB: 64 MiB, 512 MiB, 1.5 GiB.
inline std::string mebibytes(double mib) {
  if (mib >= 1024 * (1 - 1e-9))
    return shortest(mib / 1024) + " GiB";
  return shortest(mib) + " MiB";
}

/// A memory axis in MiB from 0 to at least `max_mib`: steps of MiB, or of
/// GiB from 1 GiB on (0, 512 MiB, 1 GiB, 1.5 GiB); label with mebibytes().
inline axis memory_axis(double max_mib, int intervals = 4) {
  if (max_mib < 1024)
    return linear(max_mib, intervals);
  auto gib = linear(max_mib / 1024, intervals);
  for (auto& v : gib.at)
    v *= 1024;
  gib.hi *= 1024;
  return gib;
}

/// The time axis of a run `seconds` long: from 0 in nice steps of seconds,
/// or of minutes from two minutes on.
inline axis time_axis(double seconds, int intervals = 8) {
  if (seconds >= 120) {
    auto minutes = linear(seconds / 60, intervals);
    for (auto& t : minutes.at)
      t *= 60;
    minutes.hi *= 60;
    return minutes;
  }
  return linear(seconds, intervals);
}

/// A time in seconds as time_axis places it: 0.5 s, 30 s, 2 min, 2.5 min.
inline std::string seconds(double s, bool in_minutes) {
  if (s == 0)
    return "0";
  return in_minutes ? shortest(s / 60) + " min" : shortest(s) + " s";
}

} // namespace harness::ticks
