"""The grid of PyTorch recurrent modules that the ONNX checks export and import."""
import numpy as np
import torch

# (cell, layers, bidirectional, batch_first, do_constant_folding, opset): each cell meets every
# option at least once, each opset with and without constant folding.
GRID = []
for cell in ("LSTM", "GRU", "RNN_TANH", "RNN_RELU"):
    GRID += [(cell, 1, False, False, True, 14), (cell, 2, True, False, False, 9),
             (cell, 2, False, True, True, 17), (cell, 1, True, True, False, 14),
             (cell, 2, True, False, True, 9), (cell, 1, False, False, False, 17)]


def make_module(cell, layers, bidirectional, batch_first, input_size=3, hidden_size=5, seed=0):
    torch.manual_seed(seed)
    kwargs = dict(num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    if cell == "LSTM":
        return torch.nn.LSTM(input_size, hidden_size, **kwargs)
    if cell == "GRU":
        return torch.nn.GRU(input_size, hidden_size, **kwargs)
    return torch.nn.RNN(input_size, hidden_size, nonlinearity=cell[4:].lower(), **kwargs)


def name(cell, layers, bidirectional, batch_first, folding, opset):
    return f"{cell.lower()}_l{layers}{'_bi' if bidirectional else ''}{'_bf' if batch_first else ''}" \
           f"{'' if folding else '_nofold'}_op{opset}"


def export(module, path, x, folding, opset):
    outputs = ["output", "h_n", "c_n"] if isinstance(module, torch.nn.LSTM) else ["output", "h_n"]
    torch.onnx.export(module, (x,), path, opset_version=opset, do_constant_folding=folding,
                      input_names=["input"], output_names=outputs)


def reference(module, x):
    """PyTorch's output, h_n (and c_n) as numpy arrays."""
    with torch.no_grad():
        y, state = module(x)
    states = state if isinstance(state, tuple) else (state,)
    return [y.numpy()] + [s.numpy() for s in states]


def random_input(batch_first, seed=1, steps=6, batch=2, input_size=3):
    generator = np.random.default_rng(seed)
    shape = (batch, steps, input_size) if batch_first else (steps, batch, input_size)
    return torch.from_numpy(generator.standard_normal(shape).astype(np.float32))


class SequenceModule(torch.nn.Module):
    """An optional embedding, a recurrent network and a linear head on every step, named as
    lstm's trained models name them (embedding, rnn, head)."""

    def __init__(self, cell, layers, bidirectional, vocab=0, input_size=3, hidden_size=5, outputs=4):
        super().__init__()
        if vocab:
            self.embedding = torch.nn.Embedding(vocab, input_size)
        self.rnn = make_module(cell, layers, bidirectional, False, input_size, hidden_size)
        self.head = torch.nn.Linear(hidden_size * (2 if bidirectional else 1), outputs)

    def forward(self, x):
        if hasattr(self, "embedding"):
            x = self.embedding(x)
        return self.head(self.rnn(x)[0])


# (cell, layers, bidirectional, vocab (0: float input), do_constant_folding, opset)
MODULE_GRID = [("LSTM", 2, True, 10, True, 14), ("GRU", 1, False, 0, False, 9),
               ("RNN_TANH", 1, True, 7, False, 17), ("LSTM", 1, False, 0, True, 17)]
