"""Whether a package repository answers, and is signed by the key the project names.

apt itself downloads the repository's Release file (``apt-helper download-file``, with the
system's apt configuration, so through the same proxy apt will use), and gpgv checks its
signature against the keyring craft-archives made for the repository. gpgv's status lines,
not its messages, say which key signed: a wrong key is named before apt ever runs.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from rockpack.errors import ProviderError
from rockpack.project.repositories import Repository, key_file_name

APT_HELPER = Path("/usr/lib/apt/apt-helper")


class PackageRepositoryError(ProviderError):
    """A package repository cannot be used as the project declares it."""

    def __init__(
        self, repository: Repository, brief: str, *, details: str | None, resolution: str
    ) -> None:
        self.repository = repository
        super().__init__(f"{repository.where}: {brief}", details=details, resolution=resolution)


class UnreachableRepositoryError(PackageRepositoryError):
    def __init__(self, repository: Repository, url: str, output: str) -> None:
        self.url = url
        super().__init__(
            repository,
            f"the repository cannot be reached: apt could not download {url}.",
            details=output,
            resolution="Check the repository's url, suites or path, and that its server "
            "answers from the build environment. A clean build reaches a repository on this "
            "host's 127.0.0.1 through rockpack's forwarding, and others through the "
            "instance's network or rockpack's proxy on this host.",
        )


class WrongKeyError(PackageRepositoryError):
    """The repository is signed, but not by the key-id the project declares."""

    def __init__(self, repository: Repository, url: str, signer: str) -> None:
        self.url = url
        self.signer = signer
        declared = repository.key_id or "its key"
        super().__init__(
            repository,
            f"the repository is not signed by key-id {declared}: {url} is signed by key {signer}.",
            details=None,
            resolution=f"Set key-id to the full fingerprint of the key that signs the "
            f"repository (it ends in {signer}) and ship that key as keys/"
            f"{key_file_name(signer)}; or fix the key in keys/ if it is the wrong one.",
        )


class BadSignatureError(PackageRepositoryError):
    def __init__(self, repository: Repository, url: str, problem: str) -> None:
        self.url = url
        super().__init__(
            repository,
            f"{url} {problem}.",
            details=None,
            resolution="apt refuses a repository whose Release file is not signed by a valid "
            "key: have the repository signed again, or fix its key-id and key.",
        )


@dataclass(frozen=True)
class ReleaseSource:
    """One URI and suite of a sources file, and the keyring apt checks it with."""

    uri: str
    suite: str
    keyring: Path

    def release_url(self, name: str) -> str:
        base = self.uri.rstrip("/")
        if self.suite.endswith("/"):  # a flat repository: the "suite" is a path
            path = self.suite.strip("/")
            return f"{base}/{path}/{name}" if path else f"{base}/{name}"
        return f"{base}/dists/{self.suite}/{name}"


def sources_in(sources_file: Path, root: Path) -> list[ReleaseSource]:
    """Every URI and suite of a deb822 sources file, keyrings resolved under ``root``."""
    from debian.deb822 import Deb822  # python-debian, which craft-archives uses too

    found = []
    for paragraph in Deb822.iter_paragraphs(sources_file.read_text()):
        keyring = root / str(paragraph.get("Signed-By", "")).lstrip("/")
        for uri in str(paragraph.get("URIs", "")).split():
            for suite in str(paragraph.get("Suites", "")).split():
                found.append(ReleaseSource(uri, suite, keyring))
    return found


def check_release(source: ReleaseSource, repository: Repository, scratch: Path) -> None:
    """Raise unless the repository answers and its Release file is signed by its key."""
    scratch.mkdir(parents=True, exist_ok=True)
    inrelease_url = source.release_url("InRelease")
    inrelease = scratch / "InRelease"
    failure = _download(inrelease_url, inrelease)
    if failure is None:
        status = _gpgv(source.keyring, scratch, [inrelease])
        _judge(status, repository, inrelease_url)
        return
    release_url = source.release_url("Release")
    release = scratch / "Release"
    if _download(release_url, release) is not None:
        raise UnreachableRepositoryError(repository, inrelease_url, failure)
    signature = scratch / "Release.gpg"
    if _download(source.release_url("Release.gpg"), signature) is not None:
        raise BadSignatureError(
            repository, release_url, "is not signed (it has no InRelease and no Release.gpg)"
        )
    _judge(_gpgv(source.keyring, scratch, [signature, release]), repository, release_url)


def _download(url: str, target: Path) -> str | None:
    """None when apt fetched ``url`` into ``target``; else what apt said."""
    target.unlink(missing_ok=True)
    if not APT_HELPER.is_file():
        raise ProviderError(
            f"Checking package-repositories needs apt's {APT_HELPER}, which is not here.",
            resolution="Build on a Debian or Ubuntu system with apt (or in a clean instance).",
        )
    # One retry, not apt's default three with growing pauses: apt-get update retries.
    options = ["-o", "APT::Sandbox::User=root", "-o", "Acquire::Retries=1"]
    result = subprocess.run(
        [str(APT_HELPER), *options, "download-file", url, str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0 and target.is_file():
        return None
    return (result.stdout + result.stderr).strip() or f"apt-helper exited {result.returncode}"


def _gpgv(keyring: Path, scratch: Path, files: list[Path]) -> list[list[str]]:
    """gpgv's status lines, split into words (without the '[GNUPG:]' prefix)."""
    home = scratch / "gnupg"
    home.mkdir(mode=0o700, exist_ok=True)
    result = subprocess.run(
        ["gpgv", "--homedir", str(home), "--status-fd", "1", "--keyring", str(keyring)]
        + [str(f) for f in files],
        capture_output=True,
        text=True,
        check=False,
    )
    prefix = "[GNUPG:] "
    return [
        line[len(prefix) :].split()
        for line in result.stdout.splitlines()
        if line.startswith(prefix)
    ]


def _judge(status: list[list[str]], repository: Repository, url: str) -> None:
    keywords = {words[0]: words[1:] for words in status if words}
    if "VALIDSIG" in keywords or "GOODSIG" in keywords:
        return
    if "NO_PUBKEY" in keywords:
        raise WrongKeyError(repository, url, keywords["NO_PUBKEY"][0].upper())
    if "BADSIG" in keywords:
        raise BadSignatureError(repository, url, "has a signature that does not match its content")
    for keyword, problem in (
        ("EXPKEYSIG", "is signed by an expired key"),
        ("REVKEYSIG", "is signed by a revoked key"),
        ("EXPSIG", "has an expired signature"),
    ):
        if keyword in keywords:
            raise BadSignatureError(repository, url, problem)
    raise BadSignatureError(repository, url, "is not signed")
