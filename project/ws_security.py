"""Which websocket connections get through to the consumers."""

from channels.security.websocket import OriginValidator
from django.conf import settings


class BrowserOriginValidator(OriginValidator):
    """Refuses a socket opened by a page of another site, and lets native clients through.

    Browsers always send ``Origin``, so a foreign page cannot ride on the fan's session cookie
    (cross-site websocket hijacking). Fan apps, host tools and scripts send none; they either watch
    anonymously or authenticate with ``?token=``, which no other site can read, so refusing them (as
    Channels' own validator does) would only shut out the contract's "anyone".
    """

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)


def AllowedHostsBrowserOriginValidator(application):  # noqa: N802 - reads like Channels' own
    allowed_hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    return BrowserOriginValidator(application, allowed_hosts)
