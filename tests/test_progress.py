"""Progress bars: shown (items/s, ETA) when stderr is a terminal, silent in logs/pipes and
with ``--quiet``. The CLI tests give the subprocess a real pseudo-terminal as stderr."""
import io
import os
import pty
import subprocess
import sys

import pytest
from conftest import save_ann_ruler

from spacy_gner.util import progress


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("tty,quiet,shown", [(True, False, True), (True, True, False), (False, False, False)])
def test_progress_helper(monkeypatch, tty, quiet, shown):
    stream = FakeTTY() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    bar = progress(total=3, desc="docs", unit="doc", quiet=quiet, mininterval=0)
    for _ in range(3):
        bar.update(1)
    bar.close()
    assert list(progress([1, 2], quiet=quiet)) == [1, 2]  # iterating passes the items through
    text = stream.getvalue()
    assert ("3/3" in text and "doc/s" in text) is shown
    assert bool(text) is shown


@pytest.fixture
def ruler_pipeline(tmp_path):
    save_ann_ruler(tmp_path / "pipe", "PER")
    data = tmp_path / "dev.txt"
    data.write_text("\n\n".join(f"Ann\tB-PER\nsaw\tO\nitem{i}\tO" for i in range(5)) + "\n", encoding="utf8")
    return tmp_path / "pipe", data


def _run_with_tty_stderr(args):
    """Run ``python -m spacy_gner ARGS`` with stderr on a pseudo-terminal; returns
    (exit code, what reached the terminal)."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a 120-column terminal
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "spacy_gner", *args], stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf8", "replace")


def test_evaluate_shows_a_bar_on_a_real_terminal(ruler_pipeline):
    pipe, data = ruler_pipeline
    code, tty = _run_with_tty_stderr(["evaluate", str(pipe), str(data)])
    assert code == 0, tty
    assert "/5 [" in tty and "doc/s" in tty


@pytest.mark.parametrize("command", ["evaluate", "convert", "annotate"])
def test_quiet_silences_the_bar_on_a_terminal(ruler_pipeline, tmp_path, monkeypatch, command):
    from typer.testing import CliRunner

    import spacy_gner.util
    from spacy_gner.cli import register_commands

    monkeypatch.setattr(spacy_gner.util, "_is_tty", lambda stream: True)  # as if stderr were a terminal
    pipe, data = ruler_pipeline
    (tmp_path / "in.txt").write_text("Ann saw it\nBob left\nAnn too\n", encoding="utf8")
    args = {
        "evaluate": ["evaluate", str(pipe), str(data)],
        "convert": ["convert", str(data), str(tmp_path / "c")],
        "annotate": ["annotate", str(pipe), str(tmp_path / "in.txt"), str(tmp_path / "a"), "--shard-size", "2"],
    }[command]
    unit = "file/s" if command == "convert" else "doc/s"
    loud = CliRunner().invoke(register_commands(), args)
    if command == "annotate":
        assert "/3 [" in loud.output, loud.output
        args[-3] = str(tmp_path / "b")  # a fresh output: the first run's shards would be skipped
    quiet = CliRunner().invoke(register_commands(), args + ["--quiet"])
    assert loud.exit_code == 0 and quiet.exit_code == 0, loud.output + quiet.output
    assert unit in loud.output and unit not in quiet.output


def test_no_bar_when_stderr_is_not_a_terminal_and_quiet_accepted(ruler_pipeline, tmp_path):
    from typer.testing import CliRunner

    from spacy_gner.cli import register_commands

    _, data = ruler_pipeline
    runner = CliRunner()
    for extra in ([], ["--quiet"]):
        out = tmp_path / f"conv{len(extra)}"
        result = runner.invoke(register_commands(), ["convert", str(data), str(out), *extra])
        assert result.exit_code == 0, result.output
        assert (out / "dev.spacy").exists()
        assert "file/s" not in result.output and "%|" not in result.output
