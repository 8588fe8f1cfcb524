// rounds.csv's columns, declared once: the run folder's CSV header and rows (tools/run_output),
// the JSON rows of the live monitor's /rounds, and reading a row back (a sweep's monitor follows
// its points' rounds.csv files).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "actors/metrics.hpp"

namespace baffle {

/// One row of rounds.csv: the server's record and the wall-clock seconds the sink stamped on it.
struct round_row {
  round_record rec;
  double wall_s = 0.0;
};

/// "round,sim_time_s,wall_time_s,..." (no newline).
std::string rounds_csv_header();

/// The row's cells as rounds.csv writes them (no newline): an evaluation column is empty on
/// rounds without evaluation.
std::string rounds_csv_row(const round_row& row);

/// The same row as a JSON object with the header's names as keys and the CSV's digits as
/// numbers; an empty cell, or a value that is not finite (a diverged loss), is null.
std::string rounds_json_object(const round_row& row);

/// Reads a line written by rounds_csv_row back (the values as rounded there); nullopt if it is
/// not one (a half-written line, another header).
std::optional<round_row> parse_rounds_csv_row(std::string_view line);

}  // namespace baffle
