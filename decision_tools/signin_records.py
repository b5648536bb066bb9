"""What the store keeps of signing in: every attempt (for back-off and locks) and the server side of
the browser's sign-in cookie (only a hash of its token), so signing out or removing the account ends
it. The rules that read them are in decision_tools.signin."""

from __future__ import annotations

from datetime import datetime

SQL = """
-- Sign-in: every attempt (for back-off and locks) and the server side of the browser's sign-in
-- cookie (only a hash of its token), so signing out or removing the account ends it.
CREATE TABLE IF NOT EXISTS sign_in_attempts (
    username VARCHAR NOT NULL, client VARCHAR NOT NULL, attempted_at TIMESTAMP NOT NULL, succeeded BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS sign_in_sessions (
    token_sha256 VARCHAR PRIMARY KEY, username VARCHAR NOT NULL, client VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL, ended_at TIMESTAMP
);
"""


class SignInRecordsMixin:
    """The Store's sign-in attempts and sign-in sessions."""

    def record_sign_in_attempt(self, username: str, client: str, succeeded: bool, audit_action: str,
                               detail: dict | None = None) -> None:
        """One sign-in attempt and its audit entry, in one transaction."""
        with self._transaction(workspace=True) as cursor:
            cursor.execute("INSERT INTO sign_in_attempts VALUES (?, ?, ?, ?)", [username, client, self._clock(), succeeded])
            self._audit(cursor, username, audit_action, {"client": client, **(detail or {})})

    def sign_in_failures(self, username: str, client: str, since: datetime) -> tuple[list[datetime], list[datetime]]:
        """Failed attempts since ``since`` (and since the last success): for the account, and from the client."""
        def failures(column: str, value: str) -> list[datetime]:
            frame = self._workspace_frame(
                f"""SELECT attempted_at FROM sign_in_attempts WHERE {column} = $value AND NOT succeeded AND attempted_at >= $since
                    AND attempted_at > coalesce((SELECT max(attempted_at) FROM sign_in_attempts
                                                 WHERE {column} = $value AND succeeded), TIMESTAMP '1970-01-01')
                    ORDER BY attempted_at""", {"value": value, "since": since})
            return [ts.to_pydatetime() for ts in frame["attempted_at"]]

        return failures("username", username), failures("client", client)

    def start_sign_in_session(self, token_sha256: str, username: str, client: str, expires_at: datetime) -> None:
        with self._transaction(workspace=True) as cursor:
            cursor.execute("INSERT INTO sign_in_sessions VALUES (?, ?, ?, ?, ?, NULL)",
                           [token_sha256, username, client, self._clock(), expires_at])

    def sign_in_session(self, token_sha256: str) -> dict | None:
        """The open, unexpired sign-in session behind a token hash, or None."""
        frame = self._workspace_frame("SELECT * FROM sign_in_sessions WHERE token_sha256 = ? AND ended_at IS NULL "
                                      "AND expires_at > ?", [token_sha256, self._clock()])
        return None if frame.empty else frame.iloc[0].to_dict()

    def end_sign_in_sessions(self, *, token_sha256: str | None = None, username: str | None = None,
                             audit_action: str | None = None) -> None:
        """End one sign-in session (its token) or every session of an account."""
        with self._transaction(workspace=True) as cursor:
            cursor.execute("UPDATE sign_in_sessions SET ended_at = ? WHERE ended_at IS NULL AND "
                           "(token_sha256 = ? OR username = ?)", [self._clock(), token_sha256, username])
            if audit_action and username:
                self._audit(cursor, username, audit_action, {})
