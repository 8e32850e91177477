// What the harness measured and verified, as text, JSON and an SVG picture.
#pragma once

#include "metrics.hpp"
#include "scenario.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace harness {

struct check {
  std::string name;
  bool ok = false;
  std::string detail;
};

struct report {
  const scenario* settings = nullptr;
  double seconds = 0;
  std::uint64_t events = 0;  // committed
  std::uint64_t appends = 0; // committed appends
  latency_histogram append, end_to_end, outbox_publish;
  std::size_t peak_rss = 0;
  std::string allocator; // allocator_name()
  double bytes_per_event = 0;
  double bytes_per_tenant = 0;
  double log_bytes_per_event = 0;
  std::size_t outbox_published = 0, outbox_dead = 0, outbox_failures = 0;
  std::vector<check> checks;
  std::vector<sample> series;
  std::vector<memory_sample> memory; // resident memory, one sample a second
  std::vector<lag_sample> lags;      // subscription lag, with the series and until caught up
  std::vector<std::string> notes;    // how the run was verified, for the reader

  bool ok() const;
};

/// Throws std::runtime_error naming `setting` unless `path` can be written
/// (its folder is made if missing; the file, if any, is left unchanged):
/// checked before a run, so that a long run does not end unable to report.
void check_report_path(const std::string& setting, const std::string& path);

void print_text(const report& r, std::ostream& out);
/// Writes the report as JSON; throws std::runtime_error naming the path.
void write_json(const report& r, const std::string& path);
/// Writes throughput, latency and resident memory over the run as a
/// self-contained SVG.
void write_svg(const report& r, const std::string& path);

} // namespace harness
