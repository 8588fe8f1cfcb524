// `baffle sweep`: runs one scenario at every point of a grid of overrides (the cartesian product of
// --grid key=v1,v2,...), each point as a child `baffle run` in its own folder, then writes
// index.csv. The grid parsing, expansion and point naming below are pure and header-only, so tests
// use them without linking the tool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "net/hash.hpp"
#include "net/text.hpp"
#include "tools/monitor_option.hpp"

namespace baffle {

/// What `baffle sweep` was asked to do (the parsed command line).
struct sweep_options {
  std::string scenario_path;
  std::vector<std::string> grids;  ///< "dotted.key=v1,v2,..." (values split at top-level commas)
  std::vector<std::string> sets;   ///< "dotted.key=value" overrides applied to every point
  std::string out;                 ///< sweep folder; empty = runs/<name>-sweep, -sweep-2, ...
  int jobs = 1;                    ///< points run at once
  int threads_per_job = 0;         ///< 0 = all cores / jobs (at least 1)
  bool quiet = false;              ///< no progress lines (failures are still reported)
  monitor_request monitor;         ///< --monitor: an index of the points and a view of each
};

/// Validates every point (exit 2 and nothing written if any is invalid), runs them, and writes
/// DIR/index.csv. Returns the exit code: 0 all points ok, 1 a point failed or an I/O error, 2 bad
/// input.
int run_sweep(const sweep_options& opt);

/// At most this many points in one sweep (a typo like 1,2,...,1000 x 1000 is not a plan).
inline constexpr size_t max_sweep_points = 100000;

/// One swept key and its values, as written (trimmed).
struct grid_axis {
  std::string key;
  std::vector<std::string> values;
};

/// One point of the product: a value index per axis and its folder name.
struct grid_point {
  std::string name;            ///< unique, filesystem-safe, e.g. "k-20_lr-0.003"
  std::vector<size_t> choice;  ///< choice[i] indexes axes[i].values
};

/// The parts of a top-level split, or why it failed.
struct split_result {
  std::vector<std::string> parts;
  std::string error;  ///< empty on success
  bool ok() const { return error.empty(); }
};

/// Grid axes parsed from --grid specs, or every problem found.
struct grid_parse_result {
  std::vector<grid_axis> axes;
  std::vector<std::string> errors;  ///< one message per problem; empty on success
  bool ok() const { return errors.empty(); }
};

namespace sweep_detail {

inline bool name_safe(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '+' || c == '_';
}

/// The last n dot-separated parts of a dotted key (the whole key if it has fewer).
inline std::string dotted_suffix(const std::string& key, size_t n) {
  size_t pos = key.size();
  for (size_t i = 0; i < n; ++i) {
    const size_t dot = pos == 0 ? std::string::npos : key.rfind('.', pos - 1);
    if (dot == std::string::npos) return key;
    pos = dot;
  }
  return key.substr(pos + 1);
}

}  // namespace sweep_detail

/// Splits text at `sep` outside brackets ([], {}) and quotes ("..." with backslash escapes,
/// '...' literal), so "[32],[64,32]" is two parts. Parts are not trimmed. Unbalanced brackets or
/// an unterminated quote are an error.
inline split_result split_top_level(std::string_view text, char sep = ',') {
  split_result r;
  std::string part;
  std::string closers;  // expected closing brackets, innermost last
  char quote = 0;
  bool escaped = false;
  for (char c : text) {
    if (quote != 0) {
      part += c;
      if (escaped) {
        escaped = false;
      } else if (quote == '"' && c == '\\') {
        escaped = true;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == sep && closers.empty()) {
      r.parts.push_back(std::move(part));
      part.clear();
      continue;
    }
    part += c;
    if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '[') {
      closers += ']';
    } else if (c == '{') {
      closers += '}';
    } else if (c == ']' || c == '}') {
      if (closers.empty() || closers.back() != c) {
        r.error = std::string("unexpected '") + c + "' in '" + std::string(text) + "'";
        return r;
      }
      closers.pop_back();
    }
  }
  if (quote != 0) {
    r.error = std::string("unterminated ") + quote + " quote in '" + std::string(text) + "'";
  } else if (!closers.empty()) {
    r.error = std::string("unclosed bracket (missing '") + closers.back() + "') in '" +
              std::string(text) + "'";
  }
  if (!r.ok()) return r;
  r.parts.push_back(std::move(part));
  return r;
}

/// Parses --grid specs ("dotted.key=v1,v2,..."): each needs a '=', a key, at least one value and
/// no empty or repeated value; a key may be swept only once. Keys and values are trimmed.
inline grid_parse_result parse_grids(const std::vector<std::string>& specs) {
  grid_parse_result r;
  std::set<std::string> keys;
  for (const std::string& spec : specs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos) {
      r.errors.push_back("--grid '" + spec +
                         "' has no '='; write --grid dotted.key=v1,v2,..., e.g. --grid "
                         "baffle.k=20,50,100");
      continue;
    }
    grid_axis axis;
    axis.key = std::string(trim(std::string_view(spec).substr(0, eq)));
    if (axis.key.empty()) {
      r.errors.push_back("--grid '" + spec + "' has no key before '='");
      continue;
    }
    const std::string values(trim(std::string_view(spec).substr(eq + 1)));
    if (values.empty()) {
      r.errors.push_back("--grid '" + spec + "' has no values after '='");
      continue;
    }
    split_result parts = split_top_level(values);
    if (!parts.ok()) {
      r.errors.push_back("--grid '" + spec + "': " + parts.error);
      continue;
    }
    bool good = true;
    std::set<std::string> seen;
    for (const std::string& p : parts.parts) {
      std::string v(trim(p));
      if (v.empty()) {
        r.errors.push_back("--grid '" + spec +
                           "' has an empty value (two commas in a row, or a "
                           "comma at an end)");
        good = false;
        break;
      }
      if (!seen.insert(v).second) {
        r.errors.push_back("--grid '" + spec + "' lists the value " + v + " twice");
        good = false;
        break;
      }
      axis.values.push_back(std::move(v));
    }
    if (!good) continue;
    if (!keys.insert(axis.key).second) {
      r.errors.push_back("--grid: the key " + axis.key +
                         " is swept twice; give all its values in one --grid");
      continue;
    }
    r.axes.push_back(std::move(axis));
  }
  if (!r.ok()) r.axes.clear();
  return r;
}

/// Points in the product (saturating at SIZE_MAX); 0 if there are no axes.
inline size_t grid_size(const std::vector<grid_axis>& axes) {
  if (axes.empty()) return 0;
  size_t n = 1;
  for (const grid_axis& a : axes) {
    if (a.values.empty()) return 0;
    if (n > SIZE_MAX / a.values.size()) return SIZE_MAX;
    n *= a.values.size();
  }
  return n;
}

/// Short labels for the keys in folder names: the shortest dotted suffix that no other swept key
/// shares ("k" for baffle.k; "train.lr" and "server.lr" when both are swept).
inline std::vector<std::string> axis_labels(const std::vector<grid_axis>& axes) {
  std::vector<std::string> labels;
  for (size_t i = 0; i < axes.size(); ++i) {
    std::string label = axes[i].key;
    for (size_t n = 1;; ++n) {
      const std::string s = sweep_detail::dotted_suffix(axes[i].key, n);
      bool unique = true;
      for (size_t j = 0; j < axes.size() && unique; ++j)
        unique = j == i || sweep_detail::dotted_suffix(axes[j].key, n) != s;
      if (unique || s == axes[i].key) {
        label = s;
        break;
      }
    }
    labels.push_back(std::move(label));
  }
  return labels;
}

/// A value as a piece of a folder name: runs of characters other than [A-Za-z0-9._+-] become one
/// '_', dropped at either end ("[64,32]" -> "64_32", "\"sgd\"" -> "sgd"); "empty" if nothing is
/// left.
inline std::string name_piece(std::string_view value) {
  std::string out;
  bool gap = false;
  for (char c : value) {
    if (!sweep_detail::name_safe(c)) {
      gap = true;
      continue;
    }
    if (gap && !out.empty()) out += '_';
    gap = false;
    out += c;
  }
  return out.empty() ? "empty" : out;
}

/// Longest folder name; longer ones are cut and end in a hash of the whole name.
inline constexpr size_t max_point_name = 200;

/// Every point of the product, the last axis varying fastest, each named "label-value" joined by
/// '_' (e.g. "k-20_lr-0.003"). Names are unique even ignoring case: a clash gets -2, -3, ...
inline std::vector<grid_point> expand_grid(const std::vector<grid_axis>& axes) {
  std::vector<grid_point> points;
  const size_t n = grid_size(axes);
  if (n == 0 || n > max_sweep_points) return points;
  const std::vector<std::string> labels = axis_labels(axes);
  std::set<std::string> used;  // lower-cased
  std::vector<size_t> choice(axes.size(), 0);
  points.reserve(n);
  for (size_t p = 0; p < n; ++p) {
    std::string name;
    for (size_t i = 0; i < axes.size(); ++i) {
      if (i > 0) name += '_';
      name += labels[i] + "-" + name_piece(axes[i].values[choice[i]]);
    }
    if (name.size() > max_point_name) {
      char hash[17];
      const uint64_t h = fnv1a(name);
      for (int d = 0; d < 16; ++d) hash[d] = "0123456789abcdef"[(h >> (60 - 4 * d)) & 15];
      hash[16] = 0;
      name = name.substr(0, max_point_name - 17) + "-" + hash;
    }
    std::string unique = name;
    for (int k = 2; used.count(lower(unique)) != 0; ++k) unique = name + "-" + std::to_string(k);
    used.insert(lower(unique));
    points.push_back({std::move(unique), choice});
    for (size_t i = axes.size(); i-- > 0;) {  // odometer: the last axis turns first
      if (++choice[i] < axes[i].values.size()) break;
      choice[i] = 0;
    }
  }
  return points;
}

/// The point's overrides in --set form, "dotted.key=value", one per axis.
inline std::vector<std::string> point_overrides(const std::vector<grid_axis>& axes,
                                                const grid_point& point) {
  std::vector<std::string> out;
  for (size_t i = 0; i < axes.size(); ++i)
    out.push_back(axes[i].key + "=" + axes[i].values[point.choice[i]]);
  return out;
}

}  // namespace baffle
