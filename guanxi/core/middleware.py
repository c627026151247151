from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from guanxi.core import context


class RequestContextMiddleware:
    """Give each request an id (echoed as X-Request-ID) and mark writes as coming from the UI or API."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if incoming.isalnum() and len(incoming) <= 64 else context.new_request_id()
        source = "api" if request.path.startswith("/api/") else "ui"
        with context.write_context(source, request_id):
            request.request_id = request_id  # type: ignore[attr-defined]
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
