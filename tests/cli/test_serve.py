"""``lookalike serve`` as a user runs it: a port already taken is one sentence, at once."""

from __future__ import annotations

import socket
import subprocess
import time

from tests.support.cli import LOOKALIKE


def test_serve_on_a_port_in_use_says_so_in_one_sentence_before_loading_anything(cli_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run([LOOKALIKE, "serve", "--port", str(port)], env=cli_env, capture_output=True, text=True, timeout=60)
        seconds = time.monotonic() - started

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: Port {port} on 127.0.0.1 is already in use (another `make demo` or `lookalike serve`?); "
        f"serve on another port with `lookalike serve --port {port + 1}`."
    )
    assert result.stdout == ""  # it never got as far as announcing the API
    assert seconds < 5, f"took {seconds:.1f} s: the model loaded before the port was tried"


def test_serve_on_an_address_not_of_this_machine_says_so_in_one_sentence(cli_env: dict[str, str]) -> None:
    result = subprocess.run([LOOKALIKE, "serve", "--host", "192.0.2.1", "--port", "8000"], env=cli_env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert result.stderr.strip() == "Error: cannot listen on 192.0.2.1 port 8000: Cannot assign requested address"
