"""The demo generator's output is fixed by its seed: pixel checksums against the pre-split generator.

The reference digests were computed from ``mitoviz/data/synthetic.py`` as it was before it became the
``mitoviz.demo`` package (commit dec1ac0), with the same calls as below. A change that alters the drawn
pixels, the order of random draws, the JPEG pyramid or the annotations changes a digest; a pure
refactoring does not. If a change to the images is intended, recompute the digests and say so in the
commit message.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import tifffile

from mitoviz.demo import (
    DEMO_JSON,
    DEMO_SCANNERS_CSV,
    IMAGES_DIR,
    SCANNERS,
    TUMOURS,
    generate_demo,
    render_image,
)

SEED = 3
SIZE = 320
#: render_image of every (tumour, scanner) pair before JPEG: RGB bytes and annotated cells.
RENDER_SHA256 = "65512242dd9c5d2ad50517e9301bacc085b9b83bab7350af2ca72d41fd9bbc85"
#: generate_demo(seed 3, one 320 px image per domain): decoded pixels of every pyramid level.
PIXELS_SHA256 = "8be87c9217f61d2122b520dbf54d8c4e4d2dd0e61b4a926263643146a310b840"
#: the same set's images and annotations (JSON) and the scanner table (CSV).
ANNOTATIONS_SHA256 = "870562729c4d5a62a483c58535ddc47661b18061560a18b2f481dffab43193cc"


def test_rendered_regions_match_the_reference() -> None:
    digest = hashlib.sha256()
    pairs = [(s, t) for t in TUMOURS for s in SCANNERS]
    for image_id, (scanner, tumour) in enumerate(pairs, start=1):
        rgb, cells = render_image(np.random.default_rng([SEED, image_id]), scanner, tumour, SIZE)
        digest.update(rgb.tobytes())
        digest.update(repr([(c.x, c.y, c.category, c.kind, c.ambiguous) for c in cells]).encode())
    assert digest.hexdigest() == RENDER_SHA256


def test_generated_files_match_the_reference(tmp_path: Path) -> None:
    json_path = generate_demo(tmp_path, seed=SEED, images_per_domain=1, image_size=SIZE)
    pixels = hashlib.sha256()
    tiffs = sorted((tmp_path / IMAGES_DIR).glob("*.tiff"))
    assert len(tiffs) == len(SCANNERS) * len(TUMOURS)
    for tiff in tiffs:
        with tifffile.TiffFile(tiff) as tf:
            for page in tf.pages:
                pixels.update(np.ascontiguousarray(page.asarray()).tobytes())
    document = json.loads(json_path.read_text())
    assert json_path.name == DEMO_JSON
    annotations = hashlib.sha256(json.dumps([document["images"], document["annotations"]]).encode())
    annotations.update((tmp_path / DEMO_SCANNERS_CSV).read_bytes())
    assert pixels.hexdigest() == PIXELS_SHA256
    assert annotations.hexdigest() == ANNOTATIONS_SHA256
