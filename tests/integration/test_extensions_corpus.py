"""The real corpus files that use extensions, expanded by `rockpack expand-extensions`
with the app files each extension requires, and their overrides merged as in Rockcraft."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.conftest import CORPUS, run_rockpack, unavailable

pytestmark = pytest.mark.integration

# Each corpus file using an extension, and the app files that extension requires of it.
APP_FILES = {
    "02-canonical-charmhub.io.yaml": {
        "requirements.txt": "Flask==3.0.0\ntalisker[gunicorn]\n",
        "app.py": "from webapp.app import app\n",
        "webapp/app.py": "import flask\napp = flask.Flask(__name__)\n",
    },
    "03-canonical-dpaste-k8s-operator.yaml": {
        "requirements.txt": "Django>=4.2\n",
        "dpaste/dpaste/wsgi.py": "application = None\n",
        "dpaste/manage.py": "",
    },
    "04-canonical-gopkg-charmed.yaml": {"go.mod": "module gopkg\n\ngo 1.22\n", "main.go": ""},
}


@pytest.fixture(autouse=True)
def corpus_present():
    if not CORPUS.is_dir():
        message = f"no corpus at {CORPUS}"
        unavailable(message)


def test_these_are_all_the_corpus_files_with_extensions():
    using = {
        p.name for p in CORPUS.glob("*.yaml") if yaml.safe_load(p.read_text()).get("extensions")
    }
    assert using == set(APP_FILES)


def expand(tmp_path, name, with_app=True):
    shutil.copy(CORPUS / name, tmp_path / "rockcraft.yaml")
    for relative, text in APP_FILES[name].items() if with_app else ():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return run_rockpack("expand-extensions", "--project-dir", tmp_path)


@pytest.mark.parametrize("name", sorted(APP_FILES))
def test_without_the_app_the_extension_says_what_is_missing(tmp_path, name):
    result = expand(tmp_path, name, with_app=False)
    assert result.returncode == 1
    assert "key 'extensions': extension '" in result.stderr
    assert "missing" in result.stderr and "Traceback" not in result.stderr


def test_charmhub_flask_on_ubuntu_2204_primes_what_it_lists(tmp_path):
    result = expand(tmp_path, "02-canonical-charmhub.io.yaml")
    assert result.returncode == 0, result.stderr
    project = yaml.safe_load(result.stdout)
    assert "extensions" not in project
    assert project["run-user"] == "_daemon_"
    assert project["services"]["flask"]["command"] == (
        "/bin/python3 -m gunicorn -c /flask/gunicorn.conf.py 'app:app' -k [ sync ]"
    )
    install = project["parts"]["flask-framework/install-app"]
    assert install["prime"] == [
        "flask/app/.env",
        "flask/app/app.py",
        "flask/app/webapp",
        "flask/app/templates",
        "flask/app/static",
        "flask/app/redirects.yaml",
        "flask/app/security.txt",
        "flask/app/robots.txt",
    ]
    assert install["organize"]["redirects.yaml"] == "flask/app/redirects.yaml"
    assert install["stage"] == install["prime"]
    dependencies = project["parts"]["flask-framework/dependencies"]
    assert "-bin/python*" in dependencies["stage"]  # ubuntu@22.04 has bin -> usr/bin
    assert "PARTS_PYTHON_INTERPRETER" not in str(dependencies["build-environment"])
    assert "usr/lib/python3.10/sitecustomize.py" in str(project["parts"]["flask-framework/runtime"])


def test_dpaste_django_overrides_merge_as_in_rockcraft(tmp_path):
    result = expand(tmp_path, "03-canonical-dpaste-k8s-operator.yaml")
    assert result.returncode == 0, result.stderr
    project = yaml.safe_load(result.stdout)
    dependencies = project["parts"]["django-framework/dependencies"]
    # the project's keys stay; the extension's fill in the rest
    assert dependencies["after"] == ["frontend"]
    assert dependencies["build-packages"] == ["python3.12-venv"]
    assert dependencies["override-build"].startswith('cp "$CRAFT_STAGE/dpaste/static/dpaste.css"')
    assert dependencies["plugin"] == "python"
    assert dependencies["stage-packages"] == ["python3-venv"]
    assert dependencies["build-environment"] == [{"PARTS_PYTHON_INTERPRETER": "python3.12"}]
    assert project["parts"]["django-framework/install-app"]["source"] == "dpaste"
    assert "frontend" in project["parts"]
    django = project["services"]["django"]
    assert django["command"].startswith("/bin/python3 -m gunicorn -c /django/gunicorn.conf.py")
    assert "'dpaste.dpaste.wsgi:application'" in django["command"]
    # it names the StatsD exporter, so the exporter's service and part are there
    assert django["after"] == ["statsd-exporter"]
    assert project["services"]["statsd-exporter"]["command"].startswith("/bin/statsd_exporter")
    assert project["parts"]["django-framework/statsd-exporter"]["plugin"] == "go"


def test_gopkg_go_on_bare_keeps_its_cgo_setting(tmp_path):
    result = expand(tmp_path, "04-canonical-gopkg-charmed.yaml")
    assert result.returncode == 0, result.stderr
    project = yaml.safe_load(result.stdout)
    install = project["parts"]["go-framework/install-app"]
    assert install["build-environment"] == [{"CGO_ENABLED": "0"}]
    assert install["organize"] == {"bin/gopkg": "usr/local/bin/gopkg"}
    assert install["build-packages"] == ["golang-go"]
    assert project["services"]["go"]["command"] == "gopkg"
    assert project["services"]["go"]["working-dir"] == "/app"
    assert project["platforms"] == {"arm64": None}
