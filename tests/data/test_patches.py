import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mitoviz.data.patches import PatchReader, PatchSettings
from mitoviz.demo import write_pyramid_tiff
from mitoviz.errors import PatchError


def _slide(path, size=1024, seed=0):
    """A smooth random image (JPEG-friendly) with a dark square at (300, 200)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(80, 220, (size // 64, size // 64, 3)).astype(np.uint8)
    rgb = np.asarray(Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC))
    rgb = rgb.copy()
    rgb[195:205, 295:305] = 10
    write_pyramid_tiff(path, rgb, quality=95)
    return rgb


@pytest.fixture
def slide(tmp_path):
    path = tmp_path / "slide.tiff"
    return path, _slide(path)


def test_level0_patch_is_centred_on_the_cell(slide):
    path, rgb = slide
    with PatchReader() as reader:
        patch = reader.read(path, 300, 200, PatchSettings(64))
    assert patch.shape == (64, 64, 3) and patch.dtype == np.uint8
    expected = rgb[200 - 32 : 200 + 32, 300 - 32 : 300 + 32]
    assert np.abs(patch.astype(int) - expected).mean() < 3
    assert patch[30:34, 30:34].max() < 60  # the dark square sits in the middle


def test_patch_at_a_chosen_resolution_uses_the_slide_mpp(slide):
    path, rgb = slide
    with PatchReader() as reader:
        assert reader.source(path).mpp == pytest.approx(0.25)
        patch = reader.read(path, 512, 512, PatchSettings(64, mpp=0.5))  # 128 level-0 px, halved
    region = rgb[512 - 64 : 512 + 64, 512 - 64 : 512 + 64].astype(float)
    expected = region.reshape(64, 2, 64, 2, 3).mean(axis=(1, 3))
    assert np.abs(patch - expected).mean() < 4


def test_cells_near_the_border_are_padded_with_white(slide):
    path, rgb = slide
    with PatchReader() as reader:
        patch = reader.read(path, 5, 1020, PatchSettings(64))
    assert patch.shape == (64, 64, 3)
    assert (patch[:, :20] == 255).all() and (patch[40:, :] == 255).all()  # outside the image
    assert np.abs(patch[:30, 30:].astype(int) - rgb[988:1018, 0:34]).mean() < 4


def test_many_cells_from_one_slide_open_it_once_and_handles_close(tmp_path):
    paths = [tmp_path / f"s{i}.tiff" for i in range(3)]
    for i, p in enumerate(paths):
        _slide(p, 512, i)
    cells = pd.DataFrame({"image": [str(p) for p in paths for _ in range(20)],
                          "x": np.tile(np.linspace(40, 470, 20), 3), "y": 100.0})
    reader = PatchReader(max_open=2)
    patches, ok = reader.read_cells(cells.sample(frac=1, random_state=0), PatchSettings(32))
    assert patches.shape == (60, 32, 32, 3) and ok.all()
    assert reader.opens == 3 and len(reader._open) == 2  # sorted by image: each opened once, LRU kept 2
    reader.close()
    assert not reader._open


def test_ready_patches_and_context_crops(tmp_path, slide):
    png = tmp_path / "ready.png"
    Image.fromarray(np.full((128, 128, 3), 90, np.uint8)).save(png)
    path, _ = slide
    with PatchReader() as reader:
        ready = reader.read(png, float("nan"), float("nan"), PatchSettings(224))
        assert ready.shape == (224, 224, 3) and (ready == 90).all()
        context, centre = reader.context(path, 300, 200, extent=512, size=256)
        assert context.shape == (256, 256, 3) and centre == (128, 128)
        assert context[126:130, 126:130].max() < 90
        with pytest.raises(PatchError, match="does not report its resolution"):
            reader.read(png, 50, 50, PatchSettings(32, mpp=0.5))


@pytest.mark.parametrize("content", [b"", b"not an image at all", "truncated"])
def test_unreadable_images_are_clear_errors_or_reported(tmp_path, slide, content):
    bad = tmp_path / "bad.tiff"
    if content == "truncated":
        bad.write_bytes(slide[0].read_bytes()[:3000])
    else:
        bad.write_bytes(content)
    with PatchReader() as reader, pytest.raises(PatchError, match="Cannot read image"):
        reader.read(bad, 10, 10, PatchSettings(32))
    cells = pd.DataFrame({"image": [str(bad), str(slide[0]), str(tmp_path / "missing.tiff")],
                          "x": [10.0, 300.0, 5.0], "y": [10.0, 200.0, 5.0]})
    with PatchReader() as reader:
        patches, ok = reader.read_cells(cells, PatchSettings(32), on_error="report")
        assert ok.tolist() == [False, True, False]
        assert (patches[0] == 255).all()
        with pytest.raises(PatchError):
            reader.read_cells(cells, PatchSettings(32))


def test_bad_patch_settings():
    with pytest.raises(PatchError, match="out of range"):
        PatchSettings(2)
    with pytest.raises(PatchError, match="plausible"):
        PatchSettings(64, mpp=500)
