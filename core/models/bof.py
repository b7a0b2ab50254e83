"""Fitting the K-means codebook of bag-of-frames audio features (Weston et al. 2011; Lee et al.'s MFCC-VQ).

13 MFCCs with deltas and delta-deltas per frame (39-d) are standardised with the
training frames' mean and standard deviation and clustered; quantising and
counting a track is :class:`core.models.mfcc_vq.MfccVqModel`'s job.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError


def fit_codebook(frames: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """K-means codebook of standardised frames.

    Parameters
    ----------
    frames : np.ndarray, shape (n_frames, n_features)
        Training frames (subsample them first for large corpora).
    k : int
        Codebook size (2,000 in the paper); at most ``n_frames``.
    seed : int
        K-means seed.

    Returns
    -------
    centroids : np.ndarray, shape (k, n_features), in standardised units
    mean, std : np.ndarray, shape (n_features,)
        The standardisation applied before assignment.
    """
    from sklearn.cluster import MiniBatchKMeans

    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 2 or len(frames) < k:
        raise ParameterError(f"need at least k={k} frames of shape (n, features) for the codebook, "
                             f"got shape {frames.shape}")
    mean = frames.mean(axis=0)
    std = frames.std(axis=0) + 1e-6
    kmeans = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096)
    kmeans.fit((frames - mean) / std)
    return kmeans.cluster_centers_.astype(np.float32), mean.astype(np.float32), std.astype(np.float32)


__all__ = ["fit_codebook"]
