"""The project's base pins (``.rockpack/bases.lock.json``): read strictly, written whole.

A pin is a promise: the base resolved once to a manifest digest, and every later run
uses exactly that image. So a damaged lock file is an error naming the file and the
fix, never a silent re-resolution of the tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rockpack.errors import RockpackError
from rockpack.json_state import write_state
from rockpack.oci.disk import DiskWriteError
from rockpack.oci.documents import DIGEST_RE, MalformedDocumentError, parse_object

MAX_PIN_FILE = 1024 * 1024


@dataclass(frozen=True)
class Pin:
    reference: str  # the reference the base resolved from (after mirror and overrides)
    digest: str  # the image manifest's digest
    media_type: str

    def to_json(self) -> dict[str, str]:
        return {"reference": self.reference, "digest": self.digest, "media-type": self.media_type}


class PinFileError(RockpackError):
    """The lock file that pins the bases cannot be trusted."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(
            f"{path} {problem}.",
            details="It pins each base to the exact image it resolved to; rockpack will not "
            "guess which image a damaged pin meant.",
            resolution="Restore it (e.g. from version control), or delete it or pack with "
            "--refresh-base to resolve the bases again and pin what they name now.",
        )


def read_pins(path: Path) -> dict[str, Pin]:
    """The pins in ``path`` ({} when it does not exist); a damaged file is an error."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_PIN_FILE + 1)
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise PinFileError(path, f"cannot be read ({err.strerror})") from err
    if len(raw) > MAX_PIN_FILE:
        raise PinFileError(path, f"is larger than {MAX_PIN_FILE // 1024} KiB")
    try:
        document = parse_object(raw, str(path))
    except MalformedDocumentError as err:
        raise PinFileError(path, f"is damaged: {err.problem}") from err
    pins = {}
    for key, value in document.items():
        fields = value if isinstance(value, dict) else {}
        reference, digest = fields.get("reference"), fields.get("digest")
        media_type = fields.get("media-type", "")
        if not (isinstance(reference, str) and isinstance(digest, str)) or not isinstance(
            media_type, str
        ):
            raise PinFileError(path, f"is damaged: the pin {key[:100]!r} lacks its fields")
        if not DIGEST_RE.match(digest):
            raise PinFileError(path, f"is damaged: the pin {key[:100]!r} has no valid digest")
        pins[key] = Pin(reference, digest, media_type)
    return pins


def write_pins(path: Path, pins: dict[str, Pin]) -> None:
    try:
        write_state(path, {key: pin.to_json() for key, pin in sorted(pins.items())})
    except OSError as err:
        raise DiskWriteError(path.parent, err, what="the project's state") from err
