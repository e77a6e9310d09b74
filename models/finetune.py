"""`monitor train --finetune`: the encoder's top layers fine-tuned together with the head, on CPU, in bounded time.

The frozen lower layers run once over the training texts; the token states entering the first tuned layer are kept
(fp16, at most `max_tokens` a text) beside the frozen pooled vectors of the lower head layers, so an epoch runs only
the tuned layers forward and backward. The epoch is chosen on the calibration split, the head is recalibrated on dev
as `monitor train` does, and the version becomes current only if it beats the current model on the real held-out set.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from models.calibrate import REAL_REPEAT
from models.dataset import Example
from models.encoder import Encoder, forward_layers
from models.evaluate import real_metrics
from models.head import OUTPUTS, Head, build_mlp_head, flag_log_loss, load_head, recalibrate, save_head
from models.registry import CURRENT, current_version
from models.train import (
    HEAD_LAYERS,
    SEED,
    EmbeddingCache,
    Progress,
    TrainResult,
    evaluate_head,
    head_features,
    is_not_worse_real,
    record_promotion,
    split_calibration,
    targets,
)
from models.tuned import TUNED_FILE, apply_tuned, load_tuned, save_tuned
from monitor.core.config import ClassifierSettings
from monitor.core.errors import ClassifierError, InputError
from monitor.core.romanized import for_encoder

Log = Callable[[str], None]


@dataclass(frozen=True)
class FinetuneOptions:
    """How many top layers to tune, for how long, and how fast."""

    layers: int = 2
    epochs: int = 3
    max_minutes: float = 20.0  # the training epochs stop here; the frozen pass and evaluations come on top
    encoder_lr: float = 2e-5
    head_lr: float = 3e-4
    batch_size: int = 32
    max_tokens: int = 128  # per training text, specials included (99% of the training texts are shorter)
    dropout: float = 0.3
    seed: int = SEED


@dataclass(frozen=True)
class TokenStates:
    """Hidden states entering the first tuned layer, one fp16 (tokens, dim) block per text, stored flat."""

    flat: np.ndarray  # (total tokens, dim) float16
    offsets: np.ndarray  # (texts + 1,) int64

    def lengths(self) -> np.ndarray:
        """Tokens per text."""
        return np.diff(self.offsets)

    def batch(self, rows: Sequence[int]) -> tuple[Any, Any]:
        """(hidden (b, t, dim) float32, mask (b, t)) for texts `rows`, padded to the longest."""
        import torch

        width = int(max(self.lengths()[list(rows)]))
        hidden = torch.zeros((len(rows), width, self.flat.shape[1]), dtype=torch.float32)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):
            a, b = int(self.offsets[i]), int(self.offsets[i + 1])
            hidden[r, : b - a] = torch.from_numpy(self.flat[a:b].astype(np.float32))
            mask[r, : b - a] = 1
        return hidden, mask


def frozen_states(encoder: Encoder, texts: Sequence[str], first: int, max_tokens: int,
                  progress: Progress | None = None) -> TokenStates:
    """Run the embeddings and layers 1..first-1 once over `texts` (first window, max_tokens) and keep their output."""
    import torch

    char_cap = max_tokens * 8  # as Encoder.windows: no need to tokenize what is cut anyway
    texts = [for_encoder(t[:char_cap]) if encoder.read_romanized else t[:char_cap] for t in texts]
    seqs = [[encoder.bos, *ids[: max_tokens - 2], encoder.eos] for ids in encoder.token_ids(texts)]
    lower = list(encoder.model.encoder.layer[: first - 1])
    blocks: list[np.ndarray] = [np.zeros((0, encoder.dim), dtype=np.float16)] * len(seqs)
    order = sorted(range(len(seqs)), key=lambda k: len(seqs[k]))
    with torch.inference_mode(), encoder._autocast():
        for start in range(0, len(order), encoder.batch_size):
            batch = order[start:start + encoder.batch_size]
            width = max(len(seqs[j]) for j in batch)
            ids = torch.full((len(batch), width), encoder.pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, j in enumerate(batch):
                ids[row, : len(seqs[j])] = torch.tensor(seqs[j])
                mask[row, : len(seqs[j])] = 1
            ids, mask = ids.to(encoder.device), mask.to(encoder.device)
            hidden = encoder.model.embeddings(input_ids=ids)
            if lower:
                hidden = forward_layers(encoder.model, hidden, mask, lower)[-1]
            states = hidden.float().cpu().numpy().astype(np.float16)
            for row, j in enumerate(batch):
                blocks[j] = states[row, : len(seqs[j])]
            if progress:
                progress(min(start + encoder.batch_size, len(order)), len(order))
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blocks])]).astype(np.int64)
    flat = np.concatenate(blocks) if blocks else np.zeros((0, encoder.dim), dtype=np.float16)
    return TokenStates(flat, offsets)


class JointModel:
    """The tuned top layers, mean pooling, the head's standardization and its GELU hidden layer, in torch."""

    def __init__(self, encoder: Encoder, first: int, head: Head, dropout: float) -> None:
        import torch

        if head.hidden_weight is None or head.hidden_bias is None:
            raise InputError("fine-tuning starts from a head with a hidden layer")
        self.model = encoder.model
        self.dim = encoder.dim
        self.first = first
        self.head_layers = head.layers
        self.tuned = torch.nn.ModuleList(copy.deepcopy(encoder.model.encoder.layer[i - 1])
                                         for i in range(first, encoder.layers + 1)).float()
        self.tuned.requires_grad_(True)
        hidden, outputs = torch.nn.Linear(*head.hidden_weight.shape[::-1]), torch.nn.Linear(*head.weight.shape[::-1])
        with torch.no_grad():
            for linear, w, b in ((hidden, head.hidden_weight, head.hidden_bias), (outputs, head.weight, head.bias)):
                linear.weight.copy_(torch.from_numpy(w))
                linear.bias.copy_(torch.from_numpy(b))
        self.hidden, self.outputs = hidden, outputs
        self.net = torch.nn.Sequential(torch.nn.Dropout(dropout), hidden, torch.nn.GELU(approximate="tanh"),
                                       torch.nn.Dropout(dropout), outputs)
        self.mean = torch.from_numpy(head.mean).float()
        self.std = torch.from_numpy(head.std).float()
        self.autocast = encoder._autocast

    def train(self, mode: bool = True) -> None:
        """Dropout on (training) or off."""
        self.tuned.train(mode)
        self.net.train(mode)

    def parameters(self) -> list[dict[str, Any]]:
        """AdamW parameter groups: the tuned layers, then the head."""
        return [{"params": list(self.tuned.parameters()), "name": "encoder"},
                {"params": list(self.net.parameters()), "name": "head"}]

    def logits(self, hidden: Any, mask: Any, frozen: Any) -> Any:
        """(b, outputs) raw logits from the states entering the tuned layers and the frozen feature columns."""
        import torch

        with self.autocast():
            outs = forward_layers(self.model, hidden, mask, list(self.tuned))
        m = mask.unsqueeze(-1).float()
        pieces = []
        for p, layer in enumerate(self.head_layers):
            if layer >= self.first:
                vec = (outs[layer - self.first].float() * m).sum(1) / m.sum(1)
                pieces.append(torch.nn.functional.normalize(vec, dim=1, eps=1e-12))
            else:
                pieces.append(frozen[:, p * self.dim:(p + 1) * self.dim])
        pieces.append(frozen[:, len(self.head_layers) * self.dim:])
        return self.net((torch.cat(pieces, dim=1) - self.mean) / self.std)

    def state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Copies of the tuned layers' and the head's weights."""
        return copy.deepcopy(self.tuned.state_dict()), copy.deepcopy(self.net.state_dict())

    def load(self, state: tuple[dict[str, Any], dict[str, Any]]) -> None:
        """Put back weights from `state`."""
        self.tuned.load_state_dict(state[0])
        self.net.load_state_dict(state[1])

    def head_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(hidden weight, hidden bias, weight, bias) as float64 arrays for a Head."""
        hw, hb, w, b = (t.detach().double().numpy().copy()
                        for t in (self.hidden.weight, self.hidden.bias, self.outputs.weight, self.outputs.bias))
        return hw, hb, w, b


def _batches(lengths: np.ndarray, rows: Sequence[int], size: int, rng: np.random.Generator) -> Iterator[list[int]]:
    """Shuffled batches of `rows` with similar lengths (sorted within chunks of 50 batches: little padding)."""
    order = [rows[i] for i in rng.permutation(len(rows))]
    batches: list[list[int]] = []
    for start in range(0, len(order), size * 50):
        chunk = sorted(order[start:start + size * 50], key=lambda k: int(lengths[k]))
        batches.extend(chunk[a:a + size] for a in range(0, len(chunk), size))
    for k in rng.permutation(len(batches)):
        yield batches[int(k)]


def _predict(joint: JointModel, states: TokenStates, frozen: Any, rows: Sequence[int], size: int) -> np.ndarray:
    """Raw logits of `rows` in order, dropout off."""
    import torch

    joint.train(False)
    out = np.zeros((len(rows), len(OUTPUTS)))
    order = sorted(range(len(rows)), key=lambda k: int(states.lengths()[rows[k]]))
    with torch.no_grad():
        for start in range(0, len(order), size):
            part = order[start:start + size]
            hidden, mask = states.batch([rows[k] for k in part])
            out[part] = joint.logits(hidden, mask, frozen[[rows[k] for k in part]]).double().numpy()
    return out


def fit_joint(joint: JointModel, states: TokenStates, frozen: np.ndarray, y: np.ndarray, fit_rows: Sequence[int],
              cal_rows: Sequence[int], options: FinetuneOptions, log: Log | None = None) -> dict[str, Any]:
    """Train the joint model on `fit_rows` for up to options.epochs / options.max_minutes; keep the epoch with the
    lowest calibration flag log loss. Returns the record of the epochs (minutes, losses, the one chosen)."""
    import torch

    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    x = torch.from_numpy(frozen).float()
    yt = torch.from_numpy(y).float()
    groups = joint.parameters()
    groups[0]["lr"], groups[1]["lr"] = options.encoder_lr, options.head_lr
    opt = torch.optim.AdamW(groups, weight_decay=1e-2)
    params = [p for g in groups for p in g["params"]]
    start_loss = flag_log_loss(_predict(joint, states, x, cal_rows, 64), y[list(cal_rows)])
    epochs: list[dict[str, Any]] = []
    best: tuple[float, int, tuple[dict[str, Any], dict[str, Any]]] | None = None
    deadline = time.monotonic() + options.max_minutes * 60
    lengths = states.lengths()
    for epoch in range(1, options.epochs + 1):
        joint.train(True)
        began, done, losses, stopped = time.monotonic(), 0, [], False
        for rows in _batches(lengths, list(fit_rows), options.batch_size, rng):
            if time.monotonic() > deadline:
                stopped = True
                break
            hidden, mask = states.batch(rows)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(joint.logits(hidden, mask, x[rows]), yt[rows])
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            done += len(rows)
            losses.append(float(loss.detach()))
        minutes = (time.monotonic() - began) / 60
        checked = time.monotonic()
        cal_loss = flag_log_loss(_predict(joint, states, x, cal_rows, 64), y[list(cal_rows)])
        epochs.append({"epoch": epoch, "minutes": round(minutes, 3), "texts": done, "complete": done == len(fit_rows),
                       "train_loss": round(float(np.mean(losses)), 5) if losses else None,
                       "calibration_log_loss": round(cal_loss, 5),
                       "calibration_minutes": round((time.monotonic() - checked) / 60, 3)})
        if log:
            log(f"epoch {epoch}: {minutes:.1f} min for {done}/{len(fit_rows)} texts, calibration flag log loss "
                f"{cal_loss:.4f} (frozen start {start_loss:.4f})")
        if done and (best is None or cal_loss < best[0] - 1e-6):
            best = (cal_loss, epoch, joint.state())
        if stopped:
            break
    if best is None:
        raise InputError(f"no training step fitted in --max-minutes {options.max_minutes}")
    joint.load(best[2])
    trained = sum(e["texts"] for e in epochs)
    per_epoch = sum(e["minutes"] for e in epochs) / trained * len(fit_rows) if trained else None
    return {"epochs": epochs, "chosen_epoch": best[1], "calibration_log_loss": round(best[0], 5),
            "calibration_log_loss_frozen_start": round(start_loss, 5),
            "minutes_per_epoch": round(per_epoch, 3) if per_epoch is not None else None,
            "stopped_by_time": any(not e["complete"] for e in epochs)}


def head_input(encoder: Encoder, directory: Path, head: Head, examples: Sequence[Example], cache_dir: Path,
               progress: Progress | None = None) -> np.ndarray:
    """The feature matrix `head` reads for `examples`, with its own fine-tuned layers when it has them."""
    saved = encoder.tuned
    try:
        apply_tuned(encoder, directory, head)
        return head_features(EmbeddingCache(encoder, cache_dir, head.layers), examples, progress)
    finally:
        encoder.tuned = saved


def is_better_real(new: dict[str, Any], old: dict[str, Any]) -> tuple[bool, str]:
    """Promotion rule for a fine-tuned model: not worse (`is_not_worse_real`: flag F1 per language, category top-1)
    and either a higher real flag F1 or the same F1 with a better primary-category top-1. Fine-tuning costs speed and
    a second weight file, so a tie is not enough."""
    ok, reason = is_not_worse_real(new, old)
    if not ok:
        return False, reason
    n, o = new["overall"]["f1"], old["overall"]["f1"]
    acc, old_acc = new["categories"]["top1_accuracy"] or 0.0, old["categories"]["top1_accuracy"] or 0.0
    if n > o + 1e-9:
        return True, f"real flag F1 {n:.4f} > current {o:.4f}, no language worse; category top-1 {acc:.3f} ({old_acc:.3f})"
    if abs(n - o) <= 1e-9 and acc > old_acc + 1e-9:
        return True, f"real flag F1 {n:.4f} = current; category top-1 {acc:.3f} > current {old_acc:.3f}"
    return False, f"not better than the current model on the real set (flag F1 {n:.4f} vs {o:.4f}, category top-1 " \
                  f"{acc:.3f} vs {old_acc:.3f})"


def finetune(settings: ClassifierSettings, encoder: Encoder, train_examples: Sequence[Example],
             dev_examples: Sequence[Example], root: Path, *, options: FinetuneOptions = FinetuneOptions(),
             extra: Sequence[Example] = (), real_examples: Sequence[Example] = (), data_note: str = "",
             progress: Progress | None = None, log: Log | None = None, force: bool = False,
             real_train: Sequence[Example] = ()) -> TrainResult:
    """Fine-tune the top `options.layers` encoder layers with an MLP head; write the version under `root` and make it
    current only if it beats the current model on `real_examples` (never without a real set, unless `force`)."""
    if not 1 <= options.layers <= encoder.layers:
        raise InputError(f"--finetune-layers must be 1..{encoder.layers}")
    say = log or (lambda _: None)
    encoder.tuned = None
    cache_dir = Path(settings.cache_dir)
    held_out = {e.text for e in dev_examples} | {e.text for e in real_examples}
    fit, cal = split_calibration([*train_examples, *(e for e in extra if e.text not in held_out)])
    # Real training texts join the fitting rows as in `monitor train` (repeated: the synthetic set is far larger).
    fit = [*fit, *(e for e in real_train if e.text not in held_out for _ in range(REAL_REPEAT))]
    if not fit or not cal or len({e.flag for e in fit}) < 2 or len({e.flag for e in cal}) < 2:
        raise InputError("training data needs both flagged and unflagged examples (at least a few of each)")
    x_train = head_features(EmbeddingCache(encoder, cache_dir, HEAD_LAYERS), [*fit, *cal], progress)
    y_train = np.concatenate([targets(fit), targets(cal)])
    fit_rows, cal_rows = list(range(len(fit))), list(range(len(fit), len(fit) + len(cal)))
    started = time.monotonic()
    start, _ = build_mlp_head("pending", settings.encoder, encoder.dim, HEAD_LAYERS, x_train[fit_rows],
                              y_train[fit_rows], x_train[cal_rows], y_train[cal_rows])
    say(f"frozen-encoder MLP head (the starting point): {(time.monotonic() - started) / 60:.1f} min")
    first = encoder.layers - options.layers + 1
    say(f"frozen pass over {len(fit) + len(cal)} training texts…")
    started = time.monotonic()
    states = frozen_states(encoder, [e.text for e in [*fit, *cal]], first, min(options.max_tokens, encoder.max_tokens))
    frozen_minutes = (time.monotonic() - started) / 60
    say(f"frozen pass (embeddings + layers 1-{first - 1}, {len(states.flat)} tokens): {frozen_minutes:.1f} min")
    joint = JointModel(encoder, first, start, options.dropout)
    record = fit_joint(joint, states, x_train, y_train, fit_rows, cal_rows, options, say)
    del states
    hw, hb, w, b = joint.head_arrays()
    layers = tuple(range(first, encoder.layers + 1))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".finetune-", dir=root))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the version from the service's user
    digest = save_tuned(joint.tuned, first, staging)
    head = Head("pending", settings.encoder, encoder.dim, HEAD_LAYERS, start.mean, start.std, w, b,
                np.tile(np.array([1.0, 0.0]), (len(OUTPUTS), 1)), start.l2, hw, hb,
                encoder_layers=layers, encoder_layers_sha256=digest)
    try:
        # Scored from the stored fp16 weights, as load_classifier will: the numbers below are the shipped model's.
        encoder.tuned = load_tuned(encoder, staging, head)
        say(f"scoring dev and the real set with the fine-tuned layers ({len(dev_examples) + len(real_examples)} texts)…")
        started = time.monotonic()
        x_eval = head_features(EmbeddingCache(encoder, cache_dir, HEAD_LAYERS), [*dev_examples, *real_examples],
                               progress)
        x_dev, x_real = x_eval[:len(dev_examples)], x_eval[len(dev_examples):]
        eval_minutes = (time.monotonic() - started) / 60
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        encoder.tuned = None
    head = recalibrate(head, x_dev, targets(dev_examples))
    tag = hashlib.sha256(json.dumps(head.to_json(), sort_keys=True).encode()).hexdigest()[:8]
    version = f"e5s-ft{options.layers}-{head.kind}-{stamp}-{tag}"
    head = dataclasses.replace(head, version=version)
    directory = root / version
    staging.rename(directory)
    save_head(head, directory)
    metrics: dict[str, Any] = {
        "version": version, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "encoder": encoder.description, "precision": encoder.precision, "outputs": list(OUTPUTS),
        "read_romanized": encoder.read_romanized, "head": head.kind, "layers": list(HEAD_LAYERS), "l2": head.l2,
        "seed": options.seed,
        "finetune": {"encoder_layers": list(layers), "file": TUNED_FILE,
                     "file_bytes": (directory / TUNED_FILE).stat().st_size,
                     "options": dataclasses.asdict(options), "frozen_pass_minutes": round(frozen_minutes, 3),
                     "evaluation_pass_minutes": round(eval_minutes, 3), **record},
        "data": {"train": len(train_examples), "extra": len(extra), "fit": len(fit), "calibration": len(cal),
                 "dev": len(dev_examples), "note": data_note},
        "dev": evaluate_head(head, x_dev, dev_examples, settings),
        "dev_note": "dev is also the calibration and category-threshold split (Platt refitted there)",
        "category_thresholds": head.category_thresholds(),
    }
    if real_examples:
        metrics["real"] = real_metrics(head, x_real, real_examples, settings.threshold)
    previous: str | None = None
    promoted, reason = False, "no real held-out set to judge a fine-tuned model on"
    if real_examples and not (root / CURRENT).exists():
        promoted, reason = True, "no current model"
    elif real_examples:
        try:
            previous = current_version(root)
            old = load_head(root / previous)
            if old.encoder != head.encoder or old.dim != head.dim:
                raise ClassifierError("it was trained for another encoder")
            x_old = head_input(encoder, root / previous, old, real_examples, cache_dir, progress)
        except ClassifierError as e:
            reason = f"current model cannot be compared ({e})"
        else:
            metrics["real_current"] = real_metrics(old, x_old, real_examples, settings.threshold)
            promoted, reason = is_better_real(metrics["real"], metrics["real_current"])
    return record_promotion(root, directory, metrics, (promoted, previous, reason), force)
