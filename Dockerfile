# The production image: web (gunicorn), worker and beat all run from it (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
# (The project itself is not a package: it runs from /app.)
COPY pyproject.toml ./
RUN pip install .

COPY . .

# Static files are collected into the image and served by WhiteNoise. The key below only lets
# the settings load during the build; the real one comes from the environment at run time.
RUN SECRET_KEY=collectstatic-only-not-a-secret REDIS_URL=redis://unused:6379/0 \
    python manage.py collectstatic --noinput \
 && useradd --system --uid 1000 --home-dir /app --shell /usr/sbin/nologin keepwarm \
 && mkdir -p var/mail \
 && chown -R keepwarm:keepwarm var

USER keepwarm
EXPOSE 8000

# WEB_CONCURRENCY sets gunicorn's worker count (default 2, as on a 2-core machine).
# The logger class takes customer and calendar tokens out of the access log (config/redaction.py).
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--logger-class", "config.redaction.GunicornLogger"]
