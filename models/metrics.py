"""Evaluation numbers: precision/recall/F1 at a threshold, ROC-AUC, precision at a recall floor, by slice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from models.dataset import Example
from monitor.core.classification import primary_category
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


def reliability(labels: Sequence[int], probs: Sequence[float], bins: int = 10) -> list[dict[str, float]]:
    """Equal-width probability bins: count, mean predicted probability and observed rate of each non-empty bin."""
    y = np.asarray(labels, dtype=np.float64)
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    which = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append({"low": b / bins, "high": (b + 1) / bins, "n": int(mask.sum()),
                        "mean_prob": float(p[mask].mean()), "observed": float(y[mask].mean())})
    return out


def ece(labels: Sequence[int], probs: Sequence[float], bins: int = 10) -> float:
    """Expected calibration error: bin-size-weighted |mean probability - observed rate| over equal-width bins."""
    n = len(labels)
    if not n:
        return 0.0
    return float(sum(b["n"] * abs(b["mean_prob"] - b["observed"]) for b in reliability(labels, probs, bins)) / n)


def argmax_category(categories: Mapping[str, float], thresholds: Mapping[str, float] | None = None) -> str | None:
    """The queue's rule before issue 14: the highest-probability category, whatever its specificity."""
    return max(categories, key=lambda c: categories[c]) if categories else None


def category_report(examples: Sequence[Example], flags: Sequence[bool], category_probs: Sequence[Mapping[str, float]],
                    thresholds: Mapping[str, float] | None = None, rule: str = "primary") -> dict[str, Any]:
    """Top-1 accuracy of the queue's category (rule "primary": the most specific one present; "argmax": the
    highest probability) against the gold primary category, on the positives the model flags, per gold category."""
    choose = primary_category if rule == "primary" else argmax_category
    per: dict[str, dict[str, int]] = {c: {"n": 0, "correct": 0} for c in CATEGORIES}
    confusion: dict[str, dict[str, int]] = {}
    n = correct = 0
    all_n = all_correct = 0
    for e, flag, probs in zip(examples, flags, category_probs, strict=True):
        gold = primary_category(dict.fromkeys(e.categories, 1.0)) if e.flag and e.categories else None
        if gold is None:
            continue
        predicted = choose(probs, thresholds)
        all_n += 1
        all_correct += int(predicted == gold)
        if not flag:
            continue
        n += 1
        correct += int(predicted == gold)
        per[gold]["n"] += 1
        per[gold]["correct"] += int(predicted == gold)
        row = confusion.setdefault(gold, {})
        row[str(predicted)] = row.get(str(predicted), 0) + 1
    by_cat = {c: {**v, "accuracy": v["correct"] / v["n"] if v["n"] else None} for c, v in per.items()}
    return {"flagged_positives": n, "top1_accuracy": correct / n if n else None,
            "all_positives": all_n, "top1_accuracy_all_positives": all_correct / all_n if all_n else None,
            "by_category": by_cat, "confusion": confusion}
