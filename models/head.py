"""The trained head: standardized [embedding, lexicon] features -> logistic outputs (flag + categories), Platt-calibrated."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.lexicon import SIGNALS
from monitor.core.errors import ClassifierError
from monitor.core.vocab import CATEGORIES

OUTPUTS: tuple[str, ...] = ("flag", *CATEGORIES)
HEAD_FILE = "head.json"
FORMAT = 1
TUNED_FORMAT = 2  # a head fine-tuned with its own top encoder layers: older code must refuse it, not misread it


@dataclass(frozen=True)
class Head:
    """Weights of the head (linear, or one hidden GELU layer) and its calibration; small enough to commit."""

    version: str
    encoder: str
    dim: int
    layers: tuple[int, ...]  # encoder hidden layers whose pooled vectors are the input, dim each
    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray  # (len(OUTPUTS), features)
    bias: np.ndarray  # (len(OUTPUTS),)
    platt: np.ndarray  # (len(OUTPUTS), 2): p = sigmoid(a * logit + b)
    l2: float
    hidden_weight: np.ndarray | None = None  # (hidden, features) when the head has a hidden layer
    hidden_bias: np.ndarray | None = None
    thresholds: np.ndarray | None = None  # (len(CATEGORIES),) per-category decision thresholds; None = 0.5 each
    # A separate linear category head on the standardized features, fitted on positives only (issue 14): when set,
    # it gives the category logits (columns 1..) and the shared head gives only the flag.
    category_weight: np.ndarray | None = None  # (len(CATEGORIES), features)
    category_bias: np.ndarray | None = None  # (len(CATEGORIES),)
    # Encoder layers (1-based) fine-tuned together with this head; their weights lie beside head.json
    # (models/tuned.py) and the file's sha256 is recorded here. () for a head on the frozen encoder.
    encoder_layers: tuple[int, ...] = ()
    encoder_layers_sha256: str = ""

    def category_thresholds(self) -> dict[str, float]:
        """Each category's decision threshold on its calibrated probability (0.5 for heads that have none)."""
        if self.thresholds is None:
            return dict.fromkeys(CATEGORIES, 0.5)
        return {c: float(t) for c, t in zip(CATEGORIES, self.thresholds, strict=True)}

    @property
    def kind(self) -> str:
        """'linear' or 'mlp'."""
        return "linear" if self.hidden_weight is None else "mlp"

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Raw (uncalibrated) logits, (n, len(OUTPUTS))."""
        z = (features - self.mean) / self.std
        inner = z
        if self.hidden_weight is not None and self.hidden_bias is not None:
            inner = gelu(z @ self.hidden_weight.T + self.hidden_bias)
        out = np.asarray(inner @ self.weight.T + self.bias, dtype=np.float64)
        if self.category_weight is not None and self.category_bias is not None:
            out[:, 1:] = z @ self.category_weight.T + self.category_bias
        return out

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, (n, len(OUTPUTS)); column 0 is the flag."""
        return platt_scaled(self.logits(features), self.platt)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (weights rounded to 7 significant digits: diffs stay readable)."""
        def r(a: np.ndarray) -> Any:
            return np.round(a.astype(np.float64), 7).tolist()

        return {"format": TUNED_FORMAT if self.encoder_layers else FORMAT,
                "version": self.version, "encoder": self.encoder, "dim": self.dim,
                "layers": list(self.layers),
                "outputs": list(OUTPUTS), "lexicon_signals": list(SIGNALS), "l2": self.l2,
                "mean": r(self.mean), "std": r(self.std), "weight": r(self.weight), "bias": r(self.bias),
                "platt": r(self.platt),
                **({"hidden_weight": r(self.hidden_weight), "hidden_bias": r(self.hidden_bias)}
                   if self.hidden_weight is not None and self.hidden_bias is not None else {}),
                **({"category_thresholds": r(self.thresholds)} if self.thresholds is not None else {}),
                **({"category_weight": r(self.category_weight), "category_bias": r(self.category_bias)}
                   if self.category_weight is not None and self.category_bias is not None else {}),
                **({"encoder_layers": list(self.encoder_layers), "encoder_layers_sha256": self.encoder_layers_sha256}
                   if self.encoder_layers else {})}


def platt_scaled(logits: np.ndarray, platt: np.ndarray) -> np.ndarray:
    """Probabilities from raw logits (n, k) and per-column Platt parameters (k, 2): sigmoid(a * logit + b)."""
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(logits * platt[:, 0] + platt[:, 1], -60, 60))))


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh form (the same as torch's approximate='tanh' used in training)."""
    return np.asarray(0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3))))


def features(embeddings: np.ndarray, lexicon: np.ndarray) -> np.ndarray:
    """The head's input: pooled-layer columns then lexicon columns."""
    return np.concatenate([embeddings.astype(np.float64), lexicon.astype(np.float64)], axis=1)


def save_head(head: Head, directory: Path) -> None:
    """Write head.json into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / HEAD_FILE).write_text(json.dumps(head.to_json()), encoding="utf-8")


def load_head(directory: Path) -> Head:
    """Read head.json; ClassifierError naming the directory when missing or corrupt."""
    path = directory / HEAD_FILE
    rebuild = "run `monitor train` to rebuild it (or set classifier.model_dir)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClassifierError(f"classifier head {path} is missing; {rebuild}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ClassifierError(f"classifier head {path} is unreadable ({e}); {rebuild}") from None
    try:
        if data["format"] not in (FORMAT, TUNED_FORMAT) or tuple(data["outputs"]) != OUTPUTS \
                or tuple(data["lexicon_signals"]) != SIGNALS:
            raise ValueError("it was written for another head format, outputs or lexicon")
        head = Head(
            version=str(data["version"]), encoder=str(data["encoder"]), dim=int(data["dim"]),
            layers=tuple(int(v) for v in data["layers"]),
            mean=np.asarray(data["mean"], dtype=np.float64), std=np.asarray(data["std"], dtype=np.float64),
            weight=np.asarray(data["weight"], dtype=np.float64), bias=np.asarray(data["bias"], dtype=np.float64),
            platt=np.asarray(data["platt"], dtype=np.float64), l2=float(data["l2"]),
            hidden_weight=np.asarray(data["hidden_weight"], dtype=np.float64) if "hidden_weight" in data else None,
            hidden_bias=np.asarray(data["hidden_bias"], dtype=np.float64) if "hidden_bias" in data else None,
            thresholds=(np.asarray(data["category_thresholds"], dtype=np.float64)
                        if "category_thresholds" in data else None),
            category_weight=(np.asarray(data["category_weight"], dtype=np.float64)
                             if "category_weight" in data else None),
            category_bias=np.asarray(data["category_bias"], dtype=np.float64) if "category_bias" in data else None,
            encoder_layers=tuple(int(v) for v in data.get("encoder_layers", ())),
            encoder_layers_sha256=str(data.get("encoder_layers_sha256", "")),
        )
        if (data["format"] == TUNED_FORMAT) != bool(head.encoder_layers and head.encoder_layers_sha256):
            raise ValueError("fine-tuned encoder layers and the head format disagree")
        if head.thresholds is not None and (head.thresholds.shape != (len(CATEGORIES),)
                                            or not np.all((head.thresholds > 0) & (head.thresholds < 1))):
            raise ValueError("category thresholds must be one number in (0, 1) per category")
        width = head.dim * len(head.layers) + len(SIGNALS)
        inner = width
        if head.hidden_weight is not None:
            inner = head.hidden_weight.shape[0]
            if head.hidden_weight.shape != (inner, width) or head.hidden_bias is None \
                    or head.hidden_bias.shape != (inner,):
                raise ValueError("hidden layer shapes do not match")
        if (head.category_weight is None) != (head.category_bias is None) or (
                head.category_weight is not None and head.category_bias is not None
                and (head.category_weight.shape != (len(CATEGORIES), width)
                     or head.category_bias.shape != (len(CATEGORIES),))):
            raise ValueError("category head shapes do not match")
        if head.weight.shape != (len(OUTPUTS), inner) or head.mean.shape != (width,) or head.std.shape != (width,) \
                or head.bias.shape != (len(OUTPUTS),) or head.platt.shape != (len(OUTPUTS), 2):
            raise ValueError("array shapes do not match")
        arrays = (head.mean, head.std, head.weight, head.bias, head.platt, head.hidden_weight, head.hidden_bias,
                  head.category_weight, head.category_bias)
        if not all(np.isfinite(a).all() for a in arrays if a is not None):
            raise ValueError("it holds non-finite numbers")
    except (KeyError, TypeError, ValueError) as e:
        raise ClassifierError(f"classifier head {path} is corrupt: {e}; {rebuild}") from None
    return head


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Independent L2-regularized logistic regressions for each column of y; deterministic full-batch LBFGS."""
    import torch

    torch.manual_seed(seed)
    xt = torch.from_numpy(x).double()
    yt = torch.from_numpy(y).double()
    w = torch.zeros((y.shape[1], x.shape[1]), dtype=torch.float64, requires_grad=True)
    b = torch.zeros(y.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=500, tolerance_grad=1e-9, tolerance_change=1e-12,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w.T + b, yt, reduction="none").mean(0).sum()
        loss = loss + 0.5 * l2 * (w * w).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    return w.detach().numpy().copy(), b.detach().numpy().copy()


def fit_platt(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-column Platt scaling (a, b) fitted on held-out logits; identity for a column with one class."""
    out = np.tile(np.array([1.0, 0.0]), (logits.shape[1], 1))
    for j in range(logits.shape[1]):
        if 0 < y[:, j].sum() < len(y):
            # Platt's smoothed targets keep a separable calibration split from giving infinite slopes.
            n_pos, n_neg = y[:, j].sum(), len(y) - y[:, j].sum()
            t = np.where(y[:, j] > 0, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
            w, b = fit_logistic(logits[:, j:j + 1], t[:, None], l2=1e-6)
            out[j] = (w[0, 0], b[0])
    return out


def build_head(version: str, encoder: str, dim: int, layers: tuple[int, ...], x_fit: np.ndarray, y_fit: np.ndarray,
               x_cal: np.ndarray, y_cal: np.ndarray, l2_grid: Sequence[float] = (1e-3, 3e-3, 1e-2)) -> Head:
    """Fit the head on the fit split, choose L2 and fit calibration on the calibration split."""
    mean = x_fit.mean(axis=0)
    std = x_fit.std(axis=0) + 1e-6
    zf, zc = (x_fit - mean) / std, (x_cal - mean) / std
    best: tuple[float, float, np.ndarray, np.ndarray] | None = None
    for l2 in l2_grid:
        w, b = fit_logistic(zf, y_fit, l2)
        logits = zc @ w.T + b
        # Choose on the flag's held-out log loss after calibration: the number we ship.
        loss = flag_log_loss(logits, y_cal)
        if best is None or loss < best[0] - 1e-9:
            best = (loss, l2, w, b)
    assert best is not None
    _, l2, w, b = best
    platt = fit_platt(zc @ w.T + b, y_cal)
    return Head(version, encoder, dim, layers, mean, std, w, b, platt, l2)


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    """Mean binary log loss of probabilities `p` against 0/1 targets `y`."""
    return float(-np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))


def flag_log_loss(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean flag log loss after Platt calibration on the same rows (how build_head compares candidates)."""
    flag = logits[:, :1]
    return log_loss(platt_scaled(flag, fit_platt(flag, y[:, :1]))[:, 0], y[:, 0])


def fit_mlp(zf: np.ndarray, yf: np.ndarray, zc: np.ndarray, yc: np.ndarray, *, hidden: int = 64,
            dropout: float = 0.3, weight_decay: float = 1e-2, max_epochs: int = 40, seed: int = 0,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, float]:
    """One GELU hidden layer with dropout (AdamW, batches of 64); the epoch is chosen on calibration log loss.

    Returns (hidden_weight, hidden_bias, weight, bias, epochs, calibration loss). Deterministic for a seed.
    """
    import torch

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(zf).float()
    y = torch.from_numpy(yf).float()
    xc = torch.from_numpy(zc).float()
    first, last = torch.nn.Linear(x.shape[1], hidden), torch.nn.Linear(hidden, y.shape[1])
    net = torch.nn.Sequential(torch.nn.Dropout(dropout), first, torch.nn.GELU(approximate="tanh"),
                              torch.nn.Dropout(dropout), last)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=weight_decay)
    best: tuple[float, int, list[np.ndarray]] | None = None
    for epoch in range(1, max_epochs + 1):
        net.train()
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), 64):
            batch = order[start:start + 64]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
        if epoch % 5 == 0:
            net.eval()
            with torch.no_grad():
                loss_c = flag_log_loss(net(xc).double().numpy(), yc)
            if best is None or loss_c < best[0] - 1e-6:
                params = [t.detach().double().numpy().copy() for t in (first.weight, first.bias, last.weight, last.bias)]
                best = (loss_c, epoch, params)
    assert best is not None
    loss_c, epoch, (hw, hb, w, b) = best
    return hw, hb, w, b, epoch, loss_c


def build_mlp_head(version: str, encoder: str, dim: int, layers: tuple[int, ...], x_fit: np.ndarray,
                   y_fit: np.ndarray, x_cal: np.ndarray, y_cal: np.ndarray, max_epochs: int = 40) -> tuple[Head, float]:
    """The one-hidden-layer head and its calibration flag log loss."""
    mean = x_fit.mean(axis=0)
    std = x_fit.std(axis=0) + 1e-6
    zf, zc = (x_fit - mean) / std, (x_cal - mean) / std
    hw, hb, w, b, _, loss = fit_mlp(zf, y_fit, zc, y_cal, max_epochs=max_epochs)
    logits = gelu(zc @ hw.T + hb) @ w.T + b
    return Head(version, encoder, dim, layers, mean, std, w, b, fit_platt(logits, y_cal), 1e-2, hw, hb), loss


def calibration_loss(head: Head, x_cal: np.ndarray, y_cal: np.ndarray) -> float:
    """A head's flag log loss on the calibration split (calibrated probabilities)."""
    return log_loss(head.probabilities(x_cal)[:, 0], y_cal[:, 0])


THRESHOLD_GRID = tuple(round(0.1 + 0.05 * i, 2) for i in range(17))  # 0.10 … 0.90


def choose_thresholds(probs: np.ndarray, y: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """Per category, the grid threshold with the best F1 on the flagged rows (ties: the one nearest 0.5)."""
    rows = flags > 0
    out = np.full(probs.shape[1], 0.5)
    for j in range(probs.shape[1]):
        p, t = probs[rows, j], y[rows, j] > 0
        if not t.any():
            continue
        best = (-1.0, 0.0)
        for th in THRESHOLD_GRID:
            pred = p >= th
            tp = float(np.sum(pred & t))
            f1 = 2 * tp / (pred.sum() + t.sum()) if pred.sum() + t.sum() else 0.0
            key = (round(f1, 9), -abs(th - 0.5))
            if key > best:
                best = key
                out[j] = th
    return out


def recalibrate(head: Head, x: np.ndarray, y: np.ndarray) -> Head:
    """The same weights with Platt scaling refitted on (x, y) and per-category thresholds chosen there.

    `monitor train` passes the synthetic dev split: new wording, so its errors look more like real posts'
    than the calibration split's (which shares train's templates and made every score 1.00).
    """
    from dataclasses import replace

    logits = head.logits(x)
    platt = fit_platt(logits, y)
    probs = platt_scaled(logits, platt)
    return replace(head, platt=platt, thresholds=choose_thresholds(probs[:, 1:], y[:, 1:], y[:, 0]))
