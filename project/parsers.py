"""Request body parsers shared by every endpoint (a module of its own: DRF imports the parser
setting while its views load, before the rest of the project's REST layer can be imported)."""

from django.utils.translation import gettext
from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but a body nested too deeply for the parser (``[`` x 3000 raises
    RecursionError, not ValueError) is a 400 like any other malformed body."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(gettext("JSON parse error - the body is nested too deeply.")) from exc
