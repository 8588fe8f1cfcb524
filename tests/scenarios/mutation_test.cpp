// Property test for scenarios/loader.hpp over every shipped scenario file: thousands of
// deterministic mutants (types swapped, keys removed or misspelt, values out of range, duplicated
// keys and tables, truncations, random bytes, swapped lines) must each load to a scenario or to
// errors that name the file and point at real lines; never an exception. A few mutants that fail
// to load are also run through the real binary, which must exit 2 and write nothing.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "net/hash.hpp"
#include "scenarios/loader.hpp"
#include "tests/tools/binary_fixture.hpp"

namespace baffle {
namespace {

namespace fs = std::filesystem;

/// A tiny deterministic generator (splitmix64): the same mutants on every machine and run.
class splitmix64 {
 public:
  explicit splitmix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform-enough in [0, n); n > 0.
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }

 private:
  std::uint64_t state_;
};

/// The source tree's scenarios/ folder. From BAFFLE_SOURCE_DIR (set by ctest) when there is one:
/// __FILE__ is relative to the build folder when that lies inside the source tree.
fs::path scenarios_dir() {
  if (const char* source = std::getenv("BAFFLE_SOURCE_DIR")) return fs::path(source) / "scenarios";
  return fs::path(__FILE__).parent_path().parent_path().parent_path() / "scenarios";
}

/// Every shipped scenario file (scenarios/studies/ included), sorted so the mutants come in a
/// fixed order.
std::vector<fs::path> shipped_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(scenarios_dir()))
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// A directory that exists on any machine, for data.path.
std::string existing_dir() {
  return fs::temp_directory_path().string();
}

/// Overrides for the mutants of `original`: data.path is pointed at an existing directory when
/// the file uses the Debian data set (explicitly or by default), so the test does not need it.
std::vector<std::string> overrides_for(const std::string& original, const std::string& name) {
  const load_result r = parse_scenario(original, name);
  const std::string debian = scenario{}.data.path;
  if (r.ok() && r.value->data.path != debian) return {};
  if (!r.ok()) {
    // Without the data set installed the one error is the missing Debian folder.
    const bool only_data_path = std::all_of(r.errors.begin(), r.errors.end(),
                                            [](const auto& e) { return e.key == "data.path"; });
    if (!only_data_path) return {};
  }
  return {"data.path=" + existing_dir()};
}

// ---- Where things are in a file -------------------------------------------------------------

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    const std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) {
      lines.push_back(text.substr(start));
      return lines;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    out += lines[i];
  }
  return out;
}

/// Lines as an editor counts them: a final line without '\n' counts, an empty tail does not.
int line_count(const std::string& text) {
  const auto newlines = std::count(text.begin(), text.end(), '\n');
  return static_cast<int>(newlines) + ((!text.empty() && text.back() != '\n') ? 1 : 0);
}

/// A span [begin, end) of one line.
struct span {
  std::size_t line = 0;
  std::size_t begin = 0;
  std::size_t end = 0;
};

/// The keys, values (including those inside inline tables) and table headers of a file.
struct layout {
  std::vector<span> keys;                 ///< the bare key left of each '='
  std::vector<span> values;               ///< the value right of each '='
  std::vector<span> tables;               ///< the name inside each [table] header
  std::vector<std::size_t> kv_lines;      ///< lines holding a top-level key = value
  std::vector<std::size_t> header_lines;  ///< lines holding a [table] header
};

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

/// End of the value starting at `i` (a string, array, inline table or bare token).
std::size_t value_end(const std::string& s, std::size_t i) {
  if (i >= s.size()) return i;
  const char c = s[i];
  if (c == '"' || c == '\'') {
    for (std::size_t j = i + 1; j < s.size(); ++j) {
      if (c == '"' && s[j] == '\\') {
        ++j;
      } else if (s[j] == c) {
        return j + 1;
      }
    }
    return s.size();
  }
  if (c == '[' || c == '{') {
    int depth = 0;
    char quote = 0;
    for (std::size_t j = i; j < s.size(); ++j) {
      if (quote != 0) {
        if (quote == '"' && s[j] == '\\') {
          ++j;
        } else if (s[j] == quote) {
          quote = 0;
        }
      } else if (s[j] == '"' || s[j] == '\'') {
        quote = s[j];
      } else if (s[j] == '[' || s[j] == '{') {
        ++depth;
      } else if (s[j] == ']' || s[j] == '}') {
        if (--depth == 0) return j + 1;
      }
    }
    return s.size();
  }
  std::size_t j = i;
  while (j < s.size() && std::string(",}] \t#").find(s[j]) == std::string::npos) ++j;
  return j;
}

layout scan(const std::vector<std::string>& lines) {
  layout out;
  for (std::size_t n = 0; n < lines.size(); ++n) {
    const std::string& s = lines[n];
    const std::size_t first = s.find_first_not_of(" \t");
    if (first == std::string::npos || s[first] == '#') continue;
    if (s[first] == '[') {
      const std::size_t close = s.find(']', first);
      if (close != std::string::npos && close > first + 1) {
        out.tables.push_back({n, first + 1, close});
        out.header_lines.push_back(n);
      }
      continue;
    }
    bool top_level = true;
    char quote = 0;
    for (std::size_t i = first; i < s.size(); ++i) {
      const char c = s[i];
      if (quote != 0) {
        if (quote == '"' && c == '\\') {
          ++i;
        } else if (c == quote) {
          quote = 0;
        }
        continue;
      }
      if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '#') {
        break;
      } else if (c == '=') {
        std::size_t kend = i;
        while (kend > 0 && (s[kend - 1] == ' ' || s[kend - 1] == '\t')) --kend;
        std::size_t kbegin = kend;
        while (kbegin > 0 && is_key_char(s[kbegin - 1])) --kbegin;
        if (kbegin < kend) out.keys.push_back({n, kbegin, kend});
        std::size_t vbegin = i + 1;
        while (vbegin < s.size() && (s[vbegin] == ' ' || s[vbegin] == '\t')) ++vbegin;
        const std::size_t vend = value_end(s, vbegin);
        if (vbegin < vend) out.values.push_back({n, vbegin, vend});
        if (top_level) out.kv_lines.push_back(n);
        top_level = false;
      }
    }
  }
  return out;
}

std::string replace(std::vector<std::string> lines, const span& at, const std::string& with) {
  lines[at.line].replace(at.begin, at.end - at.begin, with);
  return join_lines(lines);
}

std::string text_of(const std::vector<std::string>& lines, const span& at) {
  return lines[at.line].substr(at.begin, at.end - at.begin);
}

// ---- The mutants ----------------------------------------------------------------------------

struct mutant {
  std::string kind;
  std::string text;
};

/// Values that are out of range (or of a suspicious size) for nearly every key.
const std::vector<std::string>& out_of_range_values() {
  static const std::vector<std::string> values = {
      "-1",
      "0",
      "-0",
      "-2147483648",
      "2147483648",
      "4294967296",
      "9223372036854775807",
      "-9223372036854775808",
      "1e308",
      "-1e308",
      "1e-308",
      "nan",
      "inf",
      "-inf",
      "+nan",
      "0.0",
      "-0.5",
      "1.0000001",
  };
  return values;
}

/// One character of a key or table name changed, dropped or duplicated.
std::string misspell(std::string name, splitmix64& rng) {
  static const std::string letters = "abcdefghijklmnopqrstuvwxyz_.-0123456789 =\"[]{}#";
  const std::size_t at = rng.below(name.size());
  switch (rng.below(3)) {
    case 0: {
      // Changed: mostly letters, sometimes TOML punctuation.
      const std::size_t pool = rng.below(4) == 0 ? letters.size() : 27;
      char c = letters[rng.below(pool)];
      if (c == name[at]) c = c == 'x' ? 'y' : 'x';
      name[at] = c;
      break;
    }
    case 1:
      name.erase(at, 1);
      break;
    default:
      name.insert(at, 1, name[at]);
      break;
  }
  return name;
}

/// Applies one random mutation of `kind_index` (see the switch) to `text`; returns the kind.
std::string random_mutation(std::string& text, int kind_index, splitmix64& rng) {
  std::vector<std::string> lines = split_lines(text);
  const layout l = scan(lines);
  switch (kind_index) {
    case 0:  // misspelt key or table name
      if (rng.below(4) == 0 && !l.tables.empty()) {
        const span& t = l.tables[rng.below(l.tables.size())];
        text = replace(lines, t, misspell(text_of(lines, t), rng));
        return "misspelt-table";
      }
      if (!l.keys.empty()) {
        const span& k = l.keys[rng.below(l.keys.size())];
        text = replace(lines, k, misspell(text_of(lines, k), rng));
      }
      return "misspelt-key";
    case 1: {  // 1 to 4 random bytes inserted anywhere
      const std::size_t pos = rng.below(text.size() + 1);
      std::string bytes;
      for (std::size_t i = 0, n = 1 + rng.below(4); i < n; ++i)
        bytes += static_cast<char>(rng.below(256));
      text.insert(pos, bytes);
      return "random-bytes";
    }
    case 2: {  // two lines swapped
      if (lines.size() < 2) return "swapped-lines";
      const std::size_t a = rng.below(lines.size());
      std::size_t b = rng.below(lines.size() - 1);
      if (b >= a) ++b;
      std::swap(lines[a], lines[b]);
      text = join_lines(lines);
      return "swapped-lines";
    }
    case 3: {  // a value out of range
      if (l.values.empty()) return "out-of-range";
      const auto& values = out_of_range_values();
      text = replace(lines, l.values[rng.below(l.values.size())], values[rng.below(values.size())]);
      return "out-of-range";
    }
    case 4: {  // a key = value line removed
      if (l.kv_lines.empty()) return "removed-key";
      lines.erase(lines.begin() +
                  static_cast<std::ptrdiff_t>(l.kv_lines[rng.below(l.kv_lines.size())]));
      text = join_lines(lines);
      return "removed-key";
    }
    default: {  // a key = value line duplicated somewhere later
      if (l.kv_lines.empty()) return "duplicated-key";
      const std::size_t from = l.kv_lines[rng.below(l.kv_lines.size())];
      const std::size_t to = from + 1 + rng.below(lines.size() - from);
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(to), lines[from]);
      text = join_lines(lines);
      return "duplicated-key";
    }
  }
}

/// Every mutant of one file, in a fixed order.
std::vector<mutant> mutants_of(const std::string& original, const std::string& name) {
  std::vector<mutant> out;
  // Seeded from the file's name alone: adding a file changes no other file's mutants.
  splitmix64 rng(0x5eed0f0bad5ce7a1ULL ^ fnv1a(name));
  const std::vector<std::string> lines = split_lines(original);
  const layout l = scan(lines);

  // Types swapped: every value as a string, a number, a scalar, an inline table, an array, a date.
  for (const span& v : l.values) {
    const std::string old = text_of(lines, v);
    const char c = old[0];
    std::vector<std::string> swaps = {"{ x = 1 }", "1979-05-27", "true"};
    if (c == '"' || c == '\'') {
      swaps.insert(swaps.end(), {"42", "3.5", "[" + old + "]"});
    } else if (c == '[') {
      swaps.insert(swaps.end(), {"7", "\"x\"", "[[1], [2]]", "[\"a\", 1]"});
    } else if (c == '{') {
      swaps.insert(swaps.end(), {"\"50ms\"", "5", "[]", "{}"});
    } else {
      swaps.insert(swaps.end(), {"\"" + old + "\"", "\"abc\"", "[" + old + "]", "''"});
    }
    for (const std::string& s : swaps) out.push_back({"type-swap", replace(lines, v, s)});
  }

  // Values out of range: every value site, every suspicious number (also as an array element).
  for (const span& v : l.values) {
    for (const std::string& bad : out_of_range_values()) {
      out.push_back({"out-of-range", replace(lines, v, bad)});
    }
    out.push_back({"out-of-range", replace(lines, v, "[-1]")});
    out.push_back({"out-of-range", replace(lines, v, "[1e308, 0]")});
  }

  // Keys removed: every key = value line and every table header.
  for (std::size_t n : l.kv_lines) {
    std::vector<std::string> m = lines;
    m.erase(m.begin() + static_cast<std::ptrdiff_t>(n));
    out.push_back({"removed-key", join_lines(m)});
  }
  for (std::size_t n : l.header_lines) {
    std::vector<std::string> m = lines;
    m.erase(m.begin() + static_cast<std::ptrdiff_t>(n));
    out.push_back({"removed-table", join_lines(m)});
  }

  // Duplicated keys (right after themselves, and at the end of the file) and tables (the header
  // again at the end, and the header with its whole body again at the end).
  for (std::size_t n : l.kv_lines) {
    std::vector<std::string> m = lines;
    m.insert(m.begin() + static_cast<std::ptrdiff_t>(n + 1), lines[n]);
    out.push_back({"duplicated-key", join_lines(m)});
    out.push_back({"duplicated-key", original + "\n" + lines[n] + "\n"});
  }
  for (std::size_t h = 0; h < l.header_lines.size(); ++h) {
    const std::size_t begin = l.header_lines[h];
    const std::size_t end = h + 1 < l.header_lines.size() ? l.header_lines[h + 1] : lines.size();
    out.push_back({"duplicated-table", original + "\n" + lines[begin] + "\n"});
    std::vector<std::string> block(lines.begin() + static_cast<std::ptrdiff_t>(begin),
                                   lines.begin() + static_cast<std::ptrdiff_t>(end));
    out.push_back({"duplicated-table", original + "\n" + join_lines(block) + "\n"});
    out.push_back({"duplicated-table", original + "\n[" + text_of(lines, l.tables[h]) + "]]\n"});
    out.push_back(
        {"duplicated-table", original + "\n[[" + text_of(lines, l.tables[h]) + "]]\nx = 1\n"});
  }

  // Truncated at every 5th byte (and one byte short of the end).
  for (std::size_t pos = 0; pos < original.size(); pos += 5) {
    out.push_back({"truncated", original.substr(0, pos)});
  }
  if (!original.empty()) out.push_back({"truncated", original.substr(0, original.size() - 1)});

  // Random single mutations of each kind, then random stacks of two to four.
  for (int kind = 0; kind < 6; ++kind) {
    for (int i = 0; i < 40; ++i) {
      std::string text = original;
      const std::string k = random_mutation(text, kind, rng);
      out.push_back({k, std::move(text)});
    }
  }
  for (int i = 0; i < 60; ++i) {
    std::string text = original;
    std::string kinds = "stacked:";
    for (std::size_t j = 0, n = 2 + rng.below(3); j < n; ++j) {
      kinds += ' ';
      kinds += random_mutation(text, static_cast<int>(rng.below(6)), rng);
    }
    out.push_back({kinds, std::move(text)});
  }
  return out;
}

// ---- The checks -----------------------------------------------------------------------------

std::string all_errors(const load_result& r) {
  std::string out;
  for (const scenario_error& e : r.errors) out += "  " + e.to_string() + "\n";
  return out;
}

/// What is wrong with the loader's answer to one mutant; empty if nothing.
std::string problems(const std::string& text, const std::string& name,
                     const std::vector<std::string>& overrides, load_result* result) {
  load_result r;
  try {
    r = parse_scenario(text, name, overrides);
  } catch (const std::exception& e) {
    return std::string("exception escaped parse_scenario: ") + e.what();
  } catch (...) {
    return "a non-std exception escaped parse_scenario";
  }
  std::string why;
  if (r.ok()) {
    if (!r.value.has_value()) why += "ok() without a value\n";
  } else {
    if (r.errors.empty()) why += "!ok() without any error\n";
    if (r.value.has_value()) why += "errors and a value at once\n";
    bool names_file = false;
    for (const scenario_error& e : r.errors) {
      const std::string s = e.to_string();
      if (s.find(name) != std::string::npos) names_file = true;
      if (s.empty()) why += "an error whose to_string() is empty\n";
      if (e.message.empty()) why += "an error with an empty message: " + s + "\n";
      if (e.message.find("internal error") != std::string::npos)
        why += "an internal error (something threw inside the loader): " + s + "\n";
      if (e.line != 0 && (e.line < 1 || e.line > line_count(text) + 1))
        why += "line " + std::to_string(e.line) + " outside [1, " +
               std::to_string(line_count(text) + 1) + "]: " + s + "\n";
      if (e.column < 0) why += "negative column: " + s + "\n";
    }
    if (!r.errors.empty() && !names_file) why += "no error mentions " + name + "\n";
  }
  if (!why.empty()) why += "errors:\n" + all_errors(r);
  if (result != nullptr) *result = std::move(r);
  return why;
}

TEST(ScenarioMutation, EveryMutantOfEveryShippedFileLoadsOrExplainsWhy) {
  const std::vector<fs::path> files = shipped_files();
  ASSERT_FALSE(files.empty()) << "no scenarios/*.toml under " << scenarios_dir();
  int total = 0;
  int reported = 0;
  for (const fs::path& path : files) {
    const std::string name = path.filename().string();
    const std::string original = read_file(path);
    ASSERT_FALSE(original.empty()) << path;
    const std::vector<std::string> overrides = overrides_for(original, name);
    {
      const load_result r = parse_scenario(original, name, overrides);
      EXPECT_TRUE(r.ok()) << name << " itself does not load:\n" << all_errors(r);
    }
    const std::vector<mutant> mutants = mutants_of(original, name);
    int loaded = 0;
    for (const mutant& m : mutants) {
      load_result r;
      const std::string why = problems(m.text, name, overrides, &r);
      if (r.ok()) ++loaded;
      if (!why.empty() && ++reported <= 20) {
        ADD_FAILURE() << name << ", " << m.kind << " mutant:\n"
                      << why << "--- mutant ---\n"
                      << m.text << "\n--- end ---";
      }
    }
    std::cout << name << ": " << mutants.size() << " mutants, " << loaded << " load, "
              << mutants.size() - loaded << " rejected\n";
    RecordProperty(name, static_cast<int>(mutants.size()));
    total += static_cast<int>(mutants.size());
  }
  EXPECT_EQ(reported, 0) << "mutants with problems (first 20 shown above)";
  RecordProperty("mutants", total);
  EXPECT_GT(total, 2000);
}

TEST(ScenarioMutation, MutantsAreDeterministic) {
  for (const fs::path& path : shipped_files()) {
    const std::string original = read_file(path);
    const std::vector<mutant> a = mutants_of(original, path.filename().string());
    const std::vector<mutant> b = mutants_of(original, path.filename().string());
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i].text, b[i].text) << i;
  }
}

// ---- The real binary ------------------------------------------------------------------------

class MutantRun : public e2e::baffle_binary_test {
 protected:
  MutantRun() : baffle_binary_test("mutation") {}
};

TEST_F(MutantRun, FailingMutantsExitTwoAndWriteNothing) {
  // One failing mutant from each of five files, each of a different kind.
  const std::vector<std::string> kinds = {"type-swap", "out-of-range", "misspelt-key",
                                          "duplicated-key", "truncated"};
  const std::vector<fs::path> files = shipped_files();
  int runs = 0;
  for (std::size_t f = 0; f < files.size() && runs < 5; ++f) {
    const std::string name = files[f].filename().string();
    const std::string original = read_file(files[f]);
    const std::vector<std::string> overrides = overrides_for(original, name);
    const std::string& kind = kinds[static_cast<std::size_t>(runs)];
    for (const mutant& m : mutants_of(original, name)) {
      if (m.kind != kind || parse_scenario(m.text, name, overrides).ok()) continue;
      const fs::path file = root_ / ("mutant-" + std::to_string(runs) + "-" + name);
      {
        std::ofstream out(file, std::ios::binary);
        out << m.text;
      }
      const fs::path out_dir = root_ / ("out-" + std::to_string(runs));
      std::vector<std::string> args = {"run",       file.string(), "--out",  out_dir.string(),
                                       "--threads", "1",           "--quiet"};
      for (const std::string& o : overrides) args.insert(args.end(), {"--set", o});
      const e2e::cli_result r = baffle(args);
      const std::string context = name + ", " + kind + " mutant:\n" + m.text + "\n" + e2e::show(r);
      EXPECT_EQ(r.exit_code, 2) << context;
      EXPECT_FALSE(fs::exists(out_dir)) << context;
      EXPECT_TRUE(work_entries().empty()) << context;
      EXPECT_TRUE(e2e::contains(r.err, file.string())) << context;
      EXPECT_TRUE(e2e::contains(r.err, "nothing was run or written")) << context;
      ++runs;
      break;
    }
  }
  EXPECT_EQ(runs, 5);
}

}  // namespace
}  // namespace baffle
