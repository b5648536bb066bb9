"""Accounts and roles: the credentials file (bcrypt hashes and the cookie key, created on first run,
never in git), the registry of protected actions, and the check every write runs.

Roles: viewer, student, partner, researcher, admin. Reading the dashboards needs no account unless
the setting URBAN_SYMBIOSIS_REQUIRE_SIGN_IN is on. Every protected action is registered in ACTIONS;
each write function in decision_tools calls ``authorize(actor, action)``, which reads the account's
role from the credentials file at that moment, so `users set-role` and `users remove` take effect on
the next click of an open session. The credentials file keeps streamlit-authenticator's layout.
"""

from __future__ import annotations

import copy
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent

ROLES = ("viewer", "student", "partner", "researcher", "admin")
PARTNERS_AND_UP = frozenset({"partner", "researcher", "admin"})
# Every protected action: the roles allowed to do it. Pages ask before drawing a form; the write
# functions ask again (authorize) when the action runs. Unknown actions are never allowed.
ACTIONS: dict[str, frozenset[str]] = {
    "save_scenario": PARTNERS_AND_UP,
    "save_view": frozenset(ROLES),
    "comment": frozenset(ROLES),
    "create_session": PARTNERS_AND_UP,
    "present_session": PARTNERS_AND_UP,  # lead a session: everyone following moves to the presenter's step
    "post_challenge": frozenset({"partner", "admin"}),
    "update_challenge": frozenset({"partner", "admin"}),
    "register_interest": frozenset({"student"}),
    "read_notices": frozenset(ROLES),  # one's own notices of interest in what one posted, and marking them seen
    "update_match": PARTNERS_AND_UP,
    "add_event": PARTNERS_AND_UP,
    "offer_stream": PARTNERS_AND_UP,  # publishes a version with an offer of one's own organisation
    "upload": frozenset({"researcher", "admin"}),
    "rollback": frozenset({"admin"}),
    "read_audit_log": frozenset({"admin"}),
    "clear_caches": frozenset({"admin"}),
}
CREDENTIALS_ENV_VAR = "URBAN_SYMBIOSIS_CREDENTIALS"
ADMIN_PASSWORD_ENV_VAR = "URBAN_SYMBIOSIS_ADMIN_PASSWORD"
REQUIRE_SIGN_IN_ENV_VAR = "URBAN_SYMBIOSIS_REQUIRE_SIGN_IN"
TRUST_PROXY_ENV_VAR = "URBAN_SYMBIOSIS_TRUST_PROXY"  # behind the documented proxy: X-Forwarded-For names the client
DEFAULT_CREDENTIALS_PATH = PROJECT_DIR / "config" / "credentials.yaml"
USERNAME_PATTERN = re.compile(r"^[a-z0-9_.-]{2,40}$")
MIN_PASSWORD_LENGTH = 10


def allowed(roles: list[str] | tuple[str, ...] | None, action: str) -> bool:
    """True when one of ``roles`` may do ``action`` (unknown actions are never allowed)."""
    return bool(set(roles or ()) & ACTIONS.get(action, frozenset()))


class PermissionDenied(PermissionError):
    """A protected action refused, said in a sentence for the person who tried it."""


@dataclass(frozen=True)
class Actor:
    """Who does something. An account (its role is looked up when the action runs), or the command
    line on the server (``command_line``): whoever can run it can already write the database file."""

    username: str
    command_line: bool = False

    @classmethod
    def cli(cls, name: str = "cli") -> "Actor":
        return cls(name, command_line=True)


def as_actor(actor: "Actor | str | None") -> "Actor | None":
    if actor is None or isinstance(actor, Actor):
        return actor
    if hasattr(actor, "username"):  # an Actor made before this module was reloaded (Streamlit's file watcher)
        return Actor(actor.username, bool(getattr(actor, "command_line", False)))
    return Actor(str(actor))


def current_roles(username: str | None, path: Path | None = None) -> tuple[str, ...]:
    """The account's roles as the credentials file says now; () for no such account."""
    path = Path(path or credentials_path())
    if not username or not path.exists():
        return ()
    user = _load(path)["credentials"]["usernames"].get(username)
    return tuple(user.get("roles") or ()) if user else ()


def authorize(actor: "Actor | str | None", action: str, path: Path | None = None) -> Actor:
    """Refuse with PermissionDenied unless ``actor`` may do ``action`` right now; return the actor.
    The single check behind every protected write."""
    if action not in ACTIONS:
        raise PermissionDenied(f"'{action}' is not a known action, so nobody may do it.")
    actor = as_actor(actor)
    if actor is None or not actor.username:
        raise PermissionDenied("Sign in first: this needs an account.")
    if actor.command_line:
        return actor
    roles = current_roles(actor.username, path)
    if not roles:
        raise PermissionDenied(f"There is no account '{actor.username}' (any more); sign in again.")
    if not allowed(roles, action):
        needed = " or ".join(sorted(ACTIONS[action]))
        raise PermissionDenied(f"{actor.username} is {', '.join(roles)}; this needs the {needed} role.")
    return actor


def sign_in_required() -> bool:
    return os.environ.get(REQUIRE_SIGN_IN_ENV_VAR, "").strip().lower() in ("1", "true", "yes")


def trust_proxy() -> bool:
    return os.environ.get(TRUST_PROXY_ENV_VAR, "").strip().lower() in ("1", "true", "yes")


def credentials_path() -> Path:
    return Path(os.environ.get(CREDENTIALS_ENV_VAR, DEFAULT_CREDENTIALS_PATH))


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")


def _write(path: Path, config: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".writing")
    partial.write_text(yaml.safe_dump(config, sort_keys=True), encoding="utf-8")
    os.chmod(partial, 0o600)  # hashes and the cookie key: owner only
    os.replace(partial, path)


def ensure_credentials(path: Path | None = None) -> tuple[dict, str | None]:
    """Load the credentials file, creating it on first run with a random cookie key and an admin
    account. The admin password comes from $URBAN_SYMBIOSIS_ADMIN_PASSWORD or is generated; a generated
    one is returned (to be printed once) and never stored in clear. Returns (config, new password or None)."""
    path = Path(path or credentials_path())
    if path.exists():
        return copy.deepcopy(_load(path)), None  # callers change their copy, then _write it
    password = os.environ.get(ADMIN_PASSWORD_ENV_VAR) or secrets.token_urlsafe(12)
    generated = None if os.environ.get(ADMIN_PASSWORD_ENV_VAR) else password
    config = {
        "cookie": {"name": "urban_symbiosis_auth", "key": secrets.token_hex(32), "expiry_days": 7},
        "credentials": {"usernames": {"admin": {"name": "Administrator", "email": "admin@localhost",
                                                "password": hash_password(password), "roles": ["admin"]}}},
    }
    _write(path, config)
    return config, generated


_LOADED: dict[Path, tuple[tuple[int, int], dict]] = {}


def _load(path: Path) -> dict:
    """The credentials file, re-read whenever it changed on disk (checked on every call, so role
    changes and removals count at once; an unchanged file is not parsed again)."""
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _LOADED.get(path)
    if cached is None or cached[0] != stamp:
        cached = (stamp, yaml.safe_load(path.read_text(encoding="utf-8")))
        _LOADED[path] = cached
    return cached[1]


def _users(config: dict) -> dict:
    return config["credentials"]["usernames"]


def list_users(path: Path | None = None) -> list[dict]:
    config, _ = ensure_credentials(path)
    return [{"username": u, "name": v.get("name", ""), "email": v.get("email", ""), "roles": v.get("roles", [])}
            for u, v in sorted(_users(config).items())]


def add_user(username: str, name: str, email: str, password: str, role: str, path: Path | None = None) -> None:
    """Add an account; ValueError in a sentence for a bad username, role, password or a taken name."""
    config, _ = ensure_credentials(path)
    if not USERNAME_PATTERN.match(username):
        raise ValueError("A username has 2 to 40 lower-case letters, digits, dots, dashes or underscores.")
    if username in _users(config):
        raise ValueError(f"There is already an account '{username}'.")
    if role not in ROLES:
        raise ValueError(f"Unknown role '{role}'; choose one of: {', '.join(ROLES)}.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"A password has at least {MIN_PASSWORD_LENGTH} characters.")
    _users(config)[username] = {"name": name or username, "email": email, "password": hash_password(password), "roles": [role]}
    _write(Path(path or credentials_path()), config)


def remove_user(username: str, path: Path | None = None) -> None:
    config, _ = ensure_credentials(path)
    if username not in _users(config):
        raise ValueError(f"There is no account '{username}'.")
    admins = [u for u, v in _users(config).items() if "admin" in v.get("roles", [])]
    if admins == [username]:
        raise ValueError("This is the last admin account; make another admin first.")
    del _users(config)[username]
    _write(Path(path or credentials_path()), config)


def set_role(username: str, role: str, path: Path | None = None) -> None:
    config, _ = ensure_credentials(path)
    if username not in _users(config):
        raise ValueError(f"There is no account '{username}'.")
    if role not in ROLES:
        raise ValueError(f"Unknown role '{role}'; choose one of: {', '.join(ROLES)}.")
    admins = [u for u, v in _users(config).items() if "admin" in v.get("roles", [])]
    if admins == [username] and role != "admin":
        raise ValueError("This is the last admin account; make another admin first.")
    _users(config)[username]["roles"] = [role]
    _write(Path(path or credentials_path()), config)
