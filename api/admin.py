"""The admin views under ``/admin``: the index, ingest, the catalogue, a search playground, reports.

Every route here needs the admin key (:mod:`api.auth`); pages answer a missing key with the
login form, ``/admin/api`` and ``/admin/events`` with JSON. Nothing under ``/admin`` gets CORS
headers, and responses are never cached.
"""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, jsonify, redirect, render_template, request, url_for
from opensearchpy import OpenSearch

from api.admin_data import catalogue_page, index_overview, product_detail
from api.admin_ingest import IngestMonitor, RetryAlreadyRunning
from api.auth import COOKIE, SESSION_SECONDS, AdminRefused, key_matches, require_admin, session_token
from api.errors import ApiError
from api.pages import CSP
from api.reports import list_reports, report_image
from plugin.errors import BrokerUnavailable
from plugin.config import Config
from plugin.catalogue.quarantine import list_records
from plugin.search.profiles import PROFILES

#: Products per page of the catalogue browser.
CATALOGUE_PAGE = 24


def register_admin(app: Flask, client: OpenSearch, config: Config) -> IngestMonitor:
    """Add the admin views to *app*; return the ingest monitor they share."""
    admin = Blueprint("admin", __name__, url_prefix="/admin")
    monitor = IngestMonitor(client, config)

    @admin.before_request
    def _guard() -> Response | None:
        if request.endpoint in ("admin.login", "admin.login_form"):
            return None
        try:
            require_admin(config.admin_key)
        except AdminRefused as exc:
            if _wants_json():
                response = jsonify(error={"code": "unauthorized" if exc.status == 401 else "forbidden", "message": exc.message})
                response.status_code = exc.status
                return response
            return _login_page(exc.status, exc.message)
        return None

    @admin.after_request
    def _headers(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Content-Security-Policy", CSP)
        return response

    @admin.get("/login")
    def login_form() -> Response:
        if not config.admin_key:
            return _login_page(403, "The admin views are off: set LOOKALIKE_ADMIN_KEY to a secret to turn them on.")
        return _login_page(200, None)

    @admin.post("/login")
    def login() -> Response:
        """Check the key from the form; on success set the session cookie and go where the user was going."""
        if not config.admin_key:
            return _login_page(403, "The admin views are off: set LOOKALIKE_ADMIN_KEY to a secret to turn them on.")
        if not key_matches(config.admin_key, request.form.get("key", "")):
            return _login_page(401, "That is not the admin key.")
        response = redirect(_safe_next(request.form.get("next")), code=303)
        response.set_cookie(
            COOKIE, session_token(config.admin_key), max_age=SESSION_SECONDS, path="/admin",
            httponly=True, samesite="Strict", secure=request.is_secure,
        )
        return response

    @admin.post("/logout")
    def logout() -> Response:
        response = redirect(url_for("admin.login_form"), code=303)
        response.delete_cookie(COOKIE, path="/admin")
        return response

    @admin.get("/")
    def index_page() -> str:
        """The index: alias, the index behind it, documents, size, model, mapping."""
        return render_template("admin/index.html", overview=index_overview(client, config), section="index")

    @admin.get("/ingest")
    def ingest_page() -> str:
        """Runs with live progress, and the quarantine with a retry button."""
        return render_template(
            "admin/ingest.html", state=monitor.state(), records=list_records(client, config, size=200), section="ingest"
        )

    @admin.get("/catalogue")
    def catalogue() -> str:
        page = _page_number(request.args.get("page", "1"))
        text = (request.args.get("q") or "").strip() or None
        listing = catalogue_page(client, config.index_alias, page, CATALOGUE_PAGE, text)
        return render_template("admin/catalogue.html", listing=listing, q=text or "", section="catalogue")

    @admin.get("/catalogue/<product_id>")
    def product_page(product_id: str) -> Response | str:
        detail = product_detail(client, config.index_alias, product_id)
        if detail is None:
            return Response(render_template("admin/missing.html", product_id=product_id, section="catalogue"), status=404)
        return render_template("admin/product.html", detail=detail, section="catalogue")

    @admin.get("/playground")
    def playground() -> str:
        return render_template("admin/playground.html", profiles=PROFILES, section="playground")

    @admin.get("/reports")
    def reports() -> str:
        return render_template("admin/reports.html", reports=list_reports(config.reports_dir), section="reports")

    @admin.get("/reports/<name>")
    def report_file(name: str) -> Response:
        found = report_image(config.reports_dir, name)
        if found is None:
            raise ApiError(404, "not_found", f"no plot {name}", "name")
        data, mimetype = found
        return Response(data, mimetype=mimetype)

    @admin.get("/api/index")
    def api_index() -> Response:
        return jsonify(index_overview(client, config))

    @admin.get("/api/ingest")
    def api_ingest() -> Response:
        return jsonify(monitor.state())

    @admin.get("/api/quarantine")
    def api_quarantine() -> Response:
        records = [{k: v for k, v in r.items() if k not in ("product", "raw")} for r in list_records(client, config, size=200)]
        return jsonify(records=records)

    @admin.post("/api/quarantine/retry")
    def api_retry() -> tuple[Response, int]:
        """Ingest the quarantined products again, as ``lookalike ingest --retry-failed`` does."""
        try:
            monitor.start_retry()
        except BrokerUnavailable as exc:
            raise ApiError(503, "broker_unavailable", str(exc), None) from exc
        except RetryAlreadyRunning as exc:
            raise ApiError(409, "retry_running", str(exc), None) from exc
        return jsonify(status="started"), 202

    @admin.get("/api/products/<product_id>")
    def api_product(product_id: str) -> Response:
        detail = product_detail(client, config.index_alias, product_id)
        if detail is None:
            raise ApiError(404, "not_found", f"no product {product_id}", "product_id")
        return jsonify(detail)

    @admin.get("/events")
    def events() -> Response:
        """Ingest progress as server-sent events, pushed whenever a run moves."""
        response = Response(monitor.events(), mimetype="text/event-stream")
        response.headers["X-Accel-Buffering"] = "no"  # nginx would otherwise hold events back
        return response

    app.register_blueprint(admin)
    app.jinja_env.filters["when"] = _when
    return monitor


def _when(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _wants_json() -> bool:
    return request.path.startswith(("/admin/api/", "/admin/events", "/admin/reports/"))


def _login_page(status: int, message: str | None) -> Response:
    if request.method == "POST":
        next_path = _safe_next(request.form.get("next"))  # a wrong key: keep where the user was going
    elif request.endpoint == "admin.login_form":
        next_path = "/admin/"
    else:
        next_path = request.full_path.rstrip("?")
    page = render_template("admin/login.html", message=message, next_path=next_path, off=status == 403)
    return Response(page, status=status)


def _safe_next(target: Any) -> str:
    # Only a path under /admin: never an open redirect to another site.
    if isinstance(target, str) and target.startswith("/admin") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return "/admin/"


def _page_number(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ApiError(400, "invalid_parameter", "page must be a whole number from 1 to 1000", "page")
    return int(raw)
