"""A lean HTTP/1.1 load generator: one keep-alive connection per client, the same request sent
again and again, the answer read by its ``Content-Length``.

The benchmarks' clients run on the same two cores as the platform. httpx spends about a
millisecond of CPU per request (its connection pool, h11, headers as objects): with 50 clients
the load generator, not the gateway, set the rate (py-spy: the gateway ~⅓ busy at the "floor").
This client sends bytes prepared once and parses only the status line and headers.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit


class ConnectionLost(Exception):
    """The server closed the connection or answered something this client does not read."""


class KeepAliveClient:
    """One connection to ``url``'s host, POSTing ``body`` to its path with ``headers``."""

    def __init__(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        lines = [
            f"POST {parts.path or '/'} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self) -> tuple[int, bytes]:
        """(status, body) of one request; a lost connection is opened again next time."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        try:
            self.writer.write(self.request)
            status_line = await self.reader.readuntil(b"\r\n")
            status = int(status_line.split(b" ", 2)[1])
            length = None
            while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length is None:
                raise ConnectionLost("an answer without Content-Length")
            return status, await self.reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as error:
            await self.close()
            raise ConnectionLost(f"{type(error).__name__}: {error}") from error
        except ConnectionLost:
            await self.close()
            raise

    async def close(self) -> None:
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
