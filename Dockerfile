# The portal image: web (uvicorn, ASGI), worker and beat all run from it (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var

# gettext compiles the translations (the .mo files are build output); Pango and a font let
# WeasyPrint render offers as PDF.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /home/portal portal

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files and translations are baked into the image; the dummy keys exist only for this step.
RUN SECRET_KEY=build-only-not-secret FIELD_ENCRYPTION_KEY=build-only-not-secret DEBUG=0 python manage.py collectstatic --noinput -v 0 \
    && if [ -d locale ]; then SECRET_KEY=build-only-not-secret python manage.py compilemessages -v 0; fi \
    && rm -f "$VAR_DIR/secret_key" \
    && chown -R portal:portal "$VAR_DIR"

USER portal
EXPOSE 8000
CMD ["uvicorn", "portal.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "3", "--ws", "websockets-sansio", "--lifespan", "off"]
