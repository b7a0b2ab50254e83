"""Audio: loading (files and uploads, header-checked, decoded in blocks), log-mel spectrograms,
crops and windows, MFCCs, playable excerpts.

Settings follow the seeds: 22,050 Hz mono float32; Hann window 1024, hop 512,
128 mel bands. See ``docs/architecture.md`` (Audio contract).
"""

from .crops import crop_starts, evaluation_crops, random_crop, windows
from .excerpt import excerpt_bytes
from .io import (AUDIO_EXTENSIONS, MAX_CHANNELS, SAMPLE_RATE, SAMPLE_RATE_RANGE, audio_duration, check_header,
                 decode_audio, load_audio)
from .mel import (CHUNK_FRAMES_3S, CHUNK_FRAMES_WON, HOP_LENGTH, N_FFT, N_MELS, SCALES,
                  frames_for_seconds, log1p10_to_power, log_mel, mel_power)
from .mfcc import mfcc_from_mel

__all__ = [
    "AUDIO_EXTENSIONS", "CHUNK_FRAMES_3S", "CHUNK_FRAMES_WON", "HOP_LENGTH", "MAX_CHANNELS", "N_FFT", "N_MELS",
    "SAMPLE_RATE", "SAMPLE_RATE_RANGE", "SCALES", "audio_duration", "check_header", "crop_starts",
    "decode_audio", "evaluation_crops", "excerpt_bytes", "frames_for_seconds", "load_audio", "log1p10_to_power",
    "log_mel", "mel_power", "mfcc_from_mel", "random_crop", "windows",
]
