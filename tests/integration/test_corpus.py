"""Real-world rockcraft.yaml files, through `rockpack expand-extensions`."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.conftest import CORPUS, in_ci, run_rockpack

ACCEPTED = [
    "01-canonical-bind9-rock.yaml",
    "05-canonical-envoy-rock.yaml",
    "06-OpenPrinting-ps-printer-app.yaml",
    "08-BON4-cassandra-rock.yaml",
    "10-canonical-chiselled-python.yaml",
    "11-rockcrafters-chiselled-jre.yaml",
    "13-canonical-charmed-valkey-rock.yaml",
    "14-canonical-ceph-containers.yaml",
    "15-alvaromateo-express-charm-demo.yaml",
]
# Each rejected file, and what the one-line error must say.
REJECTED = {
    "02-canonical-charmhub.io.yaml": "extension(s) rockpack does not provide: flask-framework",
    "03-canonical-dpaste-k8s-operator.yaml": "does not provide: django-framework",
    "04-canonical-gopkg-charmed.yaml": "does not provide: go-framework",
    "07-canonical-charmed-spark-rock.yaml": "key 'run_user': is not a known key",
    "09-canonical-alertmanager-rock.yaml": "key 'cmd': is not supported",
    # craft-parts (and so Rockcraft) forbids debs and chisel slices in one part.
    "12-Monochromics-rocksband.yaml": "cannot mix packages and slices",
}


@pytest.fixture(autouse=True)
def corpus_present():
    if not CORPUS.is_dir():
        message = f"no corpus at {CORPUS} (it lives in shared/ beside the checkout)"
        pytest.fail(message) if in_ci() else pytest.skip(message)


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
