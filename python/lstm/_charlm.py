"""lstm.CharLM: the CLI's character-level language model (`lstm train --task charlm`,
`lstm eval`, `lstm generate`) from Python: fit on a text, score it in bits per character,
generate text, save/load the same model files as the CLI."""
import os
import tempfile

from . import _lstm
from ._forecaster import _progress_bar


def _text_file(data, directory):
    """A path for `data`: a PathLike is a file; a str is the text itself."""
    if isinstance(data, os.PathLike):
        path = os.fspath(data)
        if not os.path.isfile(path):
            raise FileNotFoundError(2, "No such file", path)
        return path
    if not isinstance(data, str):
        raise TypeError(f"text: expected a str (the text) or a pathlib.Path, got {type(data).__name__}")
    path = os.path.join(directory, "text.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(data)
    return path


class CharLM:
    """Embedding → LSTM → softmax over the characters, with the CLI's defaults (hidden 512,
    window 100, batch 32, Adam 2e-3 constant with a cool-down over the last 20% of a time limit,
    50 epochs, the last 5% of the text for validation)."""

    def __init__(self, hidden_size=512, num_layers=1, embedding=64, window=100, batch_size=32,
                 epochs=50, lr=2e-3, dropout=0.0, validation=0.05, time_limit=None, seed=0,
                 vocabulary="chars", cell="lstm"):
        if vocabulary not in ("chars", "bytes"):
            raise ValueError(f"vocabulary: expected 'chars' or 'bytes', got {vocabulary!r}")
        self.options = dict(hidden=int(hidden_size), layers=int(num_layers), embedding=int(embedding),
                            window=int(window), batch=int(batch_size), epochs=int(epochs),
                            lr=float(lr), dropout=float(dropout), validation=float(validation),
                            time_limit=float(time_limit or 0.0), seed=int(seed),
                            vocabulary=vocabulary, cell=str(cell))
        self._model = None
        self.metrics_ = None

    def fit(self, text, progress="auto"):
        """Trains on `text` (a str, or a pathlib.Path to a UTF-8 file). `progress`: a callable
        getting a dict after every epoch, "auto" (a tqdm bar on a terminal) or None. Ctrl-C
        stops cleanly with the best weights so far."""
        on_epoch, bar = _progress_bar(progress, (("bpc", "train_bits_per_char", "{:.3f}"),
                                                 ("val_bpc", "validation_bits_per_char", "{:.3f}")))
        with tempfile.TemporaryDirectory() as directory:
            path = _text_file(text, directory)
            try:
                self._model, self.metrics_ = _lstm.charlm_fit(path, on_epoch=on_epoch, on_batch=None,
                                                              **self.options)
            finally:
                if bar is not None:
                    bar.close()
        return self

    def _require_model(self):
        if self._model is None:
            raise ValueError("the CharLM is not fitted: call fit() or CharLM.load() first")
        return self._model

    def bits_per_char(self, text, window=0):
        """How well the model predicts `text` (str or pathlib.Path), as `lstm eval` scores it:
        in windows of the training window, or of `window` characters (`eval --window`)."""
        model = self._require_model()
        if isinstance(text, os.PathLike):
            with open(text, encoding="utf-8") as f:
                text = f.read()
        return model.bits_per_char(text, int(window))

    def generate(self, prompt, length=200, temperature=1.0, seed=0):
        """`length` characters sampled after `prompt` (temperature 0: the most likely each time)."""
        raw = self._require_model().generate(prompt, int(length), float(temperature), int(seed))
        return raw.decode("utf-8", errors="replace")

    def save(self, path):
        """Writes the model file `lstm eval` and `lstm generate` read (atomically)."""
        try:
            self._require_model().save(os.fspath(path))
        except _lstm.Error as error:
            raise OSError(str(error)) from None

    @classmethod
    def load(cls, path):
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(2, "No such file", path)
        model = cls()
        try:
            model._model = _lstm.charlm_load(path)
        except _lstm.Error as error:
            raise OSError(str(error)) from None
        return model
