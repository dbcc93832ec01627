"""A push is encoded once: the frame the hub writes to every socket is the one websockets would send."""

import pytest
from websockets.frames import Frame, Opcode

from streams.frames import text_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 200, 65535, 65536, 70000])
def test_shared_text_frame_is_the_frame_websockets_builds(size):
    text = ("观" * size)[:size] if size % 2 else "x" * size  # multi-byte texts too
    expected = Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])
    assert text_frame(text) == expected
