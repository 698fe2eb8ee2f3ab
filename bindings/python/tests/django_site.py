"""A one-file Django project for the tests (Django's test client and gunicorn)."""

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    SECRET_KEY="floodgate-tests",
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["floodgate.django.RateLimitMiddleware"],
    FLOODGATE_LIMITER=f"{__name__}.limiter",
)
django.setup()

from django.http import Http404, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

from floodgate.django import RateLimiter  # noqa: E402

limiter = RateLimiter(default_limits="2/minute")


def default(request):
    return HttpResponse("default")


@limiter.exempt
def health(request):
    return HttpResponse("ok")


@limiter.limit("3/minute;100/hour")
def hello(request):
    return HttpResponse("hello")


@limiter.limit("1/minute", key_func=lambda request: request.headers.get("x-api-key"), methods=["POST"])
def keyed(request):
    return JsonResponse({"method": request.method})


@limiter.limit("2/minute", deduct_when=lambda response: response.status_code >= 400)
def login(request):
    if request.GET.get("ok") != "true":
        raise Http404("no such user")
    return HttpResponse("welcome")


@limiter.limit("2/minute")
async def slow(request):
    return HttpResponse("async")


@limiter.limit("1/3 seconds")
def tick(request):
    return HttpResponse("tick")


urlpatterns = [
    path("tick", tick),
    path("default", default),
    path("health", health),
    path("hello", hello),
    path("keyed", keyed),
    path("login", login),
    path("async", slow),
]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
