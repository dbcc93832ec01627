from django.shortcuts import render

from events import selectors as event_selectors


def home(request):
    sessions = event_selectors.session_list(user=request.user)[:200]
    return render(request, "frontend/home.html", {"sessions": sessions})
