"""What the stream page plays for a playback URL, and the page's policy opened for exactly that."""

import pytest
from django.test import Client

from frontend.player import page_policy, player_for
from tests.factories import StreamFactory


@pytest.mark.parametrize(
    ("url", "kind", "src"),
    [
        ("https://cdn.example.com/live/grotto/index.m3u8", "hls", "https://cdn.example.com/live/grotto/index.m3u8"),
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "embed", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
        ("https://youtu.be/dQw4w9WgXcQ", "embed", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
        ("https://live.bilibili.com/21452505", "embed",
         "https://www.bilibili.com/blackboard/live/live-activity-player.html?cid=21452505&quality=0"),
        ("https://www.bilibili.com/video/BV1GJ411x7h7", "embed",
         "https://player.bilibili.com/player.html?bvid=BV1GJ411x7h7&autoplay=0"),
        ("https://live.douyin.com/123456789", "link", "https://live.douyin.com/123456789"),
        ("https://www.youtube.com/watch?v=<script>", "link", "https://www.youtube.com/watch?v=<script>"),
        ("", "none", ""),
    ],
)  # fmt: skip
def test_player_for_playback_url(url, kind, src):
    player = player_for(url)
    assert (player.kind, player.src) == (kind, src)


def test_page_policy_opens_only_the_players_origin():
    hls = page_policy(player_for("https://cdn.example.com/a.m3u8"))
    assert "connect-src 'self'" in hls and "https://cdn.example.com" in hls
    assert "media-src 'self' blob: https://cdn.example.com" in hls
    assert "frame-src" not in hls and "'unsafe-inline'" not in hls
    embed = page_policy(player_for("https://live.bilibili.com/1"))
    assert "frame-src https://www.bilibili.com" in embed and "media-src" not in embed
    assert "frame-src" not in page_policy(player_for("https://live.douyin.com/1"))


@pytest.mark.django_db
def test_stream_page_embeds_a_platform_player_or_links_to_a_platform_without_one():
    embedded = StreamFactory(status="live", playback_url="https://live.bilibili.com/21452505")
    body = Client(HTTP_ACCEPT_LANGUAGE="en").get(f"/streams/{embedded.id}/").content.decode()
    assert 'data-embed-src="https://www.bilibili.com/blackboard/live/live-activity-player.html?cid=21452505' in body
    linked = StreamFactory(status="live", playback_url="https://live.douyin.com/123")
    body = Client(HTTP_ACCEPT_LANGUAGE="en").get(f"/streams/{linked.id}/").content.decode()
    assert 'href="https://live.douyin.com/123"' in body and "Watch on Douyin" in body
    chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-CN").get(f"/streams/{linked.id}/").content.decode()
    assert "去 抖音 观看" in chinese
