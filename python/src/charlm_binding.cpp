// lstm.CharLM's engine: trains a character-level language model on a text file as
// `lstm train --task charlm` does (same defaults), scores texts in bits per character,
// generates text, and saves/loads the same model files as the CLI.
#include "charlm_binding.hpp"

#include <pybind11/stl.h>

#include <atomic>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "apps/charlm.hpp"
#include "lstm/lstm.hpp"

namespace lstm_python {

namespace py = pybind11;

namespace {

struct CharLmModel {
  lstm::SequenceModel model;
  lstm::apps::CharLmInfo info;
};

struct CharLmFit {
  std::string path;
  std::string vocabulary = "chars";
  int64_t window = 100, batch = 32, embedding = 64, hidden = 512, layers = 1, epochs = 50;
  double validation = 0.05, dropout = 0.0, time_limit = 0.0, lr = 2e-3;
  std::string cell = "lstm";
  uint64_t seed = 0;
};

// Trains; `on_epoch(dict)` after every epoch and `on_batch(dict)` after every batch (with the
// GIL). Ctrl-C (checked after every batch) stops cleanly with the best weights so far.
py::tuple fit(const CharLmFit& o, py::object on_epoch, py::object on_batch) {
  lstm::apps::CharLmSetup setup;
  setup.kind = o.vocabulary == "bytes" ? lstm::VocabularyKind::bytes : lstm::VocabularyKind::chars;
  setup.window = o.window;
  setup.validation_fraction = o.validation;
  setup.batch = o.batch;
  setup.cell = lstm::parse_cell(o.cell);
  setup.embedding = o.embedding;
  setup.hidden_size = o.hidden;
  setup.num_layers = o.layers;
  setup.dropout = o.dropout;
  setup.seed = o.seed;
  lstm::apps::TrainerOptions trainer;  // the CLI's charlm defaults
  trainer.batch_size = o.batch;
  trainer.max_epochs = o.epochs;
  trainer.lr = o.lr;
  trainer.warmup_fraction = 0.002;
  trainer.schedule = lstm::ScheduleKind::constant;
  trainer.cooldown_fraction = 0.2;
  trainer.time_limit_seconds = o.time_limit;
  trainer.seed = o.seed;
  std::atomic<bool> stop{false};
  trainer.stop_requested = &stop;
  std::optional<py::error_already_set> callback_error;
  bool interrupted = false;
  const double bits = 1.0 / std::log(2.0);

  // Calls `callback(d)` unless an error is pending; a KeyboardInterrupt (from the callback or a
  // signal) stops the run cleanly.
  auto report = [&](py::object& callback, py::dict d) {
    if (!callback.is_none() && !callback_error) {
      try {
        callback(d);
      } catch (py::error_already_set& error) {
        if (error.matches(PyExc_KeyboardInterrupt))
          interrupted = true;
        else
          callback_error = std::move(error);
        stop = true;
      }
    }
    if (PyErr_CheckSignals() != 0) {
      PyErr_Clear();
      interrupted = true;
      stop = true;
    }
  };
  lstm::apps::TrainProgress progress;
  progress.epoch = [&](const lstm::apps::EpochReport& r) {
    py::gil_scoped_acquire acquire;
    py::dict d;
    d["epoch"] = r.epoch;
    d["max_epochs"] = r.max_epochs;
    d["train_bits_per_char"] = r.train_loss * bits;
    d["validation_bits_per_char"] = r.validation_loss * bits;
    d["improved"] = r.improved;
    report(on_epoch, d);
  };
  progress.batch = [&](const lstm::apps::BatchReport& r) {
    py::gil_scoped_acquire acquire;
    py::dict d;
    d["epoch"] = r.epoch;
    d["batch"] = r.batch;
    d["batches"] = r.batches;
    d["bits_per_char"] = r.loss * bits;
    d["elapsed_seconds"] = r.elapsed_seconds;
    report(on_batch, d);
  };

  py::gil_scoped_release release;
  const lstm::apps::CharLmData data = lstm::apps::prepare_charlm_data(o.path, setup);
  lstm::SequenceModel model = lstm::apps::make_charlm_model(data, setup);
  const std::unique_ptr<lstm::apps::TrainingTask> task = lstm::apps::make_charlm_task(data, setup);
  const lstm::apps::TrainResult result = lstm::apps::train(model, *task, trainer, progress);
  lstm::apps::CharLmInfo info = lstm::apps::charlm_info(model, o.path);
  py::gil_scoped_acquire acquire;
  if (callback_error) throw std::move(*callback_error);
  py::dict summary;
  summary["epochs"] = result.epochs;
  summary["best_epoch"] = result.best_epoch;
  summary["validation_bits_per_char"] = result.best_validation_loss * bits;
  summary["stop"] = interrupted ? "interrupted" : lstm::apps::stop_reason_name(result.stop);
  summary["vocabulary_size"] = info.vocabulary.size();
  return py::make_tuple(CharLmModel{std::move(model), std::move(info)}, summary);
}

}  // namespace

void bind_charlm(py::module_& module) {
  py::class_<CharLmModel>(module, "CharLmModel")
      .def_property_readonly("window", [](const CharLmModel& m) { return m.info.window; })
      .def_property_readonly("vocabulary_size",
                             [](const CharLmModel& m) { return m.info.vocabulary.size(); })
      .def("bits_per_char",
           [](CharLmModel& m, const std::string& text, int64_t window) {
             const std::vector<int32_t> ids = m.info.vocabulary.encode("text", text);
             if (ids.size() < 2)
               throw py::value_error("text: at least two characters are needed to score");
             if (window < 0) throw py::value_error("window: expected 0 (the training window) or more");
             py::gil_scoped_release release;
             return lstm::apps::score_text(m.model, ids, window == 0 ? m.info.window : window).bits_per_char();
           },
           py::arg("text"), py::arg("window") = 0)
      .def("generate",
           [](CharLmModel& m, const std::string& prompt, int64_t length, double temperature,
              uint64_t seed) {
             if (prompt.empty()) throw py::value_error("prompt: at least one character is needed");
             if (length < 0) throw py::value_error("length: expected 0 or more");
             if (temperature < 0) throw py::value_error("temperature: expected 0 or more");
             const std::vector<int32_t> ids = m.info.vocabulary.encode("prompt", prompt);
             std::vector<int32_t> drawn;
             {
               py::gil_scoped_release release;
               lstm::apps::generate(m.model, ids, length, temperature, seed,
                                    [&](int32_t id) { drawn.push_back(id); });
             }
             return py::bytes(m.info.vocabulary.decode(drawn));
           })
      .def("save", [](const CharLmModel& m, const std::string& path) {
        lstm::save_sequence_model(path, m.model);
      });
  module.def("charlm_load", [](const std::string& path) {
    lstm::SequenceModel model = lstm::load_sequence_model(path);
    lstm::apps::CharLmInfo info = lstm::apps::charlm_info(model, path);
    return CharLmModel{std::move(model), std::move(info)};
  });
  module.def(
      "charlm_fit",
      [](const std::string& path, const std::string& vocabulary, int64_t window, int64_t batch,
         int64_t embedding, int64_t hidden, int64_t layers, const std::string& cell, int64_t epochs,
         double lr, double dropout, double validation, double time_limit, uint64_t seed,
         py::object on_epoch, py::object on_batch) {
        CharLmFit o;
        o.path = path;
        o.vocabulary = vocabulary;
        o.window = window;
        o.batch = batch;
        o.embedding = embedding;
        o.hidden = hidden;
        o.layers = layers;
        o.cell = cell;
        o.epochs = epochs;
        o.lr = lr;
        o.dropout = dropout;
        o.validation = validation;
        o.time_limit = time_limit;
        o.seed = seed;
        return fit(o, on_epoch, on_batch);
      },
      py::arg("path"), py::arg("vocabulary"), py::arg("window"), py::arg("batch"),
      py::arg("embedding"), py::arg("hidden"), py::arg("layers"), py::arg("cell"),
      py::arg("epochs"), py::arg("lr"), py::arg("dropout"), py::arg("validation"),
      py::arg("time_limit"), py::arg("seed"), py::arg("on_epoch"), py::arg("on_batch"));
}

}  // namespace lstm_python
