#include <sourcery/metrics.hpp>

#include <charconv>
#include <cmath>

namespace sourcery {

double histogram_value::quantile(double q) const {
  if (count == 0)
    return 0;
  auto rank = q * static_cast<double>(count);
  double seen = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    auto n = static_cast<double>(counts[i]);
    if (seen + n >= rank && n > 0) {
      if (i == bounds.size()) // the overflow bucket: its lower bound is all we know
        return bounds.empty() ? 0 : bounds.back();
      double lower = i == 0 ? 0 : bounds[i - 1];
      return lower + (bounds[i] - lower) * ((rank - seen) / n);
    }
    seen += n;
  }
  return bounds.empty() ? 0 : bounds.back();
}

const metric_family* metrics_snapshot::find(const std::string& name) const {
  for (const auto& f : families)
    if (f.name == name)
      return &f;
  return nullptr;
}

const metric_sample* metrics_snapshot::sample(const std::string& name,
                                              const metric_labels& labels) const {
  const auto* f = find(name);
  if (!f)
    return nullptr;
  for (const auto& s : f->samples)
    if (s.labels == labels)
      return &s;
  return nullptr;
}

double metrics_snapshot::value(const std::string& name, const metric_labels& labels) const {
  const auto* s = sample(name, labels);
  if (!s)
    return 0;
  return s->histogram ? static_cast<double>(s->histogram->count) : s->value;
}

namespace {

void append_number(std::string& out, double x) {
  if (std::isnan(x)) {
    out += "NaN";
  } else if (std::isinf(x)) {
    out += x > 0 ? "+Inf" : "-Inf";
  } else if (x == std::floor(x) && std::fabs(x) < 1e15) {
    out += std::to_string(static_cast<long long>(x));
  } else {
    char buf[32]; // the shortest text that reads back as `x`
    auto end = std::to_chars(buf, buf + sizeof buf, x).ptr;
    out.append(buf, end);
  }
}

/// HELP text: backslash and newline escaped.
void append_help(std::string& out, const std::string& text) {
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

/// A label value: backslash, double quote and newline escaped.
void append_label_value(std::string& out, const std::string& text) {
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

/// `{a="x",b="y"}` with `extra` (le="…") last; nothing when there are no labels.
void append_labels(std::string& out, const metric_labels& labels, const char* extra_name = nullptr,
                   const std::string& extra_value = {}) {
  if (labels.empty() && !extra_name)
    return;
  out += '{';
  bool first = true;
  auto one = [&](const std::string& name, const std::string& value) {
    if (!first)
      out += ',';
    first = false;
    out += name;
    out += "=\"";
    append_label_value(out, value);
    out += '"';
  };
  for (const auto& [name, value] : labels)
    one(name, value);
  if (extra_name)
    one(extra_name, extra_value);
  out += '}';
}

const char* type_name(metric_type t) {
  switch (t) {
  case metric_type::counter: return "counter";
  case metric_type::gauge: return "gauge";
  case metric_type::histogram: return "histogram";
  }
  return "untyped";
}

} // namespace

std::string prometheus_text(const metrics_snapshot& snapshot) {
  std::string out;
  out.reserve(snapshot.families.size() * 160);
  for (const auto& f : snapshot.families) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    append_help(out, f.help);
    out += "\n# TYPE ";
    out += f.name;
    out += ' ';
    out += type_name(f.type);
    out += '\n';
    for (const auto& s : f.samples) {
      if (f.type == metric_type::histogram && s.histogram) {
        const auto& h = *s.histogram;
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < h.counts.size(); ++i) {
          cumulative += h.counts[i];
          std::string le;
          if (i < h.bounds.size())
            append_number(le, h.bounds[i]);
          else
            le = "+Inf";
          out += f.name;
          out += "_bucket";
          append_labels(out, s.labels, "le", le);
          out += ' ';
          append_number(out, static_cast<double>(cumulative));
          out += '\n';
        }
        out += f.name;
        out += "_sum";
        append_labels(out, s.labels);
        out += ' ';
        append_number(out, h.sum);
        out += '\n';
        out += f.name;
        out += "_count";
        append_labels(out, s.labels);
        out += ' ';
        append_number(out, static_cast<double>(h.count));
        out += '\n';
      } else {
        out += f.name;
        append_labels(out, s.labels);
        out += ' ';
        append_number(out, s.value);
        out += '\n';
      }
    }
  }
  return out;
}

} // namespace sourcery
