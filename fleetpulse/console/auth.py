"""Who is calling the console: sign-in by analyst token, sessions, CSRF, security headers.

* ``GET /?token=T`` (the link ``fleetpulse up`` prints, as Jupyter does) and ``POST /signin``
  (a pasted token) authenticate ``T`` with :class:`fleetpulse.access.TokenRing`, open a server-side
  session and set it as an ``HttpOnly; SameSite=Strict`` cookie; the link then redirects to
  itself without the token, so it leaves the address bar and the history.
* Scripts send ``Authorization: Bearer T`` instead (no cookie, no CSRF token: a browser never
  adds that header on its own).
* Every page and download needs one of the two: pages redirect to ``/signin``, downloads answer 401.
* A state-changing request (``POST``) made with the cookie must carry the session's CSRF token
  (form field ``csrf``) and, when the browser sends one, an ``Origin`` equal to the console's own.
* No CORS headers are ever sent; every answer carries a strict Content-Security-Policy.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field

from aiohttp import web

from fleetpulse.access import (
    ForbiddenError,
    Principal,
    Role,
    TokenRing,
    UnauthorizedError,
    authorize,
    bearer,
)

COOKIE = "fp_session"
PUBLIC_PATHS = ("/signin", "/healthz", "/static/")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # a URL never leaves the console in a Referer; "no-referrer" would also make Chromium send
    # "Origin: null" on our own form posts, which the CSRF check refuses
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass
class Session:
    """One signed-in browser: the token it presented (forwarded on reads), its tenant, its CSRF token."""

    token: str
    principal: Principal
    tenant: str | None  # None: the operator has not picked a tenant yet (several configured)
    expires: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    flash: str | None = None  # one message for the next page (the outcome of an admin action)


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of one request and the tenant it acts as."""

    principal: Principal
    token: str
    tenant: str | None
    csrf: str  # '' for bearer callers
    via_cookie: bool

    @property
    def is_admin(self) -> bool:
        return self.principal.role == "admin"

    def need(self, role: Role, configured: Collection[str]) -> str:
        """The tenant this caller acts as with ``role``; ForbiddenError otherwise."""
        return authorize(self.principal, self.tenant, role, configured)


class Sessions:
    """Server-side sessions keyed by a random 256-bit id (the cookie); a restart signs everyone out."""

    def __init__(self, ring: TokenRing, tenants: Collection[str], lifetime_s: float) -> None:
        self.ring = ring
        self.tenants = sorted(tenants)
        self.lifetime_s = lifetime_s
        self._by_id: dict[str, Session] = {}

    def open(self, token: str) -> tuple[str, Session]:
        """Authenticate ``token`` and open a session; UnauthorizedError when it is no token."""
        principal = self.ring.authenticate(token)
        tenant = principal.tenant
        if tenant is None and len(self.tenants) == 1:
            tenant = self.tenants[0]
        self._expire()
        sid = secrets.token_urlsafe(32)
        self._by_id[sid] = Session(token, principal, tenant, time.monotonic() + self.lifetime_s)
        return sid, self._by_id[sid]

    def get(self, sid: str | None) -> Session | None:
        session = self._by_id.get(sid or "")
        if session is None or session.expires < time.monotonic():
            return None
        try:  # a token removed from the configuration ends its sessions at the next restart
            session.principal = self.ring.authenticate(session.token)
        except UnauthorizedError:
            return None
        return session

    def set_tenant(self, sid: str | None, tenant: str) -> None:
        session = self.get(sid)
        if session is not None:
            session.tenant = tenant

    def set_flash(self, sid: str | None, message: str) -> None:
        session = self.get(sid)
        if session is not None:
            session.flash = message

    def pop_flash(self, sid: str | None) -> str | None:
        session = self.get(sid)
        if session is None:
            return None
        message, session.flash = session.flash, None
        return message

    def close(self, sid: str | None) -> None:
        self._by_id.pop(sid or "", None)

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s for s, v in self._by_id.items() if v.expires < now]:
            del self._by_id[sid]


SESSIONS_KEY = web.AppKey("sessions", Sessions)
CALLER_KEY = "fleetpulse.caller"


def _caller(request: web.Request, sessions: Sessions) -> Caller | None:
    token = bearer(request.headers.get("Authorization"))
    if token is not None:
        principal = sessions.ring.authenticate(token)  # UnauthorizedError: a bad bearer is never a session
        tenant = request.query.get("tenant") or principal.tenant
        if tenant is None and len(sessions.tenants) == 1:
            tenant = sessions.tenants[0]
        return Caller(principal, token, tenant, "", via_cookie=False)
    session = sessions.get(request.cookies.get(COOKIE))
    if session is None:
        return None
    return Caller(session.principal, session.token, session.tenant, session.csrf, via_cookie=True)


def caller(request: web.Request) -> Caller:
    """The caller the middleware authenticated (every non-public handler has one)."""
    found = request.get(CALLER_KEY)
    assert isinstance(found, Caller)
    return found


def _wants_html(request: web.Request) -> bool:
    return request.method == "GET" and not request.path.endswith(".csv")


def check_csrf(request: web.Request, who: Caller, form_token: str | None) -> None:
    """A cookie-authenticated POST carries the session's CSRF token and our own Origin (if any)."""
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        raise web.HTTPForbidden(text="cross-origin request refused\n")
    if who.via_cookie and not hmac.compare_digest(form_token or "", who.csrf):
        raise web.HTTPForbidden(text="missing or wrong CSRF token: reload the page and try again\n")


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate (or redirect / 401), refuse CORS pre-flights, add the security headers."""
    try:
        if request.method == "OPTIONS":  # no CORS: a pre-flight is never granted
            raise web.HTTPMethodNotAllowed("OPTIONS", ["GET", "POST"])
        if not request.path.startswith(PUBLIC_PATHS):
            try:
                who = _caller(request, request.app[SESSIONS_KEY])
            except UnauthorizedError as exc:
                raise web.HTTPUnauthorized(text=f"{exc}\n", headers={"WWW-Authenticate": "Bearer"}) from exc
            if who is None:
                if _wants_html(request):
                    raise web.HTTPSeeOther(f"/signin?next={_quote(request.path_qs)}")
                raise web.HTTPUnauthorized(text="sign in first\n", headers={"WWW-Authenticate": "Bearer"})
            request[CALLER_KEY] = who
        response = await handler(request)
    except ForbiddenError as exc:
        response = web.Response(status=403, text=f"forbidden: {exc}\n")
    except web.HTTPException as exc:
        response = exc
    response.headers.update(SECURITY_HEADERS)
    if request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def set_session_cookie(response: web.StreamResponse, sid: str, lifetime_s: float) -> None:
    response.set_cookie(COOKIE, sid, httponly=True, samesite="Strict", path="/", max_age=int(lifetime_s))


def safe_next(target: str | None) -> str:
    """Only a local path may follow a sign-in (no open redirect to another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
