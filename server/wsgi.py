import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
django_application = get_wsgi_application()


def _max_request_bytes() -> int:
    from django.conf import settings

    return settings.CRADLE_LIMITS["MAX_REQUEST_BYTES"]


from server.core.chunked import ChunkedBodyMiddleware  # noqa: E402 - after Django is set up

application = ChunkedBodyMiddleware(django_application, _max_request_bytes)
