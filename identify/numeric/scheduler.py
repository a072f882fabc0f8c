"""Dask scheduler addresses: refused unless ``local``, ``tcp://HOST:PORT`` or ``HOST:PORT``,
and probed (with a timeout) before Dask reads from them."""

from __future__ import annotations

from identify.errors import ConfigError

__all__ = ["check_scheduler"]

_SCHEMES = ("tcp://",)
_CONNECT_SECONDS = 10.0


def _address(scheduler: str) -> tuple[str, int]:
    """(host, port) of ``tcp://host:port`` or ``host:port``; other schemes are refused."""
    text = scheduler.strip()
    scheme, sep, rest = text.partition("://")
    if sep and f"{scheme.lower()}://" not in _SCHEMES:
        raise ConfigError(f"cannot connect to the Dask scheduler {text!r:.80}: the scheme "
                          f"{scheme}:// is not supported, only tcp:// (or HOST:PORT)",
                          where="scheduler")
    host, colon, port = (rest if sep else text).rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"cannot connect to the Dask scheduler {text!r:.80}: the address is "
                          "not 'local', tcp://HOST:PORT or HOST:PORT", where="scheduler")
    return host, int(port)


def _probe_scheduler(scheduler: str, seconds: float = 5.0) -> None:
    """Refuse an address that does not answer like a Dask scheduler, before Dask reads from
    it: a scheduler sends its handshake first, an 8-byte frame length (a small number)."""
    import socket
    import struct

    host, port = _address(scheduler)
    try:
        with socket.create_connection((host, port), timeout=seconds) as sock:
            head = b""
            while len(head) < 8:
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    break
                head += chunk
    except TimeoutError:
        raise ConfigError(f"{scheduler!r:.80} sent no Dask handshake within {seconds:g} s; it is "
                          "not a Dask scheduler", where="scheduler") from None
    except OSError as exc:
        raise ConfigError(f"cannot connect to the Dask scheduler {scheduler!r:.80} "
                          f"({exc.strerror or exc})", where="scheduler") from None
    if len(head) < 8 or not 0 < struct.unpack("<Q", head)[0] < 2**24:
        raise ConfigError(f"{scheduler!r:.80} did not answer like a Dask scheduler",
                          where="scheduler")


def check_scheduler(scheduler: str | None, *, probe: bool = False) -> None:
    """Refuse a scheduler that is not None, ``"local"``, ``tcp://HOST:PORT`` or
    ``HOST:PORT``; with ``probe``, also one that does not answer like a Dask scheduler
    within 5 s (a silent listener, an HTTP server, a proxy)."""
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ConfigError("the scheduler must be 'local' or a Dask scheduler address",
                          where="scheduler")
    if scheduler is not None and scheduler != "local":
        _address(scheduler)
        if probe:
            _probe_scheduler(scheduler)
