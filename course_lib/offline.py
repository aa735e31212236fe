"""An offline guard: refuse every outbound network connection except to this machine.

The course must run in a classroom with no internet, so the tests run with this guard on: any attempt to
reach another host (a model hub, a CDN, a font server) raises ``OfflineError`` naming the host, and is
also appended to a log file so the test session can fail even when a library catches the error.

    from course_lib.offline import install_guard
    install_guard()            # from now on only loopback connections work

Child processes (Jupyter kernels, the JupyterLab server) get the same guard from ``tests/offline_site``,
a ``sitecustomize`` that calls ``install_guard()`` when ``COURSE_OFFLINE=1`` is set.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

LOG_ENV = "COURSE_OFFLINE_LOG"
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}
_original: dict[str, Any] = {}


class OfflineError(RuntimeError):
    """An outbound connection was attempted while the offline guard is on."""


def is_local(host: str) -> bool:
    """True for loopback names and addresses (127.0.0.0/8, ::1, 0.0.0.0, localhost)."""
    host = host.strip("[]").lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _refuse(host: str, port: object) -> None:
    log_path = os.environ.get(LOG_ENV)
    if log_path:
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"{host}:{port} (pid {os.getpid()})\n")
    raise OfflineError(
        f"Blocked a network connection to {host}:{port}. The course runs offline: models, data, fonts "
        "and scripts must ship in data/ or come from installed packages, never be downloaded at run time."
    )


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not is_local(str(address[0])):
        _refuse(str(address[0]), address[1])
    return _original["connect"](self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not is_local(str(address[0])):
        _refuse(str(address[0]), address[1])
    return _original["connect_ex"](self, address)


def _guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else str(host or "")
    if not is_local(name):
        _refuse(name, port)
    return _original["getaddrinfo"](host, port, *args, **kwargs)


def install_guard() -> None:
    """Turn the guard on for this process (idempotent)."""
    if _original:
        return
    _original.update(
        connect=socket.socket.connect,
        connect_ex=socket.socket.connect_ex,
        getaddrinfo=socket.getaddrinfo,
    )
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo


def remove_guard() -> None:
    """Turn the guard off again (used by the guard's own tests)."""
    if not _original:
        return
    socket.socket.connect = _original["connect"]  # type: ignore[method-assign]
    socket.socket.connect_ex = _original["connect_ex"]  # type: ignore[method-assign]
    socket.getaddrinfo = _original["getaddrinfo"]
    _original.clear()


def guard_installed() -> bool:
    """True while the guard is on in this process."""
    return bool(_original)
