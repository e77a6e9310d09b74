"""Evaluation numbers: precision/recall/F1 at a threshold, ROC-AUC, precision at a recall floor, by slice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from models.dataset import Example
from monitor.core.vocab import CATEGORIES


def prf(labels: Sequence[int], predicted: Sequence[bool]) -> dict[str, float]:
    """Precision, recall, F1 and counts of a binary prediction."""
    y = np.asarray(labels, dtype=bool)
    p = np.asarray(predicted, dtype=bool)
    tp = int(np.sum(y & p))
    fp = int(np.sum(~y & p))
    fn = int(np.sum(y & ~p))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "n": len(y), "positives": int(y.sum()),
            "tp": tp, "fp": fp, "fn": fn}


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve (ties count half); None when only one class is present."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def precision_at_recall(labels: Sequence[int], scores: Sequence[float], floor: float = 0.9) -> dict[str, float]:
    """The best precision over thresholds whose recall is >= floor, with that threshold."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    best = {"precision": 0.0, "recall": 0.0, "threshold": 1.0}
    if not y.any():
        return best
    for t in np.unique(s):
        p = s >= t
        tp = float(np.sum(y & p))
        recall = tp / y.sum()
        if recall >= floor:
            precision = tp / max(p.sum(), 1)
            if precision > best["precision"] or (precision == best["precision"] and t > best["threshold"]):
                best = {"precision": float(precision), "recall": float(recall), "threshold": float(t)}
    return best


def report(examples: Sequence[Example], scores: Sequence[float], threshold: float,
           category_scores: dict[str, Sequence[float]] | None = None,
           category_threshold: float = 0.5) -> dict[str, Any]:
    """Overall, per-language and per-category metrics of flag scores (and category scores if given)."""
    flags = [e.flag for e in examples]
    predicted = [s >= threshold for s in scores]
    out: dict[str, Any] = {"threshold": threshold, "overall": {
        **prf(flags, predicted), "roc_auc": roc_auc(flags, scores),
        "precision_at_recall_0.90": precision_at_recall(flags, scores, 0.9),
    }}
    by_lang: dict[str, Any] = {}
    for lang in sorted({e.lang for e in examples}):
        idx = [i for i, e in enumerate(examples) if e.lang == lang]
        ys = [flags[i] for i in idx]
        ss = [scores[i] for i in idx]
        by_lang[lang] = {**prf(ys, [predicted[i] for i in idx]), "roc_auc": roc_auc(ys, ss)}
    out["by_language"] = by_lang
    if category_scores is not None:
        by_cat: dict[str, Any] = {}
        for cat in CATEGORIES:
            ys = [int(cat in e.categories) for e in examples]
            ss = list(category_scores[cat])
            by_cat[cat] = {**prf(ys, [s >= category_threshold for s in ss]), "roc_auc": roc_auc(ys, ss)}
        out["by_category"] = by_cat
    return out


def format_report(title: str, result: dict[str, Any]) -> str:
    """A readable plain-text table of a `report` result."""
    def row(name: str, m: dict[str, Any]) -> str:
        auc = m.get("roc_auc")
        return (f"  {name:<20} {m['n']:>6} {m['positives']:>6} {m['precision']:>7.3f} {m['recall']:>7.3f} "
                f"{m['f1']:>7.3f} {'   -' if auc is None else f'{auc:7.3f}'}")

    head = f"  {'slice':<20} {'n':>6} {'pos':>6} {'prec':>7} {'recall':>7} {'f1':>7} {'auc':>7}"
    lines = [f"{title} (threshold {result['threshold']:.2f})", head, row("overall", result["overall"])]
    lines += [row(f"lang={k}", v) for k, v in result["by_language"].items()]
    for k, v in result.get("by_category", {}).items():
        lines.append(row(k, v))
    par = result["overall"]["precision_at_recall_0.90"]
    lines.append(f"  precision at recall>=0.90: {par['precision']:.3f} "
                 f"(recall {par['recall']:.3f}, threshold {par['threshold']:.3f})")
    return "\n".join(lines)
