#include "report.hpp"

#include "axis_ticks.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

namespace harness {

namespace {

void ensure_parent(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty())
    std::filesystem::create_directories(parent);
}

std::ofstream open_for_writing(const std::string& path) {
  ensure_parent(path);
  errno = 0;
  std::ofstream out(path);
  if (!out)
    throw std::runtime_error("cannot write '" + path + "'"
                             + (errno ? std::string(": ") + std::strerror(errno) : ""));
  return out;
}

boost::json::object latency_json(const latency_histogram& h) {
  return {{"count", h.count()},
          {"p50_us", h.quantile_us(0.5)},
          {"p90_us", h.quantile_us(0.9)},
          {"p99_us", h.quantile_us(0.99)},
          {"p999_us", h.quantile_us(0.999)},
          {"max_us", h.max_us()}};
}

std::string fmt_us(double us) {
  char buf[32];
  if (us < 1000)
    std::snprintf(buf, sizeof buf, "%.0f µs", us);
  else if (us < 1'000'000)
    std::snprintf(buf, sizeof buf, "%.2f ms", us / 1000);
  else
    std::snprintf(buf, sizeof buf, "%.2f s", us / 1e6);
  return buf;
}

void latency_line(std::ostream& out, const char* name, const latency_histogram& h) {
  out << "  " << std::left << std::setw(22) << name;
  if (h.count() == 0) {
    out << "(none)\n";
    return;
  }
  out << "p50 " << std::setw(10) << fmt_us(h.quantile_us(0.5)) << " p90 " << std::setw(10)
      << fmt_us(h.quantile_us(0.9)) << " p99 " << std::setw(10) << fmt_us(h.quantile_us(0.99))
      << " p99.9 " << std::setw(10) << fmt_us(h.quantile_us(0.999)) << " max "
      << fmt_us(h.max_us()) << "  (" << h.count() << " samples)\n";
}

double mib(std::size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

/// The samples to print: one a minute for runs of three minutes or more,
/// else about ten over the run, a round step apart (0.1 s, 0.2 s, 0.25 s,
/// 0.5 s, 1 s, …); always the last.
std::vector<memory_sample> memory_rows(const std::vector<memory_sample>& all) {
  std::vector<memory_sample> rows;
  if (all.empty())
    return rows;
  double end = all.back().t;
  double step = end >= 180 ? 60 : std::max(0.01, ticks::nice_step(end, 12));
  double next = 0;
  for (const auto& s : all)
    if (s.t >= next - 1e-9) {
      rows.push_back(s);
      while (next <= s.t + 1e-9)
        next += step;
    }
  if (end - rows.back().t < step / 10)
    rows.back() = all.back(); // the last, not two moments that print alike
  else if (rows.back().t != end)
    rows.push_back(all.back());
  return rows;
}

/// A moment of the run: m:ss, or seconds ("1.2"; "0.52" when the run,
/// `end` seconds, is shorter than 10 s) in a run shorter than a minute.
std::string clock_time(double t, bool short_run, double end) {
  char buf[32];
  if (short_run) {
    std::snprintf(buf, sizeof buf, end < 10 ? "%.2f" : "%.1f", t);
    return buf;
  }
  auto whole = static_cast<long>(t + 0.5);
  std::snprintf(buf, sizeof buf, "%ld:%02ld", whole / 60, whole % 60);
  return buf;
}

} // namespace

void check_report_path(const std::string& setting, const std::string& path) {
  std::error_code ec;
  bool existed = std::filesystem::exists(path, ec);
  try {
    ensure_parent(path);
  } catch (const std::filesystem::filesystem_error& e) {
    throw std::runtime_error(setting + ": cannot make the folder of '" + path
                             + "': " + e.code().message());
  }
  errno = 0;
  if (!std::ofstream(path, std::ios::app)) // appends nothing: the file stays as it is
    throw std::runtime_error(setting + ": cannot write '" + path + "'"
                             + (errno ? std::string(": ") + std::strerror(errno) : ""));
  if (!existed)
    std::filesystem::remove(path, ec);
}

bool report::ok() const {
  return std::all_of(checks.begin(), checks.end(), [](const check& c) { return c.ok; });
}

void print_text(const report& r, std::ostream& out) {
  out << "\n== Sourcery load harness: scenario '" << r.settings->name << "'\n";
  out << "Settings:\n";
  for (const auto& [k, v] : r.settings->describe())
    out << "  " << k << " = " << v << "\n";
  out << std::fixed << std::setprecision(0);
  out << "Throughput:\n";
  out << "  " << r.events << " events in " << r.appends << " appends over " << std::setprecision(2)
      << r.seconds << " s = " << std::setprecision(0)
      << (r.seconds > 0 ? r.events / r.seconds : 0) << " events/s, "
      << (r.seconds > 0 ? r.appends / r.seconds : 0) << " appends/s\n";
  out << "Latency:\n";
  latency_line(out, "append", r.append);
  latency_line(out, "append -> subscriber", r.end_to_end);
  latency_line(out, "append -> outbox", r.outbox_publish);
  out << "Memory:\n";
  out << "  peak RSS " << r.peak_rss / (1024 * 1024) << " MiB; " << r.bytes_per_event
      << " B per stored event (" << r.log_bytes_per_event << " B of it in the global log); "
      << r.bytes_per_tenant << " B per tenant; allocator " << r.allocator << "\n";
  if (!r.memory.empty()) {
    bool short_run = r.memory.back().t < 60;
    const char* when = short_run ? "s" : "m:ss";
    auto rows = memory_rows(r.memory);
    out << "  resident memory (" << r.memory.size() << " samples, " << sample_period_text() << "; "
        << rows.size() << " shown), " << when << " MiB:\n   ";
    out << std::setprecision(1);
    for (const auto& s : rows)
      out << " " << clock_time(s.t, short_run, r.memory.back().t) << " " << mib(s.rss);
    out << "\n  of which the storage engine's own count (caches, memtables, records), " << when
        << " MiB:\n   ";
    for (const auto& s : rows)
      out << " " << clock_time(s.t, short_run, r.memory.back().t) << " " << mib(s.engine);
    out << std::setprecision(0) << "\n";
  }
  out << "Storage:\n  " << r.settings->storage.engine;
  if (r.settings->storage.engine == "postgres")
    out << " schema '" << r.settings->storage.schema << "', durability "
        << r.settings->storage.durability;
  else if (r.settings->storage.durable())
    out << " at '" << r.settings->storage.path << "', durability " << r.settings->storage.durability
        << ", cache " << r.settings->storage.cache_mb << " MB";
  out << "\n";
  if (r.settings->outbox)
    out << "Outbox:\n  " << r.outbox_published << " published, " << r.outbox_failures
        << " failed attempts, " << r.outbox_dead << " dead letters\n";
  out << "Verification:\n";
  for (const auto& n : r.notes)
    out << "  " << n << "\n";
  for (const auto& c : r.checks)
    out << "  [" << (c.ok ? "ok" : "FAILED") << "] " << c.name
        << (c.detail.empty() ? "" : ": " + c.detail) << "\n";
  out << (r.ok() ? "PASSED" : "FAILED") << "\n";
}

void write_json(const report& r, const std::string& path) {
  boost::json::object settings;
  for (const auto& [k, v] : r.settings->describe())
    settings[k] = v;
  boost::json::array checks;
  for (const auto& c : r.checks)
    checks.push_back({{"name", c.name}, {"ok", c.ok}, {"detail", c.detail}});
  boost::json::array lag_series;
  for (const auto& l : r.lags) {
    boost::json::array lag;
    for (double v : l.lag)
      lag.push_back(v);
    lag_series.push_back({{"t", l.t}, {"lag_events", lag}});
  }
  boost::json::array series;
  for (const auto& s : r.series)
    series.push_back({{"t", s.t},
                      {"events_per_s", s.events_per_s},
                      {"append_p50_us", s.append_p50},
                      {"append_p99_us", s.append_p99},
                      {"e2e_p50_us", s.e2e_p50},
                      {"e2e_p99_us", s.e2e_p99}});
  boost::json::array rss;
  for (const auto& m : r.memory)
    rss.push_back({m.t, m.rss});
  boost::json::array engine;
  for (const auto& m : r.memory)
    engine.push_back({m.t, m.engine});
  boost::json::array notes;
  for (const auto& n : r.notes)
    notes.push_back(boost::json::value(n));
  boost::json::object doc{
    {"settings", settings},
    {"throughput",
     {{"events", r.events},
      {"appends", r.appends},
      {"seconds", r.seconds},
      {"events_per_s", r.seconds > 0 ? r.events / r.seconds : 0}}},
    {"latency",
     {{"append", latency_json(r.append)},
      {"append_to_subscriber", latency_json(r.end_to_end)},
      {"append_to_outbox", latency_json(r.outbox_publish)}}},
    {"memory",
     {{"peak_rss_bytes", r.peak_rss},
      {"allocator", r.allocator},
      {"bytes_per_event", r.bytes_per_event},
      {"log_bytes_per_event", r.log_bytes_per_event},
      {"bytes_per_tenant", r.bytes_per_tenant},
      {"rss_samples", rss},
      {"engine_samples", engine}}},
    {"outbox",
     {{"published", r.outbox_published},
      {"failed_attempts", r.outbox_failures},
      {"dead_letters", r.outbox_dead}}},
    {"verification", {{"passed", r.ok()}, {"notes", notes}, {"checks", checks}}},
    {"series", series},
    {"subscription_lag", lag_series},
  };
  auto out = open_for_writing(path);
  out << boost::json::serialize(doc) << "\n";
}

void write_svg(const report& r, const std::string& path) {
  constexpr double w = 900, h = 260, left = 80, right = 20, top = 30, bottom = 40;
  const double pw = w - left - right, ph = h - top - bottom;
  double t_end = 0, rate_max = 0, lat_min = 0, lat_max = 0;
  for (const auto& s : r.series) {
    t_end = std::max(t_end, s.t);
    rate_max = std::max(rate_max, s.events_per_s);
    for (double v : {s.append_p50, s.append_p99, s.e2e_p50, s.e2e_p99})
      if (v > 0) {
        lat_min = lat_min > 0 ? std::min(lat_min, v) : v;
        lat_max = std::max(lat_max, v);
      }
  }
  for (const auto& m : r.memory)
    t_end = std::max(t_end, m.t);
  if (lat_max <= 0)
    lat_min = lat_max = 1000; // nothing measured: an axis around 1 ms
  // Round numbers on every axis (axis_ticks.hpp): seconds or minutes along
  // the bottom; 250k, 500k events/s; 1-2-5 × 10^k µs (log scale); MiB.
  // The time axis ends where the data does; its ticks are the round ones
  // within.
  if (!(t_end > 0))
    t_end = 1;
  const bool minutes = t_end >= 120;
  auto time = ticks::time_axis(t_end);
  while (time.at.size() > 2 && time.at.back() > t_end * (1 + 1e-9))
    time.at.pop_back();
  time.hi = t_end;
  const auto rate = ticks::linear(rate_max, 5);
  const auto lat = ticks::logarithmic(lat_min, lat_max);
  auto x = [&](double t) { return left + pw * t / time.hi; };
  std::ostringstream svg;
  svg << std::fixed << std::setprecision(1);
  auto frame = [&](double y0, const std::string& title) {
    svg << "<rect x='" << left << "' y='" << y0 << "' width='" << pw << "' height='" << ph
        << "' fill='#fafafa' stroke='#999'/>"
        << "<text x='" << left << "' y='" << y0 - 8 << "' font-size='14'>" << title << "</text>";
    for (std::size_t i = 0; i < time.at.size(); ++i) {
      auto t = time.at[i];
      if (i > 0 && x(t) < left + pw - 1)
        svg << "<line x1='" << x(t) << "' x2='" << x(t) << "' y1='" << y0 << "' y2='" << y0 + ph
            << "' stroke='#eee'/>";
      svg << "<text x='" << x(t) << "' y='" << y0 + ph + 16 << "' font-size='11' text-anchor='"
          << (i == 0 ? "start" : x(t) > left + pw - 25 ? "end" : "middle") << "'>"
          << ticks::seconds(t, minutes) << (i == 0 ? (minutes ? " min" : " s") : "") << "</text>";
    }
  };
  auto gridline = [&](double y, const std::string& label) {
    svg << "<line x1='" << left << "' x2='" << left + pw << "' y1='" << y << "' y2='" << y
        << "' stroke='#ddd'/><text x='" << left - 6 << "' y='" << y + 4
        << "' font-size='11' text-anchor='end'>" << label << "</text>";
  };
  // A curve through (t, y) points, y < 0 skipped; dots on it when the points
  // are few enough to tell apart.
  auto curve = [&](const std::vector<std::pair<double, double>>& points, const char* color) {
    svg << "<polyline fill='none' stroke='" << color << "' stroke-width='2' points='";
    for (const auto& [t, y] : points)
      if (y >= 0)
        svg << x(t) << "," << y << " ";
    svg << "'/>";
    if (points.size() <= 120)
      for (const auto& [t, y] : points)
        if (y >= 0)
          svg << "<circle cx='" << x(t) << "' cy='" << y << "' r='2' fill='" << color << "'/>";
  };
  auto series_curve = [&](auto y_of, const char* color) {
    std::vector<std::pair<double, double>> points;
    for (const auto& s : r.series)
      points.emplace_back(s.t, y_of(s));
    curve(points, color);
  };
  const int panels = 2 + (r.memory.empty() ? 0 : 1) + (r.lags.empty() ? 0 : 1);
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << w << "' height='" << panels * h + 10
      << "' font-family='sans-serif'>"
      << "<rect width='100%' height='100%' fill='white'/>"
      << "<text x='" << left << "' y='18' font-size='15' font-weight='bold'>Sourcery load harness: "
      << r.settings->name << " (" << (r.ok() ? "verified" : "VERIFICATION FAILED") << "), "
      << r.series.size() << " intervals over "
      << std::setprecision(t_end < 10 ? 2 : t_end < 100 ? 1 : 0) << t_end << std::setprecision(1)
      << " s</text>";
  double y1 = top + 20;
  frame(y1, "Committed events per second");
  for (double v : rate.at)
    gridline(y1 + ph * (1 - v / rate.hi), ticks::si(v));
  series_curve([&](const sample& s) { return y1 + ph * (1 - s.events_per_s / rate.hi); },
               "#1f77b4");
  double y2 = h + top + 20;
  frame(y2, "Latency per interval (log scale): append p50 green, p99 olive; "
            "append to subscriber p50 blue, p99 red");
  auto ly = [&](double v) {
    if (v <= 0)
      return -1.0;
    auto f = std::log10(v / lat.lo) / std::log10(lat.hi / lat.lo);
    return y2 + ph * (1 - std::clamp(f, 0.0, 1.0));
  };
  for (double v : lat.at)
    gridline(ly(v), ticks::micros(v));
  series_curve([&](const sample& s) { return ly(s.append_p50); }, "#2ca02c");
  series_curve([&](const sample& s) { return ly(s.append_p99); }, "#bcbd22");
  series_curve([&](const sample& s) { return ly(s.e2e_p50); }, "#1f77b4");
  series_curve([&](const sample& s) { return ly(s.e2e_p99); }, "#d62728");
  if (!r.memory.empty()) {
    double y3 = 2 * h + top + 20, rss_max = 0;
    for (const auto& m : r.memory)
      rss_max = std::max({rss_max, mib(m.rss), mib(m.engine)});
    auto mem = ticks::memory_axis(rss_max);
    frame(y3, "Resident memory (purple) and the storage engine's own count (grey), sampled "
                + sample_period_text());
    for (double v : mem.at)
      gridline(y3 + ph * (1 - v / mem.hi), ticks::mebibytes(v));
    auto memory_curve = [&](auto bytes_of, const char* color) {
      std::vector<std::pair<double, double>> points;
      for (const auto& m : r.memory)
        points.emplace_back(m.t, y3 + ph * (1 - mib(bytes_of(m)) / mem.hi));
      curve(points, color);
    };
    memory_curve([](const memory_sample& m) { return m.engine; }, "#aaaaaa");
    memory_curve([](const memory_sample& m) { return m.rss; }, "#9467bd");
  }
  if (!r.lags.empty()) {
    double y4 = (panels - 1) * h + top + 20, lag_max = 1;
    for (const auto& l : r.lags)
      for (double v : l.lag)
        lag_max = std::max(lag_max, v);
    auto axis = ticks::linear(lag_max, 4);
    frame(y4, "Subscription lag: log positions behind the last commit (from backend.metrics()), "
              "one curve per subscription");
    for (double v : axis.at)
      gridline(y4 + ph * (1 - v / axis.hi), ticks::si(v));
    static const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};
    for (std::size_t k = 0; k < r.lags.front().lag.size(); ++k) {
      std::vector<std::pair<double, double>> points;
      for (const auto& l : r.lags)
        if (k < l.lag.size())
          points.emplace_back(std::min(l.t, t_end), y4 + ph * (1 - l.lag[k] / axis.hi));
      curve(points, colors[k % 6]);
    }
  }
  svg << "</svg>\n";
  auto out = open_for_writing(path);
  out << svg.str();
}

} // namespace harness
