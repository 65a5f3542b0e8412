import logging
from pathlib import Path

import pytest

from polsearch_assets.core.keys import MAX_KEY_LENGTH, InvalidHearingKey, validate_hearing_key
from polsearch_assets.core.sources.base import FetchedMedia, FetchLimits
from polsearch_assets.core.sources.registry import SOURCES, resolve_source, source_kind
from polsearch_assets.core.sources.youtube import youtube_video_id
from polsearch_assets.core.text import for_display


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://youtube.com/watch?v=dQw4w9WgXcQ&t=42s&list=PL123",
        "https://youtu.be/dQw4w9WgXcQ?t=10",
        "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com/live/dQw4w9WgXcQ",
        "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        "https://www.youtube.com/embed/dQw4w9WgXcQ",
    ],
)
def test_youtube_urls_give_the_video_key(url: str) -> None:
    resolved = resolve_source(url)
    assert resolved.key == "yt-dQw4w9WgXcQ"
    assert resolved.kind == "youtube"
    assert resolved.location == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/@HouseCommittee",
        "https://www.youtube.com/watch?v=short",
        "https://example.com/watch?v=dQw4w9WgXcQ",
    ],
)
def test_not_a_youtube_video(url: str) -> None:
    assert youtube_video_id(url) is None


def test_media_url_key_is_stable_and_distinct() -> None:
    a = resolve_source("https://media.example.gov/hearings/2026-03-14.mp4")
    again = resolve_source("HTTPS://MEDIA.example.gov/hearings/2026-03-14.mp4#t=30")
    other = resolve_source("https://media.example.gov/hearings/2026-03-15.mp4")
    assert a.kind == "url"
    assert a.key == again.key != other.key
    assert a.key.startswith("url-")
    validate_hearing_key(a.key)


def test_local_file_key_is_a_content_hash(tmp_path: Path) -> None:
    first, copy, different = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "c.wav"
    first.write_bytes(b"RIFF" + b"\x01" * 100)
    copy.write_bytes(first.read_bytes())
    different.write_bytes(b"RIFF" + b"\x02" * 100)
    resolved = resolve_source(str(first))
    assert resolved.kind == "file"
    assert resolved.location == str(first.resolve())
    assert resolved.key == resolve_source(str(copy)).key != resolve_source(str(different)).key
    assert resolve_source(f"file://{first}").key == resolved.key


def test_missing_file_and_bad_sources_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        resolve_source(str(tmp_path / "missing.wav"))
    with pytest.raises(ValueError, match="empty"):
        resolve_source("   ")
    with pytest.raises(ValueError, match="unsupported source scheme"):
        resolve_source("ftp://example.com/a.mp3")


@pytest.mark.parametrize("key", ["yt-dQw4w9WgXcQ", "file-0123abcd", "a", "A_b-9", "x" * MAX_KEY_LENGTH])
def test_valid_keys(key: str) -> None:
    assert validate_hearing_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../x",
        "..",
        "a/b",
        "/abs",
        "a\\b",
        ".hidden",
        "-lead",
        "has space",
        "ümlaut",
        "a,b",
        "x" * (MAX_KEY_LENGTH + 1),
    ],
)
def test_invalid_keys(key: str) -> None:
    with pytest.raises(InvalidHearingKey):
        validate_hearing_key(key)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31mOversight\x1b[0m of the\nFBI", "Oversight of the FBI"),
        ("a\r\nb\tc\x07", "a b c"),
        ("\x1b]0;owned\x07title", "title"),
        ("Café — ½", "Café — ½"),
        (None, ""),
    ],
)
def test_untrusted_text_is_shown_on_one_clean_line(raw: str | None, shown: str) -> None:
    assert for_display(raw) == shown


def test_the_kinds_catalogs_were_written_with_stay_registered() -> None:
    """A catalog entry records its kind by name: renaming one would orphan every hearing registered under it."""
    assert list(SOURCES) == ["youtube", "url", "file"]  # also the order sources are tried in
    with pytest.raises(ValueError, match="unknown source kind 'ftp'; known: youtube, url, file"):
        source_kind("ftp")


def test_a_local_file_is_read_where_it_is(tmp_path: Path) -> None:
    recording = tmp_path / "a.wav"
    recording.write_bytes(b"RIFF" + b"\x01" * 100)
    resolved = resolve_source(str(recording))
    limits = FetchLimits(socket_timeout_s=1.0, max_bytes=1, check_duration=lambda _: None)
    fetched = source_kind(resolved.kind).fetch(
        resolved.location, tmp_path, limits, logging.getLogger(__name__)
    )
    assert fetched == FetchedMedia(path=recording.resolve())
    assert list(tmp_path.iterdir()) == [recording]  # nothing copied
