"""The console's HTTP app (aiohttp): routes, the handlers' steps, and ``fleetpulse console``.

Every page: authenticate (middleware, fleetpulse/console/auth.py) -> the tenant the caller acts
as (``fleetpulse.access.authorize``, role ``reader``) -> build the page on a worker thread
(views.build_page, reads through the store owner with the caller's token) -> render. Admin
actions also need role ``admin`` and the CSRF token; they run the CLI's own command (``fleetpulse
baseline create|delete``) with the caller's token, so the console holds no privilege and follows
the CLI's behaviour.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment

from fleetpulse.access import ForbiddenError, UnauthorizedError, token_ring
from fleetpulse.console import views
from fleetpulse.console.auth import (
    COOKIE,
    SESSIONS_KEY,
    Caller,
    Sessions,
    caller,
    check_csrf,
    safe_next,
    security_middleware,
    set_session_cookie,
)
from fleetpulse.console.pages import PAGES, Page
from fleetpulse.console.reads import StoreUnavailableError
from fleetpulse.reports.formats import to_csv
from fleetpulse.settings import Settings
from sinks.reader import QueryError

log = logging.getLogger("fleetpulse.console")
STATIC = Path(__file__).parent / "static"
SETTINGS_KEY = web.AppKey("settings", Settings)
ENV_KEY = web.AppKey("env", Environment)
POOL_KEY = web.AppKey("pool", ThreadPoolExecutor)
CACHE_KEY = web.AppKey("cache", views.QueryCache)
BASELINE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _tenants(settings: Settings) -> list[str]:
    return sorted({t.name for t in settings.tenants.values()})


def _html(env: Environment, template: str, status: int = 200, **ctx: Any) -> web.Response:
    body = env.get_template(template).render(**ctx)
    return web.Response(status=status, text=body, content_type="text/html")


async def _built(request: web.Request, page: Page, arg: str) -> tuple[Caller, str, views.Built]:
    """Steps shared by a page and its CSV: caller -> tenant -> the built page (off the event loop)."""
    app, who = request.app, caller(request)
    tenant = who.need("reader", _tenants(app[SETTINGS_KEY]))
    loop = asyncio.get_running_loop()
    built = await loop.run_in_executor(
        app[POOL_KEY],
        views.build_page,
        app[SETTINGS_KEY],
        who,
        tenant,
        page,
        arg,
        dict(request.query),
        app[CACHE_KEY],
    )
    return who, tenant, built


def _error_page(request: web.Request, status: int, message: str) -> web.Response:
    return _html(request.app[ENV_KEY], "error.html", status, message=message, title="fleetpulse console")


def page_handler(page: Page) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        arg = request.match_info.get("arg", "")
        who = caller(request)
        if who.tenant is None and who.principal.tenant is None:
            return _html(
                request.app[ENV_KEY],
                "tenant.html",
                who=who,
                tenants=_tenants(request.app[SETTINGS_KEY]),
                title="Choose a tenant",
                next=request.path_qs,
            )
        try:
            who, tenant, built = await _built(request, page, arg)
        except ValueError as exc:  # a filter the user typed (time, group)
            return _error_page(request, 400, str(exc))
        except StoreUnavailableError as exc:
            return _error_page(request, 503, str(exc))
        except QueryError as exc:
            return _error_page(request, 502, f"the store refused a read: {exc}")
        flash = request.app[SESSIONS_KEY].pop_flash(request.cookies.get(COOKIE)) if who.via_cookie else None
        text = views.render_page(
            request.app[ENV_KEY], page, arg, built, who, tenant, request.query, {"flash": flash}
        )
        return web.Response(text=text, content_type="text/html")

    return handle


async def csv_handler(request: web.Request) -> web.StreamResponse:
    page = PAGES.get(request.match_info["page"])
    if page is None:
        raise web.HTTPNotFound(text="no such page\n")
    try:
        _, tenant, built = await _built(request, page, request.query.get("device", ""))
        cols, rows = views.csv_rows(built, request.match_info["table"])
    except KeyError as exc:
        raise web.HTTPNotFound(text="no such table\n") from exc
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from exc
    except (StoreUnavailableError, QueryError) as exc:
        raise web.HTTPBadGateway(text=f"{exc}\n") from exc
    name = f"fleetpulse-{tenant}-{page.name}-{request.match_info['table']}.csv"
    return web.Response(
        text=to_csv(rows, cols),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def signin_form(request: web.Request) -> web.StreamResponse:
    return _html(
        request.app[ENV_KEY],
        "signin.html",
        next=safe_next(request.query.get("next")),
        error="",
        title="Sign in",
    )


def _signed_in(request: web.Request, token: str, target: str) -> web.StreamResponse:
    sessions = request.app[SESSIONS_KEY]
    try:
        sid, _ = sessions.open(token)
    except UnauthorizedError:
        return _html(
            request.app[ENV_KEY],
            "signin.html",
            401,
            next=target,
            title="Sign in",
            error="That is not a valid analyst token.",
        )
    response = web.HTTPSeeOther(target)
    set_session_cookie(response, sid, sessions.lifetime_s)
    return response


async def signin(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        raise web.HTTPForbidden(text="cross-origin sign-in refused\n")
    return _signed_in(request, str(form.get("token", "")).strip(), safe_next(str(form.get("next", "/"))))


async def token_link(request: web.Request) -> web.StreamResponse:
    """``?token=T`` on any page: sign in, then the same address without the token."""
    rest = [(k, v) for k, v in request.query.items() if k != "token"]
    from urllib.parse import urlencode

    target = request.path + (f"?{urlencode(rest)}" if rest else "")
    return _signed_in(request, request.query["token"], safe_next(target))


async def signout(request: web.Request) -> web.StreamResponse:
    who = caller(request)
    check_csrf(request, who, str((await request.post()).get("csrf", "")))
    request.app[SESSIONS_KEY].close(request.cookies.get(COOKIE))
    response = web.HTTPSeeOther("/signin")
    response.del_cookie(COOKIE, path="/")
    return response


async def choose_tenant(request: web.Request) -> web.StreamResponse:
    who = caller(request)
    form = await request.post()
    check_csrf(request, who, str(form.get("csrf", "")))
    tenant = str(form.get("tenant", ""))
    if tenant not in _tenants(request.app[SETTINGS_KEY]) or (who.principal.tenant not in (None, tenant)):
        raise ForbiddenError(f"tenant {tenant!r} is not yours to read")
    request.app[SESSIONS_KEY].set_tenant(request.cookies.get(COOKIE), tenant)
    raise web.HTTPSeeOther(safe_next(str(form.get("next", "/"))))


def _run_cli(settings: Settings, token: str, argv: list[str]) -> tuple[bool, str]:
    """One ``fleetpulse`` command as the caller (its token), outcome and its last output line."""
    env = {**os.environ, "FLEETPULSE_TOKEN": token, "FLEETPULSE_DATA_DIR": str(settings.data_dir.resolve())}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "fleetpulse.cli", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    except subprocess.TimeoutExpired:
        return False, "timed out after 180 s"
    lines = [ln for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
    return done.returncode == 0, (lines[-1] if lines else f"exit code {done.returncode}")[:400]


def baseline_action(action: str) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        who = caller(request)
        form = await request.post()
        check_csrf(request, who, str(form.get("csrf", "")))
        settings = request.app[SETTINGS_KEY]
        tenant = who.need("admin", _tenants(settings))  # a reader gets 403 here
        name = str(form.get("name", ""))
        if not BASELINE_NAME.match(name):
            raise web.HTTPBadRequest(text="a baseline name is 1-64 letters, digits, '_', '.', '-'\n")
        argv = ["baseline", action, name, "--tenant", tenant]
        if action == "create":
            since, until = str(form.get("since", "")), str(form.get("until", ""))
            if not (DAY.match(since) and DAY.match(until)):
                raise web.HTTPBadRequest(text="first and last day are YYYY-MM-DD\n")
            argv += ["--since", since, "--until", until]
        loop = asyncio.get_running_loop()
        ok, said = await loop.run_in_executor(request.app[POOL_KEY], _run_cli, settings, who.token, argv)
        log.info(
            "baseline %s %s by %s (%s): %s", action, name, who.principal.name, tenant, "ok" if ok else said
        )
        message = f"baseline {name}: {action}d" if ok else f"baseline {action} {name} failed: {said}"
        if not who.via_cookie:
            return web.Response(status=200 if ok else 502, text=message + "\n")
        request.app[SESSIONS_KEY].set_flash(request.cookies.get(COOKIE), message)
        raise web.HTTPSeeOther("/baselines")

    return handle


async def healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def make_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[security_middleware], client_max_size=64 * 1024)
    app[SETTINGS_KEY] = settings
    app[SESSIONS_KEY] = Sessions(
        token_ring(settings), _tenants(settings), settings.console_session_hours * 3600
    )
    app[ENV_KEY] = views.environment()
    app[POOL_KEY] = ThreadPoolExecutor(max_workers=4, thread_name_prefix="console-read")
    app[CACHE_KEY] = views.QueryCache(settings.console_cache_s)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/signin", signin_form)
    app.router.add_post("/signin", signin)
    app.router.add_post("/signout", signout)
    app.router.add_post("/tenant", choose_tenant)
    app.router.add_post("/baselines/create", baseline_action("create"))
    app.router.add_post("/baselines/delete", baseline_action("delete"))
    app.router.add_get("/csv/{page}/{table}.csv", csv_handler)
    for page in PAGES.values():
        app.router.add_get(page.path.replace("{arg}", "{arg:.+}"), page_handler(page))
    app.router.add_static("/static/", STATIC, append_version=False)
    app.middlewares.insert(0, _token_link_middleware)

    async def close_pool(_app: web.Application) -> None:
        _app[POOL_KEY].shutdown(wait=False, cancel_futures=True)
        _app[CACHE_KEY].close()

    app.on_cleanup.append(close_pool)
    return app


@web.middleware
async def _token_link_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.method == "GET" and "token" in request.query and not request.path.startswith("/static/"):
        response = await token_link(request)
        from fleetpulse.console.auth import SECURITY_HEADERS

        response.headers.update(SECURITY_HEADERS)
        return response
    result: web.StreamResponse = await handler(request)
    return result


def run_console(settings: Settings) -> None:
    """``fleetpulse console``: serve until SIGINT/SIGTERM (aiohttp's run_app handles both)."""
    from fleetpulse.access import read_operator_token

    if settings.console_port == 0:
        from deploy.kafka import free_port

        settings = settings.model_copy(update={"console_port": free_port()})
    app = make_app(settings)
    token = read_operator_token(settings.data_dir)
    link = f"http://{settings.console_host}:{settings.console_port}/" + (f"?token={token}" if token else "")
    print(f"console listening on {link}", flush=True)
    web.run_app(
        app,
        host=settings.console_host,
        port=settings.console_port,
        print=None,
        access_log=None,
        shutdown_timeout=5,
    )
