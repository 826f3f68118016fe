# fleetpulse: one image for the collector, processors and sink (the command picks the role).
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY fleetpulse fleetpulse
COPY schemas schemas
COPY ingest ingest
COPY processors processors
COPY sinks sinks
COPY deploy deploy
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 fleetpulse && mkdir -p /data && chown fleetpulse /data
COPY --from=build /install /usr/local
USER fleetpulse
ENV FLEETPULSE_DATA_DIR=/data PYTHONUNBUFFERED=1
WORKDIR /data
ENTRYPOINT ["fleetpulse"]
CMD ["--help"]
