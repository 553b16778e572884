# An image for one pyrowire application: the pyrowire image plus this directory's settings.
# Build the base image once from a pyrowire checkout (`docker build -t pyrowire .`), then here:
#   docker build -t my-sms-app .
#   docker run -e REDIS_URL=redis://redis-host:6379/0 -e TWILIO_ACCOUNT_SID=... \
#     -e TWILIO_AUTH_TOKEN=... -p 8080:8080 my-sms-app
# Pin the base image to a release you built (PYROWIRE_IMAGE=pyrowire:0.1.0), not `latest`.
ARG PYROWIRE_IMAGE=pyrowire:0.1.0
FROM ${PYROWIRE_IMAGE}
COPY settings.toml /app/settings.toml
USER pyrowire
# The prod profile listens on $PORT (port = 0): 8080 unless the platform sets another.
ENV ENV=prod PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=6s --start-period=10s --retries=3 \
    CMD ["pyrowire", "health"]
