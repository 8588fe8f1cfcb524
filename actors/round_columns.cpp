// rounds.csv's columns (see round_columns.hpp): one table row per column, with its name, how its
// cell is written and how it is read back.
#include "actors/round_columns.hpp"

#include <array>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace baffle {

namespace {

struct column {
  const char* name;
  std::string (*format)(const round_row&);
  bool (*parse)(round_row&, std::string_view);
};

template <class T>
bool parse_number(std::string_view text, T& out) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

/// An integer member of round_record, written as is.
template <auto Member>
column integer(const char* name) {
  return {name, [](const round_row& r) { return fmt::format("{}", r.rec.*Member); },
          [](round_row& r, std::string_view t) { return parse_number(t, r.rec.*Member); }};
}

/// A double member written with a fixed number of digits after the point.
template <auto Member, int Digits>
column fixed(const char* name) {
  return {name, [](const round_row& r) { return fmt::format("{:.{}f}", r.rec.*Member, Digits); },
          [](round_row& r, std::string_view t) { return parse_number(t, r.rec.*Member); }};
}

/// An evaluation or measurement figure: six digits, or empty on rounds without one.
template <auto Member>
column evaluation(const char* name) {
  return {name,
          [](const round_row& r) {
            const std::optional<double>& v = r.rec.*Member;
            return v ? fmt::format("{:.6f}", *v) : std::string();
          },
          [](round_row& r, std::string_view t) {
            if (t.empty()) {
              (r.rec.*Member).reset();
              return true;
            }
            double v = 0.0;
            if (!parse_number(t, v)) return false;
            r.rec.*Member = v;
            return true;
          }};
}

/// Virtual seconds with nanosecond digits, read back exactly.
bool parse_sim_seconds(std::string_view t, sim_time& out) {
  const size_t dot = t.find('.');
  int64_t whole = 0;
  int64_t frac = 0;
  if (!parse_number(t.substr(0, dot), whole) || whole < 0) return false;
  if (dot != std::string_view::npos) {
    const std::string_view digits = t.substr(dot + 1);
    if (digits.empty() || digits.size() > 9 || !parse_number(digits, frac)) return false;
    for (size_t i = digits.size(); i < 9; ++i) frac *= 10;
  }
  out = sim_time::from_ns(whole * 1000000000 + frac);
  return true;
}

const std::array<column, 26>& columns() {
  static const std::array<column, 26> table = {
      integer<&round_record::round>("round"),
      column{"sim_time_s",
             [](const round_row& r) { return fmt::format("{:.9f}", r.rec.end_time.seconds()); },
             [](round_row& r, std::string_view t) { return parse_sim_seconds(t, r.rec.end_time); }},
      column{"wall_time_s", [](const round_row& r) { return fmt::format("{:.3f}", r.wall_s); },
             [](round_row& r, std::string_view t) { return parse_number(t, r.wall_s); }},
      fixed<&round_record::train_loss, 6>("train_loss"),
      evaluation<&round_record::test_loss>("test_loss"),
      evaluation<&round_record::test_acc>("test_acc"),
      evaluation<&round_record::val_loss>("val_loss"),
      evaluation<&round_record::val_acc>("val_acc"),
      integer<&round_record::selected>("selected"),
      integer<&round_record::participants>("participants"),
      integer<&round_record::dropped>("dropped"),
      integer<&round_record::late>("late"),
      integer<&round_record::bytes_up>("bytes_up"),
      integer<&round_record::bytes_down>("bytes_down"),
      integer<&round_record::forward_passes>("forward_passes"),
      integer<&round_record::wasted_forward_passes>("wasted_forward_passes"),
      fixed<&round_record::stale_mean, 4>("stale_mean"),
      integer<&round_record::stale_max>("stale_max"),
      evaluation<&round_record::grad_cosine>("grad_cosine"),
      evaluation<&round_record::grad_norm_ratio>("grad_norm_ratio"),
      evaluation<&round_record::true_grad_norm>("true_grad_norm"),
      evaluation<&round_record::test_loss_raw>("test_loss_raw"),
      evaluation<&round_record::test_acc_raw>("test_acc_raw"),
      evaluation<&round_record::test_loss_lowp>("test_loss_lowp"),
      evaluation<&round_record::test_acc_lowp>("test_acc_lowp"),
      // Last: the one column that depends on the number of nodes.
      integer<&round_record::node_bytes>("node_bytes"),
  };
  return table;
}

}  // namespace

std::string rounds_csv_header() {
  std::string out;
  for (const column& c : columns()) {
    if (!out.empty()) out += ',';
    out += c.name;
  }
  return out;
}

std::string rounds_csv_row(const round_row& row) {
  std::string out;
  bool first = true;
  for (const column& c : columns()) {
    if (!first) out += ',';
    first = false;
    out += c.format(row);
  }
  return out;
}

std::string rounds_json_object(const round_row& row) {
  std::string out = "{";
  for (const column& c : columns()) {
    if (out.size() > 1) out += ',';
    out += '"';
    out += c.name;
    out += "\":";
    const std::string cell = c.format(row);
    double v = 0.0;
    // The CSV's digits are valid JSON numbers; "nan", "inf" and empty cells are not.
    const bool finite = parse_number(cell, v) && std::isfinite(v);
    out += finite ? cell : "null";
  }
  return out + "}";
}

std::optional<round_row> parse_rounds_csv_row(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  round_row row;
  size_t start = 0;
  const auto& table = columns();
  for (size_t i = 0; i < table.size(); ++i) {
    const size_t comma = line.find(',', start);
    const bool last = i + 1 == table.size();
    if (last != (comma == std::string_view::npos)) return std::nullopt;
    const std::string_view cell = line.substr(start, last ? std::string_view::npos : comma - start);
    if (!table[i].parse(row, cell)) return std::nullopt;
    start = comma + 1;
  }
  return row;
}

}  // namespace baffle
