"""The benchmarks' lean HTTP client: answers read whole by their length on one connection, a
closed connection reported and opened again."""

from __future__ import annotations

import asyncio

import pytest

from bench.http_load import ConnectionLost, KeepAliveClient


async def test_answers_are_read_by_length_on_one_connection_and_a_lost_one_is_reopened() -> None:
    connections = 0
    requests: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        for n in range(2):  # two answers, then the server closes (as on keep-alive timeout)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            requests.append(head + await reader.readexactly(length))
            body = b'{"data":{"n":%d}}' % n
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\nx-a: b\r\n\r\n" % len(body))
            writer.write(body)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = KeepAliveClient(f"http://127.0.0.1:{port}/graphql", b'{"q":1}', {"A": "b"})
    try:
        assert await client.post() == (200, b'{"data":{"n":0}}')
        assert await client.post() == (200, b'{"data":{"n":1}}')
        assert connections == 1
        with pytest.raises(ConnectionLost):
            await client.post()
        assert await client.post() == (200, b'{"data":{"n":0}}')  # a new connection
        assert connections == 2
    finally:
        await client.close()
        server.close()
        await server.wait_closed()
    assert requests[0].startswith(b"POST /graphql HTTP/1.1\r\n")
    assert b"\r\nA: b\r\n" in requests[0]
    assert requests[0].endswith(b'\r\n\r\n{"q":1}')
