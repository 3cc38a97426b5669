#include "server/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace portlease {
namespace {

bool ValidName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '_' || c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Label values escape \, " and newline; help text \ and newline.
std::string Escape(absl::string_view text, bool quote) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string RenderLabels(const Labels& labels,
                         const std::pair<std::string, std::string>* extra =
                             nullptr) {
  if (labels.empty() && extra == nullptr) return "";
  std::string out = "{";
  const char* sep = "";
  for (const auto& [k, v] : labels) {
    absl::StrAppend(&out, sep, k, "=\"", Escape(v, true), "\"");
    sep = ",";
  }
  if (extra != nullptr) {
    absl::StrAppend(&out, sep, extra->first, "=\"", extra->second, "\"");
  }
  out += "}";
  return out;
}

}  // namespace

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  // The shortest text that reads back as the same double.
  char buffer[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  for (size_t i = 1; i < bounds_.size(); ++i) {
    if (!(bounds_[i - 1] < bounds_[i])) std::abort();
  }
}

std::vector<double> Histogram::LatencyBounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
          5,      10};
}

void Histogram::Observe(double value) {
  const size_t bucket =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  absl::MutexLock lock(&mu_);
  counts_[bucket]++;
  sum_ += value;
  count_++;
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.bounds = bounds_;
  absl::MutexLock lock(&mu_);
  uint64_t running = 0;
  for (uint64_t c : counts_) {
    running += c;
    s.cumulative.push_back(running);
  }
  s.sum = sum_;
  s.count = count_;
  return s;
}

MetricsRegistry::Family* MetricsRegistry::FamilyFor(const std::string& name,
                                                    const std::string& help,
                                                    Type type) {
  if (!ValidName(name)) std::abort();
  for (auto& family : families_) {
    if (family->name != name) continue;
    if (family->type != type) std::abort();
    return family.get();
  }
  auto family = std::make_unique<Family>();
  family->name = name;
  family->help = help;
  family->type = type;
  families_.push_back(std::move(family));
  return families_.back().get();
}

Counter* MetricsRegistry::AddCounter(const std::string& name,
                                     const std::string& help,
                                     const Labels& labels) {
  absl::MutexLock lock(&mu_);
  Family* family = FamilyFor(name, help, Type::kCounter);
  for (const auto& [l, c] : family->counters) {
    if (l == labels) std::abort();
  }
  family->counters.emplace_back(labels, std::make_unique<Counter>());
  return family->counters.back().second.get();
}

Histogram* MetricsRegistry::AddHistogram(const std::string& name,
                                         const std::string& help,
                                         const Labels& labels,
                                         std::vector<double> bounds) {
  absl::MutexLock lock(&mu_);
  Family* family = FamilyFor(name, help, Type::kHistogram);
  for (const auto& [l, h] : family->histograms) {
    if (l == labels) std::abort();
  }
  family->histograms.emplace_back(
      labels, std::make_unique<Histogram>(std::move(bounds)));
  return family->histograms.back().second.get();
}

void MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                               std::function<Samples()> read) {
  absl::MutexLock lock(&mu_);
  Family* family = FamilyFor(name, help, Type::kGauge);
  if (family->gauge) std::abort();
  family->gauge = std::move(read);
}

std::string MetricsRegistry::Render() const {
  // Families are never removed: reading them after the lock is released is
  // safe, and gauge callbacks run unlocked.
  std::vector<const Family*> families;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& f : families_) families.push_back(f.get());
  }
  std::string out;
  for (const Family* f : families) {
    const char* type = f->type == Type::kCounter   ? "counter"
                       : f->type == Type::kGauge   ? "gauge"
                                                   : "histogram";
    absl::StrAppend(&out, "# HELP ", f->name, " ", Escape(f->help, false),
                    "\n# TYPE ", f->name, " ", type, "\n");
    switch (f->type) {
      case Type::kCounter: {
        std::vector<std::pair<Labels, uint64_t>> values;
        {
          absl::MutexLock lock(&mu_);
          for (const auto& [labels, c] : f->counters) {
            values.emplace_back(labels, c->value());
          }
        }
        for (const auto& [labels, v] : values) {
          absl::StrAppend(&out, f->name, RenderLabels(labels), " ", v, "\n");
        }
        break;
      }
      case Type::kGauge:
        for (const auto& [labels, v] : f->gauge()) {
          absl::StrAppend(&out, f->name, RenderLabels(labels), " ",
                          FormatMetricValue(v), "\n");
        }
        break;
      case Type::kHistogram: {
        std::vector<std::pair<Labels, Histogram::Snapshot>> snapshots;
        {
          absl::MutexLock lock(&mu_);
          for (const auto& [labels, h] : f->histograms) {
            snapshots.emplace_back(labels, h->Read());
          }
        }
        for (const auto& [labels, s] : snapshots) {
          for (size_t i = 0; i <= s.bounds.size(); ++i) {
            const std::pair<std::string, std::string> le = {
                "le", i < s.bounds.size() ? FormatMetricValue(s.bounds[i])
                                          : "+Inf"};
            absl::StrAppend(&out, f->name, "_bucket", RenderLabels(labels, &le),
                            " ", s.cumulative[i], "\n");
          }
          absl::StrAppend(&out, f->name, "_sum", RenderLabels(labels), " ",
                          FormatMetricValue(s.sum), "\n", f->name, "_count",
                          RenderLabels(labels), " ", s.count, "\n");
        }
        break;
      }
    }
  }
  return out;
}

}  // namespace portlease
