// `lstm generate`: streams text sampled from a character-level language model; and the language
// model part of `lstm eval` (bits per character on a text).
#include <iostream>

#include "apps/charlm.hpp"
#include "commands.hpp"
#include "data/json_text.hpp"

namespace lstm_cli {
namespace {

struct GenerateOptions {
  std::string model, prompt = "\n";
  int64_t length = 500;
  double temperature = 0.8;
  uint64_t seed = 0;
};

void run_generate(const GenerateOptions& options, const GlobalOptions& global) {
  apply_compute_options(global);
  lstm::SequenceModel model = lstm::load_sequence_model(options.model);
  const lstm::apps::CharLmInfo info = lstm::apps::charlm_info(model, options.model);
  if (options.prompt.empty()) throw lstm::Error("--prompt: give at least one character");
  const std::vector<int32_t> prompt = info.vocabulary.encode("--prompt", options.prompt);
  std::cout << options.prompt << std::flush;
  lstm::apps::generate(model, prompt, options.length, options.temperature, options.seed,
                       [&](int32_t id) {
                         std::cout << info.vocabulary.decode(std::span<const int32_t>(&id, 1))
                                   << std::flush;
                       });
  std::cout << '\n';
}

}  // namespace

void eval_charlm(lstm::SequenceModel& model, const std::string& model_path,
                 const std::string& data_path, int64_t window) {
  const lstm::apps::CharLmInfo info = lstm::apps::charlm_info(model, model_path);
  if (window == 0) window = info.window;
  const std::string text = lstm::read_text(data_path, info.vocabulary.kind());
  const std::vector<int32_t> ids = info.vocabulary.encode(data_path, text);
  if (ids.size() < 2) throw lstm::Error(data_path + ": at least 2 characters are needed");
  const lstm::apps::TextScore score = lstm::apps::score_text(model, ids, window);
  std::cout << data_path << ": " << score.predicted << " characters predicted, in windows of "
            << window << " each from a fresh state\n";
  const nlohmann::ordered_json out = {{"file", data_path},
                                      {"bits_per_char", score.bits_per_char()},
                                      {"loss", score.loss},
                                      {"characters", score.predicted},
                                      {"window", window}};
  std::cout << lstm::json_text::dump(out) << '\n';
}

void add_generate_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* command = app.add_subcommand(
      "generate",
      "Stream text from a language model trained by 'lstm train --task charlm': the prompt, "
      "then --length sampled characters");
  command->add_option("--model", options->model, "Language model file")->required();
  command->add_option("--prompt", options->prompt, "Text to start from (its characters must be "
                                                   "in the model's vocabulary)");
  command->add_option("--length", options->length, "Characters to generate")
      ->check(CLI::Range(int64_t{0}, int64_t{100000000}));
  command
      ->add_option("--temperature", options->temperature,
                   "Sampling temperature: lower is more conservative, 0 always takes the most "
                   "likely character")
      ->check(CLI::Range(0.0, 100.0));
  command->add_option("--seed", options->seed, "Seed of the sampling");
  add_compute_options(*command, global);
  command->callback([options, &global] { run_generate(*options, global); });
}

}  // namespace lstm_cli
