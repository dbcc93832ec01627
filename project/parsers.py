"""Request body parsers shared by every endpoint (a module of its own: DRF imports the parser
setting while its views load, before the rest of the project's REST layer can be imported)."""

from django.utils.translation import gettext
from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but a body nested too deeply for the parser (``[`` x 3000 raises
    RecursionError, not ValueError) is a 400 like any other malformed body, and the error is said
    in the reader's language (DRF's "JSON parse error - ..." is not translated; the decoder's
    reason, which points at the place, is kept as it is)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(gettext("JSON parse error - the body is nested too deeply.")) from exc
        except exceptions.ParseError as exc:
            reason = exc.__context__ if isinstance(exc.__context__, ValueError) else exc.detail
            raise exceptions.ParseError(gettext("JSON parse error - %(reason)s") % {"reason": reason}) from exc
