"""HTTP and GraphQL for a Dagster webserver's ``/graphql``: requests, retries, and errors as exceptions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from polsearch_assets.core import net

_ERROR_TYPES = frozenset(
    {
        "PythonError",
        "UnauthorizedError",
        "PipelineNotFoundError",
        "RunConfigValidationInvalid",
        "InvalidStepError",
        "InvalidOutputError",
        "InvalidSubsetError",
        "RunConflict",
        "PresetNotFoundError",
        "ConflictingExecutionParamsError",
        "NoModeProvidedError",
        "PartitionSetNotFoundError",
        "PartitionKeysNotFoundError",
        "RunNotFoundError",
        "RepositoryNotFoundError",
        "BackfillNotFoundError",
    }
)


class DagsterApiError(Exception):
    """The API answered with an error; the message is the server's."""


class DagsterUnreachable(DagsterApiError):
    """No answer from the webserver (down, wrong URL, network)."""


class DagsterTimeout(DagsterApiError):
    """No answer in time: the webserver may still be computing it, so it is not asked again as it was."""


class DagsterUnauthorized(DagsterApiError):
    """The webserver or a proxy in front of it refused the credentials."""


class UnknownHearing(DagsterApiError):
    """No partition of ``hearings`` has this key."""


def asset_keys(names: Iterable[str]) -> list[dict[str, list[str]]]:
    return [{"path": [name]} for name in names]


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


@dataclass
class GraphQLTransport:
    """A Dagster webserver, addressed by its URL, and the code location the calls name."""

    url: str = "http://127.0.0.1:3000"
    headers: dict[str, str] = field(
        default_factory=dict
    )  # e.g. {"Authorization": "Bearer ..."} behind a proxy
    location: str = "polsearch"
    repository: str = "__repository__"
    timeout_s: float = 30.0

    def graphql(
        self, document: str, variables: Mapping[str, Any] | None = None, *, idempotent: bool = True
    ) -> dict:
        """``data`` of one GraphQL request; transport and GraphQL errors become DagsterApiError subclasses.

        Idempotent requests (queries, adding a partition) are retried on 502/503/504 and dropped
        connections; a launch is not, so a retry can never launch twice; a request that timed out never is.
        """
        endpoint = self.url.rstrip("/") + "/graphql"
        body = json.dumps({"query": document, "variables": dict(variables or {})}).encode()

        def post() -> net.Response:
            try:
                return net.request(
                    endpoint,
                    method="POST",
                    body=body,
                    headers={
                        "Content-Type": "application/json",
                        "Accept": "application/json",
                        **self.headers,
                    },
                    timeout_s=self.timeout_s,
                    accept_statuses=frozenset({400, 422}),  # GraphQL validation errors come with a JSON body
                )
            except net.RequestTimeout as error:
                # The webserver goes on computing an answer nobody waits for: asking again would start the same
                # work beside it. So a timeout fails at once (POLSEARCH_DAGSTER_TIMEOUT_S waits longer).
                raise DagsterTimeout(
                    f"the Dagster webserver at {self.url} did not answer within {self.timeout_s:g} s and may "
                    "still be computing it; not asked again (ask a narrower question, or set "
                    "POLSEARCH_DAGSTER_TIMEOUT_S)"
                ) from error

        try:
            response = net.call_with_retries(
                post, net.Backoff(attempts=3 if idempotent else 1, base_delay_s=0.5)
            )
        except net.NetworkError as error:
            if error.status in (401, 403):
                raise DagsterUnauthorized(
                    f"{self.url} refused the request (HTTP {error.status}); set POLSEARCH_DAGSTER_TOKEN or "
                    "POLSEARCH_DAGSTER_HEADER for the proxy in front of it"
                ) from error
            if error.status is None:
                raise DagsterUnreachable(
                    f"cannot reach the Dagster webserver at {self.url}: {error}"
                ) from error
            raise DagsterApiError(f"the Dagster webserver at {self.url} answered: {error}") from error
        try:
            payload = json.loads(response.body)
        except json.JSONDecodeError as error:
            raise DagsterApiError(
                f"{endpoint} did not answer with JSON (is it a Dagster webserver?)"
            ) from error
        if payload.get("errors"):
            raise DagsterApiError("; ".join(e.get("message", str(e)) for e in payload["errors"]))
        return payload["data"]

    @staticmethod
    def _ok(result: dict[str, Any], what: str) -> dict[str, Any]:
        """A union result, or DagsterApiError with the server's message for its error members."""
        kind = result.get("__typename", "")
        if kind in _ERROR_TYPES or kind.endswith("Error") or kind.endswith("Invalid"):
            details = result.get("message") or "; ".join(e["message"] for e in result.get("errors", []))
            if kind == "PartitionKeysNotFoundError":
                details = f"unknown hearings {result.get('partitionKeys')}"
            if kind == "UnauthorizedError":
                raise DagsterUnauthorized(f"{what}: {details}")
            raise DagsterApiError(f"{what} failed: {kind}: {details}")
        return result

    def _selector(self, job: str, assets: Sequence[str] | None = None) -> dict[str, Any]:
        selector: dict[str, Any] = {
            "repositoryLocationName": self.location,
            "repositoryName": self.repository,
            "jobName": job,
        }
        if assets is not None:
            selector["assetSelection"] = asset_keys(assets)
        return selector
