"""The admin views under ``/admin``: the index, ingest, the catalogue, a search playground, reports.

Every route here needs the admin key (:mod:`api.auth`); pages answer a missing key with the
login form, ``/admin/api`` and ``/admin/events`` with JSON. A change made on the login cookie
must come from these pages, with their anti-forgery token; a client that guessed wrong keys too
often is refused every key for a while (:mod:`api.limits`). Nothing under ``/admin`` gets CORS
headers, and responses are never cached. Routes find the cluster and the configuration on the
app's :class:`~api.service.SearchService`, and the ingest runs on its :class:`IngestMonitor`.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_limiter.errors import RateLimitExceeded

from api.admin.copies import catalogue_copies, copies_photo
from api.admin.data import (
    catalogue_page,
    index_overview,
    product_detail,
    review_prediction,
)
from api.admin.ingest_monitor import IngestMonitor
from api.admin.reports import list_reports, report_image
from api.auth import (
    ADMIN_OFF,
    COOKIE,
    LOGIN_COOKIE,
    SAFE_METHODS,
    SESSION_SECONDS,
    AdminRefused,
    CsrfRefused,
    check_same_site,
    cookie_session,
    csrf_token,
    key_matches,
    login_binding,
    new_login_binding,
    new_session,
    record_failure,
    require_admin,
)
from api.errors import ApiError, answer_for, error_response
from api.limits import retry_after, too_many_requests
from api.pages import CSP
from api.schemas import ReviewBody, TakedownBody, UndoBody, read_model
from api.service import current_service
from plugin.copies.evidence import CopyRule
from plugin.copies.finder import find_copies
from plugin.opensearch.quarantine import list_records
from plugin.opensearch.ranking_store import ranking_history
from plugin.opensearch.sessions import end_session, session_open, start_session
from plugin.opensearch.takedowns import active_takedowns, audit_log, restore, take_down
from plugin.search.profiles import PROFILES
from plugin.search.ranking import DEFAULT_RANKING

#: Products per page of the catalogue browser, and the pages it goes to.
CATALOGUE_PAGE = 24
MAX_PAGE = 1000
#: The longest catalogue search: as long as a shopper's words may be (api/schemas.py).
MAX_QUERY = 500
#: The longest path a login may go on to afterwards.
MAX_NEXT = 2000
_PAGE = re.compile(r"[0-9]{1,4}")  # ASCII digits only: str.isdigit() also takes "²", which int() refuses

bp = Blueprint("admin", __name__, url_prefix="/admin")


def current_monitor() -> IngestMonitor:
    """The application's :class:`IngestMonitor`."""
    monitor: IngestMonitor = current_app.extensions["lookalike.ingest"]
    return monitor


@bp.before_request
def _guard() -> Response | None:
    """Let in the admin key or an open session; a change riding on the cookie must come from our own page."""
    if request.endpoint in ("admin.login", "admin.login_form"):
        return None
    service = current_service()
    admin_key = service.config.admin_key
    try:
        session_id = require_admin(admin_key, lambda sid: session_open(service.client, service.config, sid))
        if session_id is not None:
            g.csrf_token = csrf_token(admin_key or "", session_id)
            if request.method not in SAFE_METHODS:
                check_same_site(admin_key or "", session_id)
    except AdminRefused as exc:
        status = answer_for(exc).status
        if _wants_json() or isinstance(exc, CsrfRefused):
            return error_response(status, exc.reason, str(exc))
        return _login_page(status, str(exc))
    return None


@bp.context_processor
def _csrf() -> dict[str, str]:
    # Pages opened with the key in a header have no session, and need no token.
    return {"csrf_token": g.get("csrf_token", "")}


@bp.errorhandler(RateLimitExceeded)
def _throttled(exc: RateLimitExceeded) -> Response:
    """A locked-out client: the login form says why and for how long; the API answers JSON."""
    if _wants_json():
        return too_many_requests(exc)
    seconds = retry_after(exc)
    response = _login_page(429, f"Too many wrong admin keys from this address: try again in {seconds} s.")
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("Content-Security-Policy", CSP)
    return response


@bp.get("/login")
def login_form() -> Response:
    if not current_service().config.admin_key:
        return _login_page(403, ADMIN_OFF)
    return _login_page(200, None)


@bp.post("/login")
def login() -> Response:
    """Check the key from the form; on success open a session and go where the user was going.

    The form must come from our own login page (its token is bound to the login cookie), so
    another site cannot log a browser in under a session of its choosing.
    """
    service = current_service()
    admin_key = service.config.admin_key
    if not admin_key:
        return _login_page(403, ADMIN_OFF)
    try:
        check_same_site(admin_key, login_binding(request.cookies.get(LOGIN_COOKIE)))
    except CsrfRefused:
        return _login_page(403, "The login form had expired or came from another site: please log in again.")
    if not key_matches(admin_key, request.form.get("key", "")):
        record_failure()
        return _login_page(401, "That is not the admin key.")
    session_id, cookie = new_session(admin_key)
    start_session(service.client, service.config, session_id, SESSION_SECONDS)
    response = redirect(_safe_next(request.form.get("next")), code=303)
    _set_cookie(response, COOKIE, cookie)
    response.delete_cookie(LOGIN_COOKIE, path="/admin")
    return response


@bp.post("/logout")
def logout() -> Response:
    """End the session on the server, so a copy of the cookie no longer opens anything."""
    service = current_service()
    session_id = cookie_session(service.config.admin_key or "", request.cookies.get(COOKIE))
    if session_id is not None:
        end_session(service.client, service.config, session_id)
    response = redirect(url_for("admin.login_form"), code=303)
    response.delete_cookie(COOKIE, path="/admin")
    return response


@bp.get("/")
def index_page() -> str:
    """The index: alias, the index behind it, documents, size, model, mapping."""
    service = current_service()
    return render_template("admin/index.html", overview=index_overview(service.client, service.config), section="index")


@bp.get("/ingest")
def ingest_page() -> str:
    """Runs with live progress, and the quarantine with a retry button."""
    service = current_service()
    records = list_records(service.client, service.config, size=200)
    return render_template("admin/ingest.html", state=current_monitor().state(), records=records, section="ingest")


@bp.get("/catalogue")
def catalogue() -> str:
    service = current_service()
    page = _page_number(request.args.get("page", "1"))
    text = (request.args.get("q") or "").strip() or None
    if text is not None and len(text) > MAX_QUERY:
        raise ApiError(400, "invalid_parameter", f"q is at most {MAX_QUERY} characters", "q")
    listing = catalogue_page(service.client, service.config.index_alias, page, CATALOGUE_PAGE, text)
    return render_template("admin/catalogue.html", listing=listing, q=text or "", section="catalogue")


@bp.get("/catalogue/<product_id>")
def product_page(product_id: str) -> Response | str:
    service = current_service()
    detail = product_detail(service.client, service.config.index_alias, product_id, service.embedder.text)
    if detail is None:
        return Response(render_template("admin/missing.html", product_id=product_id, section="catalogue"), status=404)
    takedowns = [t for t in active_takedowns(service.client, service.config.index_alias) if t["product_id"] == product_id]
    return render_template("admin/product.html", detail=detail, takedowns=takedowns, predicted_filters=service.config.predicted_filters, section="catalogue")


@bp.get("/playground")
def playground() -> str:
    return render_template("admin/playground.html", profiles=PROFILES, section="playground")


@bp.get("/reports")
def reports() -> str:
    return render_template("admin/reports.html", reports=list_reports(current_service().config.reports_dir), section="reports")


@bp.get("/reports/<name>")
def report_file(name: str) -> Response:
    # No file system names a file longer than 255 bytes: answered as missing, not by the OS's error.
    found = report_image(current_service().config.reports_dir, name) if len(name.encode()) <= 255 else None
    if found is None:
        raise ApiError(404, "not_found", f"no plot {name}", "name")
    data, mimetype = found
    return Response(data, mimetype=mimetype)


@bp.get("/api/index")
def api_index() -> Response:
    service = current_service()
    return jsonify(index_overview(service.client, service.config))


@bp.get("/api/ingest")
def api_ingest() -> Response:
    return jsonify(current_monitor().state())


@bp.get("/api/quarantine")
def api_quarantine() -> Response:
    service = current_service()
    records = [{k: v for k, v in r.items() if k not in ("product", "raw")} for r in list_records(service.client, service.config, size=200)]
    return jsonify(records=records)


@bp.post("/api/quarantine/retry")
def api_retry() -> tuple[Response, int]:
    """Ingest the quarantined products again, as ``lookalike ingest --retry-failed`` does.

    A broker that is down answers 503, a retry already running 409 (:mod:`api.errors`).
    """
    current_monitor().start_retry()
    return jsonify(status="started"), 202


@bp.get("/api/ranking")
def api_ranking() -> Response:
    """The live ranking settings, every saved version (newest first), and the built-in defaults."""
    service = current_service()
    history = ranking_history(service.client, service.config)
    versions = [
        {"version": stored.version, "created_at": stored.created_at, "source": stored.source,
         "scores": stored.scores, "settings": stored.settings.model_dump(mode="json")}
        for stored in history
    ]
    defaults = {"version": 0, "created_at": None, "source": "built-in defaults", "scores": {}, "settings": DEFAULT_RANKING.model_dump(mode="json")}
    return jsonify(live=versions[0]["version"] if versions else 0, versions=[*versions, defaults])


@bp.get("/api/products/<product_id>")
def api_product(product_id: str) -> Response:
    service = current_service()
    detail = product_detail(service.client, service.config.index_alias, product_id, service.embedder.text)
    if detail is None:
        raise ApiError(404, "not_found", f"no product {product_id}", "product_id")
    return jsonify(detail)


@bp.post("/api/products/<product_id>/predictions")
def api_review_prediction(product_id: str) -> Response:
    """Accept or reject one predicted category or tag of a product (or undo either); the product's
    stored predictions follow at once. Answers what the product page now shows."""
    body = read_model(request, ReviewBody)
    service = current_service()
    return jsonify(review_prediction(service.client, service.config, product_id, body, _operator(body.operator), service.embedder))


@bp.get("/copies")
def copies_page() -> str:
    service = current_service()
    return render_template("admin/copies.html", scan=catalogue_copies(service.client, service.config.index_alias, service.config.thumbnail_index), section="copies")


@bp.get("/api/copies")
def api_catalogue_copies() -> Response:
    """The catalogue's photos that are copies of one another, in groups (scanned at most every few minutes)."""
    service = current_service()
    return jsonify(catalogue_copies(service.client, service.config.index_alias, service.config.thumbnail_index))


@bp.post("/api/copies")
def api_copies() -> Response:
    """Which catalogue photos are copies of the photo sent (an ``image`` upload, or JSON
    ``image_base64`` / ``image_url``), each with its evidence, product and seller."""
    service = current_service()
    photo = copies_photo(request, service)
    rule = CopyRule()
    config = service.config
    matches = find_copies(service.client, config.index_alias, photo, np.asarray(service.embedder.image(photo), np.float32), rule, config.thumbnail_index)
    return jsonify(copies=[match.as_dict() for match in matches], rule=dataclasses.asdict(rule))


@bp.get("/takedowns")
def takedowns_page() -> str:
    service = current_service()
    alias = service.config.index_alias
    return render_template("admin/takedowns.html", active=active_takedowns(service.client, alias), log=audit_log(service.client, alias), section="takedowns")


@bp.get("/api/takedowns")
def api_takedowns() -> Response:
    service = current_service()
    alias = service.config.index_alias
    return jsonify(active=active_takedowns(service.client, alias), log=audit_log(service.client, alias))


@bp.post("/api/takedowns")
def api_take_down() -> tuple[Response, int]:
    """Withhold a product from every search because one of its photos infringes; logged with who and why."""
    body = read_model(request, TakedownBody)
    service = current_service()
    record = take_down(service.client, service.config, body.product_id, body.image, body.reason, _operator(body.operator))
    return jsonify(record), 201


@bp.post("/api/takedowns/<takedown_id>/undo")
def api_undo_takedown(takedown_id: str) -> Response:
    body = read_model(request, UndoBody)
    service = current_service()
    return jsonify(restore(service.client, service.config, takedown_id, body.reason, _operator(body.operator)))


@bp.get("/events")
def events() -> Response:
    """Ingest progress as server-sent events: one short response, which the browser asks again a second later."""
    response = Response(current_monitor().events(request.headers.get("Last-Event-ID")), mimetype="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"  # nginx would otherwise hold events back
    return response


@bp.app_template_filter("when")
def _when(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _operator(name: str) -> str:
    """Who acted, for the audit log: the name given, and how they were let in."""
    return f"{name} (admin session)" if g.get("csrf_token") else f"{name} (admin key)"


def _wants_json() -> bool:
    return request.path.startswith(("/admin/api/", "/admin/events", "/admin/reports/"))


def _login_page(status: int, message: str | None) -> Response:
    """The login form, bound to a login cookie (kept, or set now) by its anti-forgery token."""
    admin_key = current_service().config.admin_key
    if request.method == "POST":
        next_path = _safe_next(request.form.get("next"))  # a wrong key: keep where the user was going
    elif request.endpoint == "admin.login_form":
        next_path = "/admin/"
    else:
        next_path = _safe_next(request.full_path.rstrip("?"))
    binding = login_binding(request.cookies.get(LOGIN_COOKIE)) or new_login_binding()
    token = csrf_token(admin_key, binding) if admin_key else ""
    page = render_template("admin/login.html", message=message, next_path=next_path, off=not admin_key, csrf_token=token)
    response = Response(page, status=status)
    if admin_key:
        _set_cookie(response, LOGIN_COOKIE, binding)
    return response


def _set_cookie(response: Response, name: str, value: str) -> None:
    """An admin cookie: for /admin only, out of scripts' reach, never sent by another site's page."""
    response.set_cookie(name, value, max_age=SESSION_SECONDS, path="/admin", httponly=True, samesite="Strict", secure=request.is_secure)


def _safe_next(target: Any) -> str:
    # Only a path under /admin: never an open redirect to another site, nor a header broken by a line break.
    if (
        isinstance(target, str) and target.startswith("/admin") and len(target) <= MAX_NEXT and target.isprintable()
        and "\\" not in target and not urlsplit(target).netloc
    ):
        return target
    return "/admin/"


def _page_number(raw: str) -> int:
    if not _PAGE.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE:
        raise ApiError(400, "invalid_parameter", f"page must be a whole number from 1 to {MAX_PAGE}", "page")
    return int(raw)
