"""gunicorn settings for REST, pages and admin (``deploy/prod.py`` starts it; usable on its own too).

Every value comes from an environment variable so that one file serves every machine; the defaults
are for a 2-core machine. Rule of thumb: two workers per core, 2 threads each. A registration waits
on PostgreSQL about as long as it runs Python, and a worker keeps the connections it accepted (a
client's or a proxy's keep-alive): with one worker per core, one worker often held most of them and
registration ran at two thirds of its rate; 4 x 2 on 2 cores never did (bench/README.md, issue 15).
"""

import os

bind = f"{os.environ.get('GUNICORN_BIND', '127.0.0.1')}:{os.environ.get('GUNICORN_PORT', '8001')}"
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
backlog = int(os.environ.get("GUNICORN_BACKLOG", "2048"))
# A request that takes longer than this is cut off (nginx gives up after PROD_PROXY_TIMEOUT anyway).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# On HUP or TERM a worker finishes the requests it has accepted, for up to this long.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = 2
# nginx on this machine is the only client; it sends X-Forwarded-Proto (wsgi.url_scheme).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# nginx already logs every request; GUNICORN_ACCESS_LOG=true adds gunicorn's own line with the
# worker's pid (which worker served what).
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "").lower() in {"1", "true", "yes", "on"} else None
access_log_format = 'pid=%(p)s %(h)s "%(r)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
proc_name = "aperture-gunicorn"
