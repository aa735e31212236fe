"""The offline guard trips: outbound connections fail loudly (in this process and in child processes),
loopback still works, and every blocked attempt is logged so the session can fail on it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib import offline
from course_lib.offline import LOG_ENV, OfflineError, is_local


@pytest.fixture
def private_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Log deliberate trips to a private file, so they do not fail the whole session."""
    log = tmp_path / "blocked.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    return log


def test_guard_is_on_during_tests() -> None:
    assert offline.guard_installed()
    assert os.environ["COURSE_OFFLINE"] == "1"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost", "0.0.0.0"])
def test_loopback_names_are_local(host: str) -> None:
    assert is_local(host)


@pytest.mark.parametrize(
    "host", ["203.0.113.9", "10.0.0.1", "huggingface.co", "cdn.jsdelivr.net", "2001:db8::1"]
)
def test_other_hosts_are_not_local(host: str) -> None:
    assert not is_local(host)


def test_outbound_connection_raises_and_names_the_host(private_log: Path) -> None:
    with pytest.raises(OfflineError, match=r"203\.0\.113\.9:80.*runs offline"):
        socket.create_connection(("203.0.113.9", 80), timeout=1)
    assert "203.0.113.9:80" in private_log.read_text()


def test_dns_lookup_of_a_hub_raises(private_log: Path) -> None:
    with pytest.raises(OfflineError, match=r"huggingface\.co"):
        socket.getaddrinfo("huggingface.co", 443)
    assert "huggingface.co:443" in private_log.read_text()


def test_loopback_still_works() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            connection, _ = server.accept()
            connection.close()


def test_child_processes_get_the_guard(private_log: Path) -> None:
    code = "import socket; socket.create_connection(('198.51.100.7', 443), timeout=1)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy()
    )
    assert result.returncode != 0
    assert "Blocked a network connection to 198.51.100.7:443" in result.stderr
    assert "198.51.100.7:443" in private_log.read_text()


def test_remove_and_reinstall() -> None:
    offline.remove_guard()
    try:
        assert not offline.guard_installed()
        assert socket.getaddrinfo is not offline._guarded_getaddrinfo
    finally:
        offline.install_guard()
    assert socket.getaddrinfo is offline._guarded_getaddrinfo
