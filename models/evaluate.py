"""The real held-out evaluation: flag F1 overall and per language, primary-category accuracy, calibration (ECE).

`python -m models.evaluate [--real FILE] [--version V] [--json]` scores a trained head on the real public texts of
`models/data/real_heldout.jsonl` (never trained or calibrated on) through the embedding cache, so a second run
costs seconds. `monitor train` uses `real_metrics` to decide promotion.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.dataset import Example, read_examples
from models.head import Head
from models.metrics import category_report, ece, prf, reliability, report, roc_auc
from monitor.core.vocab import CATEGORIES

DATA_DIR = Path(__file__).resolve().parent / "data"
REAL_HELDOUT = DATA_DIR / "real_heldout.jsonl"


def evaluate_probabilities(examples: Sequence[Example], probs: np.ndarray, threshold: float,
                           category_thresholds: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Every number of the real evaluation from (n, 1 + categories) probabilities; column 0 is the flag."""
    limits: dict[str, float] = {c: (category_thresholds or {}).get(c, 0.5) for c in CATEGORIES}
    flags = [bool(p >= threshold) for p in probs[:, 0]]
    gold = [e.flag for e in examples]
    out = report(examples, probs[:, 0].tolist(), threshold)
    out["ece"] = ece(gold, probs[:, 0].tolist())
    out["reliability"] = reliability(gold, probs[:, 0].tolist())
    cat_probs: list[dict[str, float]] = [{c: float(probs[i, 1 + k]) for k, c in enumerate(CATEGORIES)}
                                         for i in range(len(examples))]
    out["categories"] = category_report(examples, flags, cat_probs, limits)
    out["categories_argmax"] = category_report(examples, flags, cat_probs, limits, rule="argmax")
    # Multi-label view on the gold positives: does each category head say "present" where the labels do?
    pos = [i for i, e in enumerate(examples) if e.flag]
    labels: dict[str, Any] = {}
    for k, c in enumerate(CATEGORIES):
        ys = [int(c in examples[i].categories) for i in pos]
        ps = [float(probs[i, 1 + k]) for i in pos]
        labels[c] = {**prf(ys, [p >= limits[c] for p in ps]), "roc_auc": roc_auc(ys, ps), "threshold": limits[c]}
    out["category_labels_on_positives"] = labels
    everything_y = [int(c in e.categories) for e in examples for c in CATEGORIES]
    everything_p = [float(probs[i, 1 + k]) for i in range(len(examples)) for k in range(len(CATEGORIES))]
    out["category_ece"] = ece(everything_y, everything_p)
    return out


def head_probabilities(head: Head, x: np.ndarray) -> np.ndarray:
    """The head's calibrated probabilities on precomputed features."""
    return head.probabilities(x)


def real_metrics(head: Head, x: np.ndarray, examples: Sequence[Example], threshold: float) -> dict[str, Any]:
    """The real-set metrics of `head` on its precomputed features `x`, at the head's own category thresholds."""
    return evaluate_probabilities(examples, head.probabilities(x), threshold, head.category_thresholds())


def summary_lines(title: str, m: Mapping[str, Any]) -> list[str]:
    """A short readable summary of `evaluate_probabilities` output."""
    o = m["overall"]
    lines = [(f"{title}: flag F1 {o['f1']:.3f} (P {o['precision']:.3f} R {o['recall']:.3f}, n={o['n']}, "
              f"pos={o['positives']}), AUC {o['roc_auc'] or 0:.3f}, ECE {m['ece']:.3f}, category ECE "
              f"{m['category_ece']:.3f}")]
    for lang, v in m["by_language"].items():
        lines.append(f"  lang={lang:<9} F1 {v['f1']:.3f}  P {v['precision']:.3f}  R {v['recall']:.3f}  "
                     f"(n={v['n']}, pos={v['positives']})")
    c = m["categories"]
    acc = c["top1_accuracy"]
    lines.append(f"  primary category top-1 on flagged positives: {'-' if acc is None else f'{acc:.3f}'} "
                 f"(n={c['flagged_positives']}); on all positives {c['top1_accuracy_all_positives'] or 0:.3f}")
    old = m["categories_argmax"]["top1_accuracy"]
    lines.append(f"  (the old queue rule, highest probability: {'-' if old is None else f'{old:.3f}'})")
    for cat, v in c["by_category"].items():
        a = v["accuracy"]
        lines.append(f"    {cat:<20} {'-' if a is None else f'{a:.3f}'}  ({v['correct']}/{v['n']})")
    lines.append("  reliability (flag): " + "; ".join(
        f"{b['low']:.1f}-{b['high']:.1f}: n={b['n']} p={b['mean_prob']:.2f} obs={b['observed']:.2f}"
        for b in m["reliability"]))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate a trained head (default: the current one) on the real held-out set."""
    from models.encoder import load_encoder
    from models.head import load_head
    from models.registry import model_dir, trained_root
    from models.train import EmbeddingCache, head_features
    from models.tuned import apply_tuned
    from monitor.core.config import load_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=REAL_HELDOUT, help="labeled real texts (JSON lines)")
    parser.add_argument("--version", action="append", default=None,
                        help="trained version(s) to evaluate (default: the current one)")
    parser.add_argument("--config", type=Path, default=None, help="monitor config file")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    settings = load_settings(args.config).classifier
    examples = read_examples(args.real)
    root = trained_root(settings)
    versions = args.version or [None]
    encoder = load_encoder(settings)
    results: dict[str, Any] = {}
    for version in versions:
        directory = model_dir(root, version)
        head = load_head(directory)
        apply_tuned(encoder, directory, head)
        cache = EmbeddingCache(encoder, Path(settings.cache_dir), head.layers)
        x = head_features(cache, examples)
        results[directory.name] = real_metrics(head, x, examples, settings.threshold)
    if args.json:
        print(json.dumps({"file": str(args.real), "results": results}, ensure_ascii=False, indent=2))
    else:
        for name, m in results.items():
            print("\n".join(summary_lines(f"{name} on {args.real.name}", m)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
