"""A TCP proxy for tests: put it in front of a broker to terminate TLS or to cut connections.

The broker must advertise the proxy's address, so that every connection a client makes after
bootstrap goes through it too. The proxy binds first (a free port, no race), the broker then
starts advertising it: `behind_proxy()`.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ownlens_kafka.broker import EmbeddedBroker

T = TypeVar("T")


class Proxy:
    """Forwards `127.0.0.1:<port>` to `upstream`, optionally as a TLS server, in its own thread."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.port = 0  # known once started
        self.upstream: tuple[str, int] | None = None
        self.accepted = 0  # connections forwarded (with TLS: handshakes that succeeded)
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> Proxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def cut(self, wait: float = 0.0) -> int:
        """Drop every open connection, as a network failure would; returns how many. With
        `wait`, first wait up to that many seconds for a connection to be open."""
        deadline = time.monotonic() + wait
        while not self._writers and time.monotonic() < deadline:
            time.sleep(0.005)
        return self._call(self._cut())

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            assert self.upstream is not None, "connected before the proxy had an upstream"
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except (OSError, AssertionError):
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        self._writers -= {writer, up_writer}

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def _cut(self) -> int:
        writers = list(self._writers)
        for writer in writers:
            writer.transport.abort()
        return len(writers) // 2

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._cut()
        if self._server is not None:
            await self._server.wait_closed()


@contextmanager
def behind_proxy(tls: ssl.SSLContext | None = None) -> Iterator[Proxy]:
    """An embedded broker reachable only through a proxy: it advertises the proxy's address."""
    proxy = Proxy(tls).start()
    try:
        with EmbeddedBroker(advertised_port=proxy.port) as broker:
            assert broker.port is not None
            proxy.upstream = ("127.0.0.1", broker.port)
            yield proxy
    finally:
        proxy.stop()
