"""Accounts: create, sign-in with lockout, roles, activation, passwords (argon2), API tokens, sessions.

The web and the CLI both call these; each change is audited and ends the user's open sessions
where it should (a session carries `session_stamp`, which changes with them).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core.audit import record_audit
from monitor.core.db import transaction
from monitor.core.errors import InputError, NotFound
from monitor.core.i18n import LANGUAGES
from monitor.core.tables import ApiToken, User, utcnow
from monitor.core.vocab import ROLES, Role

_HASHER = PasswordHasher()
MIN_PASSWORD_CHARS = 8


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches the stored hash."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    return Role(role)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(f"password must be at least {MIN_PASSWORD_CHARS} characters")


def create_user(sessions: sessionmaker[Session], name: str, role: str, password: str) -> User:
    """Add a user; InputError when the name is taken, the role unknown or the password too short."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InputError("user name must be 1-100 characters")
    _check_role(role)
    _check_password(password)
    with transaction(sessions) as session:
        if session.exec(select(User).where(User.name == name)).first():
            raise InputError(f"user {name!r} already exists")
        user = User(name=name, role=role, password_hash=hash_password(password))
        session.add(user)
        session.flush()
        record_audit(session, "system", "user.create", "user", user.id, name=name, role=role)
    return user


def get_user(session: Session, name: str) -> User:
    """The user with this name; NotFound otherwise."""
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


def user_name(sessions: sessionmaker[Session], user_id: int) -> str:
    """The name of the user with this id; NotFound otherwise."""
    with sessions() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"user {user_id} does not exist")
        return user.name


def list_users(sessions: sessionmaker[Session]) -> list[User]:
    """All users by name."""
    with sessions() as session:
        return list(session.exec(select(User).order_by(User.name)))


def set_role(sessions: sessionmaker[Session], name: str, role: str, actor: str = "system") -> User:
    """Change a user's role (audited; ends the user's sessions)."""
    new = _check_role(role)
    with transaction(sessions) as session:
        user = get_user(session, name)
        old = user.role
        user.role = new
        end_sessions(session, user)
        record_audit(session, actor, "user.set_role", "user", user.id, old=old, new=new)
    return user


def set_password(sessions: sessionmaker[Session], name: str, password: str, actor: str = "system") -> User:
    """Set a new password (an admin's reset or the user's own; audited; ends the user's sessions)."""
    _check_password(password)
    with transaction(sessions) as session:
        user = get_user(session, name)
        user.password_hash = hash_password(password)
        user.failed_logins, user.locked_until = 0, None
        end_sessions(session, user)
        record_audit(session, actor, "user.set_password", "user", user.id)
    return user


def set_active(sessions: sessionmaker[Session], name: str, active: bool, actor: str = "system") -> User:
    """Deactivate (ends sessions; tokens stop working) or reactivate a user (audited)."""
    with transaction(sessions) as session:
        user = get_user(session, name)
        if not active and user.name == actor:
            raise InputError("you cannot deactivate yourself")
        user.is_active = active
        end_sessions(session, user)
        record_audit(session, actor, "user.activate" if active else "user.deactivate", "user", user.id)
    return user


def unlock(sessions: sessionmaker[Session], name: str, actor: str = "system") -> User:
    """Lift a sign-in lockout before it runs out (audited)."""
    with transaction(sessions) as session:
        user = get_user(session, name)
        user.locked_until, user.failed_logins = None, 0
        session.add(user)
        record_audit(session, actor, "user.unlock", "user", user.id)
    return user


def set_language(sessions: sessionmaker[Session], user_id: int, language: str | None) -> None:
    """Store the interface language a user chose (ru, kk, en; None: the configured default)."""
    if language is not None and language not in LANGUAGES:
        raise InputError(f"language must be one of {', '.join(LANGUAGES)}")
    with transaction(sessions) as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user with id {user_id}")
        user.language = language
        session.add(user)


def end_sessions(session: Session, user: User) -> None:
    """Make every signed-in browser of this user sign in again (their stamp no longer matches)."""
    user.session_generation += 1
    session.add(user)


def session_stamp(user: User) -> str:
    """What a browser session stores to prove it is still valid: changes with password, role, generation."""
    material = f"{user.password_hash}|{user.role}|{user.session_generation}|{int(user.is_active)}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def is_locked(user: User, now: datetime) -> bool:
    """Whether the user is inside a sign-in lockout."""
    return user.locked_until is not None and user.locked_until > now


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """How many failures lock an account, and for how long."""

    max_failures: int
    lockout: timedelta


# Verifying against a fixed hash for unknown names keeps the answer time the same as for real ones.
_DUMMY_HASH = hash_password("not-a-real-password-0")


def authenticate(
    sessions: sessionmaker[Session], name: str, password: str, policy: LoginPolicy, *, now: datetime | None = None
) -> User | None:
    """The user when name and password are right and the account is active and not locked; None otherwise.

    The caller learns nothing more (not whether the name exists, nor whether it is locked): a locked
    account and an unknown name answer like a wrong password.
    """
    now = now or utcnow()
    with transaction(sessions) as session:
        user = session.exec(select(User).where(User.name == name)).first()
        if user is None or not user.is_active:
            verify_password(_DUMMY_HASH, password)
            return None
        if is_locked(user, now):
            verify_password(_DUMMY_HASH, password)
            record_audit(session, name, "auth.login_locked", "user", user.id)
            return None
        if not verify_password(user.password_hash, password):
            user.failed_logins += 1
            detail: dict[str, object] = {"failures": user.failed_logins}
            if user.failed_logins >= policy.max_failures:
                user.locked_until = now + policy.lockout
                user.failed_logins = 0
                detail["locked_until"] = user.locked_until.isoformat()
            session.add(user)
            record_audit(session, name, "auth.login_failed", "user", user.id, **detail)
            return None
        user.failed_logins = 0
        user.locked_until = None
        session.add(user)
        record_audit(session, user.name, "auth.login", "user", user.id)
        return user


def log_out(sessions: sessionmaker[Session], user_id: int) -> None:
    """Sign the user out server-side: every cookie issued before now stops working (audited)."""
    with transaction(sessions) as session:
        user = session.get(User, user_id)
        if user is not None:
            end_sessions(session, user)
            record_audit(session, user.name, "auth.logout", "user", user.id)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(sessions: sessionmaker[Session], name: str, label: str = "") -> str:
    """A new API token for the user; only its hash is stored, the token is returned once."""
    token = "smt_" + secrets.token_urlsafe(32)
    with transaction(sessions) as session:
        user = get_user(session, name)
        row = ApiToken(user_id=user.id or 0, token_hash=_token_hash(token), label=label)
        session.add(row)
        session.flush()
        record_audit(session, "system", "token.create", "user", user.id, token_id=row.id, label=label)
    return token


def revoke_token(sessions: sessionmaker[Session], token_id: int, actor: str = "system") -> ApiToken:
    """Revoke an API token (audited); NotFound when there is no such token."""
    with transaction(sessions) as session:
        token = session.get(ApiToken, token_id)
        if token is None:
            raise NotFound(f"token {token_id} does not exist")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            session.add(token)
            record_audit(session, actor, "token.revoke", "user", token.user_id, token_id=token_id)
        return token


def list_tokens(sessions: sessionmaker[Session]) -> list[tuple[ApiToken, str]]:
    """Live API tokens with their owners' names, oldest first."""
    with sessions() as session:
        rows = session.exec(
            select(ApiToken, User).join(User, col(User.id) == col(ApiToken.user_id))
            .where(col(ApiToken.revoked_at).is_(None)).order_by(col(ApiToken.created_at))
        ).all()
        return [(token, user.name) for token, user in rows]


def user_for_token(session: Session, token: str) -> User | None:
    """The active user owning a live API token, or None."""
    row = session.exec(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
    ).first()
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    row.last_used_at = utcnow()
    session.add(row)
    return user
