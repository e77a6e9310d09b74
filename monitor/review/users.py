"""Accounts: create, list, change role, verify passwords (argon2), API tokens."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core.db import transaction
from monitor.core.errors import InputError, NotFound
from monitor.core.tables import ROLES, ApiToken, User, utcnow

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


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    return role


def create_user(sessions: sessionmaker[Session], name: str, role: str, password: str) -> User:
    """Add a user; InputError when the name is taken, the role unknown or the password too short."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InputError("user name must be 1-100 characters")
    _check_role(role)
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(f"password must be at least {MIN_PASSWORD_CHARS} characters")
    from monitor.review.queue import record_audit

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


def list_users(sessions: sessionmaker[Session]) -> list[User]:
    """All users by name."""
    with sessions() as session:
        return list(session.exec(select(User).order_by(User.name)))


def set_role(sessions: sessionmaker[Session], name: str, role: str, actor: str = "system") -> User:
    """Change a user's role (audited)."""
    _check_role(role)
    from monitor.review.queue import record_audit

    with transaction(sessions) as session:
        user = get_user(session, name)
        old = user.role
        user.role = role
        session.add(user)
        record_audit(session, actor, "user.set_role", "user", user.id, old=old, new=role)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(sessions: sessionmaker[Session], name: str, label: str = "") -> str:
    """A new API token for the user; only its hash is stored, the token is returned once."""
    token = "smt_" + secrets.token_urlsafe(32)
    from monitor.review.queue import record_audit

    with transaction(sessions) as session:
        user = get_user(session, name)
        row = ApiToken(user_id=user.id or 0, token_hash=_token_hash(token), label=label)
        session.add(row)
        session.flush()
        record_audit(session, "system", "token.create", "user", user.id, token_id=row.id, label=label)
    return token


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
