"""HTTP Digest (RFC 7616, MD5, qop=auth) for ODK Collect.

Nonces are signed (any worker can check one without shared state) and unique; each use is
recorded in the database with its nonce count, so a captured `Authorization` header
cannot be sent again (replay), only answered anew with a higher `nc`, as RFC 7616 asks.
RFC 2069 mode (no `qop`, hence no `nc`) is refused for the same reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

NONCE_LIFETIME_S = 300
#: How often (seconds, per process) expired nonce records are deleted.
CLEAN_UP_EVERY_S = 60
_PARAM = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^,\s]*)')
_NC = re.compile(r"[0-9a-fA-F]{8}")
_last_clean_up = 0.0


def realm() -> str:
    return settings.OPENROSA_REALM


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def ha1_for(username: str, password: str) -> str:
    return _md5(f"{username}:{realm()}:{password}")


def _sign(text: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()[:32]


def make_nonce(now: float | None = None) -> str:
    """`base64(issued:random:signature)`: unique even for two challenges in one second."""
    stamp = str(int(now if now is not None else time.time()))
    body = f"{stamp}:{secrets.token_hex(8)}"
    return base64.b64encode(f"{body}:{_sign(body)}".encode()).decode()


def nonce_state(nonce: str, now: float | None = None) -> str:
    """`ok`, `stale` (ours but expired, or of the older format without a random part) or
    `bad` (not ours)."""
    try:
        parts = base64.b64decode(nonce.encode(), validate=True).decode().split(":")
        issued = int(parts[0])
    except (ValueError, UnicodeDecodeError):
        return "bad"
    if len(parts) not in (2, 3) or not hmac.compare_digest(parts[-1], _sign(":".join(parts[:-1]))):
        return "bad"
    if len(parts) == 2:  # signed by Cradle before nonces were unique: ask for a new one
        return "stale"
    age = (now if now is not None else time.time()) - issued
    return "ok" if 0 <= age <= NONCE_LIFETIME_S else "stale"


def challenge(stale: bool = False) -> str:
    parts = [
        f'realm="{realm()}"',
        'qop="auth"',
        "algorithm=MD5",
        f'nonce="{make_nonce()}"',
        f'opaque="{_md5(realm())}"',
    ]
    if stale:
        parts.append("stale=true")
    return "Digest " + ", ".join(parts)


def parse_header(value: str) -> dict[str, str]:
    params = {}
    for key, raw in _PARAM.findall(value):
        if raw.startswith('"'):
            raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        params[key.lower()] = raw
    return params


def same_target(digest_uri: str, request_uri: str) -> bool:
    """Whether the Digest `uri` names the request's own target. Compared decoded, so that
    `/%66ormList` signed as sent matches `/formList` as the framework reports it."""

    def decoded(uri: str) -> tuple[str, str]:
        parts = urlsplit(uri)
        return unquote(parts.path), unquote(parts.query)

    return decoded(digest_uri) == decoded(request_uri)


@dataclass(frozen=True)
class DigestResult:
    user: AbstractBaseUser | None
    stale: bool = False
    username: str | None = None
    replayed: bool = False


def verify(header: str, method: str, request_uri: str) -> DigestResult:
    """Check a `Digest ...` Authorization header against the stored HA1, and that its
    nonce count was not used before."""
    from server.accounts.models import DigestCredential

    params = parse_header(header)
    username = params.get("username", "")
    needed = ("username", "nonce", "uri", "response", "qop", "nc", "cnonce")
    if not all(params.get(k) for k in needed) or params.get("realm") != realm():
        return DigestResult(None, username=username or None)
    if params["qop"] != "auth" or not _NC.fullmatch(params["nc"]):
        return DigestResult(None, username=username)
    if not same_target(params["uri"], request_uri):
        return DigestResult(None, username=username)
    state = nonce_state(params["nonce"])
    if state == "bad":
        return DigestResult(None, username=username)
    try:
        # One query: the credential, its user and the user's role (read next by the scope).
        cred = DigestCredential.objects.select_related("user__cradle_profile").get(
            user__username=username, user__is_active=True, realm=realm()
        )
    except DigestCredential.DoesNotExist:
        return DigestResult(None, username=username)
    user = cred.user
    if not user.has_usable_password():
        return DigestResult(None, username=username)
    ha2 = _md5(f"{method}:{params['uri']}")
    expected = _md5(f"{cred.ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
    if not hmac.compare_digest(expected, params["response"].lower()):
        return DigestResult(None, username=username)
    if state == "stale":
        return DigestResult(None, stale=True, username=username)
    if not record_use(params["nonce"], int(params["nc"], 16)):
        return DigestResult(None, username=username, replayed=True)
    return DigestResult(user, username=username)


def record_use(nonce: str, nc: int, now: float | None = None) -> bool:
    """Record one use of a valid nonce; False when `nc` is not above every count seen for
    it (a replay). Atomic across processes: the insert relies on the primary key, the
    update on its `nc < new` condition."""
    from server.accounts.models import DigestNonce

    now = now if now is not None else time.time()
    issued = int(base64.b64decode(nonce).decode().split(":")[0])
    expires = datetime.fromtimestamp(issued + NONCE_LIFETIME_S, tz=UTC)
    try:
        with transaction.atomic():
            DigestNonce.objects.create(nonce=nonce, nc=nc, expires_at=expires)
    except IntegrityError:
        return DigestNonce.objects.filter(nonce=nonce, nc__lt=nc).update(nc=nc) == 1
    _clean_up_expired(now)
    return True


def _clean_up_expired(now: float) -> None:
    """Delete expired nonce records, at most once a minute per process: an expired nonce
    is refused as stale before its record would be read."""
    global _last_clean_up
    if now - _last_clean_up < CLEAN_UP_EVERY_S:
        return
    _last_clean_up = now
    from server.accounts.models import DigestNonce

    DigestNonce.objects.filter(expires_at__lt=datetime.fromtimestamp(now, tz=UTC)).delete()


class DigestCredentialRecorder:
    """A password "validator" that never refuses anything: Django calls `password_changed`
    on every configured validator whenever a user's password is set and saved, which is
    the one moment the plain password exists. That is when the Digest HA1 is recorded."""

    def validate(self, password: str, user: AbstractBaseUser | None = None) -> None:
        return None

    def password_changed(self, password: str, user: AbstractBaseUser | None = None) -> None:
        from server.accounts.models import DigestCredential

        if user is None or user.pk is None:
            return
        DigestCredential.objects.update_or_create(
            user=user,
            defaults={"realm": realm(), "ha1": ha1_for(user.get_username(), password)},
        )

    def get_help_text(self) -> str:
        return ""
