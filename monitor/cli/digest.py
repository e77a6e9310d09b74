"""`monitor digest`: preview, send (once a day unless --force) and the record of past digests."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli import App, cli, pass_app
from monitor.core.errors import InputError, NotFound
from monitor.notify.mail import MailError


@cli.command()
@click.option("--preview", "mode", flag_value="preview", help="Render the next digest without sending it.")
@click.option(
    "--send", "mode", flag_value="send", help="Send today's digest now (nothing if already sent today)."
)
@click.option("--status", "mode", flag_value="status", help="Show the latest digest runs.")
@click.option("--force", is_flag=True, help="With --send: send again even if today's digest went out.")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="With --preview: write to FILE (.html: the HTML part, .eml: the whole message, else text).",
)
@click.option("--list", "list_name", default=None, help="Only this recipient list (default: all).")
@pass_app
def digest(app: App, mode: str | None, force: bool, out: Path | None, list_name: str | None) -> None:
    """The daily digest email: --preview [--out FILE], --send [--force], --status."""
    from monitor.core.tables import utcnow
    from monitor.notify.digest import RecipientList, recipient_lists
    from monitor.notify.digest_runs import preview, recent_runs, run_digests, send_list

    if mode is None:
        raise click.UsageError("give one of --preview, --send or --status")
    if force and mode != "send":
        raise click.UsageError("--force goes with --send")
    if out is not None and mode != "preview":
        raise click.UsageError("--out goes with --preview")
    settings = app.settings
    if mode == "status":
        with app.sessions()() as session:
            for run in recent_runs(session):
                sent = run.sent_at.isoformat(timespec="seconds") if run.sent_at else "-"
                click.echo(
                    f"{run.day} {run.list_name:<12} {run.status:<8} attempts={run.attempts} sent={sent}"
                    + (f" error={run.error}" if run.error else "")
                )
        return
    lists = recipient_lists(settings)
    if list_name is not None:
        lists = [rl for rl in lists if rl.name == list_name]
        if not lists:
            raise NotFound(f"no digest recipient list named {list_name!r}")
    now = utcnow()
    if not lists and mode == "preview":
        # A preview needs nobody to send to: show what the default list would get.
        lists = [RecipientList("preview", (), settings.digest.language)]
    if not lists:
        raise InputError("no digest recipients configured: set [digest] recipients (or [[digest.lists]])")
    if mode == "preview":
        rendered = preview(app.sessions(), settings, lists[0], now)
        if out is None:
            click.echo(f"Subject: {rendered.subject}\n\n{rendered.text}")
            return
        if out.suffix.lower() in {".html", ".htm"}:
            out.write_text(rendered.html, encoding="utf-8")
        elif out.suffix.lower() == ".eml":
            from monitor.notify.mail import build_message

            message = build_message(
                rendered.subject, rendered.text, rendered.html, settings.smtp.from_addr, lists[0].recipients
            )
            out.write_bytes(bytes(message))
        else:
            out.write_text(f"Subject: {rendered.subject}\n\n{rendered.text}", encoding="utf-8")
        click.echo(f"wrote {out} ({rendered.subject})", err=True)
        return
    outcomes = (
        [send_list(app.sessions(), settings, rl, now, force=force) for rl in lists]
        if list_name
        else run_digests(app.sessions(), settings, now, force=force, when_due=False)
    )
    for o in outcomes:
        line = {
            "sent": "sent",
            "already_sent": "already sent today (use --force to send again)",
            "failed": f"failed (attempt {o.attempts}; retried by the service): {o.error}",
            "gave_up": f"gave up after {o.attempts} attempts: {o.error}",
            "uncertain": f"delivery uncertain, not resent (check the mailbox; --force sends again): {o.error}",
            "not_due": "waiting for the retry backoff (use --force to try now)",
            "busy": "being sent by another process",
        }.get(o.status, o.status)
        click.echo(f"{o.list_name}: {line}")
    failed = [o.list_name for o in outcomes if o.status in {"failed", "gave_up", "uncertain"}]
    if failed:
        raise MailError(f"digest not sent to {', '.join(failed)}")
