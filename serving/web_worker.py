"""gunicorn's gevent worker, stopping without resetting a request it has received.

Measured with keep-alive clients that open a new connection whenever one is closed, as
browsers, load balancers and load generators do (tests/test_web_stop.py), gunicorn's
stock gevent worker reset requests sent in full when it stopped on SIGTERM: 4 in 3 stops
and 5 in 10 under 8 clients, 18 and 29 in two runs of 3 stops under 32 (of some 4,300
requests a run). With this worker: none, in any of these. Two causes, fixed here:

- Connections the kernel has completed but the worker has not accepted yet are reset
  when the last process closes the listening socket. The worker accepts one connection
  per turn of its event loop (`max_accept = 1` with several workers), so under load some
  wait in the queue, and it closes the listener up to a second after SIGTERM with them
  still there. Here the queue is accepted, and each connection handed to the pool (it
  is answered with `Connection: close`), in the same turn of the loop as the close: a
  connection can only slip in during the microseconds between the two.
- A connection accepted just before the close is dropped unanswered: its handler asks
  the listening socket, closed by then, its address (EBADF). Here it gets the address
  read at start.

And one that a stop makes likelier: a connection closed with bytes unread in its receive
buffer is reset instead of closed (the kernel's answer to unread data), which can cost
the client the last response: a kept-alive connection whose idle timeout ends as a
request arrives, or a `Connection: close` answer with more requests behind it. gunicorn's
sync and gthread workers close gracefully (FIN first, then read and discard until the
client closes, RFC 9112 9.6: `util.close_graceful`); its gevent worker closes at once.
Here it closes the same way: the client sees a clean close, which it retries.

Everything else is gunicorn's: on SIGTERM it stops accepting, answers requests arriving
on kept-alive connections with `Connection: close`, and waits `graceful_timeout` for them.

One more difference: what gunicorn answers itself, before the app sees a request (a
request line over its limit, 414; a malformed header, 400; too many headers, 431), is
the JSON problem every error of the app's API is, not gunicorn's HTML page: the
request line is not read yet, so it cannot tell an API client from a browser, and
browsers do not send such requests.
"""

from __future__ import annotations

import json
from typing import Any

from gevent import socket as gevent_socket
from gevent.server import StreamServer
from gunicorn import util
from gunicorn.workers import ggevent

LINGER_SECONDS = 2.0  # at most, reading what a closing connection's client still sends


class LingeringSocket(gevent_socket.socket):
    """A client connection whose close half-closes first and drains what is left."""

    _closing = False

    def close(self) -> None:
        if self._closing or self.fileno() == -1:
            super().close()
            return
        self._closing = True
        util.close_graceful(self, timeout=LINGER_SECONDS)  # ends with self.close()


class DrainingStreamServer(StreamServer):
    """Accepts its queued connections, and hands them to the pool, just before it closes."""

    def do_read(self) -> tuple[LingeringSocket, Any] | None:
        # StreamServer.do_read, making a LingeringSocket. The listening socket is
        # non-blocking under gevent whatever gunicorn set: nothing queued is an error.
        listener = self.socket
        try:
            fd, address = listener._accept()
        except BlockingIOError:
            return None
        return LingeringSocket(listener.family, listener.type, listener.proto, fileno=fd), address

    def close(self) -> None:
        if not self.closed:
            while not self.full():
                try:
                    accepted = self.do_read()
                except OSError:
                    break
                if accepted is None:
                    break
                self.do_handle(*accepted)
        super().close()


class NamedListener:
    """Stands in for the listening socket in a connection's handler, which asks it only
    its address (for the WSGI environ). By then the worker may have closed it: gunicorn's
    handler then fails with EBADF and drops the request unanswered, which happened to
    connections accepted in the last turn of the loop before the close."""

    def __init__(self, name: Any):
        self.name = name

    def getsockname(self) -> Any:
        return self.name


def write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's `util.write_error`, answering the JSON of `web.errors.render_error`."""
    body = json.dumps({"error": reason, "message": mesg, "status": status_int}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


class GeventWorker(ggevent.GeventWorker):
    """gunicorn's gevent worker (`-k gevent`), with the server and listener above."""

    def run(self) -> None:
        self.listener_names = {listener: listener.getsockname() for listener in self.sockets}
        # GeventWorker.run builds its servers from this module-level name, and
        # Worker.handle_error writes through util.write_error; the worker process runs
        # nothing else.
        ggevent.StreamServer = DrainingStreamServer
        util.write_error = write_json_error
        super().run()

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        super().handle(NamedListener(self.listener_names[listener]), client, addr)
