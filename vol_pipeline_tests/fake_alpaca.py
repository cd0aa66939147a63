"""A loopback server speaking the part of Alpaca's Market Data API v2 the bar source uses:
GET /v2/stocks/bars, with bodies, headers and errors in Alpaca's documented format.

Tests publish bars (optionally only once their minute has closed on a given clock), revise
them, and queue faults: an HTTP status with a body and headers, a slow answer, a dropped
connection, or page-level faults (a page token that repeats, bars duplicated across pages,
bars out of order, a symbol nobody asked for). Listens on 127.0.0.1 only.

    python -m vol_pipeline_tests.fake_alpaca --bars FILE.parquet   # prints its URL; for benchmarks
"""

from __future__ import annotations

import argparse
import base64
import bisect
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

SYMBOL = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")
RATE_LIMIT = 200


@dataclass
class Fault:
    kind: str  # "respond", "delay" (then answer), "hold" (answer now, send later) or "drop"
    status: int = 200
    body: bytes = b""
    headers: dict | None = None
    seconds: float = 0.0


def _iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


class FakeAlpaca:
    def __init__(self, key_id: str = "test-key-id", secret_key: str = "test-secret-key",
                 clock: Callable[[], datetime] | None = None, forbidden_feeds=()):
        self.key_id, self._secret = key_id, secret_key
        self.clock, self.forbidden_feeds = clock, frozenset(forbidden_feeds)
        self._bars: dict[str, tuple[list[datetime], dict[datetime, dict]]] = {}  # symbol -> (sorted times, bar by time)
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self.requests: list[dict] = []
        self.held_answers = 0  # answers computed by hold_next, sent or still held
        self.repeat_page_token = False
        self.duplicate_across_pages = False
        self.out_of_order = False
        self.extra_symbol: str | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "FakeAlpaca":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - the stdlib's name
                fake._handle(self)

            def log_message(self, *args):  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-alpaca", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- data --------------------------------------------------------------------------------
    def publish(self, ticker: str, ts: datetime, open: float, high: float, low: float, close: float,
                volume: int, trades: int = 1, vwap: float | None = None) -> None:
        bar = {"o": open, "h": high, "l": low, "c": close, "v": volume, "n": trades,
               "vw": vwap if vwap is not None else round((high + low + close) / 3, 4)}
        with self._lock:
            times, by_time = self._bars.setdefault(ticker, ([], {}))
            ts = ts.astimezone(timezone.utc)
            if ts not in by_time:
                bisect.insort(times, ts)
            by_time[ts] = bar

    def publish_frame(self, bars) -> None:
        """A polars frame with ticker, ts (UTC), open, high, low, close, volume."""
        with self._lock:
            for ticker, rows in bars.sort("ticker", "ts").partition_by("ticker", as_dict=True).items():
                symbol = ticker[0] if isinstance(ticker, tuple) else ticker
                times, by_time = self._bars.setdefault(symbol, ([], {}))
                for ts, o, h, l, c, v in rows.select("ts", "open", "high", "low", "close", "volume").iter_rows():
                    ts = ts.astimezone(timezone.utc)
                    by_time[ts] = {"o": o, "h": h, "l": l, "c": c, "v": v, "n": 1, "vw": round((h + l + c) / 3, 4)}
                times[:] = sorted(by_time)

    def revise(self, ticker: str, ts: datetime, **values) -> None:
        names = {"open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"}
        with self._lock:
            bar = self._bars[ticker][1][ts.astimezone(timezone.utc)]
            bar.update({names[k]: v for k, v in values.items()})

    # -- faults ------------------------------------------------------------------------------
    def fail_next(self, status: int, body: str | bytes | None = None, headers: dict | None = None, times: int = 1) -> None:
        data = body.encode() if isinstance(body, str) else (body or b"")
        with self._lock:
            self._faults.extend(Fault("respond", status, data, headers) for _ in range(times))

    def delay_next(self, seconds: float, times: int = 1) -> None:
        with self._lock:
            self._faults.extend(Fault("delay", seconds=seconds) for _ in range(times))

    def hold_next(self, seconds: float, times: int = 1) -> None:
        """The next answers are the bars as they are now, sent `seconds` later (a slow network:
        a bar revised meanwhile is not in them)."""
        with self._lock:
            self._faults.extend(Fault("hold", seconds=seconds) for _ in range(times))

    def drop_next(self, times: int = 1) -> None:
        with self._lock:
            self._faults.extend(Fault("drop") for _ in range(times))

    # -- the API -------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.requests.append({"path": url.path, "params": params, "at": datetime.now(timezone.utc),
                                  "key_id_sent": handler.headers.get("APCA-API-KEY-ID") == self.key_id})
            fault = self._faults.popleft() if self._faults and url.path == "/v2/stocks/bars" else None
        if fault is not None and fault.kind == "drop":
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
        elif fault is not None and fault.kind == "hold":
            status, body = self._bars_answer(params)  # the bars as they are now (copied)
            self.held_answers += 1
            time.sleep(fault.seconds)
            return self._json(handler, status, body)
        elif fault is not None:
            return self._send(handler, fault.status, fault.body, fault.headers)
        if url.path != "/v2/stocks/bars":
            return self._json(handler, 404, {"message": "Not Found"})
        if (handler.headers.get("APCA-API-KEY-ID") != self.key_id
                or handler.headers.get("APCA-API-SECRET-KEY") != self._secret):
            return self._json(handler, 401, {"message": "unauthorized."})
        status, body = self._bars_answer(params)
        self._json(handler, status, body)

    def _bars_answer(self, params: dict[str, str]) -> tuple[int, dict]:
        symbols = [s for s in params.get("symbols", "").split(",") if s != ""]
        if not symbols:
            return 400, {"code": 42210000, "message": "symbols is required"}
        for symbol in symbols:
            if not SYMBOL.match(symbol):
                return 400, {"code": 40010001, "message": f"invalid symbol: {symbol}"}
        if params.get("timeframe") != "1Min":
            return 400, {"code": 42210000, "message": f"invalid timeframe: {params.get('timeframe')}"}
        feed = params.get("feed", "iex")
        if feed not in ("iex", "sip"):
            return 400, {"code": 42210000, "message": f"invalid feed: {feed}"}
        if feed in self.forbidden_feeds:
            return 403, {"message": "subscription does not permit querying recent SIP data"}
        try:
            limit = int(params.get("limit", "1000"))
            start = _parse_time(params["start"]) if "start" in params else datetime.min.replace(tzinfo=timezone.utc)
            end = _parse_time(params["end"]) if "end" in params else datetime.max.replace(tzinfo=timezone.utc)
        except ValueError as error:
            return 400, {"code": 42210000, "message": f"invalid parameter: {error}"}
        if not 1 <= limit <= 10_000:
            return 400, {"code": 42210000, "message": "invalid limit: must be between 1 and 10000"}
        if self.clock is not None:  # only minutes that have closed
            end = min(end, self.clock() - timedelta(minutes=1))
        token = params.get("page_token")
        offset = int(base64.b64decode(token).decode()) if token else 0

        matching = []  # (symbol, ts, bar), by symbol then time
        with self._lock:
            for symbol in sorted(set(symbols)):
                times, by_time = self._bars.get(symbol, ([], {}))
                first, last = bisect.bisect_left(times, start), bisect.bisect_right(times, end)
                matching += [(symbol, ts, dict(by_time[ts])) for ts in times[first:last]]
        page = matching[offset:offset + limit]
        if self.duplicate_across_pages and offset > 0:  # the previous page's last bar, again
            page = [matching[offset - 1]] + page
        more = offset + limit < len(matching)
        next_token = base64.b64encode(str(offset + limit).encode()).decode() if more else None
        if self.repeat_page_token:
            next_token = base64.b64encode(str(limit).encode()).decode()
        bars: dict[str, list] = {}
        for symbol, ts, bar in page:
            bars.setdefault(symbol, []).append({"t": _iso(ts), **bar})
        if self.out_of_order:
            bars = {s: rows[::-1] for s, rows in bars.items()}
        if self.extra_symbol and page:
            _, ts, bar = page[0]
            bars[self.extra_symbol] = [{"t": _iso(ts), **bar}]
        return 200, {"bars": bars, "next_page_token": next_token, "currency": "USD"}

    # -- responses -----------------------------------------------------------------------------
    def _json(self, handler, status: int, body: dict) -> None:
        self._send(handler, status, json.dumps(body).encode(), None)

    def _send(self, handler, status: int, body: bytes, headers: dict | None) -> None:
        handler.send_response(status)
        sent = {"Content-Type": "application/json", "Content-Length": str(len(body)),
                "X-RateLimit-Limit": str(RATE_LIMIT), "X-RateLimit-Remaining": str(max(0, RATE_LIMIT - len(self.requests))),
                "X-RateLimit-Reset": str(int(time.time()) + 60), **(headers or {})}
        for name, value in sent.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)


def main() -> None:  # pragma: no cover - used by benchmarks
    import polars as pl

    parser = argparse.ArgumentParser(description="serve a bar file over Alpaca's bars API on 127.0.0.1")
    parser.add_argument("--bars", required=True)
    parser.add_argument("--key-id", default="test-key-id")
    parser.add_argument("--secret-key", default="test-secret-key")
    args = parser.parse_args()
    bars = pl.read_parquet(args.bars) if args.bars.endswith(".parquet") else pl.read_csv(args.bars, try_parse_dates=True)
    fake = FakeAlpaca(args.key_id, args.secret_key)
    fake.publish_frame(bars.with_columns(pl.col("volume").fill_null(0)))
    fake.start()
    print(fake.url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
