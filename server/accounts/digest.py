"""HTTP Digest (RFC 7616, MD5, qop=auth) for ODK Collect, with stateless signed nonces."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

NONCE_LIFETIME_S = 300
_PARAM = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^,\s]*)')


def realm() -> str:
    return settings.OPENROSA_REALM


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def ha1_for(username: str, password: str) -> str:
    return _md5(f"{username}:{realm()}:{password}")


def make_nonce(now: float | None = None) -> str:
    stamp = str(int(now if now is not None else time.time()))
    sig = hmac.new(settings.SECRET_KEY.encode(), stamp.encode(), hashlib.sha256).hexdigest()[:32]
    return base64.b64encode(f"{stamp}:{sig}".encode()).decode()


def nonce_state(nonce: str, now: float | None = None) -> str:
    """`ok`, `stale` (ours but expired) or `bad`."""
    try:
        stamp, sig = base64.b64decode(nonce.encode(), validate=True).decode().split(":", 1)
        issued = int(stamp)
    except (ValueError, UnicodeDecodeError):
        return "bad"
    expected = hmac.new(settings.SECRET_KEY.encode(), stamp.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(sig, expected[:32]):
        return "bad"
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


@dataclass(frozen=True)
class DigestResult:
    user: AbstractBaseUser | None
    stale: bool = False
    username: str | None = None


def verify(header: str, method: str, request_uri: str) -> DigestResult:
    """Check a `Digest ...` Authorization header against the stored HA1."""
    from server.accounts.models import DigestCredential

    params = parse_header(header)
    username = params.get("username", "")
    needed = ("username", "nonce", "uri", "response")
    if not all(params.get(k) for k in needed) or params.get("realm") != realm():
        return DigestResult(None, username=username or None)
    if params["uri"] != request_uri:
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
    ha2 = _md5(f"{method}:{params['uri']}")
    qop = params.get("qop")
    if qop == "auth":
        nc, cnonce = params.get("nc", ""), params.get("cnonce", "")
        expected = _md5(f"{cred.ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    elif qop is None:
        expected = _md5(f"{cred.ha1}:{params['nonce']}:{ha2}")
    else:
        return DigestResult(None, username=username)
    if not hmac.compare_digest(expected, params["response"].lower()):
        return DigestResult(None, username=username)
    if state == "stale":
        return DigestResult(None, stale=True, username=username)
    return DigestResult(user, username=username)


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
