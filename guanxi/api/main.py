"""The Ninja API object at /api/v1: auth, error format, and every module's routers."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from guanxi.api.auth import auth
from guanxi.api.problems import from_error, from_ninja_validation, problem
from guanxi.core.errors import GuanxiError

api = NinjaAPI(
    title="Guanxi API",
    version="1",
    description="REST API of Guanxi (关系) CRM. Keyset pagination, If-Match concurrency, problem+json errors.",
    urls_namespace="api",
    auth=auth,
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(GuanxiError)
def _guanxi_error(request: HttpRequest, exc: GuanxiError) -> HttpResponse:
    return from_error(request, exc)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return from_ninja_validation(request, exc.errors)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(
        request,
        401,
        "unauthenticated",
        "Sign in or send an API token",
        headers={"WWW-Authenticate": 'Bearer realm="guanxi"'},
    )


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(request, 404, "not-found", "Not found")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem(request, exc.status_code, "http-error", str(exc.message))


def mount_routers() -> None:
    """Add each module's routers; called once from urls.py after apps are ready."""
    from guanxi.api.crud import build_router
    from guanxi.core.api import router as core_router
    from guanxi.core.api_jobs import exports_router
    from guanxi.core.api_jobs import router as jobs_router
    from guanxi.core.imports.api import router as imports_router
    from guanxi.core.registry import resources
    from guanxi.identity.api import router as identity_router

    # Hand-written routes first so their fixed paths (e.g. /tokens/{id}/revoke) are matched.
    api.add_router("", identity_router)
    api.add_router("", core_router)
    from guanxi.core.search.api import router as search_router

    api.add_router("", search_router)
    api.add_router("", imports_router)
    from guanxi.customers.api_duplicates import router as duplicates_router

    api.add_router("/duplicates", duplicates_router)
    api.add_router("", jobs_router)
    api.add_router("", exports_router)
    from guanxi.activities.api import router as notifications_router

    api.add_router("", notifications_router)
    for resource in resources():
        if resource.api:
            api.add_router(f"/{resource.path}", build_router(resource))
