// Names of the training options' enums (loss, optimiser, schedule, head mode): one table per
// enum, read both ways; a bad name is an error that lists the good ones.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "lstm/error.hpp"

namespace lstm::detail {

template <typename Kind, size_t N>
using NameTable = std::pair<Kind, std::string_view>[N];

template <typename Kind, size_t N>
std::string_view name_of(const NameTable<Kind, N>& table, Kind kind) {
  for (const auto& [entry, name] : table)
    if (entry == kind) return name;
  return "?";
}

// `what` names the option in the message, e.g. "unknown loss 'l2' (expected mse, mae or huber)".
template <typename Kind, size_t N>
Kind parse_name(const NameTable<Kind, N>& table, std::string_view name, const char* what) {
  std::string expected;
  for (size_t k = 0; k < N; ++k) {
    if (table[k].second == name) return table[k].first;
    if (k > 0) expected += k + 1 == N ? " or " : ", ";
    expected += table[k].second;
  }
  std::string message = "unknown ";
  message += what;
  message += " '";
  message += name;
  message += "' (expected ";
  message += expected;
  message += ")";
  throw Error(message);
}

}  // namespace lstm::detail
