"""The daily digest through a real SMTP server: content, exactly once, retries, STARTTLS + AUTH."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core.config import DigestList, DigestSettings, Settings, SmtpSettings, WebSettings, load_settings
from monitor.core.db import create_db_engine, session_factory, transaction
from monitor.core.errors import ConfigError
from monitor.core.i18n import translator
from monitor.core.tables import DigestRun, Post, QueueItem
from monitor.notify.digest import collect, pseudonym, pseudonym_key, recipient_lists, render
from monitor.notify.digest_runs import is_due, run_digests, send_list
from tests.service.conftest import Cert, SmtpServer, password_authenticator
from tests.service.seed import add_item, seed_digest

# 08:30 in Almaty (UTC+5) on a Monday.
NOW = datetime(2026, 11, 30, 3, 30, tzinfo=UTC)
RECIPIENTS = ("media@edu.example.kz", "head@edu.example.kz")


def with_smtp(settings: Settings, server: SmtpServer, **smtp: object) -> Settings:
    """The test settings pointed at the in-process SMTP server, with recipients and a pseudonym key."""
    return settings.model_copy(
        update={
            "smtp": SmtpSettings(host="127.0.0.1", port=server.port, timeout_s=5, **smtp),  # type: ignore[arg-type]
            "digest": DigestSettings(recipients=RECIPIENTS, pseudonym_key="k" * 32, retry_base_s=60),  # type: ignore[arg-type]
            "web": WebSettings(base_url="https://monitor.example.kz/"),
        }
    )


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies of a multipart/alternative message."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def runs(sessions: sessionmaker[Session]) -> list[DigestRun]:
    with sessions() as session:
        return list(session.exec(select(DigestRun).order_by(DigestRun.id)).all())  # type: ignore[arg-type]


def test_digest_reaches_the_smtp_server_with_both_parts_districts_and_links(
    settings: Settings, sessions: sessionmaker[Session], smtp_server: Callable[..., SmtpServer]
) -> None:
    server = smtp_server()
    settings = with_smtp(settings, server)
    seeded = seed_digest(sessions, NOW)

    [outcome] = run_digests(sessions, settings, NOW)

    assert outcome.status == "sent"
    [received] = server.inbox.messages
    assert sorted(received.recipients) == sorted(RECIPIENTS)
    assert received.sender == settings.smtp.from_addr
    assert received.message["Subject"].startswith("Сводка school-monitor за 30.11.2026: подтверждено 2")
    assert received.message.get_content_type() == "multipart/alternative"
    text, html = parts(received.message)
    for body in (text, html):
        # Place names in the reader's language (Russian by default).
        assert "Карасай" in body and "школа №12 (Каскелен)" in body
        assert "область Жетісу" in body and "Талдыкорган" in body and "гимназия №4" in body
        assert f"https://monitor.example.kz/items/{seeded.confirmed_karasai}" in body
        assert f"https://monitor.example.kz/items/{seeded.pending_critical}" in body  # the oldest unreviewed
        # Source failures in plain words, with the plural right.
        assert "tg_almaty_news" in body and "vk_ok" not in body  # failing sources only
        assert "на сайте внутренняя ошибка" in body and "4 ошибки подряд" in body and "HTTP 503" not in body
        assert "School No. 99" not in body and "школа №99" not in body  # confirmed before the period
        assert "школа №77" not in body  # dismissed
        assert "@school_fights_kz" not in body and "school_fights_kz" not in body
        # What happened: an excerpt of the lead post, and when it was published (Almaty time).
        assert "девятиклассник пришёл в школу №12" in body
        assert "опубликовано 28.11.2026 07:50" in body
    assert "<mark" in html and ">нож</mark>" in html  # the evidence word highlighted
    assert "*нож*" in text
    assert '<meta name="viewport"' in html and 'lang="ru"' in html
    assert "<img" not in html and "http://" not in html.replace("https://monitor.example.kz", "")
    assert 'style="' in html  # inline CSS
    [run] = runs(sessions)
    assert (run.status, run.attempts, run.list_name) == ("sent", 1, "default")


def test_second_send_and_restart_send_nothing_more_force_resends(
    settings: Settings, sessions: sessionmaker[Session], smtp_server: Callable[..., SmtpServer]
) -> None:
    server = smtp_server()
    settings = with_smtp(settings, server)
    seed_digest(sessions, NOW)

    assert [o.status for o in run_digests(sessions, settings, NOW)] == ["sent"]
    # A restart: a fresh engine and session factory, later the same local day (23:59 Almaty).
    later = datetime(2026, 11, 30, 18, 59, tzinfo=UTC)
    engine = create_db_engine(settings.database)
    assert [o.status for o in run_digests(session_factory(engine), settings, later)] == ["already_sent"]
    engine.dispose()
    assert [o.status for o in run_digests(sessions, settings, later, when_due=False)] == ["already_sent"]
    assert len(server.inbox.messages) == 1

    assert [o.status for o in run_digests(sessions, settings, later, force=True)] == ["sent"]
    assert len(server.inbox.messages) == 2
    # The next local day (00:00 Almaty = 19:00 UTC) is a new digest, covering from the last one on.
    next_day = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    assert [o.status for o in run_digests(sessions, settings, next_day)] == ["sent"]
    assert len(server.inbox.messages) == 3
    first, second = runs(sessions)  # the forced resend reused today's row
    assert second.period_start_at == first.period_end_at == later
    assert "подтверждено 0" in server.inbox.messages[2].message["Subject"]


def test_failed_send_is_retried_with_backoff_when_the_server_comes_back(
    settings: Settings, sessions: sessionmaker[Session], smtp_server: Callable[..., SmtpServer]
) -> None:
    server = smtp_server(running=False)
    settings = with_smtp(settings, server)
    seed_digest(sessions, NOW)

    [first] = run_digests(sessions, settings, NOW)
    assert first.status == "failed" and first.attempts == 1 and "Connection refused" in (first.error or "")
    [run] = runs(sessions)
    assert run.status == "failed" and run.next_attempt_at == NOW + timedelta(seconds=60)

    server.start()
    assert [o.status for o in run_digests(sessions, settings, NOW + timedelta(seconds=30))] == ["not_due"]
    assert server.inbox.messages == []
    [retry] = run_digests(sessions, settings, NOW + timedelta(seconds=61))
    assert (retry.status, retry.attempts) == ("sent", 2)
    assert len(server.inbox.messages) == 1
    [run] = runs(sessions)
    assert run.status == "sent" and run.error is None


def test_gives_up_after_max_attempts_with_growing_backoff(
    settings: Settings, sessions: sessionmaker[Session], smtp_server: Callable[..., SmtpServer]
) -> None:
    server = smtp_server(running=False)
    settings = with_smtp(settings, server)
    settings = settings.model_copy(
        update={"digest": settings.digest.model_copy(update={"max_send_attempts": 3})}
    )
    now = NOW
    statuses = []
    for _ in range(3):
        [o] = run_digests(sessions, settings, now)
        statuses.append(o.status)
        [run] = runs(sessions)
        if run.next_attempt_at:
            now = run.next_attempt_at
    assert statuses == ["failed", "failed", "gave_up"]
    assert now == NOW + timedelta(seconds=60 + 120)


def test_starttls_and_auth_against_a_server_requiring_them(
    settings: Settings,
    sessions: sessionmaker[Session],
    smtp_server: Callable[..., SmtpServer],
    self_signed: Cert,
) -> None:
    server = smtp_server(
        tls_context=self_signed.server_context(),
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=password_authenticator("digest-bot", "s3cret"),
    )
    good = with_smtp(
        settings,
        server,
        starttls=True,
        username="digest-bot",
        password="s3cret",
        ca_file=str(self_signed.cert_file),
    )
    no_tls = with_smtp(settings, server, username="digest-bot", password="s3cret")
    bad_password = with_smtp(
        settings,
        server,
        starttls=True,
        username="digest-bot",
        password="wrong",
        ca_file=str(self_signed.cert_file),
    )
    untrusted = with_smtp(settings, server, starttls=True, username="digest-bot", password="s3cret")
    [rl] = recipient_lists(good)

    refusals = (
        (no_tls, "AUTH extension not supported"),
        (bad_password, "535"),
        (untrusted, "CERTIFICATE_VERIFY_FAILED"),
    )
    for refused, why in refusals:
        outcome = send_list(sessions, refused, rl, NOW, force=True)
        assert outcome.status == "failed" and why in (outcome.error or ""), outcome
    assert server.inbox.messages == []

    assert send_list(sessions, good, rl, NOW, force=True).status == "sent"
    assert len(server.inbox.messages) == 1


def test_ssl_on_connect(
    settings: Settings,
    sessions: sessionmaker[Session],
    smtp_server: Callable[..., SmtpServer],
    self_signed: Cert,
) -> None:
    server = smtp_server(ssl_context=self_signed.server_context())
    settings = with_smtp(settings, server, ssl=True, ca_file=str(self_signed.cert_file))
    assert [o.status for o in run_digests(sessions, settings, NOW)] == ["sent"]
    assert len(server.inbox.messages) == 1


def test_each_list_gets_its_own_email_in_its_language(
    settings: Settings, sessions: sessionmaker[Session], smtp_server: Callable[..., SmtpServer]
) -> None:
    server = smtp_server()
    settings = with_smtp(settings, server)
    settings = settings.model_copy(
        update={
            "digest": settings.digest.model_copy(
                update={
                    "lists": (
                        DigestList(name="akimat", recipients=("akimat@example.kz",), language="kk"),
                        DigestList(name="partners", recipients=("ngo@example.org",), language="en"),
                    )
                }
            )
        }
    )
    seed_digest(sessions, NOW)
    assert [o.status for o in run_digests(sessions, settings, NOW)] == ["sent"] * 3
    subjects = {tuple(m.recipients): m.message["Subject"] for m in server.inbox.messages}
    assert subjects[("akimat@example.kz",)].startswith("school-monitor шолуы, 30.11.2026: расталды 2")
    assert subjects[("ngo@example.org",)].startswith("school-monitor digest for 30.11.2026: 2 confirmed")
    assert len(runs(sessions)) == 3


def test_not_sent_before_the_local_time_or_on_an_off_day(settings: Settings) -> None:
    weekdays = settings.model_copy(
        update={"digest": DigestSettings(days=("mon", "tue", "wed", "thu", "fri"))}
    )
    almaty_0759 = datetime(2026, 11, 30, 2, 59, tzinfo=UTC)
    assert not is_due(almaty_0759, weekdays)
    assert is_due(almaty_0759 + timedelta(minutes=1), weekdays)
    saturday_0900 = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
    assert not is_due(saturday_0900, weekdays)


@pytest.mark.parametrize("language", ["ru", "kk", "en"])
def test_render_is_pure_and_complete_in_every_language(
    settings: Settings, sessions: sessionmaker[Session], language: str
) -> None:
    seed_digest(sessions, NOW)
    with sessions() as session:
        data = collect(session, settings, NOW - timedelta(days=1), NOW, b"key")
    first, again = render(data, language, "Asia/Almaty", NOW), render(data, language, "Asia/Almaty", NOW)
    assert first == again
    assert "30.11.2026 08:30" in first.text  # the period's end shown in Almaty time
    place = {"ru": "Карасай", "kk": "Қарасай", "en": "Karasai"}[language]
    assert place in first.html and "&lt;" not in first.subject
    assert '<meta name="viewport"' in first.html
    assert data.pending_count == 2 and list(data.pending) == ["critical", "medium"]
    # An undecided incident carries the classifier's confidence band in words (score 0.9: "likely");
    # a confirmed one does not: a moderator has decided.
    t = translator(language)
    undecided = f"{t.label('status', 'new')}: {t.label('category', 'physical_violence')} ({t.label('band', 'likely')})"
    assert undecided in first.text
    assert language == "en" or t.label("band", "likely") != "likely"  # translated, not the English id
    assert f"{t.label('category', 'threat_weapon')}\n" in first.text


def test_html_part_escapes_names_and_the_text_part_does_not(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    add_item(
        sessions,
        status="confirmed",
        created_at=NOW - timedelta(hours=5),
        decided_at=NOW - timedelta(hours=1),
        school='School "<b>No. 5</b>"',
    )
    with sessions() as session:
        data = collect(session, settings, NOW - timedelta(days=1), NOW, b"key")
    rendered = render(data, "en", "Asia/Almaty", NOW)
    assert "&lt;b&gt;No. 5&lt;/b&gt;" in rendered.html and "<b>No. 5</b>" not in rendered.html
    assert 'School "<b>No. 5</b>"' in rendered.text


def test_critical_and_escalated_come_first_and_updates_on_decided_incidents_are_listed(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    seeded = seed_digest(sessions, NOW)
    escalated = add_item(sessions, status="escalated", created_at=NOW - timedelta(days=2),
                         decided_at=NOW - timedelta(days=2), severity="high", district="Talgar",
                         text="Родители сообщают о систематической травле ученицы в школе Талгара")
    # New posts arrive during the period on the escalated incident and on one confirmed 9 days ago.
    with transaction(sessions) as session:
        for n, item_id in enumerate((escalated, seeded.confirmed_old)):
            item = session.get(QueueItem, item_id)
            assert item is not None
            session.add(Post(platform="vk", external_id=f"update-{n}", url=f"https://vk.com/wall-1_{n}",
                             text="Новые подробности", published_at=NOW - timedelta(hours=2),
                             collected_at=NOW - timedelta(hours=2), content_key=f"update-{n}",
                             incident_id=item.incident_id))
    with sessions() as session:
        data = collect(session, settings, NOW - timedelta(days=1), NOW, b"key")
    assert [line.item_id for line in data.urgent] == [escalated, seeded.pending_critical]
    # The escalated incident with news stays at the top with its count of new posts, not listed twice.
    assert [(line.item_id, line.new_posts, line.post_count, line.source_count) for line in data.urgent][:1] == [
        (escalated, 1, 2, 2)]
    assert [(line.item_id, line.new_posts) for line in data.updates] == [(seeded.confirmed_old, 1)]
    assert [line.item_id for line in data.oldest][:1] == [seeded.pending_critical]  # critical first
    html = render(data, "ru", "Asia/Almaty", NOW).html
    assert html.index("Критические и переданные выше") < html.index("Подтверждённые инциденты")
    assert "1 новая публикация" in html and "2 публикации, 2 источника" in html
    assert html.index("Новые публикации по уже решённым инцидентам") < html.index("школа №99")
    kk = render(data, "kk", "Asia/Almaty", NOW).html
    assert "№12 мектеп (Қаскелең)" in kk and "Талғар" in kk and "1 жаңа жарияланым" in kk


def test_every_incident_line_has_an_excerpt_and_its_published_time(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    import re

    seed_digest(sessions, NOW)
    with sessions() as session:
        data = collect(session, settings, NOW - timedelta(days=1), NOW, b"key")
    html = render(data, "ru", "Asia/Almaty", NOW).html
    lines = re.findall(r"<li style=\"margin:0 0 (?:12|8)px 0.*?</li>", html, re.S)
    assert len(lines) == len(data.urgent) + len(data.confirmed) + len(data.updates) + len(data.oldest) > 0
    for line in lines:
        assert re.search(r"опубликовано \d\d\.\d\d\.\d{4} \d\d:\d\d", line), line
        assert "Синтетический пост" in line or "девятиклассник" in line, line


def test_pseudonym_key_comes_only_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[digest]\npseudonym_key = "in-the-file"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="MONITOR_DIGEST__PSEUDONYM_KEY"):
        load_settings(config, {})
    config.write_text("", encoding="utf-8")
    settings = load_settings(config, {"MONITOR_DIGEST__PSEUDONYM_KEY": "k1"})
    assert pseudonym_key(settings) == b"k1"
    assert pseudonym("@a", b"k1") == pseudonym("@A ", b"k1") != pseudonym("@a", b"k2")
    assert pseudonym_key(load_settings(config, {})) != pseudonym_key(load_settings(config, {}))
