# pyrowire in one small image: build in a Rust image, run as a non-root user in a slim Debian.
#   docker build -t pyrowire .
#   docker run -e REDIS_URL=redis://redis-host:6379/0 -e TWILIO_ACCOUNT_SID=AC... \
#     -e TWILIO_AUTH_TOKEN=... -e PORT=8080 -p 8080:8080 pyrowire
# Mount your own settings with -v "$PWD/settings.toml:/app/settings.toml:ro".
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked && strip target/release/pyrowire

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app pyrowire
WORKDIR /app
COPY --from=build /src/target/release/pyrowire /usr/local/bin/pyrowire
COPY settings.toml /app/settings.toml
USER pyrowire
ENV ENV=prod PYROWIRE_SETTINGS=/app/settings.toml
EXPOSE 8080
CMD ["pyrowire", "serve"]
