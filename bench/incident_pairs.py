"""Grouping evaluation on real news: do reports of one school incident join, and do different incidents stay apart?

python -m bench.incident_pairs [--reports bench/data/incident_reports.jsonl] [--no-encoder] [--errors]

bench/data/incident_reports.jsonl holds excerpts of public news reports (ru, kk, en; several outlets per
incident, with their URLs) about real school incidents in Kazakhstan, labelled by event. Every pair of
reports is put to the decider (`monitor.ingest.incidents.evidence.decide`) with the real encoder's
embeddings (cached per encoder version under the classifier's cache_dir, so a re-run embeds nothing):

- natural: pairs with their real publication times (follow-ups days later fall outside the window);
- same_time: every pair published at the same moment, so only the details can keep different
  incidents apart (same-city, same-day different events: the two Petropavlovsk schools, the three
  Almaty Region cases);
- same_city: the different-event pairs whose reports name the same region, at the same moment;
- no_place_same_time: as same_time with every report's place forgotten (details and meaning only).

The JSON summary is the last line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from monitor.core.config import PlacesSettings, load_settings
from monitor.core.places.gazetteer import ALL_REGIONS, Gazetteer
from monitor.ingest.incidents.evaluate import cached_embeddings, load_reports, score_pairs, to_report
from monitor.ingest.incidents.evidence import Rules

REPORTS = Path(__file__).resolve().parent / "data" / "incident_reports.jsonl"


def main() -> None:
    """Score every pair; print the mistakes with --errors and the JSON summary last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=Path, default=REPORTS)
    parser.add_argument("--no-encoder", action="store_true", help="Details and text only (no semantic joins).")
    parser.add_argument("--errors", action="store_true")
    args = parser.parse_args()
    settings = load_settings(None, {})
    items = load_reports(args.reports)
    places = Gazetteer.load(PlacesSettings(regions=ALL_REGIONS))
    vectors = None
    version = "none"
    if not args.no_encoder:
        from models import load_classifier

        classifier = load_classifier(settings.classifier)
        version = classifier.version
        cache = Path(settings.classifier.cache_dir).expanduser() / f"eval-embeddings-{classifier.encoder.description}.npz"
        vectors = cached_embeddings([i.text for i in items], classifier.embed, cache, classifier.encoder.description)
    reports = [to_report(n, item, places, vectors[n] if vectors is not None else None)
               for n, item in enumerate(items)]
    p = settings.places
    rules = Rules(window_h=p.incident_window_h, text_similarity=p.incident_text_similarity,
                  semantic_similarity=p.incident_embedding_similarity,
                  strong_semantic_similarity=p.incident_strong_embedding_similarity)
    regions = {n: {r[0] for r in rep.places} for n, rep in enumerate(reports)}
    index = {item.id: n for n, item in enumerate(items)}
    natural = score_pairs(items, reports, rules)
    same_time = score_pairs(items, reports, rules, same_time=True)
    same_city = score_pairs(items, reports, rules, same_time=True,
                            only=lambda a, b: a.event != b.event and bool(regions[index[a.id]] & regions[index[b.id]]))
    # Harder still: no place known for any report, all published at once; only details and meaning remain.
    from dataclasses import replace as _replace

    placeless = [_replace(r, places=()) for r in reports]
    no_place = score_pairs(items, placeless, rules, same_time=True)
    # The national gazetteer on the same texts (written before these reports were collected): is the
    # best place's region the incident's region (labelled by hand in the file)?
    truth = {json.loads(line)["id"]: json.loads(line).get("region")
             for line in args.reports.read_text(encoding="utf-8").splitlines() if line.strip()}
    placed = [(item.id, rep.places[0][0] if rep.places else None) for item, rep in zip(items, reports, strict=True)]
    found = [(i, r) for i, r in placed if r is not None]
    right = sum(1 for i, r in found if r == truth.get(i))
    places_summary = {"reports": len(placed), "placed": len(found), "region_right": right,
                      "precision": round(right / len(found), 4) if found else None,
                      "recall": round(right / len(placed), 4) if placed else None}
    if args.errors:
        for i, r in placed:
            if r != truth.get(i):
                print(f"place: {i}: found {r}, labelled {truth.get(i)}")
        for name, s in (("natural", natural), ("same_time", same_time), ("no_place", no_place)):
            for a, b in s.missed:
                print(f"{name} missed: {a} ~ {b}")
            for a, b, why in s.wrong:
                print(f"{name} MERGED: {a} + {b}: {why}")
    summary = {
        "bench": "incident_pairs", "reports": len(items), "events": len({i.event for i in items}),
        "languages": sorted({i.language for i in items}), "encoder": version, "rules": rules.__repr__(),
        "natural": natural.summary(), "same_time": same_time.summary(), "same_city": same_city.summary(),
        "no_place_same_time": no_place.summary(), "gazetteer_regions": places_summary,
    }
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
