"""Voice clips as sound: read and write WAV, trim the silence at both ends, and bring every
clip to the same loudness, so "tư" is not twice as loud as "lăm" in one call.

Pure Python (``wave`` and ``array``), no I/O beyond bytes in and out: the same code levels
the bundled clips (``scripts/make_clips.py``) and an office's own recordings as they are
saved (``/admin/voice``). Loudness is the gated RMS of the clip: the mean power of its
20 ms blocks louder than -50 dBFS (pauses inside a word do not count), the way EBU R128
gates silence out; every clip is brought to ``TARGET_DBFS`` within ±0.5 dB. Peaks above
-3 dBFS are softly limited so a loud consonant never clips.
"""

from __future__ import annotations

import array
import io
import math
import struct
import sys
import wave

TARGET_DBFS = -22.0
BLOCK_S = 0.02
GATE_DBFS = -50.0
SILENCE_DBFS = -40.0
KEEP_S = 0.03  # natural edge kept before and after the voice when trimming
_LIMIT_FROM = 10 ** (-3 / 20)
MIN_RATE, MAX_RATE = 4000, 384000  # sample rates of real recordings (Hz)


class AudioError(ValueError):
    """The bytes are not a WAV file this module can read."""


class NoVoice(AudioError):
    """The clip is silence: nothing in it is louder than SILENCE_DBFS."""


class TooLong(AudioError):
    """The clip lasts longer than allowed."""


def read_wav(data: bytes) -> tuple[int, list[float]]:
    """(sample rate, mono samples in -1..1) of a PCM WAV (8, 16, 24 or 32 bit, any channels)."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            rate, channels, width, frames = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
            raw = w.readframes(frames)
    except (wave.Error, EOFError, RuntimeError, struct.error) as error:
        # RuntimeError: a chunk whose size runs past the end of the file (wave's Chunk.skip)
        raise AudioError(f"not a PCM WAV file: {error or type(error).__name__}") from None
    if width == 1:
        values = [(b - 128) / 128 for b in raw]
    elif width == 2:
        pcm = array.array("h")
        pcm.frombytes(raw[: len(raw) // 2 * 2])
        if sys.byteorder == "big":
            pcm.byteswap()
        values = [v / 32768 for v in pcm]
    elif width in (3, 4):
        scale = float(1 << (8 * width - 1))
        values = [
            int.from_bytes(raw[i : i + width], "little", signed=True) / scale
            for i in range(0, len(raw) - width + 1, width)
        ]
    else:
        raise AudioError(f"unsupported sample width: {width} bytes")
    if channels > 1:
        values = [sum(values[i : i + channels]) / channels for i in range(0, len(values) - channels + 1, channels)]
    if not values or rate <= 0:
        raise AudioError("the WAV file has no sound")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioError(f"unsupported sample rate: {rate} Hz")
    return rate, values


def write_wav(rate: int, samples: list[float]) -> bytes:
    """Mono 16-bit PCM WAV bytes."""
    pcm = array.array("h", (max(-32768, min(32767, round(s * 32767))) for s in samples))
    if sys.byteorder == "big":
        pcm.byteswap()
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return out.getvalue()


def _db(power: float) -> float:
    return 10 * math.log10(power) if power > 0 else -math.inf


def _blocks(samples: list[float], rate: int) -> list[float]:
    """Mean power of each BLOCK_S block."""
    size = max(1, int(rate * BLOCK_S))
    return [
        sum(s * s for s in samples[i : i + size]) / len(samples[i : i + size]) for i in range(0, len(samples), size)
    ]


def loudness(samples: list[float], rate: int) -> float:
    """Gated RMS in dBFS (-inf for silence)."""
    loud = [p for p in _blocks(samples, rate) if _db(p) > GATE_DBFS]
    return _db(sum(loud) / len(loud)) if loud else -math.inf


def trim(samples: list[float], rate: int) -> list[float]:
    """Cut the silence (blocks below SILENCE_DBFS) at both ends, keeping KEEP_S of edge."""
    size = max(1, int(rate * BLOCK_S))
    blocks = _blocks(samples, rate)
    voiced = [i for i, p in enumerate(blocks) if _db(p) > SILENCE_DBFS]
    if not voiced:
        return samples
    keep = int(rate * KEEP_S)
    start = max(0, voiced[0] * size - keep)
    end = min(len(samples), (voiced[-1] + 1) * size + keep)
    return samples[start:end]


def _limit(x: float) -> float:
    a = abs(x)
    if a <= _LIMIT_FROM:
        return x
    room = 1 - _LIMIT_FROM
    return math.copysign(_LIMIT_FROM + room * math.tanh((a - _LIMIT_FROM) / room), x)


def normalise(samples: list[float], rate: int, target: float = TARGET_DBFS) -> list[float]:
    """The samples at ``target`` dBFS gated RMS (within ±0.5 dB), peaks softly limited."""
    out = samples
    for _ in range(4):
        level = loudness(out, rate)
        if level == -math.inf or abs(level - target) <= 0.2:
            break
        gain = 10 ** ((target - level) / 20)
        out = [_limit(s * gain) for s in out]
    return out


def fade(samples: list[float], rate: int, ms: float = 5.0) -> list[float]:
    """Short linear fades at both ends (no click where a clip starts or stops)."""
    n = min(len(samples) // 2, int(rate * ms / 1000))
    out = list(samples)
    for i in range(n):
        k = i / n
        out[i] *= k
        out[-1 - i] *= k
    return out


def level_clip(
    data: bytes,
    *,
    trim_silence: bool = True,
    target: float = TARGET_DBFS,
    max_seconds: float | None = None,
    require_voice: bool = False,
) -> bytes:
    """A clip as stored: trimmed, levelled, faded in and out, mono 16-bit WAV. TooLong past
    ``max_seconds`` (before trimming); with ``require_voice``, NoVoice for a silent clip."""
    rate, samples = read_wav(data)
    if max_seconds is not None and len(samples) > rate * max_seconds:
        raise TooLong(f"longer than {max_seconds:g} s")
    if require_voice and not any(_db(p) > SILENCE_DBFS for p in _blocks(samples, rate)):
        raise NoVoice(f"no sound louder than {SILENCE_DBFS:g} dBFS")
    if trim_silence:
        samples = trim(samples, rate)
    return write_wav(rate, fade(normalise(samples, rate, target), rate))
