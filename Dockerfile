# AniBridge: Torznab indexer + qBittorrent-compatible download client for Sonarr/Radarr/Prowlarr.
# Build:  docker build -t anibridge .
# Run:    docker run -p 8000:8000 -v ./data:/data anibridge
FROM python:3.11-slim

ARG ANIBRIDGE_UID=1000
ARG ANIBRIDGE_GID=1000

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data \
    DOWNLOAD_DIR=/data/downloads \
    ANIBRIDGE_HOST=0.0.0.0 \
    ANIBRIDGE_PORT=8000

# ffmpeg: yt-dlp merges and remuxes HLS/DASH streams with it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid "${ANIBRIDGE_GID}" anibridge \
    && useradd --uid "${ANIBRIDGE_UID}" --gid "${ANIBRIDGE_GID}" --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin anibridge

WORKDIR /app

# Dependencies first (cached while only the code changes); an editable install on purpose:
# schema/ is read from the project directory at run time.
COPY pyproject.toml README.md ./
COPY anibridge ./anibridge
COPY schema ./schema
COPY docker/entrypoint.sh /usr/local/bin/anibridge-entrypoint
RUN pip install --no-cache-dir -e . \
    && chmod 0755 /usr/local/bin/anibridge-entrypoint \
    && mkdir -p /data/downloads \
    && chown -R anibridge:anibridge /data

VOLUME ["/data"]
EXPOSE 8000

USER anibridge

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('ANIBRIDGE_PORT', '8000'), timeout=4)" || exit 1

ENTRYPOINT ["/usr/local/bin/anibridge-entrypoint"]
CMD ["serve"]
