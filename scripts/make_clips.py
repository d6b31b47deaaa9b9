"""Make the voice clips and the chime for the hall display, or level an office's own clips.

    python scripts/make_clips.py [--force] [--out DIR] [--voice vi] [--rate 150]
    python scripts/make_clips.py --level var/clips

One WAV per clip name in queue_server.speech.all_clip_names(), spoken by
espeak-ng from the word itself (numbers are already words, so the engine never
reads digits), trimmed of leading and trailing silence, brought to the same
loudness (queue_server.audio: gated RMS -22 dBFS, within ±0.5 dB) and stored as
mono 22 050 Hz 16-bit WAV, which every browser decodes. Plus chime.wav, a
two-tone "ding-dong" made with sox. Needs the espeak-ng and sox programs.

--level DIR levels every WAV already in DIR (an office's own recordings, e.g.
display.clips_dir) the same way, in place, without espeak-ng or sox; chime.wav
is left as it is.

Existing files are kept unless --force is given, so an office's own recordings
put in the same folder are not overwritten by accident.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from queue_server.audio import AudioError, level_clip  # noqa: E402
from queue_server.speech import WORD_CLIPS, all_clip_names  # noqa: E402

DEFAULT_OUT = ROOT / "display" / "audio" / "clips"
RATE_HZ = "22050"
# sox effects: trim silence at both ends (below 0.5 % for 10 ms) and keep a short natural
# edge so consonants are not clipped. Loudness is levelled afterwards (queue_server.audio),
# not by peak: peak-normalised words differ by up to 10 dB in loudness.
_TIDY = [
    "silence",
    "1",
    "0.01",
    "0.5%",
    "reverse",
    "silence",
    "1",
    "0.01",
    "0.5%",
    "reverse",
    "pad",
    "0.01",
    "0.02",
]
_FORMAT = ["-c", "1", "-r", RATE_HZ, "-b", "16", "-e", "signed-integer"]


def clip_texts() -> dict[str, str]:
    """clip name → the text espeak-ng speaks for it ("e-lờ" is said as two syllables)."""
    by_clip = {clip: word.replace("-", " ") for word, clip in WORD_CLIPS.items()}
    return {name: by_clip[name] for name in all_clip_names()}


def run(args: list[str]) -> None:
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def make_clip(text: str, target: Path, voice: str, rate: int, tmp: Path) -> None:
    raw = tmp / "raw.wav"
    run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(raw), text])
    tidy = tmp / "tidy.wav"
    run(["sox", str(raw), *_FORMAT, str(tidy), *_TIDY])
    target.write_bytes(level_clip(tidy.read_bytes(), trim_silence=False))


def level_folder(folder: Path) -> int:
    """Level every clip in ``folder`` (not the chime) in place; returns the number levelled."""
    done = 0
    for path in sorted(folder.glob("*.wav")):
        if path.stem == "chime":
            continue
        try:
            path.write_bytes(level_clip(path.read_bytes()))
        except AudioError as error:
            print(f"skipped {path.name}: {error}", file=sys.stderr)
            continue
        print(f"levelled {path.name}")
        done += 1
    return done


def make_chime(target: Path, tmp: Path) -> None:
    """A soft two-tone bell, E5 then C5, each with a quiet octave partial and a long decay."""

    def tone(name: str, freq: float, start: float, length: float) -> Path:
        parts = []
        for partial, volume in ((1, 0.5), (2, 0.12), (3, 0.04)):
            part = tmp / f"{name}_{partial}.wav"
            run(
                [
                    "sox",
                    "-n",
                    *_FORMAT,
                    str(part),
                    "synth",
                    f"{length}",
                    "sine",
                    f"{freq * partial}",
                    "fade",
                    "l",
                    "0.006",
                    f"{length}",
                    f"{length - 0.006}",
                    "vol",
                    f"{volume}",
                    "pad",
                    f"{start}",
                    "0",
                ]
            )
            parts.append(str(part))
        mixed = tmp / f"{name}.wav"
        run(["sox", "-m", *parts, str(mixed)])
        return mixed

    ding = tone("ding", 659.25, 0.0, 0.75)
    dong = tone("dong", 523.25, 0.42, 0.78)
    run(["sox", "-m", str(ding), str(dong), *_FORMAT, str(target), "gain", "-n", "-3", "fade", "0", "-0", "0.05"])


def espeak_version() -> str:
    out = subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True, text=True).stdout
    return out.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="remake clips that already exist")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder for the clips (default {DEFAULT_OUT})")
    parser.add_argument("--voice", default="vi", help="espeak-ng voice: vi, vi-vn-x-central, vi-vn-x-south")
    parser.add_argument("--rate", type=int, default=150, help="espeak-ng speed in words per minute")
    parser.add_argument(
        "--level", type=Path, metavar="DIR", help="level the clips already in DIR (an office's own recordings) and stop"
    )
    args = parser.parse_args(argv)
    if args.level is not None:
        if not args.level.is_dir():
            print(f"error: {args.level} is not a folder", file=sys.stderr)
            return 1
        print(f"{level_folder(args.level)} clips levelled in {args.level}")
        return 0

    for program in ("espeak-ng", "sox"):
        if shutil.which(program) is None:
            print(f"error: {program} is not installed (apt-get install espeak-ng sox)", file=sys.stderr)
            return 1
    print(espeak_version())
    args.out.mkdir(parents=True, exist_ok=True)

    made = kept = 0
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        jobs = [(name, text) for name, text in clip_texts().items()] + [("chime", None)]
        for name, text in jobs:
            target = args.out / f"{name}.wav"
            if target.exists() and not args.force:
                kept += 1
                continue
            if text is None:
                make_chime(target, tmp)
                print(f"made {target.name}  (sox two-tone chime)")
            else:
                make_clip(text, target, args.voice, args.rate, tmp)
                print(f"made {target.name}  ({text})")
            made += 1
    print(f"{made} made, {kept} already there (use --force to remake) in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
