#include "gateway/obs/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace carebridge::gateway::obs {

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void histogram::observe(double seconds) noexcept {
  std::size_t i = 0;
  while (i < bounds_.size() && seconds > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  const double ns = seconds > 0 ? seconds * 1e9 : 0.0;
  sum_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const {
  snapshot s;
  s.bounds = bounds_;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(total);
  }
  s.count = total;
  s.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

std::vector<double> latency_bounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
          5, 10};
}

std::string labels(std::initializer_list<std::pair<std::string_view, std::string_view>> kv) {
  std::string out;
  for (const auto& [k, v] : kv) {
    out += out.empty() ? "{" : ",";
    out.append(k);
    out += "=\"";
    for (char c : v) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  if (!out.empty()) out += '}';
  return out;
}

template <typename T>
T& registry::family<T>::series(const std::string& label_text) {
  std::lock_guard lock(mu_);
  auto& slot = series_[label_text];
  if (!slot) {
    if constexpr (std::is_same_v<T, histogram>) {
      slot = std::make_unique<histogram>(bounds_);
    } else {
      slot = std::make_unique<T>();
    }
  }
  return *slot;
}

template <typename T>
void registry::family<T>::clear() {
  std::lock_guard lock(mu_);
  series_.clear();
}

std::vector<std::pair<std::string, std::string>> parse_labels(std::string_view t) {
  std::vector<std::pair<std::string, std::string>> out;
  if (t.size() < 2 || t.front() != '{' || t.back() != '}') return out;
  std::size_t i = 1;
  while (i < t.size() - 1) {
    const std::size_t eq = t.find("=\"", i);
    if (eq == std::string_view::npos) break;
    std::string key(t.substr(i, eq - i));
    std::string value;
    std::size_t j = eq + 2;
    bool closed = false;
    for (; j < t.size(); ++j) {
      const char c = t[j];
      if (c == '\\' && j + 1 < t.size()) {
        const char n = t[++j];
        value += n == 'n' ? '\n' : n;
      } else if (c == '"') {
        closed = true;
        break;
      } else {
        value += c;
      }
    }
    if (!closed) break;
    out.emplace_back(std::move(key), std::move(value));
    i = j + 1;
    if (i < t.size() && t[i] == ',') ++i;
  }
  return out;
}

std::string label_value(std::string_view label_text, std::string_view name) {
  for (auto& [k, v] : parse_labels(label_text))
    if (k == name) return v;
  return {};
}

template class registry::family<counter>;
template class registry::family<gauge>;
template class registry::family<histogram>;

registry::family<counter>& registry::counters(std::string name, std::string help) {
  std::lock_guard lock(mu_);
  for (auto& e : entries_)  // one family per name: asking again returns it
    if (e->name == name && e->c) return *e->c;
  auto e = std::make_unique<entry>();
  e->name = std::move(name);
  e->help = std::move(help);
  e->type = "counter";
  e->c = std::make_unique<family<counter>>();
  auto& ref = *e->c;
  entries_.push_back(std::move(e));
  return ref;
}

registry::family<gauge>& registry::gauges(std::string name, std::string help) {
  std::lock_guard lock(mu_);
  for (auto& e : entries_)  // one family per name: asking again returns it
    if (e->name == name && e->g) return *e->g;
  auto e = std::make_unique<entry>();
  e->name = std::move(name);
  e->help = std::move(help);
  e->type = "gauge";
  e->g = std::make_unique<family<gauge>>();
  auto& ref = *e->g;
  entries_.push_back(std::move(e));
  return ref;
}

registry::family<histogram>& registry::histograms(std::string name, std::string help,
                                                  std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  for (auto& e : entries_)
    if (e->name == name && e->h) return *e->h;
  auto e = std::make_unique<entry>();
  e->name = std::move(name);
  e->help = std::move(help);
  e->type = "histogram";
  e->h = std::make_unique<family<histogram>>();
  e->h->bounds_ = std::move(bounds);
  auto& ref = *e->h;
  entries_.push_back(std::move(e));
  return ref;
}

void registry::callback_gauge(std::string name, std::string help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  auto e = std::make_unique<entry>();
  e->name = std::move(name);
  e->help = std::move(help);
  e->type = "gauge";
  e->cb = std::move(read);
  entries_.push_back(std::move(e));
}

std::vector<std::pair<std::string, double>> registry::values(std::string_view name) const {
  std::vector<std::pair<std::string, double>> out;
  std::lock_guard lock(mu_);
  for (const auto& e : entries_) {
    if (e->name != name) continue;
    if (e->c) {
      std::lock_guard l(e->c->mu_);
      for (const auto& [lbl, s] : e->c->series_)
        out.emplace_back(lbl, static_cast<double>(s->value()));
    } else if (e->g) {
      std::lock_guard l(e->g->mu_);
      for (const auto& [lbl, s] : e->g->series_)
        out.emplace_back(lbl, static_cast<double>(s->value()));
    } else if (e->cb) {
      out.emplace_back(std::string(), e->cb());
    }
  }
  return out;
}

std::vector<std::pair<std::string, histogram::snapshot>> registry::histogram_values(
    std::string_view name) const {
  std::vector<std::pair<std::string, histogram::snapshot>> out;
  std::lock_guard lock(mu_);
  for (const auto& e : entries_) {
    if (e->name != name || !e->h) continue;
    std::lock_guard l(e->h->mu_);
    for (const auto& [lbl, s] : e->h->series_) out.emplace_back(lbl, s->read());
  }
  return out;
}

double registry::sum(std::string_view name,
                     std::initializer_list<std::pair<std::string_view, std::string_view>> match)
    const {
  double total = 0;
  for (const auto& [lbl, v] : values(name)) {
    bool all = true;
    if (match.size() != 0) {
      const auto have = parse_labels(lbl);
      for (const auto& [k, want] : match) {
        const bool found = std::any_of(have.begin(), have.end(), [&](const auto& kv) {
          return kv.first == k && kv.second == want;
        });
        if (!found) {
          all = false;
          break;
        }
      }
    }
    if (all) total += v;
  }
  return total;
}

namespace {
std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Inserts le="…" into a label set.
std::string with_le(const std::string& label_text, const std::string& le) {
  if (label_text.empty()) return "{le=\"" + le + "\"}";
  return label_text.substr(0, label_text.size() - 1) + ",le=\"" + le + "\"}";
}
}  // namespace

std::string registry::expose() const {
  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(8192);
  for (const auto& e : entries_) {
    out += "# HELP " + e->name + " " + e->help + "\n# TYPE " + e->name + " " + e->type + "\n";
    if (e->c) {
      std::lock_guard l(e->c->mu_);
      for (const auto& [lbl, s] : e->c->series_)
        out += e->name + lbl + " " + std::to_string(s->value()) + "\n";
    } else if (e->g) {
      std::lock_guard l(e->g->mu_);
      for (const auto& [lbl, s] : e->g->series_)
        out += e->name + lbl + " " + std::to_string(s->value()) + "\n";
    } else if (e->h) {
      std::lock_guard l(e->h->mu_);
      for (const auto& [lbl, s] : e->h->series_) {
        const auto snap = s->read();
        for (std::size_t i = 0; i < snap.bounds.size(); ++i)
          out += e->name + "_bucket" + with_le(lbl, number(snap.bounds[i])) + " " +
                 std::to_string(snap.cumulative[i]) + "\n";
        out += e->name + "_bucket" + with_le(lbl, "+Inf") + " " + std::to_string(snap.count) + "\n";
        out += e->name + "_sum" + lbl + " " + number(snap.sum) + "\n";
        out += e->name + "_count" + lbl + " " + std::to_string(snap.count) + "\n";
      }
    } else if (e->cb) {
      out += e->name + " " + number(e->cb()) + "\n";
    }
  }
  return out;
}

}  // namespace carebridge::gateway::obs
