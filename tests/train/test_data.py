import numpy as np
import pytest
import torch

from mitoviz.train import TrainMethod
from mitoviz.train.augment import STAIN_AUGMENTED, STAIN_NOT_DRAWN, STAIN_PASSED, StainAugmenter, augment
from mitoviz.train.data import Geometry, PatchSet, epoch_draws, readable, split_validation, steps_per_epoch

from .inputs import positives, write_pyramid


@pytest.mark.parametrize("seed", range(5))
def test_validation_is_carved_by_slide(seed):
    rng = np.random.default_rng(seed)
    slides = np.repeat([f"slide{i}" for i in range(10)], rng.integers(3, 12, 10))
    labels = rng.integers(0, 2, len(slides))
    split = split_validation(slides, labels, 0.2, seed)
    assert split.by == "slide" and not split.note
    assert not set(slides[split.train]) & set(slides[split.val])  # no slide on both sides
    assert sorted(np.concatenate([split.train, split.val])) == list(range(len(slides)))
    assert set(labels[split.val]) == set(labels[split.train]) == {0, 1}
    assert 0.05 < len(split.val) / len(slides) < 0.45
    again = split_validation(slides, labels, 0.2, seed)
    assert np.array_equal(again.val, split.val)


def test_too_few_slides_fall_back_to_cells_with_a_note():
    slides = np.repeat(["a", "b"], 10)
    labels = np.tile([0, 1], 10)
    split = split_validation(slides, labels, 0.2, 0)
    assert split.by == "cell" and "only 2 training slide" in split.note
    assert set(labels[split.val]) == {0, 1} and len(split.val) == 4
    one_class_slides = split_validation(
        np.repeat(["a", "b", "c", "d"], 5), np.repeat([0, 0, 0, 1], 5), 0.2, 0
    )
    assert one_class_slides.by == "cell" and "both classes" in one_class_slides.note
    assert split_validation(slides, labels, 0.0, 0).by == "none"
    large = split_validation(np.repeat(["a"], 4), np.array([0, 0, 1, 1]), 0.9, 0)  # 0.9 × 2 rounds to both cells
    assert set(np.array([0, 0, 1, 1])[large.train]) == {0, 1} and len(large.val) == 2


def test_epoch_draws_are_class_balanced_and_a_function_of_seed_and_epoch():
    labels = np.array([1] * 5 + [0] * 95)
    draws = epoch_draws(3, 2, labels, 4000)
    assert 0.45 < labels[draws].mean() < 0.55
    assert np.array_equal(draws, epoch_draws(3, 2, labels, 4000))
    assert not np.array_equal(draws, epoch_draws(3, 3, labels, 4000))
    assert steps_per_epoch(65, 32) == (64, 2) and steps_per_epoch(64, 32) == (64, 2)  # no batch of one


def test_stain_augmentation_passes_blank_patches_through_and_counts_them():
    method = TrainMethod.cpu_cnn(stain=True, stain_p=1.0)
    stain = StainAugmenter(method.stain_sigma1, method.stain_sigma2)
    blank = np.full((40, 40, 3), 250, np.uint8)
    out, outcome = augment(blank, 32, method, np.random.default_rng(0), stain)
    assert outcome == STAIN_PASSED and out.shape == (32, 32, 3)
    rng = np.random.default_rng(1)
    tissue = np.stack(
        [rng.integers(60, 200, (40, 40)), rng.integers(20, 150, (40, 40)), rng.integers(100, 220, (40, 40))],
        -1,
    ).astype(np.uint8)
    a, outcome = augment(
        tissue, 32, method.replace(hflip=False, vflip=False, rot90=False), np.random.default_rng(2), stain
    )
    b, _ = augment(
        tissue, 32, method.replace(hflip=False, vflip=False, rot90=False), np.random.default_rng(2), stain
    )
    assert outcome == STAIN_AUGMENTED and torch.equal(a, b)  # seeded: the same sample twice
    assert not torch.equal(a, torch.from_numpy(tissue[4:36, 4:36].copy()))
    _, not_drawn = augment(tissue, 32, method.replace(stain_p=0.0), np.random.default_rng(2), stain)
    assert not_drawn == STAIN_NOT_DRAWN


def test_augmented_samples_depend_only_on_the_key(slide_cells, tmp_path):
    method = TrainMethod.fmc_cnn(
        "resnet18", rotate_degrees=30, crop_scale=0.5, blur_p=0.5, color_jitter_p=1.0, stain=True
    )
    cells = write_pyramid(tmp_path / "slide.tiff", slide_cells)  # read through OpenSlide
    dataset = PatchSet(cells, positives(cells), Geometry(48, 32, 0.1), method, seed=4)
    first = dataset[(3, 1, 17)]
    dataset.close()
    other = PatchSet(cells, positives(cells), Geometry(48, 32, 0.1), method, seed=4)
    assert torch.equal(first[0], other[(3, 1, 17)][0]) and first[0].shape == (32, 32, 3)
    assert not torch.equal(first[0], other[(3, 1, 18)][0])
    assert other[3][0].shape == (32, 32, 3) and other[3][3]  # evaluation item: centre crop, readable


def test_unreadable_images_are_found_once_and_reported(slide_cells, tmp_path):
    cells = slide_cells.head(4).copy()
    cells.loc[2, "image"] = str(tmp_path / "missing.png")
    ok, bad = readable(cells)
    assert ok.tolist() == [True, True, False, True] and bad == [str(tmp_path / "missing.png")]
    pixels, _, _, readable_flag = PatchSet(cells, None, Geometry(32, 32))[2]
    assert not readable_flag and pixels.shape == (32, 32, 3)
