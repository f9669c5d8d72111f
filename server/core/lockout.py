"""What a locked-out client gets (django-axes calls this): a 429 in the client's language,
OpenRosa XML for ODK Collect, JSON for the API, text for pages."""

from __future__ import annotations

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
