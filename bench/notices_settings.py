"""Settings of the notices benchmark (bench/notices.py and the worker it starts): the benchmark's
production-like settings, emails counted into a file (bench/mail.py), and the run's own queue so
no other worker on the same Redis takes its tasks."""

from config.settings.bench import *  # noqa: F403
from config.settings.bench import env

EMAIL_BACKEND = "bench.mail.CountingBackend"
CELERY_TASK_DEFAULT_QUEUE = env.str("BENCH_QUEUE", default="keepwarm-bench-notices")
