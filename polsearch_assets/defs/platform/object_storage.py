"""Artifacts on S3-compatible object storage (AWS S3, DigitalOcean Spaces, MinIO, ...).

Same interface as the local store. Credentials never pass through polsearch: boto3 finds them
itself (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a web identity token on Kubernetes, an
instance profile), so they are in no resource config, log line, metadata value or run tag.

Writes are atomic because an S3 object only appears when its upload completes (a multipart
upload included); a failed upload is aborted and leaves the previous version. Audio moves
between the bucket and a local temporary file in parts, never whole in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import Field, PrivateAttr

from polsearch_assets.config import FromSettings, setting
from polsearch_assets.core.artifacts import ArtifactInfo, validate_artifact_name
from polsearch_assets.core.keys import validate_hearing_key
from polsearch_assets.core.scratch import scratch_dir
from polsearch_assets.defs.platform.artifacts import ArtifactStoreResource

MULTIPART_CHUNK_BYTES = 16 * 1024 * 1024
TRANSFER_THREADS = 4  # parts in flight at once; boto3's default of 10 holds 10 parts in memory


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (``bucket``, ``some/prefix``)."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return parsed.netloc, parsed.path.strip("/")


def _is_missing(error: Exception) -> bool:
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
    return code in ("404", "NoSuchKey", "NotFound")


class S3ArtifactStore(FromSettings, ArtifactStoreResource):
    """Artifacts at ``s3://<bucket>/<prefix>/<hearing>/<name>``."""

    bucket: str = Field(description="Bucket (a Space on DigitalOcean).")
    prefix: str = Field(default="", description="Key prefix inside the bucket, e.g. `polsearch/artifacts`.")
    endpoint_url: str = setting("s3_endpoint_url")
    region: str = setting("s3_region")

    _client: Any = PrivateAttr(default=None)

    def _s3(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=self.endpoint_url or None,
                region_name=self.region or None,
                config=Config(retries={"mode": "standard", "max_attempts": 5}),
            )
        return self._client

    def _key(self, hearing: str, name: str = "") -> str:
        parts = [self.prefix.strip("/"), validate_hearing_key(hearing)]
        if name:
            parts.append(validate_artifact_name(name))
        return "/".join(p for p in parts if p)

    def _transfer(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        # Memory in flight is about max_concurrency parts, whatever the file's size (BENCHMARKS.md).
        return TransferConfig(
            multipart_chunksize=MULTIPART_CHUNK_BYTES,
            multipart_threshold=MULTIPART_CHUNK_BYTES,
            max_concurrency=TRANSFER_THREADS,
        )

    def uri(self, hearing: str, name: str) -> str:
        return f"s3://{self.bucket}/{self._key(hearing, name)}"

    def _head(self, hearing: str, name: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return self._s3().head_object(Bucket=self.bucket, Key=self._key(hearing, name))
        except ClientError as error:
            if _is_missing(error):
                return None
            raise

    def exists(self, hearing: str, name: str) -> bool:
        return self._head(hearing, name) is not None

    def size(self, hearing: str, name: str) -> int:
        head = self._head(hearing, name)
        if head is None:
            raise FileNotFoundError(
                f"hearing {hearing!r} has no artifact {name!r} ({self.uri(hearing, name)})"
            )
        return int(head["ContentLength"])

    def list_artifacts(self, hearing: str) -> list[ArtifactInfo]:
        folder = self._key(hearing) + "/"
        found = []
        for page in self._s3().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder):
            for item in page.get("Contents", []):
                found.append(
                    ArtifactInfo(
                        item["Key"][len(folder) :], int(item["Size"]), item["LastModified"].astimezone(UTC)
                    )
                )
        return sorted(found, key=lambda a: a.name)

    def delete(self, hearing: str, name: str) -> None:
        self._s3().delete_object(Bucket=self.bucket, Key=self._key(hearing, name))

    @contextmanager
    def writer(self, hearing: str, name: str) -> Iterator[Path]:
        key = self._key(hearing, name)
        with scratch_dir("polsearch-upload-") as tmp:
            path = tmp / Path(name).name
            yield path
            if not path.is_file():
                raise RuntimeError(f"artifact {name!r} of hearing {hearing!r} was not written")
            self._s3().upload_file(str(path), self.bucket, key, Config=self._transfer())

    @contextmanager
    def reader(self, hearing: str, name: str) -> Iterator[Path]:
        from botocore.exceptions import ClientError

        with scratch_dir("polsearch-download-") as tmp:
            path = tmp / Path(name).name
            try:
                self._s3().download_file(
                    self.bucket, self._key(hearing, name), str(path), Config=self._transfer()
                )
            except ClientError as error:
                if _is_missing(error):
                    raise FileNotFoundError(
                        f"hearing {hearing!r} has no artifact {name!r} ({self.uri(hearing, name)})"
                    ) from error
                raise
            yield path
