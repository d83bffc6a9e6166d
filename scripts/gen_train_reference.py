#!/usr/bin/python3
"""Generates tests/data/train/: PyTorch's results for lstm's training library (losses, heads,
optimisers, gradient clipping and a few steps of training whole models).

Run with Debian's Python, which has PyTorch:  /usr/bin/python3 scripts/gen_train_reference.py
Deterministic: fixed seeds, one thread, so re-running rewrites identical files.
Integer arrays (targets, token ids, lengths) are stored as F32 (small integers are exact).

Files:
  losses.safetensors   pred, target [N, C], row_weight [N]; logits [N2, V], classes [N2] (-1 = ignored),
                       class_weight [N2]; "<loss>.loss" [1] and "<loss>.grad" for mse, mae, huber
                       (delta in metadata), cross_entropy, and their "_weighted" variants:
                       sum_r w_r sum_c l_rc / (C sum_r w_r), over rows whose target is not ignored.
  heads.safetensors    linear.{x, weight, bias, y, dy, dx, dweight, dbias};
                       embedding.{ids, weight, y, dy, dweight}
  optim.safetensors    p0 [3, 4], p1 [5] initial values; grads.p0 [S, 3, 4], grads.p1 [S, 5];
                       per optimiser (metadata "optimizers": JSON name -> settings):
                       "<name>.lr" [S], "<name>.norm" [S] (clip_grad_norm_'s return), "<name>.p0"
                       [S, 3, 4], "<name>.p1" [S, 5] after each step, "<name>.state.<buffer>.<param>".
  curve_<case>.model.safetensors   the initial model, as lstm's model files name it
  curve_<case>.safetensors         per-step inputs ("input" [S, T, B, I] or "tokens" [S, T, B]),
                       "lengths" [S, B], "target" [S, B, O] / [S, T, B, O] / [S, T, B] (classes);
                       "loss" [S], "grad_norm" [S], "grad.<param>" of step 0 (before clipping),
                       "final.<param>" after the last step; metadata "training": JSON settings.
"""

import json
import os
import sys

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_reference import write_safetensors  # noqa: E402  (the hand-written safetensors writer)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tests", "data", "train")
HUBER_DELTA = 0.7


def scalar(value):
    return value.detach().reshape(1)


# ---------------------------------------------------------------------------------------------
# Losses

def weighted_mean(per_element, weight):
    """per_element [N, C] (or [N]); weight [N]: sum_r w_r sum_c l_rc / (C sum_r w_r)."""
    if per_element.dim() == 1:
        return (per_element * weight).sum() / weight.sum()
    return (per_element * weight[:, None]).sum() / (weight.sum() * per_element.shape[1])


def gen_losses():
    torch.manual_seed(11)
    pred = torch.randn(6, 3) * 1.5
    target = torch.randn(6, 3)
    pred[0, 0] = target[0, 0]  # MAE's gradient at exactly 0 is 0
    pred[1, 1] = target[1, 1] + HUBER_DELTA * 0.5  # inside Huber's quadratic zone
    row_weight = torch.tensor([1.0, 0.0, 0.5, 1.0, 2.0, 1.0])
    logits = torch.randn(7, 5) * 3
    classes = torch.tensor([0, 4, 2, -1, 1, 3, -1])
    class_weight = torch.tensor([1.0, 0.5, 0.0, 1.0, 1.0, 2.0, 1.0])
    out = {"pred": pred, "target": target, "row_weight": row_weight, "logits": logits,
           "classes": classes.float(), "class_weight": class_weight}

    regression = {
        "mse": lambda p, reduction: F.mse_loss(p, target, reduction=reduction),
        "mae": lambda p, reduction: F.l1_loss(p, target, reduction=reduction),
        "huber": lambda p, reduction: F.huber_loss(p, target, reduction=reduction, delta=HUBER_DELTA),
    }
    for name, fn in regression.items():
        for weighted in (False, True):
            p = pred.clone().requires_grad_()
            loss = weighted_mean(fn(p, "none"), row_weight) if weighted else fn(p, "mean")
            loss.backward()
            key = name + ("_weighted" if weighted else "")
            out[key + ".loss"], out[key + ".grad"] = scalar(loss), p.grad
    for weighted in (False, True):
        z = logits.clone().requires_grad_()
        if weighted:
            per_row = F.cross_entropy(z, classes, ignore_index=-1, reduction="none")
            loss = (per_row * class_weight).sum() / (class_weight * (classes != -1)).sum()
        else:
            loss = F.cross_entropy(z, classes, ignore_index=-1)
        loss.backward()
        key = "cross_entropy" + ("_weighted" if weighted else "")
        out[key + ".loss"], out[key + ".grad"] = scalar(loss), z.grad
    write_safetensors(os.path.join(OUT_DIR, "losses.safetensors"), out,
                      {"huber_delta": repr(HUBER_DELTA)})


# ---------------------------------------------------------------------------------------------
# Heads

def gen_heads():
    torch.manual_seed(12)
    out = {}
    linear = torch.nn.Linear(4, 3)
    x = torch.randn(5, 4, requires_grad=True)
    y = linear(x)
    dy = torch.randn(5, 3)
    y.backward(dy)
    out.update({"linear.x": x, "linear.weight": linear.weight, "linear.bias": linear.bias, "linear.y": y,
                "linear.dy": dy, "linear.dx": x.grad, "linear.dweight": linear.weight.grad,
                "linear.dbias": linear.bias.grad})
    embedding = torch.nn.Embedding(6, 3)
    ids = torch.tensor([2, 0, 5, 2, 3, 2])  # repeated ids: the backward scatter adds
    y = embedding(ids)
    dy = torch.randn(6, 3)
    y.backward(dy)
    out.update({"embedding.ids": ids.float(), "embedding.weight": embedding.weight, "embedding.y": y,
                "embedding.dy": dy, "embedding.dweight": embedding.weight.grad})
    write_safetensors(os.path.join(OUT_DIR, "heads.safetensors"), out)


# ---------------------------------------------------------------------------------------------
# Optimisers (settings as lstm's OptimizerConfig spells them)

OPTIMIZERS = {
    "sgd": dict(kind="sgd"),
    "sgd_momentum": dict(kind="sgd", momentum=0.9, weight_decay=0.01),
    "sgd_dampening": dict(kind="sgd", momentum=0.8, dampening=0.3),
    "sgd_nesterov": dict(kind="sgd", momentum=0.9, nesterov=True, weight_decay=0.02),
    "adam": dict(kind="adam"),
    "adam_l2": dict(kind="adam", weight_decay=0.1, beta1=0.85, beta2=0.99),
    "adamw": dict(kind="adamw", weight_decay=0.05, beta1=0.8, beta2=0.99, eps=1e-6),
}


def make_optimizer(settings, params, lr):
    s = dict(settings)
    kind = s.pop("kind")
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=s.get("momentum", 0.0),
                               dampening=s.get("dampening", 0.0), nesterov=s.get("nesterov", False),
                               weight_decay=s.get("weight_decay", 0.0))
    cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
    return cls(params, lr=lr, betas=(s.get("beta1", 0.9), s.get("beta2", 0.999)), eps=s.get("eps", 1e-8),
               weight_decay=s.get("weight_decay", 0.0))


def state_names(kind):
    return ["momentum_buffer"] if kind == "sgd" else ["exp_avg", "exp_avg_sq"]


def gen_optimizers():
    torch.manual_seed(13)
    steps = 5
    p0_init, p1_init = torch.randn(3, 4), torch.randn(5)
    scales = torch.tensor([0.1, 3.0, 0.5, 5.0, 0.2])  # clipping at 1.0 acts on steps 1 and 3
    grads0 = torch.randn(steps, 3, 4) * scales[:, None, None]
    grads1 = torch.randn(steps, 5) * scales[:, None]
    lrs = torch.tensor([0.05, 0.1, 0.02, 0.08, 0.05])
    out = {"p0": p0_init, "p1": p1_init, "grads.p0": grads0, "grads.p1": grads1}
    for name, settings in OPTIMIZERS.items():
        p0, p1 = p0_init.clone().requires_grad_(), p1_init.clone().requires_grad_()
        opt = make_optimizer(settings, [p0, p1], lr=float(lrs[0]))
        norms, after0, after1 = [], [], []
        for s in range(steps):
            for group in opt.param_groups:
                group["lr"] = float(lrs[s])
            p0.grad, p1.grad = grads0[s].clone(), grads1[s].clone()
            norms.append(float(torch.nn.utils.clip_grad_norm_([p0, p1], max_norm=1.0)))
            opt.step()
            after0.append(p0.detach().clone())
            after1.append(p1.detach().clone())
        out[name + ".lr"] = lrs
        out[name + ".norm"] = torch.tensor(norms)
        out[name + ".p0"], out[name + ".p1"] = torch.stack(after0), torch.stack(after1)
        if settings["kind"] != "sgd" or settings.get("momentum", 0.0) != 0.0:
            for buffer in state_names(settings["kind"]):
                out[f"{name}.state.{buffer}.p0"] = opt.state[p0][buffer]
                out[f"{name}.state.{buffer}.p1"] = opt.state[p1][buffer]
    write_safetensors(os.path.join(OUT_DIR, "optim.safetensors"), out,
                      {"optimizers": json.dumps(OPTIMIZERS), "max_norm": "1.0", "steps": str(steps)})


# ---------------------------------------------------------------------------------------------
# Training curves of whole models: [Embedding] -> RNN -> Linear head

class SequenceModel(torch.nn.Module):
    def __init__(self, cell, input_size, hidden, layers, bidirectional, output_size, vocab, head_mode):
        super().__init__()
        if vocab:
            self.embedding = torch.nn.Embedding(vocab, input_size)
        rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn_tanh": torch.nn.RNN}[cell]
        self.rnn = rnn(input_size, hidden, num_layers=layers, bidirectional=bidirectional)
        self.directions = 2 if bidirectional else 1
        self.head = torch.nn.Linear(self.directions * hidden, output_size)
        self.head_mode = head_mode

    def forward(self, x, lengths):
        if hasattr(self, "embedding"):
            x = self.embedding(x)
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        output, h_n = self.rnn(packed)
        if isinstance(h_n, tuple):
            h_n = h_n[0]
        if self.head_mode == "last_step":  # [forward h after the last step | reverse h after step 0]
            last = h_n[-self.directions:]  # [D, B, H]
            return self.head(last.transpose(0, 1).reshape(last.shape[1], -1))
        output, _ = pad_packed_sequence(output, total_length=x.shape[0])
        return self.head(output)


CURVES = [
    dict(name="lstm_mse_adam", cell="lstm", I=3, H=5, layers=1, bi=False, O=2, vocab=0, head_mode="last_step",
         T=6, B=4, loss="mse", optimizer=dict(kind="adam"), lr=0.02, max_norm=0.5),
    dict(name="charlm_ce_adamw", cell="lstm", I=4, H=6, layers=1, bi=False, O=7, vocab=7, head_mode="every_step",
         T=8, B=3, loss="cross_entropy", optimizer=dict(kind="adamw", weight_decay=0.1), lr=0.01, max_norm=0.25),
    dict(name="gru_huber_sgd", cell="gru", I=2, H=4, layers=2, bi=True, O=3, vocab=0, head_mode="every_step",
         T=5, B=3, loss="huber", optimizer=dict(kind="sgd", momentum=0.9, nesterov=True), lr=0.1, max_norm=0.15),
    dict(name="rnn_mae_sgd", cell="rnn_tanh", I=3, H=4, layers=1, bi=True, O=2, vocab=0, head_mode="last_step",
         T=5, B=4, loss="mae", optimizer=dict(kind="sgd", momentum=0.5, weight_decay=0.01), lr=0.05, max_norm=0.7),
]
CURVE_STEPS = 5


def curve_loss(c, y, target, mask):
    """mask [T, B] of valid steps (every_step) weighs the rows; last_step uses every row."""
    if c["loss"] == "cross_entropy":
        return F.cross_entropy(y.reshape(-1, c["O"]), target.reshape(-1), ignore_index=-1)
    fn = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": lambda a, b, reduction: F.huber_loss(
        a, b, reduction=reduction, delta=HUBER_DELTA)}[c["loss"]]
    if c["head_mode"] == "last_step":
        return fn(y, target, reduction="mean")
    per = fn(y, target, reduction="none").reshape(-1, c["O"])
    return weighted_mean(per, mask.reshape(-1).float())


def gen_curve(c, seed):
    torch.manual_seed(seed)
    S, T, B = CURVE_STEPS, c["T"], c["B"]
    model = SequenceModel(c["cell"], c["I"], c["H"], c["layers"], c["bi"], c["O"], c["vocab"], c["head_mode"])
    lengths = torch.randint(1, T + 1, (S, B))
    lengths[:, 0] = T  # pad_packed_sequence needs one full-length sequence for total_length=T rows
    mask = torch.arange(T)[None, :, None] < lengths[:, None, :]  # [S, T, B]
    data = {"lengths": lengths.float()}
    if c["vocab"]:
        tokens = torch.randint(0, c["vocab"], (S, T, B)) * mask  # padding: token 0
        target = torch.randint(0, c["vocab"], (S, T, B))
        target[~mask] = -1
        target[:, 2, 1] = -1  # an ignored target inside a sequence
        inputs = tokens
        data.update(tokens=tokens.float(), target=target.float())
    else:
        inputs = torch.randn(S, T, B, c["I"])
        shape = (S, B, c["O"]) if c["head_mode"] == "last_step" else (S, T, B, c["O"])
        target = torch.randn(*shape)
        data.update(input=inputs, target=target)
    initial = {name: p.detach().clone() for name, p in model.named_parameters()}
    config = json.dumps({"cell": c["cell"]})
    write_safetensors(os.path.join(OUT_DIR, f"curve_{c['name']}.model.safetensors"), initial,
                      {"config": config, "sequence_model": json.dumps({"head_mode": c["head_mode"]})})

    optimizer = make_optimizer(c["optimizer"], model.parameters(), c["lr"])
    losses, norms = [], []
    for s in range(S):
        optimizer.zero_grad()
        loss = curve_loss(c, model(inputs[s], lengths[s]), target[s], mask[s])
        loss.backward()
        if s == 0:
            data.update({"grad." + name: p.grad.clone() for name, p in model.named_parameters()})
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), c["max_norm"])))
        optimizer.step()
        losses.append(float(loss))
    data["loss"], data["grad_norm"] = torch.tensor(losses), torch.tensor(norms)
    data.update({"final." + name: p.detach() for name, p in model.named_parameters()})
    training = {key: c[key] for key in ("loss", "optimizer", "lr", "max_norm", "head_mode")}
    training.update(huber_delta=HUBER_DELTA, steps=S)
    write_safetensors(os.path.join(OUT_DIR, f"curve_{c['name']}.safetensors"), data,
                      {"training": json.dumps(training)})


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    gen_losses()
    gen_heads()
    gen_optimizers()
    for k, c in enumerate(CURVES):
        gen_curve(c, seed=100 + k)
    print(f"wrote {OUT_DIR}", file=sys.stderr)


if __name__ == "__main__":
    main()
