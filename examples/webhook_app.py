#!/usr/bin/env python3
"""An SMS application in a few lines of Python, called by a pyrowire topic with the `webhook`
handler (see examples/webhook.toml). pyrowire POSTs each message as JSON; the JSON answer is the
reply. It counts each sender's messages in their session: the message carries the session as the
sender's previous message left it, and the answer's `session` replaces it (`None` ends it).
Standard library only.

    python3 examples/webhook_app.py --port 8000 --secret change-me
"""
import argparse
import hmac
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def handle(message):
    """The application: turn a message into a reply (None for no reply)."""
    greeting = message["properties"].get("greeting", "Hi")
    text = message["message"].strip()
    if text.lower() == "reset":
        return {"reply": "Your message counter was reset.", "session": None}
    count = message["session"].get("count", 0) + 1
    session = {"count": count}
    if not text:
        return {"reply": f"{greeting}! Nice picture. (message {count} from you)",
                "media_url": list(message["media"]["media"]), "session": session}
    place = message["from_city"] or "somewhere"
    return {"reply": f"{greeting} from {place}! You said: {text} (message {count} from you)",
            "session": session}


class Webhook(BaseHTTPRequestHandler):
    def do_POST(self):
        # compare_digest takes as long wherever the first difference is, so the answer's timing
        # does not give the secret away a character at a time. (http.server reads headers as
        # latin-1; encoding back gives the bytes that were sent.)
        given = self.headers.get("X-Pyrowire-Secret", "").encode("latin-1", "replace")
        if SECRET and not hmac.compare_digest(given, SECRET.encode()):
            self.send_response(403)
            self.end_headers()
            return
        length = int(self.headers.get("Content-Length", 0))
        answer = handle(json.loads(self.rfile.read(length)))
        if answer is None:
            self.send_response(204)
            self.end_headers()
            return
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--secret", default="")
    args = parser.parse_args()
    SECRET = args.secret
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Webhook)
    print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
