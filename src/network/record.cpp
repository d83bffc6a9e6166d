// Network::record: read-only views of what a training forward kept (gates and every state).
#include <string>

#include "lstm/error.hpp"
#include "network/driver.hpp"

namespace lstm {

template <typename T>
ForwardRecord<T> Network<T>::record(const Workspace<T>& workspace, int64_t layer,
                                    int64_t direction) const {
  const driver::State<T>& s = *workspace.state;
  if (!s.has_training_forward || s.network != this)
    throw Error("record: run forward in training mode with this network and workspace first");
  if (layer < 0 || layer >= config_.num_layers)
    throw Error("record: layer " + std::to_string(layer) + " is outside 0.." +
                std::to_string(config_.num_layers - 1));
  if (direction < 0 || direction >= config_.directions())
    throw Error("record: direction " + std::to_string(direction) + " is outside 0.." +
                std::to_string(config_.directions() - 1));
  const DirectionBuffers<T>& kept =
      s.directions[static_cast<size_t>(layer * config_.directions() + direction)];
  ForwardRecord<T> record;
  record.steps = s.steps;
  record.batch = s.batch;
  record.gate_count = gate_count(config_);
  record.hidden = config_.hidden_size;
  record.h_width = config_.output_size();
  record.gates = kept.gates;  // [T, B, G*H]
  record.h = kept.h_states;   // [T+1, B, Hout]
  record.c = kept.c_states;   // [T+1, B, H] or null
  return record;
}

template ForwardRecord<float> Network<float>::record(const Workspace<float>&, int64_t,
                                                     int64_t) const;
template ForwardRecord<double> Network<double>::record(const Workspace<double>&, int64_t,
                                                       int64_t) const;

}  // namespace lstm
