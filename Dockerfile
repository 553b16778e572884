# pyrowire in one small image: build in a Rust image, run as a non-root user in a slim Debian.
#   docker build -t pyrowire .
#   docker run -e REDIS_URL=redis://redis-host:6379/0 -e TWILIO_ACCOUNT_SID=AC... \
#     -e TWILIO_AUTH_TOKEN=... -p 8080:8080 pyrowire
# Mount your own settings with -v "$PWD/settings.toml:/app/settings.toml:ro"; compose.yaml
# starts it with a Redis, as one web and one worker process.
#
# The base images are pinned (bump them together: the runtime's glibc must be the build's);
# pin their digests too (`FROM rust:1.89.0-slim-bookworm@sha256:...`) for builds that never move.
FROM rust:1.89.0-slim-bookworm AS build
WORKDIR /src
# Dependencies first, in a layer of their own: with only Cargo.toml and Cargo.lock, stub sources
# build every dependency, and the layer is reused until the manifest or the lock file changes.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > benches/ceiling.rs \
    && cargo build --release --locked --bin pyrowire \
    && rm -rf src benches target/release/pyrowire* target/release/deps/pyrowire-* \
       target/release/deps/libpyrowire-* target/release/.fingerprint/pyrowire-*
# Then pyrowire itself.
COPY . .
RUN cargo build --release --locked --bin pyrowire && strip target/release/pyrowire

FROM debian:12.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app pyrowire
WORKDIR /app
COPY --from=build /src/target/release/pyrowire /usr/local/bin/pyrowire
COPY settings.toml /app/settings.toml
USER pyrowire
# The prod profile listens on $PORT (port = 0): 8080 unless the platform sets another.
ENV ENV=prod PYROWIRE_SETTINGS=/app/settings.toml PORT=8080
EXPOSE 8080
# Liveness, with the binary itself (the image has no curl): 0 on a 200 from /health/live.
HEALTHCHECK --interval=15s --timeout=6s --start-period=10s --retries=3 \
    CMD ["pyrowire", "health"]
CMD ["pyrowire", "serve"]
