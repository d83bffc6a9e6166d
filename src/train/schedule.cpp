// Learning-rate schedules: constant, cosine decay to a floor, step decay; linear warm-up for all.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "lstm/error.hpp"
#include "lstm/train.hpp"
#include "train/names.hpp"

namespace lstm {

constexpr detail::NameTable<ScheduleKind, 3> kScheduleNames = {{ScheduleKind::constant, "constant"},
                                                               {ScheduleKind::cosine, "cosine"},
                                                               {ScheduleKind::step, "step"}};

std::string_view schedule_name(ScheduleKind kind) {
  return detail::name_of(kScheduleNames, kind);
}
ScheduleKind parse_schedule(std::string_view name) {
  return detail::parse_name(kScheduleNames, name, "learning-rate schedule");
}

void LrSchedule::validate() const {
  auto check = [](bool ok, const std::string& what) {
    if (!ok) throw Error("learning-rate schedule: " + what);
  };
  check(lr > 0 && std::isfinite(lr), "lr must be positive");
  check(warmup_steps >= 0, "warmup_steps must not be negative");
  if (kind == ScheduleKind::cosine) {
    check(total_steps > warmup_steps, "cosine needs total_steps greater than warmup_steps");
    check(min_lr >= 0 && min_lr <= lr, "min_lr must be in [0, lr]");
  }
  if (kind == ScheduleKind::step) {
    check(step_size >= 1, "step_size must be at least 1");
    check(gamma > 0 && std::isfinite(gamma), "gamma must be positive");
  }
}

double LrSchedule::lr_at(int64_t step) const {
  if (step < warmup_steps)
    return lr * static_cast<double>(std::max<int64_t>(step, 0) + 1) /
           static_cast<double>(warmup_steps);
  const int64_t since = step - warmup_steps;  // steps after warm-up
  switch (kind) {
    case ScheduleKind::constant:
      return lr;
    case ScheduleKind::cosine: {
      const double span = static_cast<double>(std::max<int64_t>(total_steps - warmup_steps, 1));
      const double progress = std::min(1.0, static_cast<double>(since) / span);
      return min_lr + (lr - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
    }
    case ScheduleKind::step:
      return lr * std::pow(gamma, static_cast<double>(since / std::max<int64_t>(step_size, 1)));
  }
  return lr;
}

double cooldown_factor(double elapsed, double limit, double fraction) {
  if (!(limit > 0) || !(fraction > 0)) return 1.0;
  const double remaining = (limit - elapsed) / (fraction * limit);  // 1 where the cool-down starts
  return std::clamp(remaining, 0.0, 1.0);
}

}  // namespace lstm
