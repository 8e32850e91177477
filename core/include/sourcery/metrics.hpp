// Metrics (R-MET1): what happens inside a running store, as a snapshot a
// service feeds into its own metrics system, or writes in the Prometheus
// text exposition format.
//
//   auto snap = backend.metrics();
//   double committed = snap.value("sourcery_events_committed_total");
//   std::string text = sourcery::prometheus_text(snap); // what /metrics serves
//
// docs/metrics.md lists every metric. Names follow Prometheus's conventions:
// a `sourcery_` prefix, the unit in the name (`_seconds`, `_bytes`), `_total`
// on counters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sourcery {

enum class metric_type { counter, gauge, histogram };

/// Label names and values of one series, e.g. {{"subscription", "billing"}}.
using metric_labels = std::vector<std::pair<std::string, std::string>>;

/// A histogram's state: `counts[i]` observations were ≤ `bounds[i]` and above
/// the bound before it (not cumulative); the last entry of `counts` is the
/// overflow bucket (+Inf), so counts.size() == bounds.size() + 1.
struct histogram_value {
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;
  double sum = 0;
  std::uint64_t count = 0;

  /// The `q`-quantile (0..1), interpolated within its bucket; 0 when empty.
  double quantile(double q) const;
};

/// One series: its labels and its value (counters and gauges) or histogram.
struct metric_sample {
  metric_labels labels;
  double value = 0;
  std::optional<histogram_value> histogram; // histograms only
};

/// One metric: name, help text, type and its series.
struct metric_family {
  std::string name;
  std::string help;
  metric_type type = metric_type::gauge;
  std::vector<metric_sample> samples;
};

/// Every metric at one moment.
struct metrics_snapshot {
  std::vector<metric_family> families;

  /// The family named `name`, or null.
  const metric_family* find(const std::string& name) const;
  /// The sample of `name` with exactly `labels`, or null.
  const metric_sample* sample(const std::string& name, const metric_labels& labels = {}) const;
  /// That sample's value (a histogram's count); 0 when absent.
  double value(const std::string& name, const metric_labels& labels = {}) const;
};

/// `snapshot` in the Prometheus text exposition format 0.0.4 (HELP, TYPE,
/// one line per series; histograms as cumulative `_bucket{le=…}`, `_sum`,
/// `_count`), label values escaped.
std::string prometheus_text(const metrics_snapshot& snapshot);

} // namespace sourcery
