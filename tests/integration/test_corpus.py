"""Real-world rockcraft.yaml files, through `rockpack expand-extensions`."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.conftest import CORPUS, run_rockpack, unavailable

ACCEPTED = [
    "01-canonical-bind9-rock.yaml",
    "05-canonical-envoy-rock.yaml",
    "06-OpenPrinting-ps-printer-app.yaml",
    # `run_user:` is the field's own name, which Rockcraft's model also accepts.
    "07-canonical-charmed-spark-rock.yaml",
    "08-BON4-cassandra-rock.yaml",
    "10-canonical-chiselled-python.yaml",
    "11-rockcrafters-chiselled-jre.yaml",
    "13-canonical-charmed-valkey-rock.yaml",
    "14-canonical-ceph-containers.yaml",
    "15-alvaromateo-express-charm-demo.yaml",
]
# Each rejected file, and what the one-line error must say.
REJECTED = {
    "02-canonical-charmhub.io.yaml": "extension 'flask-framework': missing requirements.txt",
    "03-canonical-dpaste-k8s-operator.yaml": (
        "extension 'django-framework': missing requirements.txt"
    ),
    "04-canonical-gopkg-charmed.yaml": "extension 'go-framework': missing go.mod",
    "09-canonical-alertmanager-rock.yaml": "key 'cmd': is not supported",
    # craft-parts (and so Rockcraft) forbids debs and chisel slices in one part.
    "12-Monochromics-rocksband.yaml": "cannot mix packages and slices",
}


@pytest.fixture(autouse=True)
def corpus_present():
    if not CORPUS.is_dir():
        message = f"no corpus at {CORPUS} (it lives in shared/ beside the checkout)"
        unavailable(message)


def test_every_corpus_file_is_classified():
    assert sorted(p.name for p in CORPUS.glob("*.yaml")) == sorted([*ACCEPTED, *REJECTED])


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_files_validate_unchanged(tmp_path, name):
    shutil.copy(CORPUS / name, tmp_path / "rockcraft.yaml")
    result = run_rockpack("expand-extensions", "--project-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    printed = yaml.safe_load(result.stdout)
    original = yaml.safe_load((CORPUS / name).read_text())
    assert printed["name"] == original["name"]
    assert sorted(printed["parts"]) == sorted(original["parts"])
    assert sorted(printed.get("services") or {}) == sorted(original.get("services") or {})


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_rejected_files_fail_clearly(tmp_path, name):
    shutil.copy(CORPUS / name, tmp_path / "rockcraft.yaml")
    result = run_rockpack("expand-extensions", "--project-dir", tmp_path)
    assert result.returncode == 1
    assert REJECTED[name] in result.stderr
    assert "Traceback" not in result.stderr


# Rockcraft parity: each a real project that Rockcraft accepts, written small or derived
# from a corpus file where the corpus has no example of its own.
def _expand(tmp_path, text):
    (tmp_path / "rockcraft.yaml").write_text(text, encoding="utf-8")
    result = run_rockpack("expand-extensions", "--project-dir", tmp_path)
    assert "Traceback" not in result.stderr
    return result


def test_parity_run_user_field_name(tmp_path):
    original = (CORPUS / "07-canonical-charmed-spark-rock.yaml").read_text()
    assert "\nrun_user: _daemon_\n" in original
    result = _expand(tmp_path, original)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["run-user"] == "_daemon_"


def test_parity_summary_longer_than_78_characters(tmp_path):
    summary = "Envoy is an open source edge and service proxy, designed for cloud-native apps."
    assert len(summary) > 78
    original = (CORPUS / "05-canonical-envoy-rock.yaml").read_text()
    text = original.replace(
        "summary: Envoy is an open source edge and service proxy.", f"summary: {summary}"
    )
    assert text != original
    result = _expand(tmp_path, text)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["summary"] == summary


def test_parity_entrypoint_service_with_empty_default_args(tmp_path):
    original = (CORPUS / "05-canonical-envoy-rock.yaml").read_text()
    text = original.replace('command: "envoy [ -c /etc/envoy/envoy.yaml ]"', 'command: "envoy [ ]"')
    assert text != original and "entrypoint-service: envoy" in text
    result = _expand(tmp_path, text)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["services"]["envoy"]["command"] == "envoy [ ]"


def test_parity_inline_project_with_all_three(tmp_path):
    text = """\
name: parity
version: "1.0"
summary: A rock whose summary runs well past the seventy-eight characters of craft-application.
description: Rockcraft accepts each of these.
base: ubuntu@22.04
platforms:
  amd64:
run_user: _daemon_
services:
  app:
    override: replace
    command: /bin/app [ ]
entrypoint-service: app
parts:
  app:
    plugin: nil
"""
    result = _expand(tmp_path, text)
    assert result.returncode == 0, result.stderr
    printed = yaml.safe_load(result.stdout)
    assert printed["run-user"] == "_daemon_" and len(printed["summary"]) > 78


def test_entrypoint_service_without_brackets_is_still_refused(tmp_path):
    original = (CORPUS / "05-canonical-envoy-rock.yaml").read_text()
    text = original.replace('command: "envoy [ -c /etc/envoy/envoy.yaml ]"', 'command: "envoy"')
    result = _expand(tmp_path, text)
    assert result.returncode == 1
    assert "has no default arguments in '[ ... ]'" in result.stderr
