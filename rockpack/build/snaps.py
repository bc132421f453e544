"""Snaps for the parts: craft-parts installs build-snaps and downloads stage-snaps through
snapd, as in Rockcraft (channels included). rockpack checks before any part runs that
snapd answers, and that every snap not yet installed is in the snap store, so that a
missing snapd or an unreachable store is said plainly instead of failing a part later.

snapd is asked over its local socket, as craft-parts asks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from craft_cli import emit

from rockpack.errors import ProviderError

SNAPD_SOCKET = Path("/run/snapd.socket")
SNAP_KEYS = ("build-snaps", "stage-snaps")
STORE = "api.snapcraft.io"
# snapd answers a store query only after its own retries (about 30 s when it is offline).
STORE_TIMEOUT = 180.0


@dataclass(frozen=True)
class SnapUse:
    """One snap a part needs: where it is declared and the spec as written."""

    part: str
    key: str  # build-snaps, stage-snaps, or stage-packages (the chisel snap for slices)
    spec: str  # NAME, NAME/CHANNEL or NAME@CHANNEL

    @property
    def name(self) -> str:
        return self.spec.strip().replace("@", "/", 1).split("/", 1)[0]

    @property
    def where(self) -> str:
        return f"'{self.spec}' ({self.key} of part '{self.part}')"


def snaps_of(parts: dict[str, dict[str, Any]]) -> list[SnapUse]:
    """Every build-snap and stage-snap of the parts, in order."""
    return [
        SnapUse(name, key, str(spec))
        for name, part in parts.items()
        for key in SNAP_KEYS
        for spec in part.get(key) or []
    ]


class Snapd:
    """snapd's REST API over its socket."""

    def __init__(self, socket: Path = SNAPD_SOCKET) -> None:
        self.socket = socket

    def get(self, path: str, timeout: float = 30.0) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body); OSError when snapd does not answer at all."""
        import requests_unixsocket  # craft-parts' own client for snapd

        url = f"http+unix://{quote(str(self.socket), safe='')}{path}"
        with requests_unixsocket.Session() as session:  # type: ignore[no-untyped-call]
            response = session.get(url, timeout=(10.0, timeout))
        try:
            body = response.json()
        except ValueError:
            body = {}
        return response.status_code, body if isinstance(body, dict) else {}


def snapd_problem(snapd: Snapd) -> str | None:
    """None when snapd answers; else why not."""
    if not snapd.socket.exists():
        return f"there is no {snapd.socket}"
    try:
        status, body = snapd.get("/v2/system-info")
    except OSError as err:
        return f"{snapd.socket} does not answer ({err})"
    if status != 200:
        return f"snapd answered HTTP {status}: {_message(body)}"
    version = body.get("result", {}).get("version", "")
    emit.debug(f"snapd {version} answers at {snapd.socket}")
    return None


def check_snapd(uses: list[SnapUse], *, managed: bool, snapd: Snapd | None = None) -> None:
    """Raise, before any part runs, when the parts need snaps and no snapd answers."""
    if not uses:
        return
    snapd = snapd or Snapd()
    problem = snapd_problem(snapd)
    if problem is None:
        return
    listed = ", ".join(use.where for use in uses)
    if managed:
        raise ProviderError(
            f"The parts need snaps ({listed}), and snapd does not answer in the build instance.",
            details=problem,
            resolution="Run 'rockpack clean --all' so that the instance is made again from "
            "an image whose init is systemd and which has snapd, then build again.",
        )
    raise ProviderError(
        f"The parts need snaps ({listed}), and this host has no snapd to install them.",
        details=problem,
        resolution="Install and start snapd on this host ('apt install snapd', then "
        "'systemctl enable --now snapd.socket'), or build in a clean LXD instance (leave out "
        "--destructive-mode): its instance boots systemd and runs snapd.",
    )


def check_snaps_available(uses: list[SnapUse], snapd: Snapd | None = None) -> None:
    """Each snap is installed already, or the snap store has it: else say which is wrong."""
    snapd = snapd or Snapd()
    asked: set[str] = set()
    for use in uses:
        if use.name in asked:
            continue
        asked.add(use.name)
        try:
            if snapd.get(f"/v2/snaps/{quote(use.name)}")[0] == 200:
                continue  # installed
            emit.progress(f"Asking the snap store for {use.name}")
            status, body = snapd.get(f"/v2/find?name={quote(use.name)}", STORE_TIMEOUT)
        except OSError as err:
            status, body = 0, {"result": {"message": f"no answer from snapd: {err}"}}
        if status == 200:
            continue
        kind = body.get("result", {}).get("kind", "")
        if status == 404 or kind == "snap-not-found":
            raise ProviderError(
                f"The snap store has no snap named '{use.name}', needed by {use.where}.",
                resolution="Check the snap's name (https://snapcraft.io/store).",
            )
        raise ProviderError(
            f"The snap store ({STORE}) cannot be reached from the build environment, so "
            f"{use.where} cannot be installed.",
            details=f"snapd: {_message(body)}",
            resolution="Let the build environment reach the snap store: a clean build "
            "reaches it through the instance's network or rockpack's proxy on this host, "
            "so this host must reach it. Or replace the snap with build-packages.",
        )


def _message(body: dict[str, Any]) -> str:
    result = body.get("result")
    if isinstance(result, dict) and result.get("message"):
        return str(result["message"])
    return str(body.get("status", "no answer"))
