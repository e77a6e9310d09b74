"""`monitor train`: embed the data, fit and calibrate the head, evaluate on dev beside the baseline, promote if not worse."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from models import lexicon
from models.baseline import PrototypeBaseline
from models.calibrate import FOLDS, REAL_REPEAT, calibrate_on, out_of_fold_logits, with_category_head
from models.dataset import Example, labels
from models.encoder import Encoder
from models.evaluate import evaluate_probabilities, real_metrics
from models.head import (
    OUTPUTS,
    Head,
    build_head,
    build_mlp_head,
    calibration_loss,
    features,
    load_head,
    platt_scaled,
    recalibrate,
    save_head,
)
from models.metrics import report
from models.registry import CURRENT, current_version, promote, read_metrics, write_metrics
from monitor.core.config import ClassifierSettings
from monitor.core.errors import ClassifierError, InputError
from monitor.core.romanized import for_encoder
from monitor.core.vocab import CATEGORIES

SEED = 20261129
CALIBRATION_FRACTION = 0.15
# Mean-pooled hidden states of several layers, not only the last: on the dev split a linear head on layers
# 4-12 reached flag F1 0.921 against 0.886 on the last layer alone (same data, same L2 search).
HEAD_LAYERS = (4, 6, 8, 10, 12)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced: the version, where, its dev metrics, and whether it became current."""

    version: str
    directory: Path
    metrics: dict[str, Any]
    promoted: bool
    previous: str | None
    reason: str


class EmbeddingCache:
    """Embeddings of texts already seen by this encoder setup, kept under classifier.cache_dir (retrains are fast)."""

    def __init__(self, encoder: Encoder, cache_dir: Path, layers: tuple[int, ...]) -> None:
        self.encoder = encoder
        self.layers = layers
        key = hashlib.sha256(json.dumps([encoder.source, encoder.precision, encoder.max_tokens,
                                         encoder.max_windows, list(layers),
                                         *([encoder.tuned.digest] if encoder.tuned else [])]).encode()).hexdigest()[:16]
        self.path = cache_dir.expanduser() / "embeddings" / f"{key}.npz"
        self.store: dict[str, np.ndarray] = {}
        if self.path.is_file():
            try:
                with np.load(self.path) as data:
                    self.store = {k: data[k] for k in data.files}
            except (OSError, ValueError):
                self.store = {}

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()

    def embed(self, texts: Sequence[str], progress: Progress | None = None, chunk: int = 128) -> np.ndarray:
        """Embeddings of `texts`, computing only those not cached; the cache is saved afterwards."""
        # Keyed by what the encoder reads, so switching read_romanized re-embeds only romanized texts.
        texts = [for_encoder(t) for t in texts] if self.encoder.read_romanized else list(texts)
        keys = [self._key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self.store}.items())
        for start in range(0, len(missing), chunk):
            part = missing[start:start + chunk]
            for (k, _), vec in zip(part, self.encoder.pooled([t for _, t in part], self.layers), strict=True):
                self.store[k] = vec
            if progress:
                progress(min(start + chunk, len(missing)), len(missing))
        if missing:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp.npz")
            np.savez(tmp, **self.store)  # type: ignore[arg-type]
            tmp.replace(self.path)
        if not texts:
            return np.zeros((0, self.encoder.dim * len(self.layers)), dtype=np.float32)
        return np.stack([self.store[k] for k in keys])


def split_calibration(examples: Sequence[Example], fraction: float = CALIBRATION_FRACTION,
                      seed: int = SEED) -> tuple[list[Example], list[Example]]:
    """(fit, calibration): a seeded split of the training data, stratified by language and flag."""
    groups: dict[tuple[str, int], list[Example]] = {}
    for e in examples:
        groups.setdefault((e.lang, e.flag), []).append(e)
    rng = random.Random(seed)
    fit: list[Example] = []
    cal: list[Example] = []
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda e: e.id)
        rng.shuffle(members)
        n_cal = round(len(members) * fraction) if len(members) >= 4 else 0
        cal.extend(members[:n_cal])
        fit.extend(members[n_cal:])
    return fit, cal


def targets(examples: Sequence[Example]) -> np.ndarray:
    """(n, len(OUTPUTS)) 0/1 targets: flag then each category."""
    flags, cats = labels(examples)
    return np.array([flags, *(cats[c] for c in CATEGORIES)], dtype=np.float64).T


def head_features(cache: EmbeddingCache, examples: Sequence[Example], progress: Progress | None = None) -> np.ndarray:
    """The head's input matrix for `examples`."""
    texts = [e.text for e in examples]
    return features(cache.embed(texts, progress), lexicon.features(texts))


def evaluate_head(head: Head, x: np.ndarray, examples: Sequence[Example], settings: ClassifierSettings) -> dict[str, Any]:
    """Dev metrics of a head on precomputed features."""
    probs = head.probabilities(x)
    return report(examples, probs[:, 0].tolist(), settings.threshold,
                  {c: probs[:, 1 + k].tolist() for k, c in enumerate(CATEGORIES)}, settings.category_threshold)


def baseline_report(encoder: Encoder, cache: EmbeddingCache, examples: Sequence[Example]) -> dict[str, Any]:
    """The prototype baseline's flag metrics on `examples` (last-layer embeddings from the cache)."""
    baseline = PrototypeBaseline(encoder)
    last = cache.layers.index(encoder.layers)
    embeddings = cache.embed([e.text for e in examples])[:, last * encoder.dim:(last + 1) * encoder.dim]
    return report(examples, baseline.scores_of(embeddings).tolist(), 0.5)


def is_not_worse_real(new: dict[str, Any], old: dict[str, Any]) -> tuple[bool, str]:
    """Promotion rule on the real held-out set: flag F1 not below the current model's, overall and per language, and
    the queue's category (primary top-1 on flagged positives) not less often right: categories route the items."""
    n, o = new["overall"], old["overall"]
    if n["f1"] + 1e-9 < o["f1"]:
        return False, f"real flag F1 {n['f1']:.4f} < current {o['f1']:.4f}"
    for lang, m in new["by_language"].items():
        before = old["by_language"].get(lang)
        if before and before["positives"] and m["f1"] + 1e-9 < before["f1"]:
            return False, f"real flag F1 for {lang} {m['f1']:.4f} < current {before['f1']:.4f}"
    acc, old_acc = new["categories"]["top1_accuracy"] or 0.0, old["categories"]["top1_accuracy"] or 0.0
    if acc + 1e-9 < old_acc:
        return False, f"real category top-1 {acc:.3f} < current {old_acc:.3f} (flag F1 {n['f1']:.4f}, current {o['f1']:.4f})"
    return True, (f"real flag F1 {n['f1']:.4f} >= current {o['f1']:.4f} overall and per language; "
                  f"category top-1 {acc:.3f} >= current {old_acc:.3f}")


def _is_not_worse(new: dict[str, Any], old: dict[str, Any]) -> tuple[bool, str]:
    n, o = new["overall"], old["overall"]
    if n["f1"] + 1e-9 < o["f1"]:
        return False, f"dev flag F1 {n['f1']:.4f} < current {o['f1']:.4f}"
    if (n.get("roc_auc") or 0) + 0.002 < (o.get("roc_auc") or 0):
        return False, f"dev ROC-AUC {n['roc_auc']:.4f} < current {o['roc_auc']:.4f}"
    return True, f"dev flag F1 {n['f1']:.4f} >= current {o['f1']:.4f}"


def train(settings: ClassifierSettings, encoder: Encoder, train_examples: Sequence[Example],
          dev_examples: Sequence[Example], root: Path, *, extra: Sequence[Example] = (),
          data_note: str = "", progress: Progress | None = None, force: bool = False,
          real_examples: Sequence[Example] = (), real_train: Sequence[Example] = ()) -> TrainResult:
    """Fit a new head version under `root` and calibrate it; make it current unless it is worse than the current one
    on the real held-out set (`real_examples`; on dev when none are given).

    With `real_train` (real public texts) they join the fitting data (each REAL_REPEAT times) and the calibration
    and category thresholds come from their out-of-fold scores; without them, from the synthetic dev split."""
    held_out = {e.text for e in dev_examples} | {e.text for e in real_examples}
    pool = [*train_examples, *(e for e in extra if e.text not in held_out)]
    real_train = [e for e in real_train if e.text not in held_out]
    fit, cal = split_calibration(pool)
    if not fit or not cal or len({e.flag for e in fit}) < 2 or len({e.flag for e in cal}) < 2:
        raise InputError("training data needs both flagged and unflagged examples (at least a few of each)")
    cache = EmbeddingCache(encoder, Path(settings.cache_dir), HEAD_LAYERS)
    everything = [*fit, *cal, *dev_examples, *real_examples, *real_train]
    x_all = head_features(cache, everything, progress)
    a, b, c = len(fit), len(fit) + len(cal), len(fit) + len(cal) + len(dev_examples)
    d = c + len(real_examples)
    x_fit, x_cal, x_dev, x_real, x_rt = x_all[:a], x_all[a:b], x_all[b:c], x_all[c:d], x_all[d:]
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    y_fit, y_cal, y_rt = targets(fit), targets(cal), targets(real_train)

    def fitting_data(real_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keep = np.repeat(np.flatnonzero(real_rows), REAL_REPEAT)
        return np.concatenate([x_fit, x_rt[keep]]), np.concatenate([y_fit, y_rt[keep]])

    every_real = np.ones(len(real_train), dtype=bool)
    x_fit_all, y_fit_all = fitting_data(every_real)
    linear = build_head("pending", settings.encoder, encoder.dim, HEAD_LAYERS, x_fit_all, y_fit_all, x_cal, y_cal)
    mlp, _ = build_mlp_head("pending", settings.encoder, encoder.dim, HEAD_LAYERS, x_fit_all, y_fit_all, x_cal, y_cal)
    # Chosen on the calibration split (never dev): the lower calibrated flag log loss wins.
    candidates = {h.kind: (calibration_loss(h, x_cal, y_cal), h) for h in (linear, mlp)}
    head = min(candidates.values(), key=lambda c: c[0])[1]

    def fit_head(real_rows: np.ndarray) -> Head:
        xs, ys = fitting_data(real_rows)
        if head.kind == "linear":
            one = build_head("pending", settings.encoder, encoder.dim, HEAD_LAYERS, xs, ys, x_cal, y_cal,
                             l2_grid=(head.l2,))
        else:
            one = build_mlp_head("pending", settings.encoder, encoder.dim, HEAD_LAYERS, xs, ys, x_cal, y_cal)[0]
        return with_category_head(one, xs, ys)

    head = with_category_head(head, x_fit_all, y_fit_all)
    oof: np.ndarray | None = None
    if len(real_train) >= FOLDS * 4 and len({e.flag for e in real_train}) == 2:
        # Calibrated and thresholded on real texts the fitted head has not seen (out of fold), never on the
        # held-out set: that one only judges.
        oof = out_of_fold_logits(fit_head, x_rt, [e.source or e.id for e in real_train])
        head = calibrate_on(head, oof, y_rt)
    else:
        head = recalibrate(head, x_dev, targets(dev_examples))
    digest = hashlib.sha256(json.dumps(head.to_json(), sort_keys=True).encode()).hexdigest()[:8]
    version = f"e5s-{head.kind}-{stamp}-{digest}"
    head = dataclasses.replace(head, version=version)
    metrics: dict[str, Any] = {
        "version": version, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "encoder": encoder.description, "precision": encoder.precision, "outputs": list(OUTPUTS),
        "read_romanized": encoder.read_romanized,
        "head": head.kind, "layers": list(HEAD_LAYERS), "l2": head.l2, "seed": SEED,
        "candidates": {kind: {"calibration_log_loss": round(loss, 5),
                              "dev_f1": evaluate_head(h, x_dev, dev_examples, settings)["overall"]["f1"]}
                       for kind, (loss, h) in candidates.items()}, "data": {"train": len(train_examples), "from_decisions": len(extra),
                                              "fit": len(fit), "calibration": len(cal), "dev": len(dev_examples),
                                              "real_train": len(real_train), "real_repeat": REAL_REPEAT,
                                              "note": data_note},
        "dev": evaluate_head(head, x_dev, dev_examples, settings),
        "dev_note": ("calibration and category thresholds come from the real training texts, out of fold"
                     if oof is not None else "dev is also the calibration and category-threshold split"),
        "category_thresholds": head.category_thresholds(),
        "baseline_dev": baseline_report(encoder, cache, dev_examples),
    }
    if oof is not None:
        # The real training texts scored out of fold by the calibrated head: a cross-validated real-world number.
        oof_probs = platt_scaled(oof, head.platt)
        metrics["real_train_out_of_fold"] = evaluate_probabilities(real_train, oof_probs, settings.threshold,
                                                                   head.category_thresholds())
    if real_examples:
        metrics["real"] = real_metrics(head, x_real, real_examples, settings.threshold)
    directory = root / version
    save_head(head, directory)
    write_metrics(directory, metrics)
    previous: str | None = None
    promoted, reason = True, "no current model"
    if (root / CURRENT).exists():
        try:
            previous = current_version(root)
            old = load_head(root / previous)
        except ClassifierError as e:
            reason = f"current model unusable ({e})"
        else:
            if old.dim == head.dim and old.encoder == head.encoder and old.layers == head.layers:
                if real_examples:
                    x_old = x_real
                    if old.encoder_layers:  # a fine-tuned current model reads its own top layers
                        from models.finetune import head_input

                        x_old = head_input(encoder, root / previous, old, real_examples, Path(settings.cache_dir))
                    metrics["real_current"] = real_metrics(old, x_old, real_examples, settings.threshold)
                    promoted, reason = is_not_worse_real(metrics["real"], metrics["real_current"])
                else:
                    promoted, reason = _is_not_worse(metrics["dev"], evaluate_head(old, x_dev, dev_examples, settings))
            else:
                reason = "current model was trained for another encoder or feature layout"
    return record_promotion(root, directory, metrics, (promoted, previous, reason), force)


def record_promotion(root: Path, directory: Path, metrics: dict[str, Any], decision: tuple[bool, str | None, str],
                     force: bool) -> TrainResult:
    """Write the promotion decision (forced when `force`) into metrics.json and point CURRENT at the version if it
    was promoted; the version is `directory`'s name."""
    promoted, previous, reason = decision
    if force and not promoted:
        promoted, reason = True, f"forced ({reason})"
    metrics["promotion"] = {"promoted": promoted, "previous": previous, "reason": reason}
    write_metrics(directory, metrics)
    if promoted:
        promote(root, directory.name)
    return TrainResult(directory.name, directory, metrics, promoted, previous, reason)


def dev_metrics_of(directory: Path) -> dict[str, Any]:
    """The dev metrics recorded when `directory`'s head was trained."""
    dev = read_metrics(directory).get("dev", {})
    return dev if isinstance(dev, dict) else {}
