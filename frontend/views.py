"""Server-rendered pages. Reads go through selectors; every write is a button that calls the REST
API (see static/frontend/app.js), except sign-up, which calls accounts.services directly."""

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services as account_services
from accounts.selectors import is_host_member
from events import selectors as event_selectors
from events.models import Session
from frontend import selectors
from frontend.forms import SessionFilterForm, SignupForm
from frontend.player import Player, page_policy, player_for
from frontend.throttles import retry_after
from project.csp import header_name as csp_header_name
from project.errors import ApplicationError
from project.i18n import normalize_language
from streams.models import Stream
from streams.viewer_ids import viewer_cookie_issue

LOGIN_URL = "/accounts/login/"
HOME_PAGE_SIZE = 30


def home(request: HttpRequest) -> HttpResponse:
    cities = list(event_selectors.city_list())
    form = SessionFilterForm(request.GET or None, cities=cities)
    form.is_valid()  # Invalid fields are shown as errors and left out of the query.
    data = getattr(form, "cleaned_data", {})
    query = selectors.HomeQuery(
        city=data.get("city"),
        kind=data.get("kind") or None,
        q=(data.get("q") or "").strip() or None,
        date_from=data.get("date_from"),
        date_to=data.get("date_to"),
        near=data.get("near"),
    )
    cards = selectors.home_sessions(user=request.user, query=query)
    page = Paginator(cards, HOME_PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "frontend/home.html",
        {
            "form": form,
            "page": page,
            "total": len(cards),
            "query": query,
            "filtered": any(v for k, v in request.GET.items() if k != "page"),
            "page_query": params.urlencode(),
        },
    )


def session_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    try:
        session = event_selectors.session_get(user=request.user, session_id=session_id)
    except Session.DoesNotExist as exc:
        raise Http404(_("No such session.")) from exc
    try:
        stream = session.stream
    except Session.stream.RelatedObjectDoesNotExist:
        stream = None
    return render(
        request,
        "frontend/session_detail.html",
        {
            "session": session,
            "series": session.series,
            "stream": stream,
            "registration": selectors.fan_registration_for(user=request.user, session=session),
            "window": selectors.registration_window(session=session),
            "calendar": selectors.add_to_calendar_links(session=session),
            "moved": session.recently_moved(now=timezone.now()),
        },
    )


@login_required(login_url=LOGIN_URL)
def my_sessions(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    registrations = selectors.with_calendar_links(list(selectors.fan_registrations(user=request.user)))
    split = selectors.split_my_sessions(registrations, now=now)
    return render(
        request,
        "frontend/my_sessions.html",
        {"upcoming": split.upcoming, "past": split.past, "cancelled": split.cancelled},
    )


def _too_many(request: HttpRequest, template: str, context: dict, wait: int) -> HttpResponse:
    context = {
        **context,
        "throttled": _("Too many attempts from your network. Please try again in %(wait)s seconds.") % {"wait": wait},
    }
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(wait)
    return response


class LoginView(auth_views.LoginView):
    """Django's login page, with the API's ``login`` throttle on attempts."""

    template_name = "frontend/login.html"
    next_page = "my-sessions"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        wait = retry_after(request, scope="login")
        if wait is not None:
            return _too_many(request, self.template_name, self.get_context_data(form=self.get_form()), wait)
        return super().post(request, *args, **kwargs)

    def get_default_redirect_url(self):
        """Hosts land on the sessions they host; everyone else on their own sessions."""
        user = self.request.user
        if is_host_member(user=user) or event_selectors.hosts_any_session(user=user):
            return reverse("host-home")
        return super().get_default_redirect_url()

    def form_valid(self, form):
        """A language chosen with the switch before signing in is the person's latest choice: it
        goes onto the account. Without one, the account's saved language follows the person here."""
        response = super().form_valid(form)
        user = form.get_user()
        chosen = normalize_language(self.request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
        if chosen and chosen != user.language:
            account_services.user_language_set(user=user, language=chosen)
        if user.language:
            _remember_language(response, user.language)
        return response


def _remember_language(response: HttpResponse, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
    )


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """The switch on every page: saves the choice on the account (signed in) and in a cookie, then
    goes back to the page it was pressed on."""
    next_url = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("home")
    language = normalize_language(request.POST.get("language"))
    response = redirect(next_url)
    if language is None:
        return response
    if request.user.is_authenticated:
        account_services.user_language_set(user=request.user, language=language)
    _remember_language(response, language)
    return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    if request.user.is_authenticated:
        return redirect(next_url or "home")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        wait = retry_after(request, scope="signup")
        if wait is not None:
            return _too_many(request, "frontend/signup.html", {"form": SignupForm(), "next": next_url}, wait)
    if request.method == "POST" and form.is_valid():
        try:
            user = account_services.user_signup(**form.cleaned_data, language=translation.get_language() or "")
        except ApplicationError as exc:
            for field, messages in (exc.fields or {"__all__": [exc.message]}).items():
                for message in messages:
                    form.add_error(field if field in form.fields else None, message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(next_url or "my-sessions")
    return render(request, "frontend/signup.html", {"form": form, "next": next_url})


def _stream_or_404(request: HttpRequest, stream_id: int) -> Stream:
    try:
        return selectors.stream_for_page(user=request.user, stream_id=stream_id)
    except Stream.DoesNotExist as exc:
        raise Http404(_("No such stream.")) from exc


def stream_detail(request: HttpRequest, stream_id: int) -> HttpResponse:
    stream = _stream_or_404(request, stream_id)
    may_watch = selectors.may_watch_stream(user=request.user, stream=stream)
    player = player_for(stream.playback_url) if may_watch else Player("none")
    response = render(
        request,
        "frontend/stream_detail.html",
        {
            "stream": stream,
            "session": stream.session,
            "may_watch": may_watch,
            "player": player,
            "figures": selectors.live_figures(stream=stream),
            "is_host": selectors.can_watch_host_dashboard(user=request.user, stream=stream),
            "ws_path": f"/ws/streams/{stream.id}/",
        },
    )
    response[csp_header_name()] = page_policy(player)
    if may_watch:
        viewer_cookie_issue(request=request, response=response)  # who this browser is, for unique viewers
    return response


def stream_host(request: HttpRequest, stream_id: int) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect(f"{LOGIN_URL}?next={reverse('stream-host', args=[stream_id])}")
    stream = _stream_or_404(request, stream_id)
    if not selectors.can_watch_host_dashboard(user=request.user, stream=stream):
        raise PermissionDenied(_("Only the stream's hosts and organizers see its dashboard."))
    return render(
        request,
        "frontend/stream_host.html",
        {
            "stream": stream,
            "figures": selectors.live_figures(stream=stream),
            "seats": selectors.stream_seat_figures(stream=stream),
            "external": selectors.stream_external_figures(stream=stream),
            "ws_path": f"/ws/streams/{stream.id}/host/",
        },
    )
