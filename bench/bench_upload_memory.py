"""Upload decoding memory: block decoding vs reading the whole file, on a long many-channel upload.

Usage::

    python bench/bench_upload_memory.py [--seconds 150] [--channels 8] [--rate 48000]

Writes an OGG Vorbis upload (tones, well under the 20 MB upload limit), then
decodes it as the app does (``core.audio.decode_audio``, cut to the engine's
120 s) and, as the reference measured in the same run, the way the app
decoded before: one read of the whole span at the native rate and channel
count, mixed to mono, then resampled by librosa. Each runs in a fresh
process; reported are the tracemalloc peak (numpy buffers) and the growth of
the process's peak RSS. Prints one table and writes it to
``bench/results/upload_memory.txt``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MEASURE = r"""
import json, resource, sys, tracemalloc
sys.path.insert(0, {root!r})
from core.engine.engine import MAX_UPLOAD_SECONDS
data = open({path!r}, "rb").read()
if {how!r} == "decode_audio":
    from core.audio import decode_audio
    run = lambda: decode_audio(data, "upload.ogg", duration=MAX_UPLOAD_SECONDS)
else:  # reference: the whole span in one read, as the app did before block decoding
    import io, librosa, soundfile as sf
    def run():
        with sf.SoundFile(io.BytesIO(data)) as f:
            y = f.read(int(MAX_UPLOAD_SECONDS * f.samplerate), dtype="float32", always_2d=True).mean(axis=1)
            return librosa.resample(y, orig_sr=f.samplerate, target_sr=22050, res_type="soxr_hq")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
y = run()
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
print(json.dumps({{"samples": len(y), "output_mib": y.nbytes / 2**20, "tracemalloc_mib": peak / 2**20,
                  "rss_growth_mib": grown / 1024}}))
"""


def write_upload(path: Path, seconds: int, channels: int, rate: int) -> None:
    import numpy as np
    import soundfile as sf

    with sf.SoundFile(path, "w", rate, channels, format="OGG") as f:
        for start in range(0, seconds * rate, 10 * rate):
            t = np.arange(start, min(start + 10 * rate, seconds * rate)) / rate
            f.write(np.stack([0.2 * np.sin(2 * np.pi * 220 * (c + 1) * t) for c in range(channels)],
                             axis=1).astype(np.float32))


def measure(path: Path, how: str) -> dict:
    code = MEASURE.format(root=str(ROOT), path=str(path), how=how)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=150)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--rate", type=int, default=48000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.ogg"
        write_upload(path, args.seconds, args.channels, args.rate)
        size_mb = path.stat().st_size / 1e6
        rows = {how: measure(path, how) for how in ("whole read (reference)", "decode_audio")}
    ref, new = rows["whole read (reference)"], rows["decode_audio"]
    lines = [f"# bench_upload_memory {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
             f"# upload: OGG Vorbis, {args.channels} channels, {args.rate} Hz, {args.seconds} s, {size_mb:.1f} MB; "
             "decoded to the engine's 120 s at 22,050 Hz mono",
             f"{'decoder':<24}{'output MiB':>11}{'tracemalloc peak MiB':>22}{'peak RSS growth MiB':>21}"]
    for how, row in rows.items():
        lines.append(f"{how:<24}{row['output_mib']:>11.1f}{row['tracemalloc_mib']:>22.1f}"
                     f"{row['rss_growth_mib']:>21.1f}")
    lines.append(f"decode_audio / reference: tracemalloc {new['tracemalloc_mib'] / ref['tracemalloc_mib']:.2f}x, "
                 f"RSS growth {new['rss_growth_mib'] / ref['rss_growth_mib']:.2f}x")
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "results" / "upload_memory.txt"
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
