"""The duties reference runs as the real one does: gthread workers, cores + 1 of them."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or (os.cpu_count() or 1) + 1)
threads = int(os.environ.get("WEB_THREADS") or 128)
keepalive = 75
