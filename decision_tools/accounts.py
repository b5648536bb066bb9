"""Accounts and roles: the credentials file (bcrypt hashes and the cookie key, created on first run,
never in git) and what each role may do.

Roles: viewer, student, partner, researcher, admin. Reading the dashboards needs no account unless
the setting URBAN_SYMBIOSIS_REQUIRE_SIGN_IN is on. Every protected action asks ``allowed(roles,
action)`` on the server.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import bcrypt
import yaml

from .storage import PROJECT_DIR

ROLES = ("viewer", "student", "partner", "researcher", "admin")
# action -> roles allowed to do it
PERMISSIONS: dict[str, frozenset[str]] = {
    "save_scenario": frozenset({"partner", "researcher", "admin"}),
    "save_view": frozenset(ROLES),
    "comment": frozenset(ROLES),
    "create_session": frozenset({"partner", "researcher", "admin"}),
    "post_challenge": frozenset({"partner", "admin"}),
    "register_interest": frozenset({"student"}),
    "update_match": frozenset({"partner", "researcher", "admin"}),
    "add_event": frozenset({"partner", "researcher", "admin"}),
    "edit_own_organisation": frozenset({"partner", "researcher", "admin"}),
    "upload": frozenset({"researcher", "admin"}),
    "rollback": frozenset({"admin"}),
    "read_audit_log": frozenset({"admin"}),
}
CREDENTIALS_ENV_VAR = "URBAN_SYMBIOSIS_CREDENTIALS"
ADMIN_PASSWORD_ENV_VAR = "URBAN_SYMBIOSIS_ADMIN_PASSWORD"
REQUIRE_SIGN_IN_ENV_VAR = "URBAN_SYMBIOSIS_REQUIRE_SIGN_IN"
DEFAULT_CREDENTIALS_PATH = PROJECT_DIR / "config" / "credentials.yaml"
USERNAME_PATTERN = re.compile(r"^[a-z0-9_.-]{2,40}$")
MIN_PASSWORD_LENGTH = 10


def allowed(roles: list[str] | None, action: str) -> bool:
    """True when one of ``roles`` may do ``action`` (unknown actions are never allowed)."""
    return bool(set(roles or ()) & PERMISSIONS.get(action, frozenset()))


def sign_in_required() -> bool:
    return os.environ.get(REQUIRE_SIGN_IN_ENV_VAR, "").strip().lower() in ("1", "true", "yes")


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
        return yaml.safe_load(path.read_text(encoding="utf-8")), None
    password = os.environ.get(ADMIN_PASSWORD_ENV_VAR) or secrets.token_urlsafe(12)
    generated = None if os.environ.get(ADMIN_PASSWORD_ENV_VAR) else password
    config = {
        "cookie": {"name": "urban_symbiosis_auth", "key": secrets.token_hex(32), "expiry_days": 7},
        "credentials": {"usernames": {"admin": {"name": "Administrator", "email": "admin@localhost",
                                                "password": hash_password(password), "roles": ["admin"]}}},
    }
    _write(path, config)
    return config, generated


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
