"""Server-rendered pages. Reads go through selectors; every write is a button that calls the REST
API (see static/frontend/app.js), except sign-up, which calls accounts.services directly."""

import dataclasses
import functools
import hashlib
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.html import escape
from django.utils.http import http_date, quote_etag, url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services as account_services
from accounts.models import User
from accounts.selectors import is_host_member
from events import selectors as event_selectors
from events.models import Session
from frontend import page_cache, selectors
from frontend.context import nav_roles
from frontend.forms import SessionFilterForm, SignupForm
from frontend.player import Player, page_policy, player_for
from frontend.throttles import retry_after
from notices import selectors as notice_selectors
from project.csp import header_name as csp_header_name
from project.errors import ApplicationError
from project.i18n import normalize_language
from streams.models import Stream
from streams.viewer_ids import viewer_cookie_issue

LOGIN_URL = "/accounts/login/"
HOME_PAGE_SIZE = 30


def home(request: HttpRequest) -> HttpResponse:
    copy = _visitor_copy(request)
    if copy is not None:
        return copy
    # The host is part of every key: with SITE_URL unset, links in the page follow the address asked.
    key = (request.get_host(), tuple(sorted(request.GET.lists())))
    public, _found = page_cache.fragment("home", key, lambda: _home_public(request), local=_fan_only(request))
    assert public is not None  # noqa: S101 - the home page is public, its fragment always shared
    mine = selectors.fan_registrations_among(user=request.user, session_ids=public.data["session_ids"])

    def fill(html: str) -> str:
        for registration in mine:
            tag = _my_card_tag(registration.status, translation.get_language())
            position = str(registration.waitlist_position)
            html = html.replace(f"<!--mine:{registration.session_id}-->", tag.replace(_POSITION, position), 1)
        return html

    personal = tuple((r.id, r.status, r.waitlist_position) for r in mine)
    return _page(request, "frontend/home.html", {}, public, personal, fill)


_POSITION = str(page_cache.POSITION_STAND_IN)


@functools.lru_cache(maxsize=64)
def _my_card_tag(status: str, language: str | None) -> str:
    """A fan's tag on a session card, rendered once per state and language with a stand-in for the
    waitlist position (a rush's waitlist holds thousands of positions, more than any cache of them)."""
    context = {"registration": {"status": status, "waitlist_position": page_cache.POSITION_STAND_IN}}
    return render_to_string("frontend/includes/my_card_tag.html", context)


def _fan_only(request: HttpRequest) -> bool:
    """A signed-in fan who organizes and hosts nothing: their page's shared part may be this
    process's copy of the last half of PAGE_CACHE_SECONDS (``page_cache.fragment``'s ``local``),
    as a visitor's is. Organizers and hosts, who make the changes, see each one at once."""
    return request.user.is_authenticated and not any(nav_roles(request.user))


def _home_public(request: HttpRequest) -> page_cache.Fragment:
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
    page = selectors.home_page(query=query, page_number=request.GET.get("page"), per_page=HOME_PAGE_SIZE)
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "total": page.paginator.count,
        "query": query,
        "filtered": any(v for k, v in request.GET.items() if k != "page"),
        "page_query": params.urlencode(),
    }
    html = render_to_string("frontend/includes/home_list.html", context)
    return page_cache.new_fragment(html, session_ids=[card.session.id for card in page.object_list])


def session_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    copy = _visitor_copy(request)
    if copy is not None:
        return copy
    seats_key = selectors.seats_now_key(session_id)
    # A signed-in fan's seat figures come fresh with their place (one query), so the shared part
    # may be this process's copy of the last half second; a visitor's come with the shared part.
    also = () if request.user.is_authenticated else (seats_key,)
    key = (request.get_host(), session_id)
    public, found = page_cache.fragment(
        "session", key, lambda: _session_public(session_id), also=also, local=_fan_only(request)
    )  # fmt: skip
    if public is None:  # not public (a draft): only its organizers and hosts, rendered for them alone
        public = _session_public(session_id, user=request.user)
    registration, seats_now = selectors.fan_place_and_seats(user=request.user, session_id=session_id)
    session = selectors.with_current_seats(
        public.data["session"], registration=registration, shared=seats_now or found.get(seats_key)
    )
    window = selectors.registration_window(session=session)

    draw = selectors.draw_of(session=session)
    # The panel is rendered with stand-ins for the fan's registration number and waitlist position,
    # put in per request (``own``): every fan in the same state shares one rendering of it.
    stand_in, own = _stand_in_place(registration)

    def fill(html: str) -> str:
        panel_context = {
            "session": session,
            "registration": stand_in,
            "window": window,
            "draw": draw,
            "party_sizes": range(1, session.max_party_size + 1),
        }
        panel = render_to_string("frontend/includes/registration_panel.html", panel_context, request=request)
        return html.replace("<!--registration-panel-->", panel, 1)

    mine = (
        (stand_in.status, stand_in.party_size, stand_in.offer_expires_at, stand_in.entry_ref)
        if stand_in
        else None
    )  # fmt: skip
    drawn = (draw["status"], draw["entries"], draw["seed_sha256"]) if draw else None
    seats = (session.capacity, session.confirmed_count, session.waitlist_count, session.offered_count)
    personal = (mine, seats, session.waitlist_enabled, window, drawn)
    return _page(request, "frontend/session_detail.html", {"session": session}, public, personal, fill, own)


def _stand_in_place(place: selectors.FanPlace | None) -> tuple[selectors.FanPlace | None, dict[str, str]]:
    """The fan's place with stand-ins for what differs from one fan in that state to the next (the
    registration's number, the waitlist position), and what each stand-in is to be replaced with
    in the rendered page."""
    if place is None:
        return None, {}
    own = {str(page_cache.PLACE_ID_STAND_IN): str(place.id)}
    position = None
    if place.waitlist_position is not None:
        position = page_cache.POSITION_STAND_IN
        own[str(position)] = str(place.waitlist_position)
    return dataclasses.replace(place, id=page_cache.PLACE_ID_STAND_IN, waitlist_position=position), own


def _session_public(session_id: int, user: User | AnonymousUser | None = None) -> page_cache.Fragment | None:
    """The shared part of a public session's page; with ``user``, of any session that user may see.
    None (nothing shared) for a session only some may see; 404 for one the visitor may not see."""
    try:
        session = event_selectors.session_get(user=user or AnonymousUser(), session_id=session_id)
    except Session.DoesNotExist as exc:
        if user is None:
            return None
        raise Http404(_("No such session.")) from exc
    try:
        stream = session.stream
    except Session.stream.RelatedObjectDoesNotExist:
        stream = None
    context = {
        "session": session,
        "series": session.series,
        "stream": stream,
        "calendar": selectors.add_to_calendar_links(session=session),
        "moved": session.recently_moved(now=timezone.now()),
    }
    html = render_to_string("frontend/includes/session_public.html", context)
    return page_cache.new_fragment(html, session=session)


def _page(
    request: HttpRequest,
    template: str,
    context: dict,
    public: page_cache.Fragment,
    personal: object,
    fill: Callable[[str], str],
    own: dict[str, str] | None = None,
) -> HttpResponse:
    """A page made of a shared fragment and the visitor's own part (``personal``: everything of
    theirs the page shows; ``fill`` puts it into the fragment's markers; ``own``: stand-ins that
    ``fill`` put in, and what each stands for), rendered only when it must be:

    - a reload of an unchanged page is answered 304: the ETag covers the fragment, the language,
      who is signed in, their own part, their bell and workspace links and their CSRF cookie (a 304
      keeps the page's form tokens, which stay valid while that cookie does);
    - the layout (the page without the visitor's own part) rendered in this process from the same
      inputs is reused (``page_cache.rendered_pages``), and so is the page filled from it with the
      same own part (``page_cache.filled_pages``). For a signed-in fan those inputs are their
      workspace links, not who they are: their name, their bell's count and a freshly masked CSRF
      token are put into the reused page per request, so every fan shares one rendering of the
      layout, and a fan with a place of their own costs only its filling in (a rush leaves most
      fans who reload holding one).
    """
    user = request.user
    signed_in = user.is_authenticated
    language = translation.get_language()
    nav = (nav_roles(user), notice_selectors.unread_count_as_signed_in(user=user)) if signed_in else None
    state = (
        public.etag,
        language,
        user.pk if signed_in else None,
        personal,
        own,
        request.COOKIES.get(settings.CSRF_COOKIE_NAME),
        nav,
    )
    etag = quote_etag(hashlib.sha256(repr(state).encode()).hexdigest()[:32])
    last_modified = None if signed_in else int(public.built_at)
    if len(messages.get_messages(request)) > 0:  # shown once: rendered afresh, never reused
        page = {**context, "public_html": mark_safe(fill(public.html))}  # noqa: S308 - our own rendering
        response = render(request, template, page)
        response.content = _put_in(response.content.decode(), own)
        return _validated(response, etag, last_modified, signed_in)
    not_modified = get_conditional_response(request, etag=etag, last_modified=last_modified)
    if not_modified is not None:
        return _validated(not_modified, etag, last_modified, signed_in)

    address = request.build_absolute_uri()
    roles = nav[0] if nav else None
    inputs = (template, address, public.etag, language, signed_in, roles)
    body = page_cache.filled_pages.get((inputs, personal))
    if body is None:
        body = fill(_layout(request, template, context, public, inputs))
        page_cache.filled_pages.put((inputs, personal), body)
    stand_ins = dict(own or {})  # the visitor's own part first: their name may hold anything
    if signed_in:
        stand_ins[page_cache.USERNAME_PLACEHOLDER] = escape(user.get_username())
        stand_ins[page_cache.BELL_MARKER] = _bell_badge(nav[1], language)
        stand_ins[page_cache.CSRF_PLACEHOLDER] = get_token(request)
    body = _put_in(body, stand_ins)
    if not signed_in and settings.SESSION_COOKIE_NAME not in request.COOKIES:
        page_cache.visitor_pages.put((address, language), (body, etag, last_modified))
    return _validated(HttpResponse(body), etag, last_modified, signed_in)


def _put_in(body: str, stand_ins: dict[str, str] | None) -> str:
    """The page with each stand-in replaced by what it stands for, in the dict's order."""
    for stand_in, value in (stand_ins or {}).items():
        body = body.replace(stand_in, value)
    return body


def _layout(request: HttpRequest, template: str, context: dict, public: page_cache.Fragment, inputs: tuple) -> str:
    """The page around the visitor's own part, rendered once per ``inputs`` in this process."""
    layout = page_cache.rendered_pages.get(inputs)
    if layout is None:
        page = {**context, "public_html": mark_safe(public.html)}  # noqa: S308 - our own rendering
        if request.user.is_authenticated:
            page.update(user=page_cache.PLACEHOLDER_USER, csrf_token=page_cache.CSRF_PLACEHOLDER)
            page.update(bell_marker=mark_safe(page_cache.BELL_MARKER))  # noqa: S308 - a constant
        layout = render(request, template, page).content.decode()
        page_cache.rendered_pages.put(inputs, layout)
    return layout


@functools.lru_cache(maxsize=256)
def _bell_badge(unread: int, language: str | None) -> str:
    return render_to_string("frontend/includes/bell_badge.html", {"unread_notices": unread})


def _visitor_copy(request: HttpRequest) -> HttpResponse | None:
    """The page this process last sent a visitor for this URL and language, if recent enough
    (``page_cache.visitor_pages``). Signed in, or carrying a message: never."""
    if settings.SESSION_COOKIE_NAME in request.COOKIES or "messages" in request.COOKIES:
        return None
    hit = page_cache.visitor_pages.get((request.build_absolute_uri(), translation.get_language()))
    if hit is None:
        return None
    body, etag, last_modified = hit
    not_modified = get_conditional_response(request, etag=etag, last_modified=last_modified)
    response = _validated(not_modified or HttpResponse(body), etag, last_modified, signed_in=False)
    patch_vary_headers(response, ("Cookie",))
    return response


def _validated(response: HttpResponse, etag: str, last_modified: int | None, signed_in: bool) -> HttpResponse:
    response["ETag"] = etag
    if last_modified is not None:
        response["Last-Modified"] = http_date(last_modified)
    # Stored by the browser but checked with the server each time (a 304 when nothing changed).
    response["Cache-Control"] = "private, no-cache" if signed_in else "no-cache"
    return response


@login_required(login_url=LOGIN_URL)
def my_sessions(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    registrations = selectors.with_calendar_links(selectors.fan_registrations(user=request.user))
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


@csrf_exempt
@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """The switch on every page: saves the choice on the account (signed in) and in a cookie, then
    goes back to the page it was pressed on.

    Without a CSRF token, so that a signed-out visitor's page holds nothing of their own and one
    copy serves everyone (frontend/page_cache.py, nginx's microcache). A forged switch from another
    site can at worst change the language cookie: the session cookie is SameSite=Lax, so a
    cross-site POST never reaches the account's saved language."""
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
            login(request, user, backend="accounts.backends.AccountBackend")
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


@require_http_methods(["GET"])
def verify_email(request: HttpRequest) -> HttpResponse:
    """The page of the emailed verification link: it proves the address (idempotent)."""
    from project.errors import ApplicationError

    try:
        user = account_services.email_verify(token=request.GET.get("token", ""))
    except ApplicationError as exc:
        return render(request, "frontend/verify_email.html", {"error": exc.message}, status=400)
    return render(request, "frontend/verify_email.html", {"verified": user})
