"""A real SMTP server on localhost (aiosmtpd) for mail tests and the delivery benchmark.

It records every message it accepts (recipients, subject, headers, body), and can be told to
refuse mail for a while (``refusing = True``: every recipient gets ``451 4.3.2``, a temporary
failure, as a server under maintenance answers). ``python -m tests.smtp_sink --port N`` runs one
in its own process and prints a line per message (the benchmark counts them).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    to: tuple[str, ...]
    subject: str
    headers: dict[str, str]
    body: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SinkHandler:
    refusing: bool = False
    refused: int = 0
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_message: Any = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        if self.refusing:
            with self.lock:
                self.refused += 1
            return "451 4.3.2 Mail service paused, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = parsed.get_body(preferencelist=("plain",))
        received = Received(
            to=tuple(envelope.rcpt_tos),
            subject=str(parsed["subject"]),
            headers={key: str(value) for key, value in parsed.items()},
            body=body.get_content() if body is not None else "",
        )
        with self.lock:
            self.messages.append(received)
        if self.on_message is not None:
            self.on_message(received)
        return "250 Message accepted for delivery"


class SmtpSink:
    """``with SmtpSink() as sink:`` a server on ``sink.port``; ``stop()``/``start()`` take it down
    and bring it back on the same port (connections refused meanwhile)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.handler = SinkHandler()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def refusing(self) -> bool:
        return self.handler.refusing

    @refusing.setter
    def refusing(self, value: bool) -> None:
        self.handler.refusing = value

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.messages)

    def count_by_recipient(self) -> Counter[str]:
        return Counter(address for message in self.messages for address in message.to)

    def settings(self) -> dict[str, Any]:
        """Django settings that send to this server."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": self.port,
            "EMAIL_USE_TLS": False,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_TIMEOUT": 10,
        }

    def environment(self) -> dict[str, str]:
        """The same, as environment variables for a worker process."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.port),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description="An SMTP sink that prints one line per message.")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    def report(received: Received) -> None:
        print(f"{time.monotonic():.6f} {','.join(received.to)}", flush=True)

    sink = SmtpSink(port=args.port)
    sink.handler.on_message = report
    sink.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sink.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
