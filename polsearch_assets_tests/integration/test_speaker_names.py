"""Named speakers end to end, on REAL voices: name a council member in one hearing, and the index names her
in another hearing made from a different meeting; a library change re-runs only speaker_names and the
index rows, never ASR or diarization; automation asks for exactly that.

The hearings are strung from the speakerbox wheel's real Seattle city-council clips
(``fixtures/real_speech.py``): A from meeting 9f581faa5ece, B from meeting 9f55f22d8e61, both with
Kshama Sawant and Alex Pedersen among their speakers. The match threshold is the calibrated default
(``core/speakers/naming.MATCH_THRESHOLDS``, chosen on other meetings: BENCHMARKS.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from polsearch_assets.config import Settings
from polsearch_assets.core.artifacts import read_diarization, read_speaker_names
from polsearch_assets.core.speakers.naming import MATCH_THRESHOLDS
from polsearch_assets.definitions import build_definitions
from polsearch_assets.local import speakers
from polsearch_assets.local.instance import LOCAL_DAGSTER_YAML, local_instance
from polsearch_assets.local.search import search
from polsearch_assets_tests.fixtures import real_speech as rs
from polsearch_assets_tests.fixtures.hearing import hearing_resources, run_hearing, settings_for
from polsearch_assets_tests.fixtures.processes import polsearch

pytestmark = pytest.mark.slow  # real models on minutes of real speech

MEMBER, MEMBER_ID = "Kshama Sawant", "SAWANT-SEA"
MODEL_ASSETS = ("raw_audio", "vad_chunks", "transcript", "diarization", "aligned_segments", "word_archive")


@dataclass
class World:
    root: Path
    settings: Settings
    resources: dict
    instance: dg.DagsterInstance
    a: str
    a_recording: rs.Recording
    b_recording: rs.Recording
    b: str | None = None  # hearing B, once a test has run it

    def hearing_b(self) -> str:
        """Hearing B's key, run on first use (each test that needs it asks, so any test runs alone)."""
        if self.b is None:
            self.b, result = run_hearing(self.instance, self.resources, self.b_recording.wav)
            assert result.success
        return self.b

    def enrolled(self) -> bool:
        return any(p["person_id"] == MEMBER_ID for p in speakers.people(settings=self.settings))

    def enrol(self) -> None:
        """Her voice in the library, named from hearing A (every hearing's names refreshed)."""
        if not self.enrolled():
            label = self.label_of(self.a, self.a_recording, "sawant")
            speakers.name(
                self.a, label, MEMBER, person_id=MEMBER_ID, role="Councilmember", settings=self.settings
            )

    def unenrol(self) -> None:
        if self.enrolled():
            speakers.forget(MEMBER_ID, settings=self.settings)

    def latest_metadata(self, asset: str, key: str) -> dict[str, object]:
        records = self.instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records
        (latest, *_) = sorted(
            (r for r in records if r.partition_key == key), key=lambda r: r.storage_id, reverse=True
        )
        return {k: v.value for k, v in latest.asset_materialization.metadata.items()}

    def label_of(self, key: str, recording: rs.Recording, speaker: str) -> str:
        """The hearing's label for a reference speaker: the diarized speaker overlapping them most."""
        turns = read_diarization(self.resources["artifact_store"], key, with_frames=False).turns
        overlap: dict[str, int] = {}
        for ref in (t for t in recording.turns if t.speaker == speaker):
            for turn in turns:
                shared = min(turn.end_ms, ref.end_ms) - max(turn.start_ms, ref.start_ms)
                overlap[turn.speaker] = overlap.get(turn.speaker, 0) + max(shared, 0)
        return max(overlap, key=overlap.__getitem__)

    def materializations(self, asset: str, key: str) -> int:
        records = self.instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records
        return sum(r.partition_key == key for r in records)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DAGSTER_HOME": os.environ["DAGSTER_HOME"],
            "POLSEARCH_ARTIFACT_ROOT": str(self.root / "artifacts"),
            "POLSEARCH_LANCEDB_URI": str(self.root / "lancedb"),
        }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("named")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(LOCAL_DAGSTER_YAML.read_text())
    a_recording = rs.council_hearing(root / "a", ("9f581faa5ece",), 3, 100, 7)  # Strauss, Sawant, Mosqueda
    b_recording = rs.council_hearing(root / "b", ("9f55f22d8e61",), 3, 100, 8)  # Sawant, Strauss, Pedersen
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        instance = local_instance()
        resources = hearing_resources(root)
        a, result = run_hearing(instance, resources, a_recording.wav)
        assert result.success
        yield World(root, settings_for(root), resources, instance, a, a_recording, b_recording)


def test_naming_a_speaker_renames_its_hearing_without_running_audio_models(world: World) -> None:
    world.unenrol()
    store, key = world.resources["artifact_store"], world.a
    assert read_speaker_names(store, key).named() == {}  # an empty library names nobody
    label = world.label_of(key, world.a_recording, "sawant")
    before = {
        asset: world.materializations(asset, key)
        for asset in (*MODEL_ASSETS, "speaker_names", "hearing_index")
    }
    done = speakers.name(
        key, label, MEMBER, person_id=MEMBER_ID, role="Councilmember", settings=world.settings, emit=print
    )
    assert f"named {label} of {key} {MEMBER}" in done
    after = {asset: world.materializations(asset, key) for asset in before}
    assert {a: after[a] - before[a] for a in before} == {
        **dict.fromkeys(MODEL_ASSETS, 0), "speaker_names": 1, "hearing_index": 1
    }  # fmt: skip
    names = read_speaker_names(store, key).named()
    assert list(names) == [label] and names[label].similarity == pytest.approx(1.0, abs=1e-3)  # her own voice
    rows = world.resources["lance_index"].open().rows(key)
    hers = [r for r in rows if r["speaker_label"] == label]
    assert hers and all((r["speaker_name"], r["person_id"]) == (MEMBER, MEMBER_ID) for r in hers)
    assert all(r["speaker_name"] == r["speaker_label"] for r in rows if r["speaker_label"] != label)
    (person,) = speakers.people(settings=world.settings)
    assert (person["person"], person["person_id"], person["role"], person["hearings"]) == (
        MEMBER, MEMBER_ID, "Councilmember", [key]
    )  # fmt: skip


def test_her_voice_is_named_in_a_hearing_of_another_meeting(world: World) -> None:
    world.enrol()
    b = world.hearing_b()  # run now, or refreshed by the enrolment: either way named from her voiceprint
    assert world.latest_metadata("speaker_names", b)["named"] == 1
    named = read_speaker_names(world.resources["artifact_store"], b).named()
    label = world.label_of(b, world.b_recording, "sawant")
    assert list(named) == [label]  # her, and nobody else: Strauss and Pedersen are not enrolled
    assert named[label].person == MEMBER and named[label].similarity >= MATCH_THRESHOLDS["campplus-192"]

    # Search by a part of her name, in any case, finds her in both hearings, and only her.
    for key in (world.a, b):
        text = next(
            r["text"] for r in world.resources["lance_index"].open().rows(key) if r["speaker_name"] == MEMBER
        )
        hits = search(text, speaker="sawant", settings=world.settings, limit=20)
        assert key in {h.hearing for h in hits} and {h.speaker_name for h in hits} == {MEMBER}
        assert {h.person_id for h in hits} == {MEMBER_ID}

    # The CLI: who speaks in B, search by name, and an export that shows the name (the RTTM keeps labels).
    shown = polsearch(world.env(), "speakers", "show", b, "--json")
    assert shown.returncode == 0, shown.stderr
    by_label = {s["speaker"]: s for s in json.loads(shown.stdout)}
    assert by_label[label]["person"] == MEMBER and by_label[label]["similarity"] >= 0.5
    assert by_label[label]["speaking_ms"] > 5000
    assert all(s["person"] is None and s["similarity"] is None for k, s in by_label.items() if k != label)
    found = polsearch(world.env(), "search", text, "--speaker", "SAWANT", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) and {h["speaker_name"] for h in json.loads(found.stdout)} == {MEMBER}
    txt = polsearch(world.env(), "export", b, "--format", "txt")
    assert f"{MEMBER}: " in txt.stdout
    rttm = polsearch(world.env(), "export", b, "--format", "rttm")
    assert MEMBER not in rttm.stdout and label in rttm.stdout


def test_a_library_change_asks_automation_for_names_and_index_rows_only(world: World) -> None:
    world.hearing_b()
    world.enrol()
    defs = build_definitions(world.settings)
    tick = dg.evaluate_automation_conditions(defs=defs, instance=world.instance)
    hearings = sorted(world.instance.get_dynamic_partitions("hearings"))
    assert len(hearings) == 2
    # As on a deployment: the change is a run of the speaker_library job; the daemon does the rest.
    speakers.forget(MEMBER_ID, refresh=False, settings=world.settings)
    tick = dg.evaluate_automation_conditions(defs=defs, instance=world.instance, cursor=tick.cursor)
    requested = {
        key.to_user_string(): sorted(tick.get_requested_partitions(key))
        for key in defs.resolve_asset_graph().get_all_asset_keys()
        if tick.get_requested_partitions(key)
    }
    assert requested == {"speaker_names": hearings, "hearing_index": hearings}
    # What that backfill runs, one hearing at a time; the names are gone.
    job = defs.resolve_job_def("speaker_names_refresh")
    for key in hearings:
        assert job.execute_in_process(instance=world.instance, partition_key=key).success
        rows = world.resources["lance_index"].open().rows(key)
        assert all(r["speaker_name"] == r["speaker_label"] and r["person_id"] is None for r in rows)
    assert speakers.people(settings=world.settings) == []
    with pytest.raises(speakers.SpeakerLibraryError, match="no voiceprint"):
        speakers.forget(MEMBER, settings=world.settings)
    with pytest.raises(speakers.SpeakerLibraryError, match="no speaker 'SPEAKER_99'"):
        speakers.name(world.a, "SPEAKER_99", MEMBER, settings=world.settings)
