"""Each extension: what the app must provide, and the parts, services and merge it gives."""

from __future__ import annotations

import copy

import pytest

from rockpack.project.extensions import ExtensionError, apply_extensions
from tests.unit.project.test_extensions import APPS, write_app


def expand(directory, extension, base="bare", **extra):
    data = {"name": "my-app", "base": base, "extensions": [extension], **copy.deepcopy(extra)}
    if base == "bare":
        data["build-base"] = "debian@12"
    return apply_extensions(directory, data, allow_experimental=True)


def problems(directory, extension, **extra):
    with pytest.raises(ExtensionError) as info:
        expand(directory, extension, **extra)
    return info.value.problems


# flask-framework


def test_flask_parts_services_and_run_user(tmp_path):
    write_app(tmp_path, APPS["flask-framework"] | {"static/a.css": "", "notes.txt": ""})
    data = expand(tmp_path, "flask-framework")
    assert data["run-user"] == "_daemon_"
    assert set(data["parts"]) == {
        "flask-framework/dependencies",
        "flask-framework/install-app",
        "flask-framework/config-files",
        "flask-framework/logging",
        "flask-framework/runtime",
    }
    flask = data["services"]["flask"]
    assert flask == {
        "override": "replace",
        "startup": "enabled",
        "user": "_daemon_",
        "command": "/bin/python3 -m gunicorn -c /flask/gunicorn.conf.py 'app:app' -k [ sync ]",
    }
    install = data["parts"]["flask-framework/install-app"]
    assert install["organize"]["app.py"] == "flask/app/app.py"
    assert install["prime"] == ["flask/app/app.py", "flask/app/static"]  # not notes.txt
    assert install["permissions"] == [{"owner": 584792, "group": 584792}]
    config = data["parts"]["flask-framework/config-files"]["override-build"]
    assert 'bind = ["0.0.0.0:8000"]' in config and 'chdir = "/flask/app"' in config


def test_flask_python_layout_differs_on_bare_and_on_a_usrmerged_base(tmp_path):
    write_app(tmp_path, APPS["flask-framework"])
    bare = expand(tmp_path, "flask-framework")["parts"]
    debian = expand(tmp_path, "flask-framework", base="debian@12")["parts"]
    deps_bare, deps_debian = (
        bare["flask-framework/dependencies"],
        debian["flask-framework/dependencies"],
    )
    assert deps_bare["stage-packages"] == ["python3-venv"] == deps_debian["stage-packages"]
    assert deps_bare["python-packages"] == ["gunicorn~=23.0"]
    assert deps_bare["python-requirements"] == ["requirements.txt"]
    assert deps_bare["build-environment"] == [{"PARTS_PYTHON_INTERPRETER": "python3.11"}]
    assert "-pyvenv.cfg" in deps_bare["stage"] and "-pyvenv.cfg" in deps_debian["stage"]
    assert "-bin/python*" not in deps_bare["stage"]  # /bin/python3 on bare is the venv's
    assert "-bin/python*" in deps_debian["stage"]  # would land on usr/bin/python3*
    runtime_bare = bare["flask-framework/runtime"]
    assert runtime_bare["stage-packages"] == ["bash", "coreutils", "ca-certificates"]
    assert "usr/lib/python3.11/sitecustomize.py" in runtime_bare["override-build"]
    assert 'ln -s bash "$CRAFT_PART_INSTALL/$dir/sh"' in runtime_bare["override-build"]
    assert debian["flask-framework/runtime"]["stage-packages"] == ["ca-certificates"]


@pytest.mark.parametrize(
    ("files", "wsgi"),
    [
        ({"main.py": "application = make()\n"}, "main:application"),
        ({"src/__init__.py": "from .web import app\n"}, "src:app"),
        ({"my_app/app.py": "def create_app():\n    pass\n"}, "my_app.app:create_app()"),
        ({"app.py": "def make_app():\n    pass\n", "main.py": "app = 1\n"}, "main:app"),
    ],
)
def test_flask_finds_the_wsgi_entry_as_rockcraft_does(tmp_path, files, wsgi):
    write_app(tmp_path, {"requirements.txt": "flask>=3\n", **files})
    data = expand(tmp_path, "flask-framework")
    assert f"'{wsgi}'" in data["services"]["flask"]["command"]
    prime = data["parts"]["flask-framework/install-app"]["prime"]
    assert f"flask/app/{next(iter(files)).split('/')[0]}" in prime


def test_flask_problems_say_exactly_what_is_missing(tmp_path):
    write_app(tmp_path, {"requirements.txt": "requests\n", "app.py": "def nothing():\n    pass\n"})
    found = problems(tmp_path, "flask-framework")
    assert found[0] == "requirements.txt does not list 'flask'"
    assert found[1].startswith("no WSGI app found: none of app.py, main.py")
    write_app(tmp_path, {"requirements.txt": "flask\n", "app.py": "app = (\n"})
    assert problems(tmp_path, "flask-framework") == [
        "cannot parse app.py (line 1): '(' was never closed"
    ]


def test_flask_reads_pyproject_and_picks_gevent_workers(tmp_path):
    write_app(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "x"\ndependencies = ["Flask>=3", "gevent"]\n',
            "app.py": "app = 1\n",
        },
    )
    data = expand(tmp_path, "flask-framework")
    assert data["services"]["flask"]["command"].endswith("-k [ gevent ]")
    assert data["parts"]["flask-framework/dependencies"]["python-requirements"] == []


def test_flask_merges_the_users_parts_and_service_as_rockcraft(tmp_path):
    """The corpus pattern: prime listed by the user, packages added to dependencies."""
    write_app(tmp_path, APPS["flask-framework"] | {".env": "", "webapp/x.py": ""})
    parts = {
        "flask-framework/install-app": {
            "prime": ["flask/app/.env", "flask/app/app.py", "flask/app/webapp"]
        },
        "flask-framework/dependencies": {"stage-packages": ["libpq5"], "build-packages": ["gcc"]},
    }
    services = {"flask": {"command": "/bin/python3 -m gunicorn app:app", "environment": {"A": "1"}}}
    data = expand(tmp_path, "flask-framework", parts=parts, services=services)
    install = data["parts"]["flask-framework/install-app"]
    assert install["organize"] == {
        ".env": "flask/app/.env",
        "app.py": "flask/app/app.py",
        "webapp": "flask/app/webapp",
    }
    assert install["prime"] == parts["flask-framework/install-app"]["prime"]
    dependencies = data["parts"]["flask-framework/dependencies"]
    assert dependencies["stage-packages"] == ["python3-venv", "libpq5"]  # extension's first
    assert dependencies["build-packages"] == ["gcc"]
    assert data["services"]["flask"] == {
        "command": "/bin/python3 -m gunicorn app:app",  # the user's command is kept
        "environment": {"A": "1"},
        "override": "replace",
        "startup": "enabled",
        "user": "_daemon_",
    }


def test_flask_prime_must_stay_in_flask_app(tmp_path):
    write_app(tmp_path, APPS["flask-framework"])
    parts = {"flask-framework/install-app": {"prime": ["app.py"]}}
    assert problems(tmp_path, "flask-framework", parts=parts) == [
        "the entries of 'flask-framework/install-app' must start with 'flask/app' (found: app.py)"
    ]


def test_flask_statsd_exporter_only_when_the_project_names_it(tmp_path):
    write_app(tmp_path, APPS["flask-framework"])
    assert "statsd-exporter" not in expand(tmp_path, "flask-framework")["services"]
    services = {"flask": {"after": ["statsd-exporter"]}}
    data = expand(tmp_path, "flask-framework", services=services)
    assert data["services"]["statsd-exporter"]["command"].startswith("/bin/statsd_exporter ")
    assert data["services"]["flask"]["after"] == ["statsd-exporter"]
    exporter = data["parts"]["flask-framework/statsd-exporter"]
    assert exporter["plugin"] == "go" and exporter["build-packages"] == ["golang-go"]


# django-framework


def test_django_wsgi_install_app_and_service(tmp_path):
    write_app(tmp_path, APPS["django-framework"])
    data = expand(tmp_path, "django-framework", base="debian@12")
    assert data["services"]["django"]["command"] == (
        "/bin/python3 -m gunicorn -c /django/gunicorn.conf.py 'my_app.wsgi:application' -k [ sync ]"
    )
    assert data["parts"]["django-framework/install-app"] == {
        "plugin": "dump",
        "source": "my_app",
        "organize": {"*": "django/app/", ".*": "django/app/"},
        "stage": ["-django/app/db.sqlite3"],
        "permissions": [{"owner": 584792, "group": 584792}],
    }
    assert (
        'chdir = "/django/app"' in data["parts"]["django-framework/config-files"]["override-build"]
    )


def test_django_mysite_and_a_users_install_app(tmp_path):
    write_app(
        tmp_path, {"requirements.txt": "django\n", "my_app/mysite/wsgi.py": "application = 1\n"}
    )
    parts = {"django-framework/install-app": {"plugin": "dump", "source": "."}}
    data = expand(tmp_path, "django-framework", parts=parts)
    assert "'mysite.wsgi:application'" in data["services"]["django"]["command"]
    assert data["parts"]["django-framework/install-app"] == {
        "plugin": "dump",
        "source": ".",
        "permissions": [{"owner": 584792, "group": 584792}],
    }


def test_django_problems_name_the_paths_searched(tmp_path):
    write_app(
        tmp_path, {"requirements.txt": "Django\n", "mysite/mysite/wsgi.py": "application = 1\n"}
    )
    (problem,) = problems(tmp_path, "django-framework")
    assert problem == (
        "no Django project found: neither my_app/my_app/wsgi.py nor my_app/mysite/wsgi.py "
        "defines a global 'application' (the project directory must be named 'my_app', after "
        "the rock)"
    )


# fastapi-framework


def test_fastapi_service_and_parts(tmp_path):
    write_app(tmp_path, {"requirements.txt": "fastapi[standard]\n", "src/main.py": "app = 1\n"})
    data = expand(tmp_path, "fastapi-framework")
    assert data["services"]["fastapi"] == {
        "override": "replace",
        "startup": "enabled",
        "user": "_daemon_",
        "working-dir": "/app",
        "environment": {"UVICORN_HOST": "0.0.0.0"},
        "command": "/bin/python3 -m uvicorn src.main:app",
    }
    parts = data["parts"]
    assert parts["fastapi-framework/dependencies"]["python-packages"] == ["uvicorn"]
    assert parts["fastapi-framework/install-app"]["organize"] == {"src": "app/src"}
    assert set(parts) == {
        "fastapi-framework/dependencies",
        "fastapi-framework/install-app",
        "fastapi-framework/runtime",
        "fastapi-framework/logging",
    }


def test_fastapi_problems(tmp_path):
    assert problems(tmp_path, "fastapi-framework")[0].startswith("missing requirements.txt")
    write_app(tmp_path, {"requirements.txt": "flask\n"})
    assert problems(tmp_path, "fastapi-framework") == [
        "requirements.txt lists neither 'fastapi' nor 'starlette'",
        "no ASGI app found: none of app.py, main.py, app/__init__.py, app/app.py, app/main.py, "
        "src/__init__.py, src/app.py, src/main.py, my_app/__init__.py, my_app/app.py, "
        "my_app/main.py defines a global 'app'",
    ]


# go-framework


def test_go_parts_and_service(tmp_path):
    write_app(tmp_path, APPS["go-framework"] | {"templates/a.html": ""})
    data = expand(tmp_path, "go-framework")
    assert data["services"]["go"] == {
        "override": "replace",
        "startup": "enabled",
        "command": "my-app",
        "user": "_daemon_",
        "working-dir": "/app",
    }
    install = data["parts"]["go-framework/install-app"]
    assert install == {
        "plugin": "go",
        "source": ".",
        "organize": {"bin/my-app": "usr/local/bin/my-app"},
        "build-packages": ["golang-go"],  # the build-base's Go, not the go snap
        "stage": ["usr/local/bin/my-app"],
        "build-environment": [{"CGO_ENABLED": "0"}],
    }
    assert data["parts"]["go-framework/assets"]["organize"] == {"templates": "app/templates"}
    assert data["parts"]["go-framework/runtime"]["stage-packages"] == [
        "ca-certificates",
        "bash",
        "coreutils",
    ]


def test_go_keeps_the_users_toolchain_and_cgo_choice(tmp_path):
    """The corpus's gopkg sets CGO_ENABLED itself: it is not added twice."""
    write_app(tmp_path, APPS["go-framework"])
    parts = {
        "go-framework/install-app": {
            "build-environment": [{"CGO_ENABLED": "0"}],
            "build-snaps": ["go/1.22/stable"],
        }
    }
    install = expand(tmp_path, "go-framework", parts=parts)["parts"]["go-framework/install-app"]
    assert install["build-environment"] == [{"CGO_ENABLED": "0"}]
    assert install["build-snaps"] == ["go/1.22/stable"]
    assert "build-packages" not in install


def test_go_needs_go_mod(tmp_path):
    (problem,) = problems(tmp_path, "go-framework")
    assert problem.startswith("missing go.mod in ")


# expressjs-framework


def test_express_parts_and_service(tmp_path):
    write_app(tmp_path, APPS["expressjs-framework"])
    data = expand(tmp_path, "expressjs-framework")
    assert data["services"]["expressjs"] == {
        "override": "replace",
        "startup": "enabled",
        "user": "_daemon_",
        "working-dir": "/app",
        "environment": {"NODE_ENV": "production"},
        "command": "npm start",
    }
    install = data["parts"]["expressjs-framework/install-app"]
    assert install["plugin"] == "npm" and install["source"] == "app/"
    assert install["build-packages"] == ["nodejs", "npm"]
    assert "ln -s /lib/node_modules/my-app ${CRAFT_PART_INSTALL}/app" in install["override-build"]
    runtime = data["parts"]["expressjs-framework/runtime"]
    assert runtime["stage-packages"] == ["libstdc++6", "zlib1g", "npm"]


def test_express_users_build_packages_replace_the_default(tmp_path):
    write_app(tmp_path, APPS["expressjs-framework"])
    parts = {"expressjs-framework/install-app": {"build-packages": ["nodejs"]}}
    data = expand(tmp_path, "expressjs-framework", base="debian@12", parts=parts)
    install = data["parts"]["expressjs-framework/install-app"]
    assert install["build-packages"] == ["nodejs"]
    assert install["stage-packages"] == ["ca-certificates", "nodejs"]


@pytest.mark.parametrize(
    ("package_json", "problem"),
    [
        (None, "missing app/package.json in "),
        ("{", "cannot parse app/package.json (line 1)"),
        ('{"name": "x"}', "app/package.json has no 'scripts.start'"),
        ('{"scripts": {"start": "node ."}}', "app/package.json has no 'name'"),
    ],
)
def test_express_problems(tmp_path, package_json, problem):
    if package_json is not None:
        write_app(tmp_path, {"app/package.json": package_json})
    assert problems(tmp_path, "expressjs-framework")[0].startswith(problem)


# spring-boot-framework


def test_spring_boot_maven_and_gradle(tmp_path):
    write_app(tmp_path, APPS["spring-boot-framework"])
    data = expand(tmp_path, "spring-boot-framework")
    install = data["parts"]["spring-boot-framework/install-app"]
    assert install["plugin"] == "maven" and install["build-packages"] == ["default-jdk", "maven"]
    assert install["stage-packages"] == ["libnss3", "libc6", "libgcc-s1", "libstdc++6", "zlib1g"]
    assert data["parts"]["spring-boot-framework/runtime"]["plugin"] == "jlink"
    assert data["services"]["spring-boot"]["command"] == 'bash -c "java -jar *.jar"'
    (tmp_path / "pom.xml").unlink()
    write_app(tmp_path, {"build.gradle": "", "gradlew": ""})
    (tmp_path / "gradlew").chmod(0o755)
    install = expand(tmp_path, "spring-boot-framework")["parts"][
        "spring-boot-framework/install-app"
    ]
    assert install["plugin"] == "gradle" and install["gradle-task"] == "bootJar"
    assert install["build-packages"] == ["default-jdk"]


def test_spring_boot_problems(tmp_path):
    assert problems(tmp_path, "spring-boot-framework")[0].startswith(
        "missing pom.xml or build.gradle"
    )
    write_app(tmp_path, {"pom.xml": "", "build.gradle": "", "mvnw": ""})
    assert problems(tmp_path, "spring-boot-framework") == [
        "both pom.xml and build.gradle are there: keep the one that builds the app",
        "mvnw is not executable (chmod +x mvnw)",
    ]
