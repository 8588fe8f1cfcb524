// A server state as server_behavior sets it up before a checkpoint is loaded into it, for tests
// and fuzz targets of the checkpoint reader that run no actors.
#pragma once

#include <memory>

#include "actors/model_state.hpp"
#include "actors/server.hpp"

namespace baffle {

inline server_state fresh_server_state(const std::shared_ptr<const world>& w) {
  server_state st;
  st.w = w;
  st.model = initial_model(*w);
  st.clients_seen.resize(w->parts.clients.size());
  st.device_version.assign(w->parts.clients.size(), 0);
  return st;
}

}  // namespace baffle
