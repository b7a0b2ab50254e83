"""The seed papers' published results, as plain data (context for the demo's numbers, never targets).

They were measured on other data (the Million Song Dataset, or TagATune for
Weston et al.), with full-size models trained for days. Every table carries a
label saying so; the Results page and the markdown report show them without
error bars, next to this workspace's numbers.
"""

from __future__ import annotations

import pandas as pd

_MSD = "published, different dataset (MSD)"


def published_numbers() -> dict:
    """The seed papers' published results, as plain data.

    Returns
    -------
    dict
        Table key -> ``{"label", "source", "dataset", "columns", "rows",
        "id_columns"}`` where ``rows`` is a list of lists whose first
        ``id_columns`` columns identify the model (the rest are metrics). The
        label says the numbers come from a different dataset than the workspace's.
    """
    doh_tagging_models = [
        ("1D-CNN", "GloVe", "Tag"), ("1D-CNN", "MWE", "Tag"), ("1D-CNN", "MWE (Aug)", "Tag"),
        ("Transformer", "GloVe", "Tag"), ("Transformer", "MWE", "Tag"), ("Transformer", "MWE (Aug)", "Tag"),
        ("Transformer", "MWE", "Artist ID"), ("Transformer", "MWE (Aug)", "Artist ID"),
        ("Transformer", "MWE", "Track ID"), ("Transformer", "MWE (Aug)", "Track ID"),
        ("Transformer", "MWE", "Tag, Artist ID"), ("Transformer", "MWE (Aug)", "Tag, Artist ID"),
        ("Transformer", "MWE", "Tag, Track ID"), ("Transformer", "MWE (Aug)", "Tag, Track ID"),
        ("Transformer", "MWE", "Artist ID, Track ID"), ("Transformer", "MWE (Aug)", "Artist ID, Track ID"),
        ("Transformer", "MWE", "Tag, Artist ID, Track ID"), ("Transformer", "MWE (Aug)", "Tag, Artist ID, Track ID"),
    ]
    table6 = [(0.890, 0.823), (0.912, 0.854), (0.918, 0.863), (0.927, 0.869), (0.926, 0.867), (0.932, 0.874),
              (0.894, 0.860), (0.888, 0.858), (0.892, 0.868), (0.892, 0.870), (0.929, 0.869), (0.933, 0.875),
              (0.930, 0.869), (0.932, 0.873), (0.907, 0.866), (0.896, 0.872), (0.932, 0.872), (0.935, 0.879)]
    table7 = [(29.6, 42.9, 57.2, 70.7), (35.9, 49.7, 63.9, 75.5), (38.6, 52.4, 65.8, 76.6),
              (44.1, 57.9, 70.2, 80.0), (41.8, 55.7, 68.7, 78.9), (44.0, 57.5, 70.3, 79.9),
              (44.0, 57.7, 70.1, 80.2), (43.7, 57.2, 70.0, 80.0), (44.5, 58.0, 70.4, 80.2),
              (44.0, 57.7, 70.2, 80.0), (43.9, 57.8, 70.2, 80.2), (45.8, 59.4, 71.5, 80.9),
              (45.0, 58.7, 70.7, 80.1), (45.2, 58.8, 70.8, 80.5), (46.8, 60.4, 72.3, 81.4),
              (46.6, 59.8, 71.9, 81.2), (45.7, 59.5, 71.8, 80.9), (47.1, 60.2, 71.9, 81.2)]
    table8 = [(0.904, 0.679), (0.941, 0.747), (0.943, 0.768), (0.906, 0.688), (0.954, 0.780), (0.955, 0.790),
              (0.911, 0.813), (0.926, 0.843), (0.889, 0.814), (0.884, 0.847), (0.958, 0.819), (0.961, 0.841),
              (0.953, 0.826), (0.959, 0.839), (0.875, 0.825), (0.896, 0.859), (0.954, 0.831), (0.959, 0.853)]
    dims = ["Genre", "Mood", "Instruments", "Tempo", "Overall"]
    return {
        "query_by_tag": {
            "id_columns": 1,
            "label": _MSD, "source": "Won et al. 2021, README Table 1 (acoustic model, MSD100)",
            "dataset": "MSD100 (Million Song Dataset, top-100 Last.fm tags)",
            "columns": ["sampling", "PR-AUC", "P@10"],
            "rows": [["random", 0.1658, 0.2990], ["balanced", 0.1675, 0.3160],
                     ["balanced-weighted", 0.1852, 0.3500]]},
        "triplets": {
            "id_columns": 2,
            "label": _MSD, "source": "Lee et al. 2020, Table 1", "dataset": "Million Song Dataset, Last.fm tags",
            "columns": ["space", "model", *dims],
            "rows": [["all dimensions", "MFCC-VQ", 0.563, 0.481, 0.495, 0.516, 0.514],
                     ["all dimensions", "Track", 0.611, 0.595, 0.531, 0.534, 0.568],
                     ["all dimensions", "Category", 0.647, 0.633, 0.562, 0.875, 0.679],
                     ["all dimensions", "Category + track regularization", 0.647, 0.627, 0.561, 0.891, 0.681],
                     ["all dimensions", "Category + disentanglement", 0.708, 0.717, 0.657, 0.783, 0.716],
                     ["all dimensions", "Category + disentanglement + track regularization",
                      0.693, 0.704, 0.626, 0.836, 0.715],
                     ["sub-dimensions", "Set of specialized networks", 0.708, 0.619, 0.603, 0.942, 0.718],
                     ["sub-dimensions", "Category + disentanglement", 0.785, 0.790, 0.798, 0.955, 0.832],
                     ["sub-dimensions", "Category + disentanglement + track regularization",
                      0.765, 0.743, 0.700, 0.953, 0.790]]},
        "track_triplets": {
            "id_columns": 1,
            "label": _MSD, "source": "Lee et al. 2020, Table 2", "dataset": "Million Song Dataset",
            "columns": ["model", "Track", "User"],
            "rows": [["MFCC-VQ", 0.833, 0.654], ["Track", 0.950, 0.763], ["Category", 0.975, 0.766],
                     ["Category + track regularization", 0.980, 0.740],
                     ["Category + disentanglement", 0.985, 0.763],
                     ["Category + disentanglement + track regularization", 0.988, 0.792]]},
        "tag_prediction": {
            "id_columns": 4,
            "label": "published, different dataset (TagATune)",
            "source": "Weston et al. 2011, Table 3 (WARP vs AUC) and Table 2 (one-vs-rest)", "dataset": "TagATune",
            "columns": ["model", "loss", "features", "d", "P@3", "P@6", "P@9", "P@12", "P@15"],
            "rows": [["Muslse", "AUC", "MFCC", 100, 0.226, 0.179, 0.147, 0.128, 0.112],
                     ["Muslse", "WARP", "MFCC", 100, 0.371, 0.267, 0.212, 0.177, 0.153],
                     ["Muslse", "AUC", "MFCC", 400, 0.222, 0.179, 0.151, 0.131, 0.116],
                     ["Muslse", "WARP", "MFCC", 400, 0.382, 0.275, 0.219, 0.182, 0.157],
                     ["Muslse", "AUC", "MFCC + SAI", 100, 0.301, 0.217, 0.175, 0.147, 0.128],
                     ["Muslse", "WARP", "MFCC + SAI", 100, 0.452, 0.319, 0.248, 0.205, 0.174],
                     ["Muslse", "AUC", "MFCC + SAI", 400, 0.338, 0.248, 0.199, 0.166, 0.143],
                     ["Muslse", "WARP", "MFCC + SAI", 400, 0.473, 0.330, 0.256, 0.211, 0.179],
                     ["one-vs-rest", "-", "MFCC", None, 0.349, 0.244, 0.193, 0.154, 0.136],
                     ["one-vs-rest", "-", "MFCC + SAI", None, 0.362, 0.261, 0.221, 0.167, 0.151]]},
        "tagging_msd50": {
            "id_columns": 3,
            "label": _MSD, "source": "Doh et al. 2023, Table VI (music tagging, top-50 tags)",
            "dataset": "Million Song Dataset, top-50 Last.fm tags",
            "columns": ["audio model", "word model", "supervision", "ROC-AUC (clip)", "ROC-AUC (tag)"],
            "rows": [[*m, *v] for m, v in zip(doh_tagging_models, table6)]},
        "zero_shot": {
            "id_columns": 3,
            "label": _MSD, "source": "Doh et al. 2023, Table VIII (zero-shot: 900 seen, 226 unseen tags)",
            "dataset": "Million Song Dataset, 1,126 tags",
            "columns": ["audio model", "word model", "supervision", "ROC-AUC (clip)", "ROC-AUC (tag)"],
            "rows": [[*m, *v] for m, v in zip(doh_tagging_models, table8)]},
        "query_by_track": {
            "id_columns": 3,
            "label": _MSD, "source": "Doh et al. 2023, Table VII (R@K in %, K = 1, 2, 4, 8; "
                                     "a hit has the query's tag labels)",
            "dataset": "Million Song Dataset",
            "columns": ["audio model", "word model", "supervision", "R@1", "R@2", "R@4", "R@8"],
            "rows": [[*m, *v] for m, v in zip(doh_tagging_models, table7)]
            + [["Disentangle proxy-based model", "-", "-", 45.0, 58.5, 71.0, 80.9]]},
        "word_embeddings": {
            "id_columns": 1,
            "label": "published, different data (AllMusic and MTG-Jamendo tags)",
            "source": "Doh et al. 2023, Table III (tag rank prediction, nDCG@30)",
            "dataset": "AllMusic tags (seen in training) and MTG-Jamendo tags (unseen)",
            "columns": ["corpus", "AllMusic Ctn->Ctn", "AllMusic Ctn->Ctx", "AllMusic Ctx->Ctn", "AllMusic Ctx->Ctx",
                        "AllMusic average", "Jamendo Ctn->Ctn", "Jamendo Ctn->Ctx", "Jamendo Ctx->Ctn",
                        "Jamendo Ctx->Ctx", "Jamendo average"],
            "rows": [["Wiki (baseline)", 0.135, 0.133, 0.071, 0.259, 0.150, 0.416, 0.474, 0.321, 0.566, 0.444],
                     ["Wiki + Review", 0.165, 0.140, 0.043, 0.263, 0.153, 0.480, 0.505, 0.397, 0.566, 0.487],
                     ["Wiki + Tag + IDs", 0.281, 0.420, 0.078, 0.462, 0.310, 0.542, 0.485, 0.384, 0.563, 0.494],
                     ["Wiki + Review + Tag + IDs", 0.411, 0.516, 0.190, 0.487, 0.401,
                      0.553, 0.504, 0.390, 0.541, 0.497],
                     ["w/ shuffling augmentation", 0.529, 0.460, 0.261, 0.498, 0.437,
                      0.492, 0.509, 0.380, 0.542, 0.481],
                     ["Common Crawl GloVe", 0.196, 0.108, 0.047, 0.275, 0.157, 0.460, 0.499, 0.339, 0.595, 0.473],
                     ["Common Crawl SkipGram", 0.210, 0.134, 0.053, 0.268, 0.166,
                      0.440, 0.482, 0.358, 0.599, 0.470]]},
    }


def published_tables() -> dict[str, pd.DataFrame]:
    """:func:`published_numbers` as DataFrames (same keys)."""
    return {key: pd.DataFrame(t["rows"], columns=t["columns"]) for key, t in published_numbers().items()}


