"""Single sign-on with OpenID Connect: `/auth/oidc/login` sends the browser to the provider, and
`/auth/oidc/callback` turns the provider's answer into a MeshClaw web session.

The flow is the authorization code flow with PKCE (S256), `state` and `nonce`, built with authlib's httpx
client; the ID token's signature is checked with joserfc against the keys the provider publishes at the
`jwks_uri` of its discovery document, and its claims (issuer, audience, expiry, issue time, nonce, azp,
at_hash) by authlib's `CodeIDToken`, the same pair authlib's own framework clients use. Who the person is
(linked subject, verified email, auto-creation) is decided by `meshclaw.identity.oidc`. The session is then
started exactly as a password sign-in starts it (`identity.authenticate.start_session`, same cookie).

**Where state, nonce and PKCE verifier wait between the two requests: a short-lived signed cookie.**
Server-side storage would need a table and an anonymous database write per click on "Sign in with SSO";
a per-process memory would break when a load balancer sends the callback to another process. The cookie
holds a JWT (HS256) that expires after 10 minutes, signed with a key derived from the OIDC client secret:
every MeshClaw process already shares that secret through its configuration and nobody else knows it, so
any process can verify the cookie, and rotating the secret only cancels sign-ins in progress. The cookie
is HttpOnly, Path=/, Secure with the `__Host-` prefix over HTTPS, and SameSite=Lax, because the callback
arrives as a top-level navigation from the provider's site, which Lax cookies accompany and Strict ones do
not. The callback accepts the answer only when its `state` equals the one in the cookie, so a response
cannot be replayed into another browser (login CSRF), and deletes the cookie whatever happens. The values
are signed, not encrypted: they are random per attempt and only ever sent to their own browser.

Discovery document and keys are fetched on every sign-in, not cached: sign-ins are rare, and fresh keys
mean a provider's key rotation needs nothing from us.

Failures (provider unreachable, a state that does not match, a token that fails verification, a person
MeshClaw does not know) end on an error page that says what went wrong and what to do, with the status
that fits. Nothing the provider sent as a credential (code, tokens) or the client secret is ever logged or
shown. When OIDC is not configured, both routes answer 404 with the settings to set.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import httpx
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from authlib.oidc.core import CodeIDToken
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization, OctKey

from meshclaw.api.deps import SESSION_COOKIE, Context
from meshclaw.config import Settings
from meshclaw.errors import AuthenticationError, MeshclawError, NotFoundError
from meshclaw.identity import store
from meshclaw.identity.authenticate import end_session, start_session
from meshclaw.identity.oidc import SignInClaims, user_for_sign_in
from meshclaw.identity.tokens import new_token
from meshclaw.web.auth_pages import set_session_cookie
from meshclaw.web.deps import safe_next
from meshclaw.web.render import render

log = logging.getLogger("meshclaw.web.oidc")

router = APIRouter(include_in_schema=False)

LOGIN_PATH = "/auth/oidc/login"
CALLBACK_PATH = "/auth/oidc/callback"
FLOW_COOKIE = "meshclaw_oidc_flow"
FLOW_TTL_S = 600
SCOPES = "openid email profile"
PROVIDER_TIMEOUT_S = 10.0
CLOCK_SKEW_S = 60
"""Leeway for the ID token's exp/iat/nbf against our clock."""
_SIGNING_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
"""Public-key algorithms only: the keys come from the provider's JWKS, and `none` or HMAC is never valid."""
_ERROR_CODE = re.compile(r"^[a-z0-9_]{1,64}$")


def _transport_errors() -> tuple[type[Exception], ...]:
    """authlib's client is built on httpx2 when that package is installed, else on httpx; catch both."""
    try:
        import httpx2
    except ImportError:  # pragma: no cover - depends on what else is installed
        return (httpx.HTTPError,)
    return (httpx.HTTPError, httpx2.HTTPError)


_PROVIDER_ERRORS: tuple[type[Exception], ...] = (*_transport_errors(), ValueError)
"""A provider that cannot be reached, answers with an error status, or sends something that is not JSON."""


class _Refused(Exception):
    """Ends a sign-in on an error page; `message` is for the person in front of the browser."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, kw_only=True)
class _Config:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass(frozen=True, kw_only=True)
class _Flow:
    """What the login request remembers for its callback."""

    state: str
    nonce: str
    verifier: str
    next_path: str


def _config(settings: Settings) -> _Config:
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else ""
    if not (settings.oidc_issuer and settings.oidc_client_id and secret):
        raise NotFoundError(
            "single sign-on is not configured; set MESHCLAW_OIDC_ISSUER, MESHCLAW_OIDC_CLIENT_ID and "
            "MESHCLAW_OIDC_CLIENT_SECRET, and register "
            f"{settings.resolved_public_url}{CALLBACK_PATH} as a redirect URI at the identity provider"
        )
    return _Config(
        issuer=settings.oidc_issuer.rstrip("/"),
        client_id=settings.oidc_client_id,
        client_secret=secret,
        redirect_uri=f"{settings.resolved_public_url}{CALLBACK_PATH}",
    )


def _client(config: _Config) -> OAuth2Client:
    return OAuth2Client(
        client_id=config.client_id,
        client_secret=config.client_secret,
        scope=SCOPES,
        redirect_uri=config.redirect_uri,
        code_challenge_method="S256",
        timeout=PROVIDER_TIMEOUT_S,
    )


def _unreachable(config: _Config, what: str, exc: Exception) -> _Refused:
    # The exception's class says enough (timeout, refused connection, bad status); its text could
    # carry a URL with query parameters, so it stays out of logs and pages.
    log.warning("oidc: %s at %s failed: %s", what, config.issuer, type(exc).__name__)
    return _Refused(
        502,
        f"the identity provider at {config.issuer} could not be reached ({what} failed: "
        f"{type(exc).__name__}); try again in a moment, or ask an admin to check MESHCLAW_OIDC_ISSUER",
    )


def _get_json(client: OAuth2Client, config: _Config, url: str, what: str) -> dict[str, Any]:
    try:
        response = client.request("GET", url, withhold_token=True)
        response.raise_for_status()
        body = response.json()
    except _PROVIDER_ERRORS as exc:
        raise _unreachable(config, what, exc) from None
    if not isinstance(body, dict):
        raise _Refused(502, f"the identity provider's {what} is not a JSON object")
    return body


def _discover(client: OAuth2Client, config: _Config) -> dict[str, Any]:
    metadata = _get_json(client, config, f"{config.issuer}/.well-known/openid-configuration", "discovery")
    # OIDC Discovery 4.3: the document must name exactly the issuer it was fetched for, or a provider
    # could vouch for tokens of another.
    if str(metadata.get("issuer", "")).rstrip("/") != config.issuer:
        raise _Refused(
            502,
            f"the identity provider's discovery document names another issuer than {config.issuer}; "
            "set MESHCLAW_OIDC_ISSUER to the exact issuer URL",
        )
    for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(metadata.get(field), str):
            raise _Refused(502, f"the identity provider's discovery document has no {field}")
    return metadata


# --- the flow cookie --------------------------------------------------------------------------------


def _flow_cookie_name(settings: Settings) -> str:
    return f"__Host-{FLOW_COOKIE}" if settings.secure_cookies else FLOW_COOKIE


def _flow_key(config: _Config) -> OctKey:
    # A key of its own, derived from the client secret, so the secret itself never signs anything here.
    derived = hmac.new(config.client_secret.encode(), b"meshclaw oidc flow cookie v1", hashlib.sha256)
    return OctKey.import_key(derived.digest())


def _write_flow(response: Response, settings: Settings, config: _Config, flow: _Flow, *, now_s: int) -> None:
    claims = {
        "state": flow.state,
        "nonce": flow.nonce,
        "verifier": flow.verifier,
        "next": flow.next_path,
        "exp": now_s + FLOW_TTL_S,
    }
    value = jwt.encode({"alg": "HS256"}, claims, _flow_key(config))
    response.set_cookie(
        _flow_cookie_name(settings),
        value,
        max_age=FLOW_TTL_S,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def _clear_flow(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        _flow_cookie_name(settings), path="/", secure=settings.secure_cookies, httponly=True, samesite="lax"
    )


def _read_flow(request: Request, settings: Settings, config: _Config, *, now_s: int) -> _Flow:
    expired = _Refused(
        400,
        "this sign-in expired or was started in another browser; start again from the sign-in page",
    )
    value = request.cookies.get(_flow_cookie_name(settings))
    if not value:
        raise expired
    try:
        token = jwt.decode(value, _flow_key(config), algorithms=["HS256"])
        jwt.JWTClaimsRegistry(now=now_s, exp={"essential": True}).validate(token.claims)
        claims = token.claims
        return _Flow(
            state=str(claims["state"]),
            nonce=str(claims["nonce"]),
            verifier=str(claims["verifier"]),
            next_path=safe_next(str(claims["next"])) if claims.get("next") else "/",
        )
    except (JoseError, ValueError, KeyError):
        raise expired from None


# --- the ID token -----------------------------------------------------------------------------------


def _verified_id_token(
    client: OAuth2Client,
    config: _Config,
    metadata: dict[str, Any],
    token: dict[str, Any],
    *,
    flow: _Flow,
    now_s: int,
) -> dict[str, Any]:
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise _Refused(
            502, "the identity provider returned no ID token; check that it allows the 'openid' scope"
        )
    jwks = _get_json(client, config, str(metadata["jwks_uri"]), "signing keys (JWKS)")
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [alg for alg in _SIGNING_ALGORITHMS if alg in offered]
    if not algorithms:
        raise _Refused(
            502,
            "the identity provider signs ID tokens only with algorithms MeshClaw does not accept "
            f"({', '.join(map(str, offered))}); configure it to use RS256 or ES256",
        )
    issuer = str(metadata["issuer"])
    options = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": config.client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "nonce": {"essential": True, "value": flow.nonce},
    }
    params = {"nonce": flow.nonce, "client_id": config.client_id, "access_token": token.get("access_token")}
    try:
        decoded = jwt.decode(
            id_token, KeySet.import_key_set(cast("KeySetSerialization", jwks)), algorithms=algorithms
        )
        claims = CodeIDToken(decoded.claims, decoded.header, options, params)
        claims.validate(now=now_s, leeway=CLOCK_SKEW_S)
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        reason = exc.error if isinstance(exc, JoseError) else type(exc).__name__
        detail = f"{reason}: {exc.description}" if isinstance(exc, JoseError) and exc.description else reason
        log.warning("oidc: ID token from %s refused: %s", config.issuer, detail)
        raise _Refused(
            401, f"the identity provider's ID token failed verification ({detail}); sign-in refused"
        ) from None
    return dict(claims)


def _with_userinfo(
    client: OAuth2Client, config: _Config, metadata: dict[str, Any], claims: dict[str, Any]
) -> dict[str, Any]:
    """Providers that follow OIDC Core 5.4 to the letter put email and name in the userinfo response only."""
    endpoint = metadata.get("userinfo_endpoint")
    if "email" in claims or not isinstance(endpoint, str):
        return claims
    try:
        response = client.request("GET", endpoint)
        response.raise_for_status()
        info = response.json()
    except (*_PROVIDER_ERRORS, OAuthError) as exc:
        raise _unreachable(config, "userinfo", exc) from None
    # OIDC Core 5.3.2: the userinfo answer counts only when it is about the same subject.
    if not isinstance(info, dict) or info.get("sub") != claims.get("sub"):
        raise _Refused(
            502, "the identity provider's userinfo answer is about another subject; sign-in refused"
        )
    return {**claims, **{key: info[key] for key in ("email", "email_verified", "name") if key in info}}


# --- routes -------------------------------------------------------------------------------------------


def _failure(request: Request, settings: Settings, refused: _Refused) -> Response:
    response = render(
        request,
        "error.html",
        status=refused.status,
        title="Single sign-on failed",
        message=refused.message,
        code="sso_failed",
    )
    _clear_flow(response, settings)
    return response


@router.get(LOGIN_PATH)
def oidc_login(request: Request, context: Context, next: str | None = None) -> Response:
    """Send the browser to the provider, remembering state, nonce and verifier in the flow cookie."""
    settings = context.settings
    config = _config(settings)
    flow = _Flow(
        state=new_token(),
        nonce=new_token(),
        verifier=new_token(48),
        next_path=safe_next(next) if next else "",
    )
    try:
        with _client(config) as client:
            metadata = _discover(client, config)
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=flow.state,
                code_verifier=flow.verifier,
                nonce=flow.nonce,
            )
    except _Refused as refused:
        return _failure(request, settings, refused)
    response = RedirectResponse(str(url), status_code=303)
    _write_flow(response, settings, config, flow, now_s=int(context.clock.now().timestamp()))
    return response


@router.get(CALLBACK_PATH)
def oidc_callback(request: Request, context: Context) -> Response:
    """Check the answer against the flow cookie, redeem the code, verify the ID token, start a session."""
    settings = context.settings
    config = _config(settings)
    now = context.clock.now()
    try:
        flow = _read_flow(request, settings, config, now_s=int(now.timestamp()))
        user_id, token_value = _complete(request, context, config, flow)
    except _Refused as refused:
        return _failure(request, settings, refused)
    log.info("oidc: user %s signed in through %s", user_id, config.issuer)
    response = RedirectResponse(flow.next_path, status_code=303)
    set_session_cookie(response, settings, token_value)
    _clear_flow(response, settings)
    return response


def _complete(request: Request, context: Context, config: _Config, flow: _Flow) -> tuple[int, str]:
    """The callback's work once the flow cookie is read; returns (user id, new session token)."""
    query = request.query_params
    if not hmac.compare_digest(query.get("state", "").encode(), flow.state.encode()):
        raise _Refused(
            400, "the sign-in answer does not belong to this browser's sign-in (state mismatch); start again"
        )
    # RFC 9207: when the provider names itself in the answer, it must be the provider we asked.
    if "iss" in query and query["iss"].rstrip("/") != config.issuer:
        raise _Refused(400, "the sign-in answer came from another identity provider; start again")
    if "error" in query:
        error = query["error"] if _ERROR_CODE.match(query["error"]) else "unknown_error"
        raise _Refused(
            401, f"the identity provider refused the sign-in ({error}); start again or ask an admin"
        )
    code = query.get("code")
    if not code:
        raise _Refused(400, "the sign-in answer carries no authorization code; start again")
    now = context.clock.now()
    now_s = int(now.timestamp())
    with _client(config) as client:
        metadata = _discover(client, config)
        if metadata.get("authorization_response_iss_parameter_supported") is True and "iss" not in query:
            raise _Refused(400, "the sign-in answer does not name its identity provider (iss); start again")
        try:
            token = client.fetch_token(
                metadata["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=flow.verifier,
            )
        except OAuthError as exc:
            error = exc.error if isinstance(exc.error, str) and _ERROR_CODE.match(exc.error) else "error"
            log.warning("oidc: token exchange at %s refused: %s", config.issuer, error)
            raise _Refused(
                401, f"the identity provider refused to redeem the sign-in ({error}); start again"
            ) from None
        except _PROVIDER_ERRORS as exc:
            raise _unreachable(config, "token exchange", exc) from None
        claims = _verified_id_token(client, config, metadata, dict(token), flow=flow, now_s=now_s)
        claims = _with_userinfo(client, config, metadata, claims)
    settings = context.settings
    try:
        with context.db.session() as session:
            org = store.get_org(session)
            if org is None:
                raise AuthenticationError(
                    "the organization does not exist yet; start MeshClaw with `meshclaw up`"
                )
            user = user_for_sign_in(
                session,
                org_id=org.id,
                claims=SignInClaims.from_claims(config.issuer, claims),
                auto_create=settings.oidc_auto_create_users,
                now=now,
            )
            old = request.cookies.get(SESSION_COOKIE)
            if old:
                end_session(session, old)
            new = start_session(
                session,
                user,
                ttl=timedelta(hours=settings.session_ttl_hours),
                now=now,
                user_agent=request.headers.get("user-agent"),
            )
            return user.id, new.token
    except MeshclawError as exc:
        log.warning("oidc: sign-in through %s refused: %s", config.issuer, exc.message)
        raise _Refused(403 if exc.status == 401 else exc.status, exc.message) from None
