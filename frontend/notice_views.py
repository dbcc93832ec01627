"""Pages of the notices: a fan's list (the bell's target) and the one-click unsubscribe page."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from notices import selectors, services
from project.errors import ApplicationError

LOGIN_URL = "/accounts/login/"
PAGE_SIZE = 50


@login_required(login_url=LOGIN_URL)
def notices_page(request: HttpRequest) -> HttpResponse:
    notices = list(selectors.notices_of(user=request.user).select_related("session")[:PAGE_SIZE])
    return render(request, "frontend/notices.html", {"notices": notices})


@login_required(login_url=LOGIN_URL)
@require_POST
def notices_mark_read(request: HttpRequest) -> HttpResponse:
    services.notices_mark_read(user=request.user)
    return redirect("notices-page")


@csrf_exempt  # mail providers POST here without cookies (RFC 8058); the signed token is the credential
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (a link checker opening the link changes nothing); POST - the page's button or the
    mail provider's one-click ``List-Unsubscribe=One-Click`` - turns that kind of email off."""
    try:
        if request.method == "POST":
            user, field = services.unsubscribe(token=token)
            done = True
        else:
            user, field = services.unsubscribe_target(token=token)
            done = False
    except ApplicationError as error:
        raise Http404 from error
    return render(request, "frontend/unsubscribe.html", {"field": field, "done": done, "fan": user})
