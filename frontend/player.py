"""What the stream page plays: an HLS stream in its own player, another platform's embed, or a link.

HLS plays through hls.js (vendored, frontend/static/frontend/vendor/hls/) where the browser has no
native HLS. The page's Content Security Policy is the site's plus exactly the origins the player needs
(the HLS host for fetches and media, the platform's player for the frame)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.utils.translation import gettext_lazy as _

from project.csp import site_policy

PLAYER_LIBRARY_VERSION = "hls.js 1.6.15"

# Platforms by their site, named as their viewers know them.
PLATFORM_NAMES = {
    "douyin.com": _("Douyin"),
    "kuaishou.com": _("Kuaishou"),
    "weibo.com": _("Weibo"),
    "weibo.cn": _("Weibo"),
    "channels.weixin.qq.com": _("WeChat Channels"),
    "xiaohongshu.com": _("Xiaohongshu"),
    "bilibili.com": _("Bilibili"),
    "youtube.com": "YouTube",
}

_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{6,20}$")
_BILIBILI_ROOM = re.compile(r"^/(\d{1,12})/?$")
_BILIBILI_VIDEO = re.compile(r"^/video/(BV[A-Za-z0-9]{8,12})/?$")


@dataclass(frozen=True)
class Player:
    kind: str  # "hls", "embed", "link" or "none"
    src: str = ""  # the HLS playlist, the embed's URL, or the link
    platform: Any = ""  # the other platform's name for "embed" and "link" (a lazy translation)

    @property
    def origin(self) -> str:
        parts = urlsplit(self.src)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def _youtube(host: str, path: str, query: str) -> str | None:
    video = ""
    if host in ("youtu.be",):
        video = path.strip("/")
    elif host.endswith("youtube.com"):
        if path == "/watch":
            video = (parse_qs(query).get("v") or [""])[0]
        elif path.startswith(("/live/", "/embed/")):
            video = path.split("/")[2]
    return f"https://www.youtube-nocookie.com/embed/{video}" if _YOUTUBE_ID.match(video or "") else None


def _bilibili(host: str, path: str) -> str | None:
    if host == "live.bilibili.com" and (room := _BILIBILI_ROOM.match(path)):
        return f"https://www.bilibili.com/blackboard/live/live-activity-player.html?cid={room.group(1)}&quality=0"
    if host.endswith("bilibili.com") and (video := _BILIBILI_VIDEO.match(path)):
        return f"https://player.bilibili.com/player.html?bvid={video.group(1)}&autoplay=0"
    return None


def player_for(url: str) -> Player:
    """HLS for a ``.m3u8`` playlist; an embed for platforms that offer one (YouTube, Bilibili); a link
    for the others (Douyin, Weibo, WeChat Channels... have no embeddable live player)."""
    if not url:
        return Player("none")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.path.lower().endswith(".m3u8"):
        return Player("hls", url)
    embed = _youtube(host, parts.path, parts.query)
    if embed:
        return Player("embed", embed, "YouTube")
    embed = _bilibili(host, parts.path)
    if embed:
        return Player("embed", embed, PLATFORM_NAMES["bilibili.com"])
    return Player("link", url, platform_name(host))


def platform_name(host: str) -> Any:
    for domain, name in PLATFORM_NAMES.items():
        if host == domain or host.endswith("." + domain):
            return name
    return host.removeprefix("www.") or url_host_unknown()


def url_host_unknown() -> Any:
    return _("another site")


def page_policy(player: Player) -> str:
    """The site's policy, opened for this page's player only."""
    origin = player.origin
    if player.kind == "hls" and origin:
        extra = {
            "connect-src": origin,
            "media-src": f"'self' blob: {origin}",
            "worker-src": "'self' blob:",
        }
    elif player.kind == "embed" and origin:
        extra = {"frame-src": origin}
    else:
        return site_policy()
    directives = []
    for directive in site_policy().split("; "):
        name = directive.split(" ", 1)[0]
        if name in extra and name == "connect-src":
            directive = f"{directive} {extra.pop(name)}"
        directives.append(directive)
    directives += [f"{name} {value}" for name, value in extra.items()]
    return "; ".join(directives)
