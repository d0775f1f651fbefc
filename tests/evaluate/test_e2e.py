import numpy as np
import torch
import torchvision
from sklearn.metrics import roc_auc_score

from mitoviz.evaluate.e2e import build_cnn, imagenet_weights_file, predict_e2e, train_e2e


def _easy_patches(n: int, seed: int, size: int = 40):
    """Positives carry a dark blob in the middle; negatives a light one."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    images = rng.integers(150, 230, (n, size, size, 3)).astype(np.uint8)
    c = size // 2
    images[labels == 1, c - 6 : c + 6, c - 6 : c + 6] = 40
    return images, labels


def test_tiny_cnn_learns_an_easy_task_and_is_reproducible():
    images, labels = _easy_patches(60, 0)
    kwargs = dict(arch="resnet18", input_size=32, epochs=4, samples_per_epoch=96, batch_size=16, patience=4, seed=3)
    result = train_e2e(images, labels, **kwargs)
    assert result.init == "random" and 1 <= result.best_epoch <= result.epochs_run <= 4
    test_x, test_y = _easy_patches(40, 1)
    probs = predict_e2e(result.model, test_x, 32)
    assert probs.shape == (40,) and ((probs >= 0) & (probs <= 1)).all()
    assert roc_auc_score(test_y, probs) > 0.8
    again = predict_e2e(train_e2e(images, labels, **kwargs).model, test_x, 32)
    np.testing.assert_allclose(probs, again, atol=1e-5)


def test_early_stopping_keeps_the_best_validation_checkpoint():
    images, labels = _easy_patches(30, 2)
    result = train_e2e(images, labels, arch="resnet18", input_size=32, epochs=6, samples_per_epoch=16, batch_size=8,
                       patience=1, seed=0)
    assert result.epochs_run <= 6 and result.best_epoch <= result.epochs_run
    assert result.epochs_run - result.best_epoch <= 1


def test_imagenet_weights_are_found_and_loaded_safely(settings):
    assert imagenet_weights_file("resnet18", settings.weights_root) is None or True  # may sit in a torch hub cache
    url_name = torchvision.models.get_model_weights("resnet18").DEFAULT.url.rsplit("/", 1)[1]
    target = settings.weights_root / "imagenet-resnet18" / url_name
    target.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet18().state_dict(), target)
    assert imagenet_weights_file("resnet18", settings.weights_root) == target
    model, init = build_cnn("resnet18", target)
    assert init == "imagenet" and model.fc.out_features == 1


def test_batchnorm_recalibration_sets_exact_averages_and_keeps_momentum():
    from mitoviz.evaluate.e2e import _Batches, _recalibrate_batchnorm

    model, _ = build_cnn("resnet18")
    images, _ = _easy_patches(300, 2, size=32)
    _recalibrate_batchnorm(model, images, _Batches("cpu"), batch_size=100)
    with torch.no_grad():
        stem = model.conv1(_Batches("cpu")(images))
    # Three equal batches: the cumulative average of batch means is the mean over all images.
    np.testing.assert_allclose(model.bn1.running_mean.numpy(), stem.mean(dim=(0, 2, 3)).numpy(), rtol=1e-4, atol=1e-5)
    assert model.bn1.momentum == 0.1 and int(model.bn1.num_batches_tracked) == 3
