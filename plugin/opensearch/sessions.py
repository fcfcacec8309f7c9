"""Admin login sessions in an OpenSearch index beside the products (``<alias>-sessions``).

The one store every API process always has (Redis may be down while the admin still works),
so a logout in one process ends the session in all of them at once. A session is a document
keyed by a hash of its random id, with its expiry: the id itself, which the login cookie
carries, is not stored, so reading the index is not enough to log in. Reads are by id, which
OpenSearch answers in real time: no refresh is needed for a new or ended session to count.
"""

from __future__ import annotations

import hashlib
import time

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from plugin.config import Config
from plugin.opensearch.indices import ensure_index


def start_session(client: OpenSearch, config: Config, session_id: str, seconds: float, now: float | None = None) -> None:
    """Record *session_id* as open for *seconds*; sessions that ended by age are removed on the way."""
    index = config.sessions_index
    ensure_index(client, config, index, "sessions")
    moment = time.time() if now is None else now
    # Few admins log in, so cleaning up at each login keeps the index small without a scheduler.
    client.delete_by_query(index=index, body={"query": {"range": {"expires_at": {"lt": int(moment)}}}}, conflicts="proceed")
    client.index(
        index=index, id=_doc_id(session_id), op_type="create",
        body={"created_at": int(moment), "expires_at": int(moment + seconds)},
    )


def session_open(client: OpenSearch, config: Config, session_id: str, now: float | None = None) -> bool:
    """Whether *session_id* was started and has neither ended nor expired."""
    try:
        source = client.get(index=config.sessions_index, id=_doc_id(session_id))["_source"]
    except NotFoundError:  # never started, ended, or no session was ever started here
        return False
    return float(source["expires_at"]) > (time.time() if now is None else now)


def end_session(client: OpenSearch, config: Config, session_id: str) -> None:
    """End *session_id* now; ending one that is not open is not an error."""
    try:
        client.delete(index=config.sessions_index, id=_doc_id(session_id))
    except NotFoundError:
        pass


def _doc_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()
