"""The voiceprint library: enrolled people's voices, a LanceDB table beside ``segments``.

One row per enrolled voice: a hearing speaker's voice (from its ``diarization``) under a person's name.
It lives in the index's database (a local directory, or S3 in production), not among a hearing's
artifacts, so it survives hearing re-runs and deletions. A person may have several voiceprints, from
several hearings; naming the same hearing speaker again replaces that voiceprint (one row per hearing
speaker and encoder), so a wrong name is corrected by naming again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from polsearch_assets.core.contracts import Voice
from polsearch_assets.core.keys import validate_hearing_key
from polsearch_assets.core.speakers.naming import Voiceprint

VOICEPRINTS_TABLE = "voiceprints"
_VOICEPRINT_NAMESPACE = uuid.UUID("0b7f3c52-91d4-4a57-8a8e-5d0f6b2e7c31")  # fixed: ids never change

SCHEMA = pa.schema(
    [
        pa.field("voiceprint_id", pa.string(), nullable=False),
        pa.field("person", pa.string(), nullable=False),
        pa.field("person_id", pa.string(), nullable=True),
        pa.field("role", pa.string(), nullable=True),
        pa.field("party", pa.string(), nullable=True),
        pa.field("state", pa.string(), nullable=True),
        pa.field("encoder", pa.string(), nullable=False),
        # Encoders differ in dimension (CAM++ 192, resemblyzer 256): a plain list, compared in Python.
        pa.field("embedding", pa.list_(pa.float32()), nullable=False),
        pa.field("hearing", pa.string(), nullable=False),
        pa.field("speaker", pa.string(), nullable=False),
        pa.field("speaking_ms", pa.int64(), nullable=False),
        pa.field("added_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


@dataclass(frozen=True)
class Person:
    """Who a voice belongs to, as the user names them."""

    person: str
    person_id: str | None = None
    role: str | None = None
    party: str | None = None
    state: str | None = None

    def __post_init__(self) -> None:
        if not self.person.strip():
            raise ValueError("a person needs a name")


def voiceprint_id(hearing: str, speaker: str, encoder: str) -> str:
    return str(uuid.uuid5(_VOICEPRINT_NAMESPACE, f"{hearing}/{speaker}/{encoder}"))


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class VoiceprintLibrary:
    """The ``voiceprints`` table of the LanceDB database at ``uri``."""

    def __init__(self, uri: str, storage_options: dict[str, str] | None = None) -> None:
        import lancedb

        self.uri = uri
        self._db = lancedb.connect(uri, storage_options=storage_options)

    def _table(self, create: bool = False) -> Any:
        if create:
            return self._db.create_table(VOICEPRINTS_TABLE, schema=SCHEMA, exist_ok=True)
        try:
            return self._db.open_table(VOICEPRINTS_TABLE)
        except ValueError:  # no such table yet: nobody enrolled
            return None

    def enrol(self, person: Person, hearing: str, voice: Voice, encoder: str) -> dict[str, Any]:
        """Keep ``voice`` (the hearing speaker's) as a voiceprint of ``person``; the row written."""
        row = {
            "voiceprint_id": voiceprint_id(validate_hearing_key(hearing), voice.speaker, encoder),
            "person": person.person.strip(),
            "person_id": person.person_id,
            "role": person.role,
            "party": person.party,
            "state": person.state,
            "encoder": encoder,
            "embedding": np.asarray(voice.embedding, dtype=np.float32).tolist(),
            "hearing": hearing,
            "speaker": voice.speaker,
            "speaking_ms": voice.speaking_ms,
            "added_at": datetime.now(UTC),
        }
        (
            self._table(create=True)
            .merge_insert("voiceprint_id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(pa.Table.from_pylist([row], schema=SCHEMA))
        )
        return row

    def forget(self, person: str) -> int:
        """Remove every voiceprint of the person (their name or id, exactly), in one commit; how many."""
        table = self._table()
        if table is None:
            return 0
        where = f"person = {_quote(person)} OR person_id = {_quote(person)}"
        count = table.count_rows(where)
        if count:
            table.delete(where)
        return count

    def rows(self) -> list[dict[str, Any]]:
        """Every voiceprint, by person then time added."""
        table = self._table()
        if table is None:
            return []
        return sorted(table.to_arrow().to_pylist(), key=lambda r: (r["person"], r["added_at"]))

    def voiceprints(self) -> list[Voiceprint]:
        return self.snapshot()[1]

    def snapshot(self) -> tuple[int, list[Voiceprint]]:
        """The library's version and its voiceprints at exactly that version (a change committed between
        reading one and the other would otherwise pass unseen: names read as current but are not)."""
        table = self._table()
        if table is None:
            return 0, []
        version = int(table.version)
        table.checkout(version)  # pinned: reads below see this version, whatever commits meanwhile
        rows = sorted(table.to_arrow().to_pylist(), key=lambda r: (r["person"], r["added_at"]))
        return version, [
            Voiceprint(
                r["person"], r["person_id"], r["encoder"], np.asarray(r["embedding"], dtype=np.float32)
            )
            for r in rows
        ]

    def version(self) -> int:
        """The table's version: it changes with every enrolment or removal (0: no table yet)."""
        table = self._table()
        return 0 if table is None else int(table.version)


def people(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The library by person: name, id, role/party/state (latest given), voiceprints and their hearings."""
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = found.setdefault(
            row["person"],
            {"person": row["person"], "person_id": None, "role": None, "party": None, "state": None,
             "voiceprints": 0, "hearings": []},
        )  # fmt: skip
        for field in ("person_id", "role", "party", "state"):
            entry[field] = row[field] or entry[field]
        entry["voiceprints"] += 1
        if row["hearing"] not in entry["hearings"]:
            entry["hearings"].append(row["hearing"])
    return sorted(found.values(), key=lambda e: e["person"].lower())
