"""12-factor extensions end to end: a small real app, `rockpack init --profile`, `pack`,
the rock run under runc with the real Pebble, the app's own answer over HTTP on
127.0.0.1, and Pebble starting the server again after it is killed.

The apps' dependencies come from PyPI and npm at test time; the Go app uses the standard
library only and builds with Debian's golang-go. Builds run with a plain system PATH so
that the python plugin uses Debian's python3 (pyenv's comes first on these machines).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_file, run_rockpack
from tests.integration.oci_tools import part_members, validate_rock
from tests.integration.pebble_binary import PEBBLE_ARCHIVE, write_pebble
from tests.integration.test_extensions_support import (
    kill_server_and_wait_restart,
    port_is_free,
    running,
    wait_for_answer,
)

pytestmark = pytest.mark.integration

PLAIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EPOCH = "1700000000"


@pytest.fixture(scope="module")
def pebble(tmp_path_factory) -> Path:
    """The real Pebble: ROCKPACK_TEST_PEBBLE, or the binary in shared/tools/pebble."""
    if os.environ.get("ROCKPACK_TEST_PEBBLE"):
        return Path(os.environ["ROCKPACK_TEST_PEBBLE"])
    require_file(PEBBLE_ARCHIVE, "the real Pebble archives are needed (see test-env.md)")
    return write_pebble(PEBBLE_ARCHIVE, tmp_path_factory.mktemp("pebble") / "pebble")


@dataclass(frozen=True)
class AppCase:
    profile: str
    name: str
    files: dict[str, str]
    port: int
    answer: str
    base: str = "bare"  # or "debian@12", served by the test registry
    python_module: str | None = None  # imported in the rock to check the Python layout
    extra: str = ""  # appended to the project file after init
    env: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.profile}-{self.base}"


FLASK = AppCase(
    "flask-framework",
    "flask-hello",
    {
        "requirements.txt": "flask\n",
        "app.py": """\
            import flask

            app = flask.Flask(__name__)


            @app.route("/")
            def index():
                return "Flask answers from a rock\\n"
            """,
    },
    port=8000,
    answer="Flask answers from a rock",
    python_module="flask",
)

DJANGO = AppCase(
    "django-framework",
    "django-hello",
    {
        "requirements.txt": "Django>=4.2,<6\n",
        "django_hello/manage.py": """\
            import os
            import sys

            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_hello.settings")
            from django.core.management import execute_from_command_line

            execute_from_command_line(sys.argv)
            """,
        "django_hello/django_hello/__init__.py": "",
        "django_hello/django_hello/settings.py": """\
            SECRET_KEY = "only-for-this-test"
            DEBUG = False
            ALLOWED_HOSTS = ["*"]
            ROOT_URLCONF = "django_hello.urls"
            INSTALLED_APPS = []
            MIDDLEWARE = []
            DATABASES = {}
            USE_TZ = True
            """,
        "django_hello/django_hello/urls.py": """\
            from django.http import HttpResponse
            from django.urls import path


            def index(request):
                return HttpResponse("Django answers from a rock\\n", content_type="text/plain")


            urlpatterns = [path("", index)]
            """,
        "django_hello/django_hello/wsgi.py": """\
            import os

            from django.core.wsgi import get_wsgi_application

            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_hello.settings")
            application = get_wsgi_application()
            """,
    },
    port=8000,
    answer="Django answers from a rock",
    base="debian@12",
    python_module="django",
)

FASTAPI = AppCase(
    "fastapi-framework",
    "fastapi-hello",
    {
        "requirements.txt": "fastapi\n",
        "app.py": """\
            from fastapi import FastAPI
            from fastapi.responses import PlainTextResponse

            app = FastAPI()


            @app.get("/", response_class=PlainTextResponse)
            def index():
                return "FastAPI answers from a rock\\n"
            """,
    },
    port=8000,
    answer="FastAPI answers from a rock",
    base="debian@12",
    python_module="fastapi",
)

GO = AppCase(
    "go-framework",
    "go-hello",
    {
        "go.mod": "module go-hello\n\ngo 1.19\n",
        "main.go": """\
            package main

            import (
            \t"fmt"
            \t"net/http"
            \t"os"
            )

            func main() {
            \tport := os.Getenv("APP_PORT")
            \tif port == "" {
            \t\tport = "8080"
            \t}
            \thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
            \t\tfmt.Fprintln(w, "Go answers from a rock")
            \t})
            \tif err := http.ListenAndServe(":"+port, nil); err != nil {
            \t\tfmt.Fprintln(os.Stderr, err)
            \t\tos.Exit(1)
            \t}
            }
            """,
    },
    port=8080,
    answer="Go answers from a rock",
)

EXPRESS = AppCase(
    "expressjs-framework",
    "express-hello",
    {
        "app/package.json": """\
            {
              "name": "express-hello",
              "version": "1.0.0",
              "private": true,
              "scripts": {"start": "node server.js"},
              "dependencies": {"express": "^4.21.0"}
            }
            """,
        "app/server.js": """\
            const express = require("express");
            const app = express();
            const answer = "Express answers from a rock\\n";
            app.get("/", (req, res) => res.type("text/plain").send(answer));
            app.listen(process.env.PORT || 3000);
            """,
    },
    port=3000,
    answer="Express answers from a rock",
)

CASES = [FLASK, DJANGO, FASTAPI, GO, EXPRESS]


def host_npm_is_not_debians() -> bool:
    """npm runs here but is no Debian package (NodeSource's nodejs bundles it, and conflicts
    with Debian's npm package, so asking apt for 'npm' must be avoided)."""
    known = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Status}", "npm"], capture_output=True, text=True, check=False
    )
    return shutil.which("npm") is not None and "install ok installed" not in known.stdout


def make_project(case: AppCase, project: Path) -> None:
    """The app's files, then `rockpack init --profile`, then the case's base."""
    for relative, text in case.files.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    result = run_rockpack(
        "init", "--profile", case.profile, "--name", case.name, "--project-dir", project
    )
    assert result.returncode == 0, result.stderr
    assert "Before packing" not in result.stderr  # the app is complete
    project_file = project / "rockpack.yaml"
    text = project_file.read_text()
    assert f"extensions:\n  - {case.profile}\n" in text
    if case.base != "bare":
        text = text.replace("base: bare\nbuild-base: debian@12\n", f"base: {case.base}\n")
    if case.profile == "expressjs-framework" and host_npm_is_not_debians():
        text += "parts:\n  expressjs-framework/install-app:\n    build-packages: [nodejs]\n"
    project_file.write_text(text + case.extra)


def pack(project: Path, env: dict[str, str]) -> Path:
    result = run_rockpack("pack", "--destructive-mode", "--project-dir", project, env=env)
    assert result.returncode == 0, result.stderr[-6000:]
    (rock,) = project.glob("*.rock")
    validate_rock(rock)
    return rock


def check_python_layout(case: AppCase, rock: Path, rootfs: Path, container) -> None:
    """The decided layout: no pyvenv.cfg, rockpack's sitecustomize, the base's own python3."""
    assert not (rootfs / "pyvenv.cfg").exists()
    sitecustomize = rootfs / "usr/lib/python3.11/sitecustomize.py"
    assert "rockpack" in sitecustomize.read_text()
    assert os.readlink(rootfs / "usr/bin/python3") == "python3.11"  # Debian's own link
    parts_layer = part_members(rock)
    if case.base == "bare":
        # the venv's link is /bin/python3 itself, to the staged interpreter
        real = (rootfs / "bin/python3").resolve()
        assert real == (rootfs / "usr/bin/python3.11").resolve()
    else:
        # bin -> usr/bin in the base: the venv's bin/python* links are not in the rock
        assert os.readlink(rootfs / "bin") == "usr/bin"
        venv_links = [n for n, m in parts_layer.items() if m.issym() and "../usr/bin" in m.linkname]
        assert venv_links == []
    for python in ("/bin/python3", "/usr/bin/python3"):
        result = container.exec(python, "-c", f"import {case.python_module}")
        assert result.returncode == 0, (python, result.stderr)
    result = container.exec("/bin/sh", "-c", f"cd / && python3 -c 'import {case.python_module}'")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_app_rock_answers_and_pebble_restarts_its_server(case, tmp_path, pebble, request):
    if not port_is_free(case.port):
        pytest.fail(f"port {case.port} is in use on this machine; the {case.profile} app needs it")
    env = {
        "PATH": PLAIN_PATH,
        "ROCKPACK_PEBBLE_SOURCE": str(pebble),
        "SOURCE_DATE_EPOCH": EPOCH,
        **case.env,
    }
    if case.base != "bare":
        env.update(request.getfixturevalue("base_env"))
    project = tmp_path / case.name
    make_project(case, project)
    rock = pack(project, env)
    url = f"http://127.0.0.1:{case.port}/"
    with running(rock, tmp_path / "run") as container:
        body = wait_for_answer(url, case.answer, container)
        assert case.answer in body
        rootfs = container.bundle / "rootfs"
        layer = yaml.safe_load(
            next((rootfs / "var/lib/pebble/default/layers").iterdir()).read_text()
        )
        service = case.profile.split("-framework")[0]
        assert layer["services"][service]["user"] == "_daemon_"
        if case.python_module:
            check_python_layout(case, rock, rootfs, container)
        old, new = kill_server_and_wait_restart(container, case.port, url, case.answer)
        assert old != new
