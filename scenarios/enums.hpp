// The scenario's enumerated settings that belong to the simulation rather than to the numerics,
// each with its one name table (models/ declares its own: arch, activation, norm, optimizer,
// finite-difference scheme, seed mode, synthetic kind). Add a value here and `-Wswitch` lists
// every place that must handle it.
#pragma once

#include "models/enum_names.hpp"

namespace baffle {

/// Where the images come from.
enum class dataset_kind { fashion_mnist, mnist, cifar10, synthetic };

template <>
struct enum_names<dataset_kind> {
  static constexpr std::array<std::pair<dataset_kind, std::string_view>, 4> table = {{
      {dataset_kind::fashion_mnist, "fashion-mnist"},
      {dataset_kind::mnist, "mnist"},
      {dataset_kind::cifar10, "cifar10"},
      {dataset_kind::synthetic, "synthetic"},
  }};
};

/// How the training images are split among clients.
enum class partition_kind { iid, dirichlet, shards, quantity };

template <>
struct enum_names<partition_kind> {
  static constexpr std::array<std::pair<partition_kind, std::string_view>, 4> table = {{
      {partition_kind::iid, "iid"},
      {partition_kind::dirichlet, "dirichlet"},
      {partition_kind::shards, "shards"},
      {partition_kind::quantity, "quantity"},
  }};
};

/// What clients compute: BAFFLE's loss differences, or a backprop baseline.
enum class algorithm_kind { baffle, fedsgd, fedavg };

template <>
struct enum_names<algorithm_kind> {
  static constexpr std::array<std::pair<algorithm_kind, std::string_view>, 3> table = {{
      {algorithm_kind::baffle, "baffle"},
      {algorithm_kind::fedsgd, "fedsgd"},
      {algorithm_kind::fedavg, "fedavg"},
  }};
};

/// When the server aggregates.
enum class policy_kind { sync, deadline, first_m, async };

template <>
struct enum_names<policy_kind> {
  static constexpr std::array<std::pair<policy_kind, std::string_view>, 4> table = {{
      {policy_kind::sync, "sync"},
      {policy_kind::deadline, "deadline"},
      {policy_kind::first_m, "first-m"},
      {policy_kind::async, "async"},
  }};
};

/// How a selected BAFFLE client gets the current model.
enum class download_mode { weights, replay, automatic };

template <>
struct enum_names<download_mode> {
  static constexpr std::array<std::pair<download_mode, std::string_view>, 3> table = {{
      {download_mode::weights, "weights"},
      {download_mode::replay, "replay"},
      {download_mode::automatic, "auto"},
  }};
};

/// Async (FedBuff): how a result's weight falls with its staleness.
enum class staleness_kind { constant, poly, hinge };

template <>
struct enum_names<staleness_kind> {
  static constexpr std::array<std::pair<staleness_kind, std::string_view>, 3> table = {{
      {staleness_kind::constant, "constant"},
      {staleness_kind::poly, "poly"},
      {staleness_kind::hinge, "hinge"},
  }};
};

}  // namespace baffle
