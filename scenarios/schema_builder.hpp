// How scenarios/schema_table.cpp declares a key in one row: `key(name, FIELD(member))` takes the
// type, the get/set pair and the limits from the member's C++ type, and chained calls add the
// range, unit, applicability and documentation. Only the schema's own files include this.
#pragma once

#include <span>
#include <type_traits>

#include "scenarios/schema.hpp"

namespace baffle::schema_detail {

/// The largest value of Int that TOML's int64 can also hold (uint64_t stops at INT64_MAX).
template <class Int>
constexpr int64_t largest() {
  return static_cast<uint64_t>(std::numeric_limits<Int>::max()) >
                 static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
             ? std::numeric_limits<int64_t>::max()
             : static_cast<int64_t>(std::numeric_limits<Int>::max());
}

/// The value type a struct member of type F is written as.
template <class F>
constexpr value_type type_of() {
  if constexpr (std::is_enum_v<F>)
    return value_type::choice;
  else if constexpr (std::is_same_v<F, bool>)
    return value_type::boolean;
  else if constexpr (std::is_integral_v<F>)
    return value_type::integer;
  else if constexpr (std::is_same_v<F, double>)
    return value_type::number;
  else if constexpr (std::is_same_v<F, std::string>)
    return value_type::string;
  else if constexpr (std::is_same_v<F, sim_time>)
    return value_type::duration;
  else if constexpr (std::is_same_v<F, distribution>)
    return value_type::number_distribution;
  else if constexpr (std::is_same_v<F, std::vector<int>>)
    return value_type::int_list;
  else
    static_assert(sizeof(F) == 0, "no scenario value type for this member type");
}

/// Builds one row: the type, the get/set pair and the limits follow from the member's type.
class key {
 public:
  /// `member` is FIELD(path): a generic lambda returning the member for a (const) scenario.
  template <class Member>
  key(std::string_view name, Member member) {
    using F = std::remove_cvref_t<decltype(member(std::declval<scenario&>()))>;
    k_.name = name;
    k_.type = type_of<F>();
    k_.get = [member](const scenario& s) -> key_value {
      const F& f = member(s);
      if constexpr (std::is_enum_v<F>)
        return std::string(name_of(f));
      else if constexpr (std::is_same_v<F, bool>)
        return f;
      else if constexpr (std::is_integral_v<F>)
        return static_cast<int64_t>(f);
      else
        return f;
    };
    k_.set = [member](scenario& s, const key_value& v) {
      F& f = member(s);
      if constexpr (std::is_enum_v<F>)
        f = *parse_name<F>(std::get<std::string>(v));
      else if constexpr (std::is_same_v<F, bool>)
        f = std::get<bool>(v);
      else if constexpr (std::is_integral_v<F>)
        f = static_cast<F>(std::get<int64_t>(v));
      else
        f = std::get<F>(v);
    };
    if constexpr (std::is_enum_v<F>) {
      for (std::string_view n : names_of<F>()) k_.choices.push_back(n);
    }
    if constexpr (std::is_integral_v<F> && !std::is_same_v<F, bool>) {
      k_.int_lo = std::numeric_limits<F>::min() < 0 ? std::numeric_limits<int64_t>::min() : 0;
      k_.int_hi = largest<F>();
    }
    if constexpr (std::is_same_v<F, std::vector<int>>) {
      k_.int_lo = std::numeric_limits<int>::min();
      k_.int_hi = std::numeric_limits<int>::max();
    }
  }

  key& as(value_type t) { return k_.type = t, *this; }
  key& doc(std::string_view d) { return k_.doc = d, *this; }
  key& unit(std::string_view u) { return k_.unit = u, *this; }
  /// Integers (or list elements) in [lo, hi]; hi defaults to the member type's limit.
  key& ints(int64_t lo, std::optional<int64_t> hi = std::nullopt) {
    k_.int_lo = lo;
    if (hi) k_.int_hi = *hi;
    return *this;
  }
  key& range(number_range r) { return k_.range = r, *this; }
  /// Applies only while the choice `other` has the value `v`.
  template <class E>
  key& when(std::string_view other, E v) {
    k_.applies_when.push_back({other, std::string(name_of(v)), true});
    return *this;
  }
  /// Applies only while the choice `other` does not have the value `v`.
  template <class E>
  key& unless(std::string_view other, E v) {
    k_.applies_when.push_back({other, std::string(name_of(v)), false});
    return *this;
  }
  key& default_note(std::string_view n) { return k_.default_note = n, *this; }
  key& allowed_note(std::string_view n) { return k_.allowed_note = n, *this; }
  key& default_from(std::string_view other) { return k_.default_from = other, *this; }
  key& empty_is_unset(std::string_view note) {
    k_.empty_is_unset = true;
    k_.default_note = note;
    return *this;
  }
  operator key_spec() { return std::move(k_); }

 private:
  key_spec k_;
};

/// The rows, in order (scenarios/schema_table.cpp).
std::vector<key_spec> make_schema();

/// Prose that follows a table's keys in docs/scenarios.md.
struct table_doc {
  std::string_view table;
  std::string_view note;
};

/// Every table that has such prose.
std::span<const table_doc> table_docs();

// FIELD(train.rounds): the member a key lives in, for const and mutable scenarios alike.
// clang-format off
#define FIELD(path) [](auto& s) -> auto& { return s.path; }
// clang-format on

}  // namespace baffle::schema_detail
