"""Naming speakers on REAL voices: enrol people in one meeting, recognise them in another; choose the threshold.

The voices are the speakerbox wheel's Seattle city-council clips (``polsearch_assets_tests/fixtures/
real_speech.py``): 9 named council members over 5 real meetings. Two ways of making a meeting's voices:

* ``hearing``: each meeting's clips strung into a hearing (``council_hearing``: turns, pauses, overlaps,
  room noise) and diarized by the embedded diarizer; each diarized speaker's voice is exactly what
  ``speaker_names`` reads from ``diarization`` (CAM++ averaged over the speaker's speech), and it is
  labelled by the reference speaker it overlaps most. Diarization errors are part of the test.
* ``clips``: each (meeting, member) with at least 5 s of speech; its voice from the member's clips alone,
  with CAM++ (the pipeline's windows, averaged) and with resemblyzer (Sortformer's linking encoder,
  one utterance embedding), for the production profile's threshold.

For every ordered pair of different meetings (enrol in A, identify in B) the library holds A's voices and
``match_speakers`` names B's (cosine similarity, at most one speaker per person). A probe whose person is
enrolled is *correct* when named right, *missed* when left unnamed; any wrong name (a known person named
as another, or someone not enrolled named at all) is a *false accept*. Thresholds are chosen on the DEV
meetings only (see ``choose``) and reported on the TEST meetings, which played no part in choosing.

    .venv/bin/python bench/bench_speaker_names.py       # writes bench/out/speaker_names.json
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import OUT, machine
from polsearch_assets.backends.diarization.campplus import VOICE_ENCODER
from polsearch_assets.backends.diarization.resemblyzer import RESEMBLYZER_VOICES, voice_encoder
from polsearch_assets.backends.loading import shared_model
from polsearch_assets.config import Settings
from polsearch_assets.core.contracts import Voice
from polsearch_assets.core.speakers.clustering import mean_voices
from polsearch_assets.core.speakers.naming import (
    MATCH_THRESHOLDS,
    MIXED_THRESHOLDS,
    Voiceprint,
    match_speakers,
)
from polsearch_assets.defs.resources import build_resources
from polsearch_assets_tests.fixtures import real_speech as rs

MIN_SPEECH_MS = 5_000  # a hearing speaker with less is not worth enrolling, nor a fair probe
THRESHOLDS = [round(t, 2) for t in np.arange(0.30, 0.96, 0.01)]
MEETINGS = rs.DEV_MEETINGS + rs.TEST_MEETINGS

# A meeting's voices: (reference speaker, Voice) for each speaker.
Voices = list[tuple[str, Voice]]


def clip_voices(resources: dict) -> dict[str, dict[str, Voices]]:
    """encoder -> meeting -> voices made from each member's own clips."""
    resemblyzer = shared_model(voice_encoder).result()
    found: dict[str, dict[str, Voices]] = {
        VOICE_ENCODER: defaultdict(list),
        RESEMBLYZER_VOICES: defaultdict(list),
    }
    for (meeting, speaker), (embeddings, speech, total_ms) in rs.member_speech(
        resources["diarizer"].engine
    ).items():
        if total_ms < MIN_SPEECH_MS:
            continue
        cam = mean_voices(embeddings, np.zeros(len(embeddings), dtype=int))["0"]
        found[VOICE_ENCODER][meeting].append((speaker, Voice(speaker, total_ms, cam / np.linalg.norm(cam))))
        res = resemblyzer.embed_utterance(np.concatenate(speech))
        found[RESEMBLYZER_VOICES][meeting].append(
            (speaker, Voice(speaker, total_ms, res / np.linalg.norm(res)))
        )
    return found


def hearing_voices(resources: dict, work: Path) -> tuple[dict[str, Voices], dict[str, dict]]:
    """meeting -> the diarized voices of a hearing strung from that meeting's clips, and what it found."""
    found: dict[str, Voices] = {}
    facts = {}
    log = logging.getLogger("bench")
    for n, meeting in enumerate(MEETINGS):
        members = {c.speaker for c in rs.council_clips() if c.meeting == meeting}
        talk = defaultdict(float)
        for clip in rs.council_clips():
            if clip.meeting == meeting:
                talk[clip.speaker] += sf.info(clip.path).duration
        speakers = [s for s in members if talk[s] * 1000 >= MIN_SPEECH_MS]
        seconds = min(300.0, 0.9 * sum(talk[s] for s in speakers))
        recording = rs.council_hearing(
            work / f"meeting_{meeting}", (meeting,), len(speakers), seconds, 300 + n
        )
        started = time.perf_counter()
        vad = resources["vad"].engine.detect(recording.wav)
        diarization = resources["diarizer"].engine.diarize(recording.wav, vad.regions, log)
        # Each diarized speaker is the reference speaker it overlaps most (its voice may hold others' speech).
        voices = []
        for voice in diarization.voices:
            overlap: dict[str, int] = defaultdict(int)
            for turn in (t for t in diarization.turns if t.speaker == voice.speaker):
                for ref in recording.turns:
                    overlap[ref.speaker] += max(
                        0, min(turn.end_ms, ref.end_ms) - max(turn.start_ms, ref.start_ms)
                    )
            if overlap and voice.speaking_ms >= MIN_SPEECH_MS:
                voices.append((max(overlap, key=overlap.get), voice))
        found[meeting] = voices
        facts[meeting] = {
            "reference_speakers": len({t.speaker for t in recording.turns}),
            "diarized_speakers": len(diarization.speakers),
            "voices_scored": len(voices),
            "seconds": round(sf.info(recording.wav).duration, 1),
            "diarize_s": round(time.perf_counter() - started, 1),
            "der": round(rs.diarization_error(recording.turns, diarization.turns, 0.25)["der"], 3),
        }
        print(meeting, facts[meeting], flush=True)
    return found, facts


def pairs(voices: dict[str, Voices], meetings: tuple[str, ...], enrol_count: int = 1):
    """(library voices, probe voices) for each way of enrolling ``enrol_count`` meetings and probing another."""
    for probe in meetings:
        for enrolled in itertools.combinations([m for m in meetings if m != probe], enrol_count):
            library = [v for m in enrolled for v in voices.get(m, [])]
            yield library, voices.get(probe, [])


def score(
    voices: dict[str, Voices], meetings: tuple[str, ...], encoder: str, threshold: float, enrol: int = 1
):
    counts = {"known": 0, "unknown": 0, "correct": 0, "missed": 0, "false_accepts": 0, "probes": 0}
    for library, probes in pairs(voices, meetings, enrol):
        prints = [Voiceprint(person, None, encoder, v.embedding) for person, v in library]
        enrolled = {person for person, _ in library}
        names = match_speakers([v for _, v in probes], prints, encoder, threshold)
        for (truth, _), name in zip(probes, names, strict=True):
            counts["probes"] += 1
            known = truth in enrolled
            counts["known" if known else "unknown"] += 1
            if name.person == truth:
                counts["correct"] += 1
            elif name.person is None:
                counts["missed"] += known
            else:
                counts["false_accepts"] += 1
    return {
        **counts,
        "identification": counts["correct"] / max(counts["known"], 1),
        "false_accept_rate": counts["false_accepts"] / max(counts["probes"], 1),
    }


def similarities(voices: dict[str, Voices], meetings: tuple[str, ...]) -> dict[str, list[float]]:
    """Cross-meeting cosine similarities of the same person (genuine) and of different people (impostor)."""
    found: dict[str, list[float]] = {"genuine": [], "impostor": []}
    for a, b in itertools.combinations(meetings, 2):
        for (pa, va), (pb, vb) in itertools.product(voices.get(a, []), voices.get(b, [])):
            found["genuine" if pa == pb else "impostor"].append(float(va.embedding @ vb.embedding))
    return found


def choose(voices: dict[str, Voices], encoder: str) -> dict:
    """The threshold from the DEV meetings alone, and how it does on the TEST meetings.

    Where DEV's same-person and different-people similarities do not overlap, the threshold is the middle
    of the gap between them (the widest margin either way); where they overlap, DEV's equal-error point."""
    sims = {
        name: similarities(voices, meetings)
        for name, meetings in (("dev", rs.DEV_MEETINGS), ("test", rs.TEST_MEETINGS))
    }
    genuine, impostor = sims["dev"]["genuine"], sims["dev"]["impostor"]
    if min(genuine) > max(impostor):
        chosen, rule = round((min(genuine) + max(impostor)) / 2, 2), "middle of the DEV gap"
    else:
        chosen, rule = equal_error(sims["dev"])["threshold"], "DEV equal-error"
    no_false_accept = next(
        (t for t in THRESHOLDS if score(voices, rs.TEST_MEETINGS, encoder, t)["false_accepts"] == 0), None
    )
    return {
        "chosen_threshold": chosen,
        "rule": rule,
        "dev": score(voices, rs.DEV_MEETINGS, encoder, chosen),
        "test": score(voices, rs.TEST_MEETINGS, encoder, chosen),
        "test_two_enrolments": score(voices, rs.TEST_MEETINGS, encoder, chosen, enrol=2),
        "test_sweep": {
            f"{t:.2f}": {k: round(v, 3) for k, v in score(voices, rs.TEST_MEETINGS, encoder, t).items()
                         if k in ("identification", "false_accept_rate")}
            for t in sorted({*THRESHOLDS[::5], chosen})
        },
        "test_lowest_threshold_without_false_accepts": no_false_accept,  # hindsight, for information only
        "similarities": {
            split: {kind: [round(min(v), 3), round(float(np.median(v)), 3), round(max(v), 3)] if v else []
                    for kind, v in values.items()}
            for split, values in sims.items()
        },
        "equal_error_test": equal_error(sims["test"]),
    }  # fmt: skip


def equal_error(sims: dict[str, list[float]]) -> dict:
    """The threshold where genuine pairs missed and impostor pairs accepted are equally frequent."""
    genuine, impostor = np.array(sims["genuine"]), np.array(sims["impostor"])
    best = min(THRESHOLDS, key=lambda t: abs((genuine < t).mean() - (impostor >= t).mean()))
    return {
        "threshold": best,
        "rate": round(float(((genuine < best).mean() + (impostor >= best).mean()) / 2), 3),
    }


MIXED_SHARES = (0.15, 0.25, 0.35, 0.5)  # the second person's share of a merged speaker's windows
MIXED_SWEEP = [round(t, 2) for t in np.arange(0.56, 0.81, 0.02)]
MIN_PROBE_WINDOWS = 10


def mixed_probes(windows: dict[tuple[str, str], np.ndarray], meetings: tuple[str, ...]):
    """For each ordered pair of meetings (enrol in A, probe in B): A's members as the library, and B's probes:
    each enrolled member's own windows (``pure``), and the same with another member's windows added (``merged``,
    the other member holding each share of ``MIXED_SHARES``): what the diarizer makes when it merges two
    people."""
    for enrolled, probed in itertools.permutations(meetings, 2):
        library = [
            (member, rs.windows_voice(member, e))
            for (meeting, member), e in windows.items()
            if meeting == enrolled and len(e) * rs.WINDOW_MS >= MIN_SPEECH_MS
        ]
        known = {member for member, _ in library}
        here = {member: e for (meeting, member), e in windows.items() if meeting == probed}
        probes = []
        for member, own in here.items():
            if member not in known or len(own) < MIN_PROBE_WINDOWS:
                continue
            probes.append(("pure", member, 0.0, rs.windows_voice(member, own)))
            for other, theirs in here.items():
                for share in MIXED_SHARES if other != member else ():
                    count = round(share / (1 - share) * len(own))
                    if 2 <= count <= len(theirs):
                        merged = np.concatenate([own, theirs[:count]])
                        probes.append(("merged", member, share, rs.windows_voice(member, merged)))
        yield library, probes


def mixed_score(windows, meetings: tuple[str, ...], below: float | None) -> dict:
    """Pure probes named right, and merged probes given a name at all, with the mixed rule at ``below``
    (None: the rule off, each probe's parts dropped: how naming worked before)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for library, probes in mixed_probes(windows, meetings):
        prints = [Voiceprint(member, None, VOICE_ENCODER, v.embedding) for member, v in library]
        for kind, member, share, voice in probes:
            probe = voice if below is not None else Voice(voice.speaker, voice.speaking_ms, voice.embedding)
            name = match_speakers([probe], prints, VOICE_ENCODER, MATCH_THRESHOLDS[VOICE_ENCODER], (), below)[
                0
            ]
            key = "pure_named_right" if kind == "pure" else f"merged_{share:g}_named"
            counts[key][0] += name.person == member if kind == "pure" else name.person is not None
            counts[key][1] += 1
    return {key: f"{hit}/{total}" for key, (hit, total) in sorted(counts.items())}


def mixed(windows: dict[tuple[str, str], np.ndarray], hearing: dict[str, Voices]) -> dict:
    """The mixed-speaker threshold, swept on DEV and TEST; and naming of the diarized hearings' voices with
    the rule off and at the calibrated threshold (what it costs on real diarizer output)."""
    calibrated = MIXED_THRESHOLDS[VOICE_ENCODER]
    found = {
        split: {"off": mixed_score(windows, meetings, None)}
        | {f"{t:.2f}": mixed_score(windows, meetings, t) for t in MIXED_SWEEP}
        for split, meetings in (("dev", rs.DEV_MEETINGS), ("test", rs.TEST_MEETINGS))
    }
    bare = {
        m: [(p, Voice(v.speaker, v.speaking_ms, v.embedding)) for p, v in vs] for m, vs in hearing.items()
    }
    threshold = MATCH_THRESHOLDS[VOICE_ENCODER]
    found["hearing_voices"] = {
        split: {
            "off": score(bare, meetings, VOICE_ENCODER, threshold),
            f"{calibrated:.2f}": score(hearing, meetings, VOICE_ENCODER, threshold),
        }
        for split, meetings in (("dev", rs.DEV_MEETINGS), ("test", rs.TEST_MEETINGS))
    }
    found["calibrated"] = calibrated
    return found


def cached(path: Path, make):
    """Voices (and facts) from ``make``, kept in ``path``: re-scoring needs no model run."""
    if not path.exists():
        voices, facts = make()
        path.write_text(json.dumps([to_json(voices), facts]))
    voices, facts = json.loads(path.read_text())
    return from_json(voices), facts


def to_json(value):
    if isinstance(value, Voice):
        return {"voice": value.to_json()}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def from_json(value):
    if isinstance(value, dict):
        return (
            Voice.from_json(value["voice"])
            if set(value) == {"voice"}
            else {k: from_json(v) for k, v in value.items()}
        )
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def main() -> None:
    work = OUT / "speaker_names"
    work.mkdir(parents=True, exist_ok=True)
    resources = build_resources(Settings())
    started = time.perf_counter()
    results: dict = {"machine": machine(), "min_speech_ms": MIN_SPEECH_MS}
    voices, facts = cached(work / "hearing_voices.json", lambda: hearing_voices(resources, work))
    results["hearing"] = {"encoder": VOICE_ENCODER, "meetings": facts, **choose(voices, VOICE_ENCODER)}
    print(
        "hearing", json.dumps({k: v for k, v in results["hearing"].items() if k != "test_sweep"}), flush=True
    )
    for encoder, by_meeting in cached(work / "clip_voices.json", lambda: (clip_voices(resources), {}))[
        0
    ].items():
        results[f"clips_{encoder}"] = choose(by_meeting, encoder)
        print(
            encoder,
            json.dumps({k: v for k, v in results[f"clips_{encoder}"].items() if k != "test_sweep"}),
            flush=True,
        )
    windows_file = work / "member_windows.npz"
    if not windows_file.exists():
        found = rs.member_speech(resources["diarizer"].engine)
        np.savez(windows_file, **{f"{m}/{s}": e for (m, s), (e, _, _) in found.items()})
    with np.load(windows_file) as stored:
        windows = {tuple(name.split("/")): stored[name] for name in stored.files}
    results["mixed"] = mixed(windows, voices)
    print("mixed", json.dumps(results["mixed"], indent=1), flush=True)
    results["seconds"] = round(time.perf_counter() - started, 1)
    (OUT / "speaker_names.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
