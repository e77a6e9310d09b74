"""`monitor match [--json] TEXT`: which region, district, town and school a text is about."""

from __future__ import annotations

import json

import click

from monitor.cli import App, cli, pass_app


@cli.command()
@click.argument("text", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of {region, district, town, school, span}.")
@pass_app
def match(app: App, text: tuple[str, ...], as_json: bool) -> None:
    """Find places and schools of the watched regions in TEXT (ru, kk in both alphabets, en); best first."""
    from monitor.core.places.gazetteer import Gazetteer

    gazetteer = Gazetteer.load(app.settings.places)
    joined = " ".join(text)
    matches, education = gazetteer.analyze(joined)
    if as_json:
        click.echo(json.dumps([m.to_dict() for m in matches if m.region is None or gazetteer.is_watched(m)],
                              ensure_ascii=False))
        return
    if not matches:
        click.echo("no place of the watched regions found")
    for m in matches:
        where = " / ".join(p for p in (m.region, m.district, m.town, m.school) if p)
        if m.region is not None and not gazetteer.is_watched(m):
            where += "  (not watched)"
        start, end = m.span
        click.echo(f"{where}  [{joined[start:end]!r} at {start}-{end}, confidence {m.confidence:.2f}]")
    context = "yes" if education else "no"
    click.echo(f"school/education context: {context}")
