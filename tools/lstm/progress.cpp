// Progress lines and Ctrl-C handling.
#include "progress.hpp"

#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>

namespace lstm_cli {
namespace {

std::atomic<bool> interrupted{false};

extern "C" void on_interrupt(int) {
  interrupted.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process
}

}  // namespace

ProgressLine::ProgressLine(bool quiet, bool lines, double interval_seconds)
    : quiet_(quiet), live_(!quiet && !lines && isatty(STDOUT_FILENO)), interval_(interval_seconds) {}

ProgressLine::~ProgressLine() { finish(); }

void ProgressLine::status(const std::string& text) {
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (since < (live_ ? 0.1 : interval_)) return;
  last_ = now;
  if (live_) {
    std::cout << "\r\033[K" << text << std::flush;
    shown_ = true;
  } else {
    std::cout << text << std::endl;
  }
}

void ProgressLine::print(const std::string& text) {
  if (quiet_) return;
  if (shown_) std::cout << "\r\033[K";
  shown_ = false;
  std::cout << text << std::endl;
  last_ = std::chrono::steady_clock::now();
}

void ProgressLine::finish() {
  if (shown_) std::cout << '\n' << std::flush;
  shown_ = false;
}

const std::atomic<bool>& interrupt_flag() {
  static const bool installed = [] {
    std::signal(SIGINT, on_interrupt);
    return true;
  }();
  (void)installed;
  return interrupted;
}

void also_interrupt_on(int signal) {
  (void)interrupt_flag();
  std::signal(signal, on_interrupt);
}

std::string fixed(double value, int digits) {
  if (!std::isfinite(value)) return "nan";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

std::string duration(double seconds) {
  const long long total = std::llround(std::max(0.0, seconds));
  char buffer[32];
  if (total >= 3600)
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60,
                  total % 60);
  else
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld", total / 60, total % 60);
  return buffer;
}

}  // namespace lstm_cli
