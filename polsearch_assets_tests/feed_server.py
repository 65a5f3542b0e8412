"""A real HTTP server on 127.0.0.1 that plays YouTube for the uploads sensor.

It serves channel feeds in YouTube's Atom format (``yt:videoId``, alternate links,
ETag / If-None-Match), a watch page per video that yt-dlp's generic extractor reads
(JSON-LD ``VideoObject`` with duration and upload date), and the media behind it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from .local_http import serving


@dataclass
class Video:
    video_id: str
    title: str
    published: str  # ISO 8601
    duration_s: int = 98
    dated_in_rss: bool = True  # False: the RSS item has no pubDate, so a reader must look at the page


@dataclass
class FeedServer:
    base_url: str = ""
    channels: dict[str, list[Video]] = field(default_factory=dict)  # newest first, as YouTube lists them
    forced_status: dict[str, int] = field(default_factory=dict)  # path -> status to answer
    fail_first: dict[str, int] = field(default_factory=dict)  # path -> how many 503s before serving
    requests: Counter[str] = field(default_factory=Counter)
    not_modified: Counter[str] = field(default_factory=Counter)
    media: Path | None = None

    def feed_url(self, channel: str) -> str:
        return f"{self.base_url}/feeds/{channel}.xml"

    def watch_url(self, video_id: str) -> str:
        return f"{self.base_url}/watch/{video_id}"

    def atom(self, channel: str) -> bytes:
        entries = "".join(
            f"""
 <entry>
  <id>yt:video:{v.video_id}</id>
  <yt:videoId>{v.video_id}</yt:videoId>
  <yt:channelId>UC{channel:_<22}</yt:channelId>
  <title>{escape(v.title)}</title>
  <link rel="alternate" href="{self.watch_url(v.video_id)}"/>
  <author><name>{escape(channel)} committee</name></author>
  <published>{v.published}</published>
  <updated>{v.published}</updated>
  <media:group><media:title>{escape(v.title)}</media:title></media:group>
 </entry>"""
            for v in self.channels[channel]
        )
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/"
      xmlns="http://www.w3.org/2005/Atom">
 <title>{escape(channel)}</title>
 <author><name>{escape(channel)} committee</name></author>{entries}
</feed>
""".encode()

    def rss_url(self, channel: str) -> str:
        return f"{self.base_url}/rss/{channel}.xml"

    def rss(self, channel: str) -> bytes:
        """The channel as an RSS 2.0 feed, which yt-dlp reads as a playlist (``polsearch plan``)."""
        items = "".join(
            f"""
  <item><title>{escape(v.title)}</title><link>{self.watch_url(v.video_id)}</link><guid>{v.video_id}</guid>
   {f"<pubDate>{format_datetime(datetime.fromisoformat(v.published))}</pubDate>" if v.dated_in_rss else ""}</item>"""
            for v in self.channels[channel]
        )
        return f"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>{escape(channel)}</title>{items}
</channel></rss>""".encode()

    def watch_page(self, video: Video) -> bytes:
        minutes, seconds = divmod(video.duration_s, 60)
        return f"""<html><head><title>{escape(video.title)}</title>
<script type="application/ld+json">
{{"@context": "https://schema.org", "@type": "VideoObject", "name": "{escape(video.title)}",
  "duration": "PT{minutes}M{seconds}S", "uploadDate": "{video.published[:10]}",
  "contentUrl": "{self.base_url}/media/{video.video_id}.wav", "thumbnailUrl": "{self.base_url}/t.jpg",
  "description": "hearing"}}
</script></head><body>{escape(video.title)}</body></html>""".encode()

    def video(self, video_id: str) -> Video | None:
        return next((v for videos in self.channels.values() for v in videos if v.video_id == video_id), None)


@contextmanager
def serve_feeds(media: Path | None = None) -> Iterator[FeedServer]:
    state = FeedServer(media=media)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: bytes, content_type: str, etag: str | None = None) -> None:
            if etag and self.headers.get("If-None-Match") == etag:
                state.not_modified[self.path] += 1
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if etag:
                self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            state.requests[path] += 1
            if path in state.forced_status:
                self.send_error(state.forced_status[path])
                return
            if state.requests[path] <= state.fail_first.get(path, 0):
                self.send_error(503, "Service Unavailable")
                return
            parts = path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "feeds" and parts[1].removesuffix(".xml") in state.channels:
                body = state.atom(parts[1].removesuffix(".xml"))
                self._answer(body, "application/atom+xml", f'"{hashlib.sha1(body).hexdigest()}"')
                return
            if len(parts) == 2 and parts[0] == "rss" and parts[1].removesuffix(".xml") in state.channels:
                self._answer(state.rss(parts[1].removesuffix(".xml")), "application/rss+xml")
                return
            if len(parts) == 2 and parts[0] == "watch" and (video := state.video(parts[1])):
                self._answer(state.watch_page(video), "text/html")
                return
            if len(parts) == 2 and parts[0] == "media" and state.media is not None:
                self._answer(state.media.read_bytes(), "audio/wav")
                return
            self.send_error(404, "Not Found")

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as base_url:
        state.base_url = base_url
        yield state
