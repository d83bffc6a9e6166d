// The lstm command: parses the command line, runs one subcommand, turns errors into one line.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <iostream>
#include <new>
#include <string>
#include <thread>

#include "commands.hpp"
#include "lstm/distributed.hpp"

#ifndef LSTM_VERSION
#define LSTM_VERSION "0.1.0"
#endif

namespace {

// Messages go to stderr as exactly one line.
std::string one_line(std::string message) {
  std::replace(message.begin(), message.end(), '\n', ' ');
  while (!message.empty() && message.back() == ' ') message.pop_back();
  return message;
}

}  // namespace

int main(int argc, char** argv) {
  // Past the file size limit (ulimit -f), write() then fails with EFBIG, which the writers report
  // naming the file (removing their temporary file), instead of the process dying silently.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{
      "LSTM, GRU and RNN networks on the CPU: run, differentiate, inspect, benchmark, train, "
      "forecast.",
      "lstm"};
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", [] {
    return "lstm " LSTM_VERSION " (" + std::string(lstm::isa_name(lstm::active_isa())) + " kernels on " +
           lstm::cpu_name() + ")";
  });
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand's name
  app.footer(
      "Errors (bad files, bad shapes, NaN or Inf in inputs) print one line 'lstm: <message>' on "
      "stderr and exit with status 1; command-line usage errors exit with status 2.");

  lstm_cli::GlobalOptions global;
  lstm_cli::add_compute_options(app, global);
  lstm_cli::add_forward_command(app, global);
  lstm_cli::add_info_command(app, global);
  lstm_cli::add_bench_command(app, global);
  lstm_cli::add_train_command(app, global);
  lstm_cli::add_forecast_command(app, global);
  lstm_cli::add_eval_command(app, global);
  lstm_cli::add_generate_command(app, global);
  lstm_cli::add_experiment_command(app, global);
  lstm_cli::add_inspect_command(app, global);
  lstm_cli::add_convert_command(app, global);

  try {
    lstm::active_isa();  // a bad LSTM_MAX_ISA is an error before any work
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);  // --help, --version
    std::cerr << "lstm: " << one_line(error.what()) << " (see --help)\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "lstm: out of memory\n";
    return 1;
  } catch (const lstm::distributed::RankFailure& error) {
    // Every rank of a data-parallel run throws it; one prints. The others wait a moment before
    // exiting: mpiexec ends the whole job at the first non-zero exit, and under load that could
    // otherwise come before the printing rank has written its line.
    if (error.print_here()) std::cerr << "lstm: " << one_line(error.what()) << '\n';
    else std::this_thread::sleep_for(std::chrono::seconds(1));
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "lstm: " << one_line(error.what()) << '\n';
    return 1;
  }
  return 0;
}
