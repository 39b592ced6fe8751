"""Fine-tuning parts: settings, seeded data, the pair pool, losses, VGG weights, bad input.

The perceptual-loss tests use a small randomly initialised VGG-like stand-in (``VGGFeatures``
with a tiny config): they exercise the mechanics (layers before ReLU, weights, no gradient to
the target) — only real ImageNet VGG19 weights give the loss its meaning, and tests never
download them.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from realesrgan_kit.core.errors import (
    ChecksumMismatchError,
    InvalidDatasetError,
    InvalidParameterError,
    ModelNotFoundError,
    UnsupportedModelError,
)
from realesrgan_kit.core.imagefile.arrays import write_image
from realesrgan_kit.core.load import build_descriptor
from realesrgan_kit.core.train import OFFICIAL_PERCEPTUAL_LAYERS, TrainSettings
from realesrgan_kit.core.train.data import DegradedCrops, scan_hr_folder, scan_pair_folder
from realesrgan_kit.core.train.losses import PerceptualLoss, gan_loss
from realesrgan_kit.core.train.networks import check_trainable, new_discriminator
from realesrgan_kit.core.train.pool import PairPoolSampler
from realesrgan_kit.core.train.vgg import (
    VGG19_LAYERS,
    VGGFeatures,
    download_vgg19,
    find_vgg19_weights,
    load_vgg19_features,
)
from realesrgan_kit.core.zoo import fetch_verified
from support.tiny_models import tiny_discriminator, tiny_rrdb, tiny_srvgg

TINY_VGG = (4, 4, "M", 8, 8, "M")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors run fastest on one thread, and a busy CI machine does not oversubscribe it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _images(folder, count=2, size=48, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        write_image(folder / f"img{i}.png", rng.integers(0, 256, (size, size + 8, 3), dtype=np.uint8))
    return folder


def test_defaults_are_the_official_training_values():
    net, gan = TrainSettings(), TrainSettings(stage="gan")
    assert (net.generator_lr, gan.generator_lr, gan.discriminator_lr) == (2e-4, 1e-4, 1e-4)
    assert net.betas == (0.9, 0.99) and net.weight_decay == 0 and net.ema_decay == 0.999
    assert (net.batch_size, net.patch_size, net.pool_size, net.hflip) == (12, 256, 180, True)
    pools = (net.pool_samples, net.replace(batch_size=8).pool_samples, net.replace(pool_size=0).pool_samples)
    assert pools == (180, 176, 0), "the pool holds whole batches"
    assert (
        dict(gan.perceptual_layers)
        == dict(OFFICIAL_PERCEPTUAL_LAYERS)
        == {
            "conv1_2": 0.1,
            "conv2_2": 0.1,
            "conv3_4": 1.0,
            "conv4_4": 1.0,
            "conv5_4": 1.0,
        }
    )
    assert (gan.l1_weight, gan.perceptual_weight, gan.gan_weight) == (1.0, 1.0, 0.1)
    assert (gan.l1_gt_usm, gan.perceptual_gt_usm, gan.gan_gt_usm) == (True, True, False)
    assert (
        gan.uses_perceptual and not net.uses_perceptual and not gan.replace(perceptual="off").uses_perceptual
    )
    assert TrainSettings.from_dict(gan.to_dict()) == gan
    lr = TrainSettings(lr_milestones=(10, 20))
    assert [lr.lr_at(1.0, i) for i in (0, 10, 25)] == [1.0, 0.5, 0.25]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"stage": "esrgan"}, "stage must be one of net, gan"),
        ({"batch_size": 0}, "batch_size must be an integer ≥ 1"),
        ({"ema_decay": 1.0}, r"ema_decay must be in \[0, 1\)"),
        ({"lr": 0.0}, "lr must be > 0"),
        ({"precision": "int8"}, "precision must be one of"),
    ],
)
def test_bad_settings_are_refused(change, message):
    with pytest.raises(InvalidParameterError, match=message):
        TrainSettings(**change)


def test_vgg19_layer_indices_match_torchvision_and_features_are_taken_before_relu():
    assert [VGG19_LAYERS[n] for n in OFFICIAL_PERCEPTUAL_LAYERS] == [2, 7, 16, 25, 34]
    with torch.device("meta"):  # the layer layout only; no 80 MB of random weights
        full = VGGFeatures(dict(OFFICIAL_PERCEPTUAL_LAYERS))
    assert len(full.features) == 35 and isinstance(full.features[34], torch.nn.Conv2d)
    torch.manual_seed(0)  # the stand-in's random init only; the code under test uses no RNG
    stand_in = VGGFeatures(["conv1_2", "conv2_2"], config=TINY_VGG)
    out = stand_in(torch.rand(1, 3, 16, 16))
    assert set(out) == {"conv1_2", "conv2_2"} and (out["conv2_2"] < 0).any(), "conv outputs, not ReLU outputs"
    with pytest.raises(InvalidParameterError, match="unknown VGG layers"):
        VGGFeatures(["conv9_9"])


def test_perceptual_loss_weights_layers_and_sends_no_gradient_to_the_target():
    torch.manual_seed(0)
    features = VGGFeatures(["conv1_2", "conv2_2"], config=TINY_VGG)
    output = torch.rand(2, 3, 16, 16, requires_grad=True)
    target = torch.rand(2, 3, 16, 16, requires_grad=True)
    loss = PerceptualLoss(features, {"conv1_2": 0.5, "conv2_2": 2.0})(output, target)
    a, b = features(output), features(target)
    expected = (
        0.5 * (a["conv1_2"] - b["conv1_2"]).abs().mean() + 2.0 * (a["conv2_2"] - b["conv2_2"]).abs().mean()
    )
    assert torch.allclose(loss, expected)
    loss.backward()
    assert output.grad is not None and target.grad is None
    assert not any(p.requires_grad for p in features.parameters())


def test_vanilla_gan_loss_is_bce_with_logits():
    logits = torch.tensor([[0.0, 2.0]])
    assert torch.isclose(gan_loss(logits, real=True), torch.nn.functional.softplus(-logits).mean())
    assert torch.isclose(gan_loss(logits, real=False), torch.nn.functional.softplus(logits).mean())


def test_vgg_weights_absent_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(ModelNotFoundError, match="--perceptual off") as caught:
        find_vgg19_weights()
    assert "vgg19-dcbb9e9d.pth" in str(caught.value) and "--vgg-sha256" in str(caught.value)


def test_vgg_download_needs_a_full_sha256_with_the_published_prefix(tmp_path):
    with pytest.raises(InvalidParameterError, match="full SHA-256"):
        download_vgg19("dcbb9e9d", dest_dir=tmp_path)
    with pytest.raises(InvalidParameterError, match="starts with dcbb9e9d"):
        download_vgg19("0" * 64, dest_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_local_file_that_is_not_torchvisions_vgg19_is_refused(tmp_path):
    fake = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, fake)
    with pytest.raises(ChecksumMismatchError, match="does not start with dcbb9e9d"):
        load_vgg19_features(dict(OFFICIAL_PERCEPTUAL_LAYERS), fake)


def test_the_shared_download_keeps_only_a_matching_file(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"weights")
    good = hashlib.sha256(b"weights").hexdigest()
    target = fetch_verified(source.as_uri(), tmp_path / "out" / "w.bin", good, label="test")
    assert target.read_bytes() == b"weights"
    with pytest.raises(ChecksumMismatchError):
        fetch_verified(source.as_uri(), tmp_path / "out" / "bad.bin", "1" * 64, label="test")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["w.bin"]


def test_samples_are_pure_functions_of_their_number(tmp_path):
    files = scan_hr_folder(_images(tmp_path / "hr"), 32)
    a = DegradedCrops(files, scale=4, patch_size=32, seed=3)
    b = DegradedCrops(files, scale=4, patch_size=32, seed=3)
    for number in (5, 0, 5):
        for x, y in zip(a[number], b[number], strict=True):
            assert torch.equal(x, y)
    lq, gt, gt_usm = a[0]
    assert lq.shape == (3, 8, 8) and gt.shape == gt_usm.shape == (3, 32, 32)
    assert lq.dtype == torch.float32 and 0 <= float(lq.min()) and float(lq.max()) <= 1
    assert not torch.equal(gt, gt_usm), "the ground truth is also given USM-sharpened"
    assert not torch.equal(a[0][1], a[1][1])
    seen = {a.file_index(n) for n in range(2)}
    assert seen == {0, 1}, "each epoch visits every image once"


def test_pair_pool_mixes_batches_and_resumes_from_a_snapshot():
    sampler = PairPoolSampler(batch_size=2, pool_size=4, seed=0)
    batches = [sampler.next_batch() for _ in range(8)]
    assert batches[0] == [0, 1] and batches[1] == [2, 3], "batches pass through while the pool fills"
    later = sorted(v for b in batches[2:] for v in b)
    assert any(v < 4 for v in later), "a full pool hands out earlier samples"
    assert len(set(later)) == len(later)
    again = PairPoolSampler(batch_size=2, pool_size=4, seed=0)
    again.load_state(sampler.state_before(5))
    assert [again.next_batch() for _ in range(3)] == batches[5:]


def test_data_folder_errors_are_typed_and_specific(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidDatasetError, match="holds no images"):
        scan_hr_folder(tmp_path / "empty", 32)
    with pytest.raises(InvalidDatasetError, match="does not exist"):
        scan_hr_folder(tmp_path / "missing", 32)
    bad = _images(tmp_path / "bad", count=1)
    (bad / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(InvalidDatasetError, match="broken.png is not a readable image"):
        scan_hr_folder(bad, 32)
    with pytest.raises(InvalidDatasetError, match=r"smaller than the 64-pixel patch: img0.png \(56×48\)"):
        scan_hr_folder(_images(tmp_path / "small", count=1), 64)
    pairs = tmp_path / "pairs"
    _images(pairs / "hr", count=1, size=32)
    _images(pairs / "lr", count=1, size=9)
    with pytest.raises(InvalidDatasetError, match=r"img0.png: HR 40×32 is not LR 17×9 × 4"):
        scan_pair_folder(pairs, 4, 32)


def test_only_rgb_super_resolution_generators_can_be_trained():
    assert check_trainable(build_descriptor(tiny_rrdb().state_dict())).architecture == "RRDBNet"
    with pytest.raises(UnsupportedModelError, match="UNetDiscriminatorSN"):
        check_trainable(build_descriptor(tiny_discriminator().state_dict()))
    with pytest.raises(UnsupportedModelError, match="RGB → RGB"):
        check_trainable(build_descriptor(tiny_srvgg(in_ch=1).state_dict()))
    shrunk = build_descriptor(tiny_srvgg().state_dict(), hints={"output_rescale": 0.5})
    with pytest.raises(UnsupportedModelError, match="fine-tune the ×4 network itself"):
        check_trainable(shrunk)
    with pytest.raises(UnsupportedModelError, match="load_model"):
        check_trainable(tiny_srvgg())


def test_new_discriminator_comes_from_the_given_generator_only():
    before = torch.random.get_rng_state()
    a = new_discriminator(torch.Generator().manual_seed(1), num_feat=4)
    b = new_discriminator(torch.Generator().manual_seed(1), num_feat=4)
    assert torch.equal(torch.random.get_rng_state(), before)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), name


def test_degrading_the_sharpened_copy_equals_the_pipeline_with_its_own_sharpening():
    """The dataset sharpens once and degrades that copy with the sharpen step off."""
    from realesrgan_kit.core.degrade import degrade, settings_from, usm_sharpen

    gt = np.zeros((48, 48, 3), np.float32)
    gt[:, 16:32], gt[8:24] = 0.95, 0.05
    s = settings_from("realesrgan")
    usm = usm_sharpen(
        gt, weight=s.usm_weight, kernel_size=s.usm_kernel_size, sigma=s.usm_sigma, threshold=s.usm_threshold
    )
    for seed in range(3):
        whole = degrade(gt, seed=seed, scale=4).image
        assert np.array_equal(whole, degrade(usm, seed=seed, scale=4, enabled={"sharpen": False}).image)
