"""Download one file over HTTP(S), bounded in size and time, into a temporary file.

The only Pebble module that opens connections. It hashes as it writes and never
decides where the file ends up: the caller checks the digest, then renames the
temporary file into place or lets it be deleted, so a truncated or corrupt download
never reaches a cache.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import requests
import urllib3

from rockpack.errors import RockpackError

MAX_BYTES = 64 * 1024 * 1024  # a Pebble archive is about 4 MB, its binary about 10 MB
TIMEOUT = 300.0  # seconds for the whole request, connecting included
CONNECT_TIMEOUT = 30.0
READ_TIMEOUT = 30.0  # without a byte: the most the whole-request deadline can be overrun
_CHUNK = 1 << 16


class DownloadError(RockpackError):
    """A download failed: unreachable, refused, too big, too slow or cut short."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"Could not download {url}: {reason}.")


@dataclass(frozen=True)
class Downloaded:
    path: Path  # a temporary file in the directory asked for; the caller owns it
    sha256: str
    size: int


def download(
    url: str, directory: Path, *, max_bytes: int = MAX_BYTES, timeout: float = TIMEOUT
) -> Downloaded:
    """GET ``url`` into a new temporary file in ``directory``."""
    if not url.startswith(("http://", "https://")):
        raise DownloadError(url, "only http:// and https:// URLs can be downloaded")
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix=".download-", suffix=".partial")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, size = _fetch(url, out, max_bytes, time.monotonic() + timeout, timeout)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Downloaded(path, digest, size)


def _fetch(
    url: str, out: BinaryIO, max_bytes: int, deadline: float, timeout: float
) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = 0
    try:
        with requests.get(
            url,
            stream=True,
            timeout=(min(CONNECT_TIMEOUT, timeout), min(READ_TIMEOUT, timeout)),
            headers={"Accept-Encoding": "identity"},
        ) as response:
            if response.status_code != 200:
                raise DownloadError(url, f"the server answered HTTP {response.status_code}")
            announced = response.headers.get("Content-Length", "")
            if announced.isdigit() and int(announced) > max_bytes:
                raise DownloadError(url, f"it is {announced} bytes, over the {max_bytes} limit")
            # read1 returns what has arrived, so the deadline is checked as the data trickles
            read = getattr(response.raw, "read1", response.raw.read)
            while chunk := read(_CHUNK, decode_content=False):
                size += len(chunk)
                if size > max_bytes:
                    raise DownloadError(url, f"it is over the {max_bytes}-byte limit")
                if time.monotonic() > deadline:
                    raise DownloadError(url, f"it took longer than {timeout:g} seconds")
                hasher.update(chunk)
                out.write(chunk)
            if announced.isdigit() and size != int(announced):
                raise DownloadError(url, f"the connection ended after {size} of {announced} bytes")
    except requests.RequestException as err:
        raise DownloadError(url, _reason(err)) from err
    except urllib3.exceptions.HTTPError as err:  # from reading the raw stream
        raise DownloadError(url, f"the transfer broke off ({_root_cause(err)})") from err
    return hasher.hexdigest(), size


def _reason(err: requests.RequestException) -> str:
    if isinstance(err, requests.Timeout):
        return "the server did not answer in time"
    if isinstance(err, requests.ConnectionError):
        return f"no connection ({_root_cause(err)})"
    return str(err)


def _root_cause(err: BaseException) -> str:
    while err.__context__ is not None and err.__context__ is not err:
        err = err.__context__
    return str(err) or type(err).__name__
