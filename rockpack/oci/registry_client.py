"""An OCI distribution API client: manifests and blobs, pulled and pushed.

What is asked of a registry and what is checked in its answers: platform resolution of
image indexes, manifests verified against the digest they were asked by, blobs
verified against their descriptor while they are stored. How the bytes travel (auth,
retries, deadlines, caps) is ``rockpack.oci.registry``'s job.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urljoin

from rockpack.oci.blobs import BlobStore, Descriptor, Readable
from rockpack.oci.documents import MAX_DOCUMENT_BYTES, MalformedDocumentError, parse_object
from rockpack.oci.image import ManifestView
from rockpack.oci.media_types import INDEX_TYPES, MANIFEST_TYPES
from rockpack.oci.platforms import Platform, choose_platform
from rockpack.oci.reference import Reference
from rockpack.oci.registry import Dropped, Transport
from rockpack.oci.registry_errors import RegistryError

__all__ = ["Manifest", "Platform", "RegistryClient", "RegistryError"]

MAX_MANIFEST_BYTES = MAX_DOCUMENT_BYTES


@dataclass(frozen=True)
class Manifest(ManifestView):
    """An image manifest as fetched: its exact bytes, digest and parsed document."""

    reference: Reference
    digest: str
    media_type: str
    raw: bytes

    @property
    def label(self) -> str:
        return f"The manifest of {self.reference}"


class RegistryClient:
    """Read (and write) images in registries; one client per command run.

    ``unreachable_hint`` is added to the advice when a registry cannot be reached or
    times out (pulling bases suggests ROCKPACK_REGISTRY_MIRROR; pushing does not).
    """

    def __init__(
        self, *, timeout: float | None = None, retries: int = 4, unreachable_hint: str = ""
    ) -> None:
        self.transport = Transport(timeout=timeout, retries=retries, hint=unreachable_hint)

    @property
    def requests_made(self) -> int:
        return self.transport.requests_made

    # -- manifests ------------------------------------------------------------------

    def resolve(self, reference: Reference, platform: Platform) -> Manifest:
        """The image manifest for ``platform``, following an index if there is one."""
        fetched = self.manifest(reference, reference.version)
        if fetched.media_type in INDEX_TYPES:
            index = parse_object(fetched.raw, f"The index of {reference}")
            chosen = choose_platform(index, platform, str(reference))
            fetched = self.manifest(reference, chosen.digest)
            if fetched.media_type not in MANIFEST_TYPES:
                raise RegistryError(
                    f"{reference}: the index entry for {platform} is a "
                    f"{fetched.media_type[:100]!r}, not an image manifest.",
                    resolution="Use a base image whose index lists image manifests.",
                )
        elif fetched.media_type not in MANIFEST_TYPES:
            raise RegistryError(
                f"{reference} is a {fetched.media_type[:100]!r}, not an image.",
                resolution="Point the base at a container image.",
            )
        return fetched

    def manifest(self, reference: Reference, version: str) -> Manifest:
        """The manifest or index stored under ``version`` (a tag or digest), as it is: its
        digest checked when asked for by digest; an index is not followed."""
        accept = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))
        url = self.transport.url(reference, f"manifests/{version}")
        with self.transport.exchange("GET", reference, url, headers={"Accept": accept}) as answer:
            raw = answer.read_all(MAX_MANIFEST_BYTES, f"{reference}: the manifest")
            header_type = answer.response.headers.get("Content-Type", "").split(";")[0].strip()
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        if version.startswith("sha256:") and digest != version:
            raise RegistryError(
                f"{reference}: the manifest served for {version} hashes to {digest}.",
                resolution="The registry sent tampered or corrupt data; check it or its mirror.",
            )
        what = f"{reference}: the registry's manifest"
        document = parse_object(raw, what)
        media_type = document.get("mediaType") or header_type
        if not isinstance(media_type, str):
            raise MalformedDocumentError(what, "its mediaType is not a string")
        return Manifest(reference.with_digest(digest), digest, media_type, raw)

    # -- blobs ------------------------------------------------------------------------

    def fetch_blob(self, reference: Reference, blob: Descriptor, store: BlobStore) -> None:
        """Download ``blob`` into ``store``, verified against its digest and size."""
        if store.has(blob.digest):
            return
        url = self.transport.url(reference, f"blobs/{blob.digest}")
        attempts = 3
        for attempt in range(1, attempts + 1):
            try:
                with (
                    self.transport.exchange("GET", reference, url, download=True) as answer,
                    store.ingest(blob.digest, blob.size, source=str(reference)) as writer,
                ):
                    for chunk in answer.body(blob.size, f"{reference}: blob {blob.digest}"):
                        writer.write(chunk)
                return
            except Dropped as dropped:  # a dropped connection mid-blob: fetch it again
                if attempt == attempts:
                    raise self.transport.unreachable(reference, dropped.cause) from dropped

    # -- pushing ---------------------------------------------------------------------

    def blob_exists(self, reference: Reference, digest: str) -> bool:
        url = self.transport.url(reference, f"blobs/{digest}")
        with self.transport.exchange("HEAD", reference, url, expected=(404,)) as answer:
            return answer.response.status_code == 200

    def mount_blob(self, reference: Reference, digest: str, source_repository: str) -> bool:
        """Ask the registry to link a blob it holds in another repository; True if it did."""
        url = self.transport.url(
            reference, f"blobs/uploads/?mount={digest}&from={source_repository}"
        )
        with self.transport.exchange(
            "POST", reference, url, extra_scope=f"repository:{source_repository}:pull"
        ) as answer:
            if answer.response.status_code == 201:
                return True
            location = answer.response.headers.get("Location")
        if location:  # the registry started an upload instead; drop it
            target = urljoin(url, location)
            with self.transport.exchange("DELETE", reference, target, expected=(404, 405)):
                pass
        return False

    def upload_blob(self, reference: Reference, blob: Descriptor, content: Readable) -> None:
        """Upload a blob in one PUT; the registry checks it against its digest."""
        start = self.transport.url(reference, "blobs/uploads/")
        with self.transport.exchange("POST", reference, start) as answer:
            location = answer.response.headers.get("Location")
        if not location:
            raise RegistryError(f"{reference.api_host} started an upload but gave no location.")
        target = urljoin(start, location)
        target += ("&" if "?" in target else "?") + f"digest={blob.digest}"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)}
        with self.transport.exchange("PUT", reference, target, headers=headers, body=content):
            pass

    def put_manifest(self, reference: Reference, media_type: str, raw: bytes) -> str:
        """Store a manifest under the reference's tag; return the digest the registry got."""
        url = self.transport.url(reference, f"manifests/{reference.tag or reference.digest}")
        headers = {"Content-Type": media_type}
        with self.transport.exchange("PUT", reference, url, headers=headers, body=raw) as answer:
            digest = answer.response.headers.get("Docker-Content-Digest", "")
        expected = "sha256:" + hashlib.sha256(raw).hexdigest()
        if digest and digest != expected:
            raise RegistryError(
                f"{reference.api_host} stored the manifest as {digest[:80]}, not {expected}.",
                resolution="The registry rewrote the manifest; push to another registry.",
            )
        return expected
