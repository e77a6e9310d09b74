"""The transformer classifier: e5 encoder + trained head + lexicon evidence + severity rules (the pipeline's Classifier)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models import lexicon
from models.encoder import Encoder, load_encoder
from models.head import OUTPUTS, Head, features, load_head
from models.registry import model_dir, trained_root
from models.severity import SeverityRules, rules_from_config
from models.tuned import apply_tuned
from monitor.core.classification import ClassifyItem, Evidence, Verdict, merge_spans
from monitor.core.config import ClassifierSettings
from monitor.core.errors import ClassifierError
from monitor.core.vocab import CATEGORIES

_SENTENCE = re.compile(r"[^.!?…\n]+(?:[.!?…]+|$)", re.MULTILINE)
MAX_EVIDENCE_SENTENCES = 16
MAX_EVIDENCE_CHARS = 300


def sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of `text` (stripped), at most MAX_EVIDENCE_SENTENCES."""
    out = []
    for m in _SENTENCE.finditer(text[: MAX_EVIDENCE_SENTENCES * MAX_EVIDENCE_CHARS]):
        start, end = m.start(), m.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            out.append((start, min(end, start + MAX_EVIDENCE_CHARS)))
    return out[:MAX_EVIDENCE_SENTENCES]


class TransformerClassifier:
    """Scores posts with the e5 encoder and the trained head; `version` names the head (recorded per verdict)."""

    def __init__(self, encoder: Encoder, head: Head, settings: ClassifierSettings,
                 rules: SeverityRules | None = None) -> None:
        self.encoder = encoder
        self.head = head
        self.threshold = settings.threshold
        self.category_threshold = settings.category_threshold
        self.recheck_margin = settings.bf16_recheck_margin
        self.rules = rules or rules_from_config(settings.severity_rules)
        self._category_thresholds = head.category_thresholds()

    @property
    def version(self) -> str:
        """The trained head's version, e.g. 'e5s-lr-2026...'."""
        return self.head.version

    @property
    def category_thresholds(self) -> dict[str, float]:
        """Each category's decision threshold on its calibrated probability (chosen on dev by `monitor train`)."""
        return dict(self._category_thresholds)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) L2-normalized e5 'passage: ' embeddings (cross-lingual near-duplicate detection uses these)."""
        return self.encoder.embed(list(texts))

    def pooled(self, texts: Sequence[str]) -> np.ndarray:
        """The encoder features the head reads: pooled hidden layers `head.layers`, side by side."""
        return self.encoder.pooled(list(texts), self.head.layers)

    def last_layer(self, pooled: np.ndarray) -> np.ndarray:
        """The e5 embedding (last layer) out of `pooled`, or computed when the head does not read it."""
        if self.encoder.layers not in self.head.layers:
            raise ClassifierError("the head does not read the last layer")
        if self.head.encoder_layers:
            raise ClassifierError("the head reads fine-tuned top layers, not the e5 embedding; use embed()")
        k = self.head.layers.index(self.encoder.layers)
        return pooled[:, k * self.encoder.dim:(k + 1) * self.encoder.dim]

    def probabilities(self, texts: Sequence[str], pooled: np.ndarray | None = None,
                      hits: Sequence[Sequence[lexicon.Hit]] | None = None) -> np.ndarray:
        """(n, 1 + categories) calibrated probabilities; column 0 is the flag."""
        recheck = pooled is None
        if pooled is None:
            pooled = self.pooled(texts)
        lex = lexicon.features(texts) if hits is None else lexicon.features_of_hits(hits)
        probs = self.head.probabilities(features(pooled, lex))
        if recheck and self.encoder.precision == "bf16" and self.recheck_margin > 0:
            # bf16 moves scores by up to ~0.03: posts that close to the threshold are scored again in fp32,
            # so the flags are those of fp32 while the rest keeps bf16's speed.
            near = np.flatnonzero(np.abs(probs[:, 0] - self.threshold) < self.recheck_margin)
            if len(near):
                exact = self.encoder.pooled([texts[int(i)] for i in near], self.head.layers, precision="fp32")
                probs[near] = self.head.probabilities(features(exact, lex[near]))
        return probs

    def classify(self, items: Sequence[ClassifyItem]) -> list[Verdict]:
        """One Verdict per item, in order; every item is scored (empty, emoji-only or huge texts included)."""
        texts = [item.text or "" for item in items]
        if not texts:
            return []
        hits = [lexicon.find_hits(t) for t in texts]
        probs = self.probabilities(texts, hits=hits)
        flags = [bool(p[0] >= self.threshold) for p in probs]
        evidence = self._evidence(texts, hits, flags)
        verdicts = []
        for i, item in enumerate(items):
            cats: dict[str, float] = {c: round(float(probs[i, 1 + k]), 6) for k, c in enumerate(CATEGORIES)}
            signals = self._signals(item, hits[i], cats)
            score = float(probs[i, 0])
            severity = self.rules.severity(flags[i], score, cats, self.category_threshold, signals)
            verdicts.append(Verdict(flags[i], round(score, 6), cats, severity, evidence[i]))
        return verdicts

    def _signals(self, item: ClassifyItem, hits: Sequence[lexicon.Hit], cats: dict[str, float]) -> set[str]:
        found = lexicon.signals_of(hits)
        signals: set[str] = {s for s in ("injury", "crowd") if s in found}
        limits = self._category_thresholds
        if "threat_weapon" in found or cats["threat_weapon"] >= limits["threat_weapon"]:
            signals.add("weapon")
        if cats["sexual_misconduct"] >= limits["sexual_misconduct"]:
            signals.add("sexual")
        if item.has_video or "video" in found:
            signals.add("video")
        if item.school:
            signals.add("school")
        return signals

    def _evidence(self, texts: list[str], hits: list[list[lexicon.Hit]], flags: list[bool]) -> list[tuple[Evidence, ...]]:
        """Lexicon spans when there are any; otherwise, for flagged texts, the sentence the head scores highest."""
        out: list[tuple[Evidence, ...]] = []
        need: list[int] = []
        for i, text in enumerate(texts):
            spans = merge_spans([(h.start, h.end) for h in hits[i] if h.signal in lexicon.EVIDENCE_SIGNALS])
            out.append(tuple(Evidence(a, b, text[a:b]) for a, b in spans))
            if flags[i] and not spans and text.strip():
                need.append(i)
        if need:
            # Occlusion by sentence: score each sentence alone, show the one that carries the flag.
            pieces = [(i, span) for i in need for span in (sentences(texts[i]) or [(0, min(len(texts[i]), MAX_EVIDENCE_CHARS))])]
            probs = self.probabilities([texts[i][a:b] for i, (a, b) in pieces])[:, 0]
            best: dict[int, tuple[float, tuple[int, int]]] = {}
            for (i, span), p in zip(pieces, probs, strict=True):
                if i not in best or p > best[i][0]:
                    best[i] = (float(p), span)
            for i, (_, (a, b)) in best.items():
                out[i] = (Evidence(a, b, texts[i][a:b]),)
        return out


def load_classifier(settings: ClassifierSettings, version: str | None = None) -> TransformerClassifier:
    """The trained classifier named by classifier.model_dir (default: the committed one) on its encoder."""
    root = trained_root(settings)
    directory = model_dir(root, version)
    head = load_head(directory)
    if head.encoder != settings.encoder:
        raise ClassifierError(f"the head in {directory} was trained on encoder {head.encoder!r} but "
                              f"classifier.encoder is {settings.encoder!r}; run `monitor train` for this encoder")
    encoder = load_encoder(settings)
    if encoder.dim != head.dim or max(head.layers) > encoder.layers:
        raise ClassifierError(f"the head in {directory} expects {head.dim}-dim layers {head.layers}, the encoder "
                              f"has {encoder.dim} x {encoder.layers}; run `monitor train`")
    apply_tuned(encoder, directory, head)
    return TransformerClassifier(encoder, head, settings)


def head_path(settings: ClassifierSettings) -> Path:
    """Directory of the head in use."""
    return model_dir(trained_root(settings))


__all__ = ["OUTPUTS", "TransformerClassifier", "head_path", "load_classifier"]
