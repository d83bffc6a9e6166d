// Progress output shared by the long-running commands, and Ctrl-C handling.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

namespace lstm_cli {

// Progress on stdout. On a terminal: one status line rewritten in place (at most 10 times a
// second). Otherwise (or with `lines`): the status as a plain line at most every
// `interval_seconds`. Quiet: nothing. Permanent lines (print) are shown unless quiet.
class ProgressLine {
 public:
  ProgressLine(bool quiet, bool lines, double interval_seconds = 30.0);
  ~ProgressLine();
  void status(const std::string& text);  // transient; throttled
  void print(const std::string& text);   // a permanent line
  void finish();                         // ends a live status line
  bool live() const { return live_; }

 private:
  bool quiet_, live_;
  double interval_;
  bool shown_ = false;  // a live status line is on screen
  std::chrono::steady_clock::time_point last_{};
};

// Installs a SIGINT handler (once) and returns its flag: the first Ctrl-C sets it, so that work
// in progress can stop cleanly (a trainer writes its checkpoint); a second one ends the process.
const std::atomic<bool>& interrupt_flag();
// Makes `signal` set the interrupt flag too (under mpiexec: SIGUSR1, which mpiexec forwards to
// every rank, while its own Ctrl-C ends the job at once).
void also_interrupt_on(int signal);

// "3.1416"; "nan" for non-finite values.
std::string fixed(double value, int digits);
// "12:05" (minutes:seconds) or "1:02:05".
std::string duration(double seconds);

}  // namespace lstm_cli
