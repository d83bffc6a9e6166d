"""lstm: LSTM, GRU and RNN networks computed by the lstm C++ library.

Two APIs:
  * NumPy layers: ``lstm.LSTM``, ``lstm.GRU``, ``lstm.RNN`` (forward, backward, state_dict,
    save/load of the safetensors files the CLI reads and writes);
  * the PyTorch drop-in: ``lstm.torch.LSTM/GRU/RNN`` (imported on first use of ``lstm.torch``).
"""
from ._lstm import Error, FileError, bf16_available, num_threads
from ._charlm import CharLM
from ._forecaster import Forecaster
from ._global_forecaster import GlobalForecaster
from ._layers import GRU, LSTM, RNN, load
from ._settings import precision, set_num_threads, set_precision

__all__ = ["LSTM", "GRU", "RNN", "load", "Forecaster", "GlobalForecaster", "CharLM", "set_num_threads", "num_threads", "set_precision",
           "precision", "bf16_available", "Error", "FileError"]


def __getattr__(name):
    # `lstm.torch` without importing torch at `import lstm` (it takes a second).
    if name == "torch":
        import importlib
        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module 'lstm' has no attribute {name!r}")
