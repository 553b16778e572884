# An image for one pyrowire application: the pyrowire image plus this directory's settings.
# Build the base image once from a pyrowire checkout (`docker build -t pyrowire .`), then here:
#   docker build -t my-sms-app .
#   docker run -e REDIS_URL=redis://redis-host:6379/0 -e TWILIO_ACCOUNT_SID=... \
#     -e TWILIO_AUTH_TOKEN=... -e PORT=8080 -p 8080:8080 my-sms-app
ARG PYROWIRE_IMAGE=pyrowire:latest
FROM ${PYROWIRE_IMAGE}
COPY settings.toml /app/settings.toml
ENV ENV=prod
