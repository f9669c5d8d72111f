"""Login throttling (django-axes) as Cradle needs it: which address a client is, and what a
locked-out client gets (a 429 in the client's language: OpenRosa XML for ODK Collect, JSON
for the API, text for pages)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

MESSAGE = "登录失败次数太多，请稍后再试。 Too many failed logins; try again later."


def lockout_response(request: HttpRequest, response=None, credentials=None, *args, **kwargs):
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    if request.path.startswith("/api/"):
        reply: HttpResponse = JsonResponse(
            {"error": "locked_out", "message": MESSAGE, "detail": None}, status=429
        )
    elif request.path.startswith(("/admin/", "/accounts/", "/dashboard")):
        reply = HttpResponse(MESSAGE, status=429, content_type="text/plain; charset=utf-8")
    else:
        from server.openrosa.responses import message_response

        reply = message_response(MESSAGE, 429)
    reply["Retry-After"] = retry_after
    return reply


@lru_cache(maxsize=8)
def _networks(
    proxies: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p) for p in proxies)


def _is_trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request: HttpRequest) -> str | None:
    """The address failed logins are counted against.

    The peer's own address, unless it is a trusted proxy (`DJANGO_BEHIND_TLS_PROXY` on and
    the address in `DJANGO_TRUSTED_PROXIES`); then the right-most `X-Forwarded-For` entry
    that is not itself a trusted proxy, which is the client as our proxy saw it (entries
    further left were written by the client and prove nothing).
    """
    peer = request.META.get("REMOTE_ADDR")
    if not settings.BEHIND_TLS_PROXY or not peer or not _is_trusted_proxy(peer):
        return peer
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _is_trusted_proxy(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # the proxy wrote something that is not an address
    return peer
