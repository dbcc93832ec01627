"""gunicorn's settings that belong to the code (read from the working directory; the command line
gives the rest, see README.md). The access log, when turned on (``--access-logfile -``), shows the
path without its query string (``%(U)s``, not the request line ``%(r)s``) and no referrer, so that
no token or ticket in a URL is ever written down."""

access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s" %(L)s'
