"""A loopback HTTP server that serves RSS/Atom documents the tests write, with ETag and
Last-Modified validators (answering 304 to a matching conditional GET), slow answers and
error statuses. Documents follow RSS 2.0 and Atom 1.0 (RFC 4287)."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from email.utils import format_datetime
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape


@dataclass
class Document:
    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    delay_s: float = 0.0
    validators: bool = True  # send ETag / Last-Modified
    modified: datetime = datetime(2026, 4, 20, 14, 0, tzinfo=timezone.utc)


def rss(*items: dict, title: str = "Test feed") -> bytes:
    """RSS 2.0; each item may have title, link, guid, pubDate (datetime or text), description."""
    parts = []
    for item in items:
        fields = []
        for name in ("title", "link", "guid", "pubDate", "description"):
            if name not in item:
                continue
            value = item[name]
            text = format_datetime(value, usegmt=True) if isinstance(value, datetime) else escape(str(value))
            fields.append(f"<{name}>{text}</{name}>")
        parts.append("<item>" + "".join(fields) + "</item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
            f"<link>http://127.0.0.1/</link><description>t</description>{''.join(parts)}</channel></rss>").encode()


def atom(*entries: dict) -> bytes:
    """Atom 1.0; each entry has id, title, updated (datetime), optional summary and link."""
    parts = []
    for entry in entries:
        link = f'<link href="{escape(entry["link"])}"/>' if "link" in entry else ""
        summary = f"<summary>{escape(entry['summary'])}</summary>" if "summary" in entry else ""
        parts.append(f"<entry><id>{escape(entry['id'])}</id><title>{escape(entry['title'])}</title>"
                     f"<updated>{entry['updated'].isoformat()}</updated>{link}{summary}</entry>")
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><id>urn:test</id>'
            f"<title>Atom test</title><updated>2026-04-20T14:00:00Z</updated>{''.join(parts)}</feed>").encode()


class FakeFeeds:
    def __init__(self):
        self.documents: dict[str, Document] = {}
        self.requests: list[tuple[str, dict]] = []  # (path, headers)
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> "FakeFeeds":
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's name
                outer._answer(self)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def serve(self, path: str, document: Document | bytes) -> str:
        self.documents[path] = document if isinstance(document, Document) else Document(document)
        return self.url(path)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests.append((handler.path, dict(handler.headers)))
        document = self.documents.get(handler.path)
        if document is None:
            handler.send_response(404)
            handler.end_headers()
            return
        time.sleep(document.delay_s)
        etag = '"' + hashlib.sha256(document.body).hexdigest()[:16] + '"'
        modified = format_datetime(document.modified, usegmt=True)
        # RFC 9110: If-None-Match decides when sent; If-Modified-Since only without it.
        asked_etag, asked_since = handler.headers.get("If-None-Match"), handler.headers.get("If-Modified-Since")
        unchanged = asked_etag == etag if asked_etag else asked_since == modified
        if document.validators and document.status == 200 and unchanged:
            handler.send_response(304)
            handler.end_headers()
            return
        try:
            handler.send_response(document.status)
            handler.send_header("Content-Type", document.content_type)
            handler.send_header("Content-Length", str(len(document.body)))
            if document.validators:
                handler.send_header("ETag", etag)
                handler.send_header("Last-Modified", modified)
            handler.end_headers()
            handler.wfile.write(document.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            pass
