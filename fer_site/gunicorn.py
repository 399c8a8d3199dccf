"""gunicorn's settings for the web service: `gunicorn -c python:fer_site.gunicorn
fer_site.wsgi` (the image's command and compose's).

Threaded workers (gthread): a connection waits in the worker's event loop until its request
arrives, so idle or half-open connections hold no worker (three of them stopped sync workers
from answering /healthz for 20 s). A client that trickles a request in still holds a thread
until `timeout`: put a buffering proxy in front (the TLS proxy; nginx buffers by default).
WEB_CONCURRENCY (gunicorn's own variable) and WEB_THREADS size it.
"""

import os

bind = "0.0.0.0:8000"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or 3)
threads = int(os.environ.get("WEB_THREADS") or 8)
# A worker silent this long is restarted (uploads stream to storage within the request).
timeout = 300
# Idle keep-alive connections wait in the event loop this long, holding no thread.
keepalive = 5
