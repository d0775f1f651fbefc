"""2-D maps of embeddings: PCA, or PCA to 50 dimensions then UMAP; cached by key and parameters."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

from mitoviz.errors import SpecError
from mitoviz.files import write_atomic

METHODS = ("umap", "pca")


def project(
    x: np.ndarray, method: str = "umap", seed: int = 0, n_neighbors: int = 15, pca_dims: int = 50
) -> np.ndarray:
    """[n, 2] coordinates. UMAP follows umap-learn's advice: PCA to 50 dims, n_neighbors 15."""
    if method not in METHODS:
        raise SpecError(f"Unknown projection {method!r}.", f"Use one of {', '.join(METHODS)}.")
    x = np.asarray(x, dtype=np.float32)
    if len(x) < 3:
        raise SpecError(f"A 2-D map needs at least 3 cells, got {len(x)}.")
    dims = min(pca_dims if method == "umap" else 2, x.shape[1], len(x))
    reduced = PCA(n_components=dims, random_state=seed).fit_transform(x)
    if method == "pca":
        return reduced[:, :2].astype(np.float32) if dims >= 2 else np.pad(reduced, ((0, 0), (0, 2 - dims)))
    import umap

    reducer = umap.UMAP(
        n_components=2, n_neighbors=min(n_neighbors, len(x) - 1), random_state=seed, n_jobs=1, init="spectral" if len(x) > 10 else "random",
    )
    return reducer.fit_transform(reduced).astype(np.float32)


def cached_projection(
    x: np.ndarray, embedding_key: str, cache_dir: Path, method: str = "umap", seed: int = 0, n_neighbors: int = 15
) -> np.ndarray:
    """:func:`project`, read from ``cache_dir`` when this embedding and these parameters were seen."""
    params = {"key": embedding_key, "method": method, "seed": seed, "n_neighbors": n_neighbors, "n": len(x)}
    name = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:24]
    path = Path(cache_dir) / f"{name}.npy"
    if path.is_file():
        try:
            coords = np.load(path, allow_pickle=False)
            if coords.shape == (len(x), 2):
                return coords
        except (OSError, ValueError):
            pass
    coords = project(x, method, seed, n_neighbors)
    buf = io.BytesIO()
    np.save(buf, coords, allow_pickle=False)
    write_atomic(path, buf.getvalue())
    return coords
