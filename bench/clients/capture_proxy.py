#!/usr/bin/env python3
"""Forwarding HTTP proxy that records what a load generator sends and what the server answers.

    capture_proxy.py UPSTREAM_URL LOG.jsonl

Listens on 127.0.0.1, on a free port that it prints as "listening on PORT". Writes one JSON line per
request: method, path, status, the request body (its first 4000 characters) and, when the status is
400 or more, the response body. Streams pass through chunk by chunk as they arrive. clients.py puts it
in front of the server for a short second run of a tool whose chat pass got errors, so that the request
the server refused is reported with its body and the server's answer (the tools themselves often keep
only the status line). Its figures are not reported: a Python hop on 2 busy cores adds latency.
"""
import json
import socket
import sys

from aiohttp import ClientSession, ClientTimeout, web

HOP = {"host", "content-length", "transfer-encoding", "connection"}


def main() -> None:
    upstream, log_path = sys.argv[1].rstrip("/"), sys.argv[2]
    log = open(log_path, "a", encoding="utf-8")
    session: ClientSession | None = None

    def record(req: web.Request, body: bytes, status: int, answer: bytes | None) -> None:
        entry = {"method": req.method, "path": req.path_qs, "status": status,
                 "request": body.decode(errors="replace")[:4000]}
        if answer is not None:
            entry["response"] = answer.decode(errors="replace")[:4000]
        log.write(json.dumps(entry) + "\n")
        log.flush()

    async def handle(req: web.Request) -> web.StreamResponse:
        nonlocal session
        if session is None:
            session = ClientSession(timeout=ClientTimeout(total=None))
        body = await req.read()
        headers = {k: v for k, v in req.headers.items() if k.lower() not in HOP}
        async with session.request(req.method, upstream + req.path_qs, data=body, headers=headers) as up:
            content_type = up.headers.get("Content-Type", "application/json")
            if up.status >= 400:
                answer = await up.read()
                record(req, body, up.status, answer)
                return web.Response(status=up.status, body=answer, headers={"Content-Type": content_type})
            resp = web.StreamResponse(status=up.status, headers={"Content-Type": content_type})
            await resp.prepare(req)
            async for chunk in up.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            record(req, body, up.status, None)
            return resp

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"listening on {sock.getsockname()[1]}", flush=True)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, sock=sock, print=None, handle_signals=True)


if __name__ == "__main__":
    main()
