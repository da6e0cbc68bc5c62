# One image for web, workers and beat. On x86_64 Linux, PyPI's torch wheel
# carries CUDA, so the same image drives the GPU workers.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    AAG_DATA_DIR=/data

RUN apt-get update \
    && apt-get install -y --no-install-recommends libjpeg62-turbo libwebp7 gettext \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN useradd --create-home --uid 1000 museum \
    && mkdir -p /data \
    && chown -R museum /data
USER museum

EXPOSE 8000
CMD ["gunicorn", "museum.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
