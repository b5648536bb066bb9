"""Discussion sessions: saved views in order, each with a note, that a group walks through; the step a
presenter shows now (participants who follow move to it); and the comments on each step, with the
rules against flooding (length, comments per person per minute, rows per page)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from . import accounts
from .accounts import Actor
from .database import MAX_COMMENT_LENGTH, MAX_LIST_ROWS, MAX_NAME_LENGTH

SQL = """
CREATE TABLE IF NOT EXISTS discussion_sessions (
    session_id VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, created_by VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS session_items (
    session_id VARCHAR NOT NULL, position INTEGER NOT NULL, view_id VARCHAR NOT NULL, note VARCHAR,
    PRIMARY KEY (session_id, position)
);
-- The step a presenter shows now: participants who follow the session move to it.
CREATE TABLE IF NOT EXISTS session_presenters (
    session_id VARCHAR PRIMARY KEY, position INTEGER NOT NULL, presenter VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS session_comments (
    session_id VARCHAR NOT NULL, position INTEGER NOT NULL, username VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
    text VARCHAR NOT NULL
);
"""
MAX_STEPS = 50
# Flooding: comments one person may send per minute.
MAX_COMMENTS_PER_MINUTE = 5


class DiscussionsMixin:
    """The Store's discussion sessions, presenting and comments."""

    COMMENTS_PER_PAGE = 20

    def create_session(self, title: str, items: list[tuple[str, str]], actor: Actor | str) -> str:
        """A session of saved views in order, each with a note; returns its short id."""
        from .views import new_view_id

        actor = accounts.authorize(actor, "create_session")
        title = " ".join(title.split())[:MAX_NAME_LENGTH]
        if not title:
            raise ValueError("Give the session a title.")
        if not items:
            raise ValueError("Pick at least one saved view for the session.")
        if len(items) > MAX_STEPS:
            raise ValueError(f"A session has at most {MAX_STEPS} steps; this one has {len(items)}.")
        for view_id, _ in items:
            if self.get_view(view_id) is None:
                raise ValueError(f"There is no saved view '{view_id}'.")
        session_id = new_view_id()
        with self._transaction(workspace=True) as cursor:
            cursor.execute("INSERT INTO discussion_sessions VALUES (?, ?, ?, ?)", [session_id, title, actor.username, self._clock()])
            for position, (view_id, note) in enumerate(items, start=1):
                cursor.execute("INSERT INTO session_items VALUES (?, ?, ?, ?)", [session_id, position, view_id, note.strip()[:1000]])
            self._audit(cursor, actor.username, "create_session", {"session_id": session_id, "title": title, "steps": len(items)})
        return session_id

    def sessions(self, limit: int = MAX_LIST_ROWS) -> pd.DataFrame:
        return self._workspace_frame("SELECT * FROM discussion_sessions ORDER BY created_at DESC LIMIT ?", [limit])

    def get_session(self, session_id: str) -> dict | None:
        from .views import valid_view_id

        if not valid_view_id(session_id):
            return None
        head = self._workspace_frame("SELECT * FROM discussion_sessions WHERE session_id = ?", [session_id])
        if head.empty:
            return None
        items = self._workspace_frame(
            "SELECT i.position, i.view_id, i.note, v.title, v.page, v.state, v.dataset_version FROM session_items i "
            "JOIN saved_views v USING (view_id) WHERE i.session_id = ? ORDER BY i.position", [session_id])
        return {**head.iloc[0].to_dict(), "items": items}

    def _refuse_unknown_step(self, session_id: str, position: int) -> None:
        steps = self._workspace_frame("SELECT position FROM session_items WHERE session_id = ?", [session_id])
        if int(position) not in set(steps["position"]):
            raise ValueError(f"The session '{session_id}' has no step {position}.")

    def present_step(self, session_id: str, position: int, actor: Actor | str) -> None:
        """Make ``position`` the step everyone following the session sees (the presenter leads from here)."""
        actor = accounts.authorize(actor, "present_session")
        self._refuse_unknown_step(session_id, position)
        with self._transaction(workspace=True) as cursor:
            cursor.execute("INSERT OR REPLACE INTO session_presenters VALUES (?, ?, ?, ?)",
                           [session_id, int(position), actor.username, self._clock()])

    def stop_presenting(self, session_id: str, actor: Actor | str) -> None:
        accounts.authorize(actor, "present_session")
        with self._transaction(workspace=True) as cursor:
            cursor.execute("DELETE FROM session_presenters WHERE session_id = ?", [session_id])

    def presented_step(self, session_id: str) -> dict | None:
        """The presenter's current step of a session ({position, presenter, updated_at}), or None."""
        frame = self._workspace_frame("SELECT position, presenter, updated_at FROM session_presenters WHERE session_id = ?",
                                      [session_id])
        return None if frame.empty else frame.iloc[0].to_dict()

    def add_comment(self, session_id: str, position: int, actor: Actor | str, text: str) -> None:
        """A comment on one step of a session, with its audit entry. At most MAX_COMMENTS_PER_MINUTE
        per person per minute (a sentence says how long to wait)."""
        actor = accounts.authorize(actor, "comment")
        text = text.strip()
        if not text:
            raise ValueError("Write something before sending the comment.")
        if len(text) > MAX_COMMENT_LENGTH:
            raise ValueError(f"A comment has at most {MAX_COMMENT_LENGTH} characters; this one has {len(text)}.")
        self._refuse_unknown_step(session_id, position)
        with self._transaction(workspace=True) as cursor:
            now = self._clock()
            recent = cursor.execute("SELECT count(*), min(created_at) FROM session_comments WHERE username = ? AND created_at > ?",
                                    [actor.username, now - timedelta(minutes=1)]).fetchall()[0]
            if recent[0] >= MAX_COMMENTS_PER_MINUTE:
                wait = max(1, int(60 - (now - recent[1]).total_seconds()) + 1)
                raise ValueError(f"You have sent {recent[0]} comments in the last minute, the most allowed; "
                                 f"wait {wait} seconds before sending the next.")
            cursor.execute("INSERT INTO session_comments VALUES (?, ?, ?, ?, ?)", [session_id, int(position), actor.username, now, text])
            self._audit(cursor, actor.username, "comment", {"session_id": session_id, "position": int(position),
                                                            "characters": len(text)})

    def comments(self, session_id: str, position: int | None = None, *, page: int = 1,
                 per_page: int | None = None) -> pd.DataFrame:
        """Comments of a session (one step, or all when ``position`` is None), oldest first, one page of
        ``per_page`` (COMMENTS_PER_PAGE; the session export asks for all with per_page=MAX_LIST_ROWS)."""
        per_page = min(per_page or self.COMMENTS_PER_PAGE, MAX_LIST_ROWS)
        return self._workspace_frame(
            "SELECT position, username, created_at, text FROM session_comments WHERE session_id = $session "
            "AND ($position IS NULL OR position = $position) ORDER BY created_at, username LIMIT $limit OFFSET $offset",
            {"session": session_id, "position": None if position is None else int(position), "limit": per_page,
             "offset": (max(1, int(page)) - 1) * per_page})

    def comment_count(self, session_id: str, position: int | None = None) -> int:
        frame = self._workspace_frame("SELECT count(*) AS n FROM session_comments WHERE session_id = $session "
                                      "AND ($position IS NULL OR position = $position)",
                                      {"session": session_id, "position": None if position is None else int(position)})
        return int(frame.at[0, "n"])
