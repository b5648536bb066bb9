"""Hub records: what partners record in the symbiosis hub. The organisations an account acts for;
match statuses between an offer and a need; challenges posted by a partner, the interest students
register in them and the notices that tell the poster; and hub events. Who may record what is checked
here (accounts' permissions plus ownership); which stream could feed which need is
decision_tools.symbiosis."""

from __future__ import annotations

import duckdb
import pandas as pd

from . import accounts
from .accounts import Actor, PermissionDenied
from .database import MAX_COMMENT_LENGTH, MAX_LIST_ROWS, MAX_NAME_LENGTH

SQL = """
CREATE TABLE IF NOT EXISTS symbiosis_matches (
    offer_id VARCHAR NOT NULL, need_id VARCHAR NOT NULL, status VARCHAR NOT NULL, kg_per_year DOUBLE NOT NULL,
    updated_by VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL, PRIMARY KEY (offer_id, need_id)
);
CREATE TABLE IF NOT EXISTS challenges (
    challenge_id VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, description VARCHAR NOT NULL, organisation VARCHAR NOT NULL,
    disciplines VARCHAR NOT NULL, kind VARCHAR NOT NULL, material VARCHAR, view_id VARCHAR, deadline DATE,
    status VARCHAR NOT NULL, outcome VARCHAR, posted_by VARCHAR NOT NULL, posted_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS challenge_interest (
    challenge_id VARCHAR NOT NULL, username VARCHAR NOT NULL, registered_at TIMESTAMP NOT NULL,
    PRIMARY KEY (challenge_id, username)
);
-- New interest in a challenge, for the account that posted it (the recipient) until it marks it seen.
CREATE TABLE IF NOT EXISTS interest_notices (
    challenge_id VARCHAR NOT NULL, username VARCHAR NOT NULL, recipient VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
    seen_at TIMESTAMP, PRIMARY KEY (challenge_id, username)
);
CREATE TABLE IF NOT EXISTS hub_events (
    event_id VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, kind VARCHAR NOT NULL, event_date DATE NOT NULL,
    place VARCHAR, challenge_id VARCHAR, session_id VARCHAR
);
"""
# Written into a freshly built database, so the hub's calendar is not empty in the demo.
DEMO_EVENTS_SQL = """
INSERT INTO hub_events VALUES
 ('ev_seminar', 'Fictitious demo: Industrial Symbiosis Hub seminar', 'seminar', DATE '2027-02-10', 'Lappeenranta', NULL, NULL),
 ('ev_market', 'Fictitious demo: assignment market', 'assignment market', DATE '2027-03-12', 'Delft', NULL, NULL),
 ('ev_feedback', 'Fictitious demo: feedback session on student projects', 'feedback session', DATE '2027-05-20', 'Ghent', NULL, NULL);
"""


class AlreadyRegistered(ValueError):
    """Interest registered a second time in the same item: refused, said in a sentence."""


class HubRecordsMixin:
    """The Store's hub records: matches, challenges, interest and its notices, events."""

    MATCH_STATUSES = ("proposed", "accepted", "active", "ended")
    CHALLENGE_STATUSES = ("open", "assigned", "in progress", "completed")

    def owned_organisations(self, actor: Actor | str | None) -> pd.DataFrame:
        """The organisations (of the current version) ``actor`` acts for: those it owns; every one for an admin."""
        actor = accounts.as_actor(actor)
        orgs = self.table("organisations", self.current_version())
        if actor is None:
            return orgs.iloc[0:0]
        if actor.command_line or "admin" in accounts.current_roles(actor.username):
            return orgs
        return orgs[orgs["owner"] == actor.username]

    def set_match_status(self, offer_id: str, need_id: str, status: str, kg_per_year: float, actor: Actor | str) -> None:
        """Record a match's status; only an organisation on one side of it (or an admin) may."""
        actor = accounts.authorize(actor, "update_match")
        if status not in self.MATCH_STATUSES:
            raise ValueError(f"Unknown status '{status}'; use one of: {', '.join(self.MATCH_STATUSES)}.")
        version = self.current_version()
        sides = {*self.table("offers", version).set_index("offer_id")["org_id"].reindex([offer_id]).dropna(),
                 *self.table("needs", version).set_index("need_id")["org_id"].reindex([need_id]).dropna()}
        if not sides & set(self.owned_organisations(actor)["org_id"]):
            raise PermissionDenied("Only the organisations in a match can record it.")
        with self._transaction(workspace=True) as cursor:
            cursor.execute("DELETE FROM symbiosis_matches WHERE offer_id = ? AND need_id = ?", [offer_id, need_id])
            cursor.execute("INSERT INTO symbiosis_matches VALUES (?, ?, ?, ?, ?, ?)",
                           [offer_id, need_id, status, kg_per_year, actor.username, self._clock()])
            self._audit(cursor, actor.username, "match_status", {"offer_id": offer_id, "need_id": need_id, "status": status})

    def matches(self, limit: int = MAX_LIST_ROWS) -> pd.DataFrame:
        return self._workspace_frame("SELECT * FROM symbiosis_matches ORDER BY updated_at DESC LIMIT ?", [limit])

    def post_challenge(self, title: str, description: str, org_id: str, disciplines: list[str], kind: str,
                       material: str | None, view_id: str | None, deadline, actor: Actor | str) -> str:
        """Post a challenge in the name of one of the poster's own organisations."""
        from .views import new_view_id

        actor = accounts.authorize(actor, "post_challenge")
        title, description = " ".join(title.split())[:MAX_NAME_LENGTH], description.strip()[:MAX_COMMENT_LENGTH]
        if not title or not description:
            raise ValueError("A challenge needs a title and a description.")
        if not disciplines:
            raise ValueError("Pick at least one discipline.")
        own = self.owned_organisations(actor).set_index("org_id")["name"]
        if org_id not in own.index:
            raise PermissionDenied("A challenge is posted in the name of one of your own organisations; pick one of them.")
        if view_id and self.get_view(view_id) is None:
            raise ValueError(f"There is no saved view '{view_id}' to link.")
        challenge_id = new_view_id()
        with self._transaction(workspace=True) as cursor:
            if cursor.execute("SELECT count(*) FROM challenges WHERE posted_by = ? AND lower(title) = lower(?) AND status <> 'completed'",
                              [actor.username, title]).fetchall()[0][0]:
                raise ValueError(f"You have already posted “{title}” and it is not completed; it is in the list above.")
            cursor.execute("INSERT INTO challenges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', NULL, ?, ?)",
                           [challenge_id, title, description, own[org_id], ";".join(disciplines), kind,
                            material, view_id or None, deadline, actor.username, self._clock()])
            self._audit(cursor, actor.username, "post_challenge", {"challenge_id": challenge_id, "title": title, "org_id": org_id})
        return challenge_id

    def challenges(self, limit: int = MAX_LIST_ROWS) -> pd.DataFrame:
        return self._workspace_frame("""SELECT c.*, count(i.username) AS interested FROM challenges c
                              LEFT JOIN challenge_interest i USING (challenge_id) GROUP BY ALL ORDER BY c.posted_at DESC
                              LIMIT ?""", [limit])

    def register_interest(self, challenge_id: str, actor: Actor | str) -> None:
        """Register the actor's interest in a challenge, once (a second time raises AlreadyRegistered), and
        leave a notice for the account that posted it, in the same transaction."""
        actor = accounts.authorize(actor, "register_interest")
        title = challenge_id
        try:
            with self._transaction(workspace=True) as cursor:
                posted = cursor.execute("SELECT title, posted_by FROM challenges WHERE challenge_id = ?", [challenge_id]).fetchall()
                if not posted:
                    raise ValueError(f"There is no challenge '{challenge_id}'.")
                title, poster = posted[0]
                if cursor.execute("SELECT count(*) FROM challenge_interest WHERE challenge_id = ? AND username = ?",
                                  [challenge_id, actor.username]).fetchall()[0][0]:
                    raise AlreadyRegistered(f"You have already registered interest in this challenge, “{title}”.")
                now = self._clock()
                cursor.execute("INSERT INTO challenge_interest VALUES (?, ?, ?)", [challenge_id, actor.username, now])
                if poster != actor.username:
                    cursor.execute("INSERT INTO interest_notices VALUES (?, ?, ?, ?, NULL)",
                                   [challenge_id, actor.username, poster, now])
                self._audit(cursor, actor.username, "register_interest", {"challenge_id": challenge_id})
        except duckdb.ConstraintException as exc:  # the same account, twice at the same moment: the key refuses the second
            raise AlreadyRegistered(f"You have already registered interest in this challenge, “{title}”.") from exc

    def interest_notices(self, actor: Actor | str | None, *, include_seen: bool = False) -> pd.DataFrame:
        """The expressions of interest in the challenges ``actor`` posted, newest first, unseen only unless
        ``include_seen``: who, when, and the challenge's title. Nobody else's notices, ever (the query is
        bound to the actor's own account); no account, no notices."""
        columns = ["challenge_id", "title", "username", "created_at", "seen_at"]
        if accounts.as_actor(actor) is None:
            return pd.DataFrame(columns=columns)
        actor = accounts.authorize(actor, "read_notices")
        return self._workspace_frame(
            """SELECT n.challenge_id, c.title, n.username, n.created_at, n.seen_at FROM interest_notices n
               JOIN challenges c USING (challenge_id)
               WHERE n.recipient = ? AND (? OR n.seen_at IS NULL) ORDER BY n.created_at DESC LIMIT ?""",
            [actor.username, include_seen, MAX_LIST_ROWS])[columns]

    def mark_notices_seen(self, actor: Actor | str, challenge_id: str | None = None) -> int:
        """Mark the actor's own unseen notices seen (of one challenge, or all); returns how many."""
        actor = accounts.authorize(actor, "read_notices")
        with self._transaction(workspace=True) as cursor:
            params = [self._clock(), actor.username] + ([challenge_id] if challenge_id else [])
            marked = cursor.execute("UPDATE interest_notices SET seen_at = ? WHERE recipient = ? AND seen_at IS NULL"
                                    + (" AND challenge_id = ?" if challenge_id else "") + " RETURNING 1", params).fetchall()
            if marked:
                self._audit(cursor, actor.username, "mark_notices_seen", {"challenge_id": challenge_id, "count": len(marked)})
        return len(marked)

    def interested(self, challenge_id: str) -> list[str]:
        frame = self._workspace_frame("SELECT username FROM challenge_interest WHERE challenge_id = ? ORDER BY registered_at "
                                      "LIMIT ?", [challenge_id, MAX_LIST_ROWS])
        return list(frame["username"])

    def set_challenge_status(self, challenge_id: str, status: str, outcome: str, actor: Actor | str) -> None:
        """Move a challenge on (open -> assigned -> in progress -> completed); only its poster may."""
        actor = accounts.authorize(actor, "update_challenge")
        if status not in self.CHALLENGE_STATUSES:
            raise ValueError(f"Unknown status '{status}'; use one of: {', '.join(self.CHALLENGE_STATUSES)}.")
        with self._transaction(workspace=True) as cursor:
            row = cursor.execute("SELECT posted_by FROM challenges WHERE challenge_id = ?", [challenge_id]).fetchall()
            if not row or row[0][0] != actor.username:
                raise PermissionDenied("Only the partner who posted the challenge can change its status.")
            cursor.execute("UPDATE challenges SET status = ?, outcome = ? WHERE challenge_id = ?",
                           [status, outcome.strip()[:500] or None, challenge_id])
            self._audit(cursor, actor.username, "challenge_status", {"challenge_id": challenge_id, "status": status})

    def events(self, limit: int = MAX_LIST_ROWS) -> pd.DataFrame:
        return self._workspace_frame("SELECT * FROM hub_events ORDER BY event_date LIMIT ?", [limit])

    EVENT_KINDS = ("seminar", "feedback session", "discussion session", "assignment market")

    def add_event(self, title: str, kind: str, event_date, place: str, challenge_id: str | None, session_id: str | None,
                  actor: Actor | str) -> str:
        """A hub event, linked to a challenge and a discussion session where given (both must exist)."""
        from .views import new_view_id

        actor = accounts.authorize(actor, "add_event")
        title = " ".join(title.split())[:MAX_NAME_LENGTH]
        if not title:
            raise ValueError("Give the event a title.")
        if kind not in self.EVENT_KINDS:
            raise ValueError(f"Unknown kind '{kind}'; use one of: {', '.join(self.EVENT_KINDS)}.")
        if challenge_id and self._workspace_frame("SELECT 1 FROM challenges WHERE challenge_id = ?", [challenge_id]).empty:
            raise ValueError(f"There is no challenge '{challenge_id}'.")
        if session_id and self.get_session(session_id) is None:
            raise ValueError(f"There is no discussion session '{session_id}'.")
        event_id = new_view_id()
        with self._transaction(workspace=True) as cursor:
            cursor.execute("INSERT INTO hub_events VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [event_id, title, kind, event_date, place.strip()[:MAX_NAME_LENGTH], challenge_id, session_id])
            self._audit(cursor, actor.username, "add_event", {"event_id": event_id, "title": title})
        return event_id
