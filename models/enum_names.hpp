// One name table per enumerated setting: the words a scenario file, the command line and the docs
// use for each value of an `enum class`. Strings live in these tables and on the screen only;
// past the loader the program switches over the enums.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace baffle {

/// Specialise for each enum E, beside its definition:
///   template <> struct enum_names<E> {
///     static constexpr std::array<std::pair<E, std::string_view>, N> table = {{...}};
///   };
/// Entries are listed in the order docs and messages show them.
template <class E>
struct enum_names;

/// The file/screen name of `e` (every value of E must have a row).
template <class E>
constexpr std::string_view name_of(E e) {
  for (const auto& [value, name] : enum_names<E>::table)
    if (value == e) return name;
  return "?";
}

/// The value named `name`, or nullopt (exact, case-sensitive match).
template <class E>
constexpr std::optional<E> parse_name(std::string_view name) {
  for (const auto& [value, text] : enum_names<E>::table)
    if (text == name) return value;
  return std::nullopt;
}

/// Every name of E, in table order.
template <class E>
constexpr auto names_of() {
  std::array<std::string_view, enum_names<E>::table.size()> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = enum_names<E>::table[i].second;
  return out;
}

/// "\"a\", \"b\", \"c\"" for messages and docs.
template <class E>
std::string quoted_names() {
  std::string out;
  for (const auto& [value, name] : enum_names<E>::table) {
    if (!out.empty()) out += ", ";
    out += '"';
    out += name;
    out += '"';
  }
  return out;
}

}  // namespace baffle
