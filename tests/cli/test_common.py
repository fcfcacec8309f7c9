"""What every command shares: a product error is one sentence on stderr and exit 1, never a traceback."""

from __future__ import annotations

from cli.common import printable
from tests.support.cli import run_cli


def test_an_unreachable_cluster_is_one_clear_error(cli_env: dict[str, str]) -> None:
    env = dict(cli_env, OPENSEARCH_URL="http://127.0.0.1:9", OPENSEARCH_TIMEOUT="2")

    result = run_cli("index", "list", env=env)

    assert result.returncode == 1
    assert result.stderr.startswith("Error: OpenSearch at http://127.0.0.1:9 cannot be reached")
    assert "Traceback" not in result.stderr


def test_a_bad_setting_is_one_clear_error(cli_env: dict[str, str]) -> None:
    result = run_cli("index", "list", env=dict(cli_env, LOOKALIKE_REDIS_PORT="not-a-port"))

    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and "LOOKALIKE_REDIS_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_text_from_elsewhere_loses_what_a_terminal_would_act_on() -> None:
    assert printable("\x1b[1;31mRed\x1b[0m sneaker") == "Red sneaker"  # colours
    assert printable("\x1b]0;you have been pwned\x07Mug") == "Mug"  # set-window-title, ended by BEL
    assert printable("\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\") == "link"  # a hyperlink, ended by ST
    assert printable("a\x9b2Jb\x9d0;title\x9cc") == "abc"  # the 8-bit forms
    assert printable("bell\x07 back\x08space nul\x00 del\x7f c1\x85 lone\x1b") == "bell backspace nul del c1 lone"
    assert printable("tabs\tand\nlines stay, é and 中 too") == "tabs\tand\nlines stay, é and 中 too"
    assert printable("one\nrecord\r\nonly", one_line=True) == "one record only"
