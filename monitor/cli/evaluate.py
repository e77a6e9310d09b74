"""`monitor evaluate-incidents`: the grouping decider scored on moderators' corrections and on labelled reports."""

from __future__ import annotations

import json
from pathlib import Path

import click

from monitor.cli import App, cli, pass_app


@cli.command("evaluate-incidents")
@click.option("--reports", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A JSONL file of labelled reports (id, event, text, published), e.g. bench/data/incident_reports.jsonl.")
@click.option("--no-encoder", is_flag=True, help="Without the encoder: links, media, text and details only.")
@pass_app
def evaluate_incidents(app: App, reports: Path | None, no_encoder: bool) -> None:
    """Pairwise precision/recall of grouping on the same/different-event pairs moderators made (merge, split)."""
    from monitor.core.config import PlacesSettings
    from monitor.core.places.gazetteer import ALL_REGIONS, Gazetteer
    from monitor.ingest.incidents.corrections import correction_pairs
    from monitor.ingest.incidents.evaluate import (
        Labelled,
        cached_embeddings,
        load_reports,
        score_pairs,
        to_report,
    )
    from monitor.ingest.incidents.match import Signature, rules_of

    settings = app.settings
    rules = rules_of(settings)
    embed = None
    name = "none"
    if not no_encoder:
        from models import load_classifier

        classifier = load_classifier(settings.classifier)
        embed, name = classifier.embed, classifier.encoder.description
    cache = Path(settings.classifier.cache_dir).expanduser() / f"eval-embeddings-{name}.npz"
    out: dict[str, object] = {"encoder": name}
    with app.sessions()() as session:
        pairs = correction_pairs(session)
    if pairs:
        same = joined = different = merged = 0
        texts = sorted({p.text for a, b, _ in pairs for p in (a, b)})
        vectors = dict(zip(texts, cached_embeddings(texts, embed, cache, name), strict=True)) if embed else {}
        from dataclasses import replace

        from monitor.ingest.incidents.evidence import decide

        for a, b, is_same in pairs:
            ra = replace(Signature.of(a).report(), embedding=vectors.get(a.text))
            rb = replace(Signature.of(b).report(), embedding=vectors.get(b.text))
            hit = decide(ra, rb, rules) is not None
            if is_same:
                same, joined = same + 1, joined + hit
            else:
                different, merged = different + 1, merged + hit
        out["corrections"] = {"same_pairs": same, "joined": joined, "recall": round(joined / same, 4) if same else None,
                              "different_pairs": different, "merged": merged,
                              "merge_rate": round(merged / different, 4) if different else None}
    else:
        out["corrections"] = "none yet (merge and split items to make some)"
    if reports is not None:
        items: list[Labelled] = load_reports(reports)
        places = Gazetteer.load(PlacesSettings(regions=ALL_REGIONS))
        vecs = cached_embeddings([i.text for i in items], embed, cache, name) if embed else None
        reps = [to_report(n, it, places, vecs[n] if vecs is not None else None) for n, it in enumerate(items)]
        out["reports"] = score_pairs(items, reps, rules).summary()
        out["reports_same_time"] = score_pairs(items, reps, rules, same_time=True).summary()
    click.echo(json.dumps(out, ensure_ascii=False))
