"""A fake lxc on PATH: canned answers by argument prefix, every call recorded."""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap

import pytest

FAKE = textwrap.dedent("""\
    #!{python}
    import json, os, sys
    spec = json.load(open(os.environ["FAKE_LXC_SPEC"]))
    with open(os.environ["FAKE_LXC_LOG"], "a") as log:
        log.write(json.dumps(sys.argv[1:]) + "\\n")
    args = [a for a in sys.argv[1:]]
    if args[:2] == ["--project", "rockpack"]:
        args = args[2:]
    line = " ".join(args)
    for prefix, answer in spec.items():
        # "~text" answers any call containing text; other keys answer calls starting so.
        if line.startswith(prefix) or (prefix[:1] == "~" and prefix[1:] in line):
            sys.stdout.write(answer.get("stdout", ""))
            sys.stderr.write(answer.get("stderr", ""))
            sys.exit(answer.get("code", 0))
    sys.exit(0)
""")


@pytest.fixture
def fake_lxc(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "lxc"
    script.write_text(FAKE.replace("{python}", sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    spec_file, log_file = tmp_path / "spec.json", tmp_path / "log"
    monkeypatch.setenv("FAKE_LXC_SPEC", str(spec_file))
    monkeypatch.setenv("FAKE_LXC_LOG", str(log_file))
    return FakeLxc(spec_file, log_file)


class FakeLxc:
    """Set the canned answers (by argument prefix); read back the recorded calls."""

    def __init__(self, spec_file, log_file):
        self.spec_file, self.log_file = spec_file, log_file

    def __call__(self, spec: dict) -> FakeLxc:
        self.spec_file.write_text(json.dumps(spec))
        self.log_file.write_text("")
        return self

    @property
    def calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self.log_file.read_text().splitlines()]
