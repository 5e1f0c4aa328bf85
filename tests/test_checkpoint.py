"""Checkpoints (issue 20 case 6, cache rough edges): atomic, validated, no download, healed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from anw_helpers import data, models
from anw_helpers.machinery import checkpoint, paths
from anw_helpers.photo_cli import cli

_RAN: list[str] = []


def _ran(text: str) -> None:
    _RAN.append(text)


class _Payload:
    """What a malicious pickle carries: a call that runs on load."""

    def __reduce__(self):
        return (_ran, ("code ran",))


def _edit(path: Path, out: Path, **config) -> Path:
    saved = torch.load(path, weights_only=True)
    saved["config"] = json.dumps({**json.loads(saved["config"]), **config})
    torch.save(saved, out)
    return out


def test_save_then_load_gives_the_same_model_and_its_sizes(save_checkpoint):
    path = save_checkpoint(width=8, num_classes=7, record=json.dumps({"epoch_loss": [1.0]}))
    loaded = checkpoint.load(path)
    assert (loaded.num_classes, loaded.width, loaded.image_size) == (7, 8, 32)
    original = models.build_model("small_resnet", 7, 8, 0)
    for (name, a), b in zip(original.state_dict().items(), loaded.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert not loaded.model.training and loaded.record == {"epoch_loss": [1.0]}


def test_a_config_claiming_a_huge_width_is_refused_before_any_model_is_built(
    tmp_path, monkeypatch, save_checkpoint
):
    """A small file whose config says width 3000 once made ``anw verify`` allocate about 58 GB."""
    hostile = _edit(save_checkpoint(width=4), tmp_path / "hostile.pt", width=3000)
    assert hostile.stat().st_size < 150_000
    widths = []
    real = models.SmallResNet.__init__

    def spy(self, width=24, num_classes=10):
        widths.append(width)
        if width > 64:
            raise MemoryError(f"a width-{width} network would be built")
        real(self, width, num_classes)

    monkeypatch.setattr(models.SmallResNet, "__init__", spy)
    with pytest.raises(cli.CliError, match=r"says width 3000 but its weights have width 4") as info:
        cli.load_checkpoint(hostile)
    assert str(hostile) in str(info.value) and 3000 not in widths


def test_weights_of_another_shape_or_with_nan_are_refused(tmp_path, save_checkpoint):
    path = save_checkpoint(width=8)
    saved = torch.load(path, weights_only=True)
    saved["state_dict"]["net.features.1.0.weight"] = torch.zeros(3, 3, 3, 3)
    torch.save(saved, tmp_path / "shape.pt")
    with pytest.raises(
        checkpoint.CheckpointError, match=r"net.features.1.0.weight has shape \(3, 3, 3, 3\)"
    ):
        checkpoint.load(tmp_path / "shape.pt")
    saved = torch.load(path, weights_only=True)
    saved["state_dict"]["net.classifier.bias"][0] = float("nan")
    torch.save(saved, tmp_path / "nan.pt")
    with pytest.raises(checkpoint.CheckpointError, match="NaN"):
        checkpoint.load(tmp_path / "nan.pt")
    with pytest.raises(checkpoint.CheckpointError, match="'resnet9000'"):
        checkpoint.load(_edit(path, tmp_path / "name.pt", model="resnet9000"))


def test_empty_truncated_foreign_and_malicious_files_get_one_line_reasons(
    tmp_path, save_checkpoint
):
    good = save_checkpoint(width=8)
    cases = {
        "empty.pt": b"",
        "half.pt": good.read_bytes()[: good.stat().st_size // 2],
        "text.pt": b"\x00not a model",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    torch.save(
        {"state_dict": {}, "record": "{}", "config": "{}", "x": _Payload()}, tmp_path / "evil.pt"
    )
    expected = {
        "empty.pt": "empty (0 bytes)",
        "half.pt": "damaged",
        "text.pt": "not a model checkpoint",
        "other.pt": "missing state_dict",
        "evil.pt": "Python objects",
    }
    for name, words in expected.items():
        with pytest.raises(cli.CliError) as info:
            cli.load_checkpoint(tmp_path / name)
        message = str(info.value)
        assert words in message and str(tmp_path / name) in message and "\n" not in message, message
    assert _RAN == [], "a pickle in a checkpoint must never run"


def _tiny_resnet50(weights=None, **kwargs):
    """Stands in for torchvision's ResNet-50 (same layer names, 1 block per stage); loads
    ``weights`` if given."""
    import torchvision.models as tvm

    net = tvm.ResNet(tvm.resnet.Bottleneck, [1, 1, 1, 1])
    if weights is not None:
        net.load_state_dict(weights.get_state_dict(progress=False))
    return net


def _no_download(*args, **kwargs):
    raise AssertionError("pretrained weights were requested while loading a checkpoint")


def test_loading_a_pretrained_architecture_downloads_nothing_and_keeps_its_image_size(
    tmp_path, monkeypatch
):
    import torchvision.models as tvm
    from torchvision.models import _api

    monkeypatch.setattr(tvm, "resnet50", _tiny_resnet50)
    monkeypatch.setattr(_api.WeightsEnum, "get_state_dict", _no_download)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", _no_download)
    net = models.build_model("resnet50_imagenet", 5, pretrained=False)
    path = tmp_path / "cub.pt"
    checkpoint.save(
        path, net, "{}", {"model": "resnet50_imagenet", "dataset": "cub200", "image_size": 64}
    )
    model, config = cli.load_checkpoint(path)
    assert config["num_classes"] == 5 and config["image_size"] == 64
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64)).shape == (1, 5)
    assert checkpoint.load(path).image_size == 64
    assert checkpoint.load(_edit(path, tmp_path / "default.pt", image_size=None)).image_size == 448


@pytest.mark.slow
def test_a_cached_pretrained_learner_loads_without_downloading(tmp_path, monkeypatch, fake_cub):
    """The cache holds the trained weights: a cache hit must not fetch ImageNet weights again."""
    import torchvision.models as tvm
    from torchvision.models import _api

    from anw_helpers.recipe import DataSetting, LearnerConfig, TrainingRecipe
    from anw_helpers.train import train_learner

    fake_cub(tmp_path)
    monkeypatch.setenv("ANW_DATA", str(tmp_path))
    monkeypatch.setenv("ANW_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(tvm, "resnet50", _tiny_resnet50)
    from anw_helpers import train as train_module

    torch.manual_seed(0)  # the stand-in ImageNet weights: the same whatever ran before
    # what is tested is the cache, not training: a no-op fit keeps the pretrained weights (a real
    # step on two 16-pixel photos can blow up, and a diverged model is never cached)
    monkeypatch.setattr(train_module, "fit", lambda *a, **k: train_module.TrainRecord())
    pretrained = _tiny_resnet50().state_dict()
    monkeypatch.setattr(_api.WeightsEnum, "get_state_dict", lambda self, *a, **k: pretrained)
    cfg = LearnerConfig(
        DataSetting(
            dataset="cub200",
            image_size=16,
            n_train=None,
            user_sizes=(1,),
            keys=(60.0,),
            color_space_seeds=(None,),
            n_test=None,
        ),
        TrainingRecipe(model="resnet50_imagenet", epochs=1, batch_size=2),
    )
    first = train_learner(cfg, progress=False)
    monkeypatch.setattr(_api.WeightsEnum, "get_state_dict", _no_download)
    again = train_learner(cfg, progress=False)
    assert not first.from_cache and again.from_cache
    for (name, a), b in zip(first.model.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(a, b), name


def _count_training(calls: list):
    def build(for_training: bool) -> torch.nn.Module:
        return models.build_model("small_resnet", 3, 4, 0)

    def train(model: torch.nn.Module) -> str:
        calls.append(1)
        with torch.no_grad():
            model.net.classifier.bias.fill_(0.5)
        return json.dumps({"epoch_loss": [0.25]})

    return build, train


@pytest.mark.parametrize("damage", ["truncate", "empty"])
def test_a_damaged_cached_model_is_reported_and_trained_again(tmp_path, damage):
    """A cache file cut short (a full disk, a killed copy) once raised from torch.load, naming no
    file. Every cached model goes through ``load_or_train`` (``train_learner`` too), so a tiny model
    tests it; that retraining repeats the weights is ``test_training_is_repeatable``'s job."""
    path, calls = tmp_path / "m.pt", []
    build, train = _count_training(calls)
    first = checkpoint.load_or_train(path, build, train, {"model": "small_resnet", "width": 4})
    assert (
        not first.from_cache
        and checkpoint.load_or_train(path, build, train, {}).from_cache
        and len(calls) == 1
    )
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 3] if damage == "truncate" else b"")
    with pytest.warns(RuntimeWarning, match=f"cached model {path}"):
        healed = checkpoint.load_or_train(path, build, train, {"model": "small_resnet", "width": 4})
    assert not healed.from_cache and len(calls) == 2
    again = checkpoint.load_or_train(path, build, train, {})
    assert (
        again.from_cache
        and float(again.model.net.classifier.bias[0].detach()) == 0.5
        and len(calls) == 2
    )


def test_cache_keys_carry_the_one_version(monkeypatch):
    settings = {"config": {"width": 8}, "data": "abc"}
    before = checkpoint.cache_key(settings)
    assert before == checkpoint.cache_key(dict(settings)) and before != checkpoint.cache_key(
        {**settings, "data": "abd"}
    )
    monkeypatch.setattr(checkpoint, "CACHE_VERSION", checkpoint.CACHE_VERSION + 1)
    assert checkpoint.cache_key(settings) != before


def test_atomic_write_fsyncs_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1]
    )
    paths.atomic_write(tmp_path / "f.bin", lambda f: f.write(b"data"))
    assert (tmp_path / "f.bin").read_bytes() == b"data"
    assert "fsync" in events and events.index("fsync") < events.index("replace")


@pytest.mark.parametrize("umask", [0o022, 0o002], ids=["umask-022", "umask-002"])
def test_written_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        paths.atomic_write(tmp_path / "shared.pt", lambda f: f.write(b"x"))
        checkpoint.save(tmp_path / "model.pt", models.build_model("small_resnet", 2, 2), "{}", {})
    finally:
        os.umask(old)
    for name in ("shared.pt", "model.pt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_an_unwritable_cache_names_anw_cache_and_the_fix(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ANW_CACHE", str(blocker / "cache"))
    with pytest.raises(paths.CacheNotWritable) as info:
        paths.cache_dir("models")
    message = str(info.value)
    assert (
        f"ANW_CACHE={blocker / 'cache'}" in message
        and "export ANW_CACHE=" in message
        and "\n" not in message
    )

    monkeypatch.setenv("ANW_CACHE", str(tmp_path / "cache"))
    folder = paths.cache_dir("models")

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(paths.tempfile, "mkstemp", full)
    with pytest.raises(paths.CacheNotWritable, match="No space left on device.*ANW_CACHE"):
        paths.atomic_write(folder / "m.pt", lambda f: f.write(b"x"))
    with pytest.raises(OSError) as outside:  # outside the cache, the error stays the system's
        paths.atomic_write(tmp_path / "elsewhere.bin", lambda f: f.write(b"x"))
    assert not isinstance(outside.value, paths.CacheNotWritable)


@pytest.mark.parametrize("damage", ["truncate", "empty", "meta"])
def test_a_damaged_cached_dataset_is_reported_and_decoded_again(
    tmp_path, monkeypatch, fake_cub, damage
):
    fake_cub(tmp_path)
    monkeypatch.setenv("ANW_DATA", str(tmp_path))
    monkeypatch.setenv("ANW_CACHE", str(tmp_path / "cache"))
    first = data.load_cub200("train", 16)
    (images_file,) = (tmp_path / "cache" / "datasets").glob("*.images.npy")
    (meta_file,) = (tmp_path / "cache" / "datasets").glob("*.meta.npz")
    target = meta_file if damage == "meta" else images_file
    content = target.read_bytes()
    target.write_bytes(b"" if damage == "empty" else content[: len(content) // 2])
    with pytest.warns(RuntimeWarning, match=f"cached dataset file {target}"):
        healed = data.load_cub200("train", 16)
    assert torch.equal(healed.images, first.images) and torch.equal(healed.labels, first.labels)
    assert np.load(images_file).shape == tuple(first.images.shape)  # rewritten whole
    assert torch.equal(data.load_cub200("train", 16).images, first.images)


def test_a_diverged_model_is_refused_not_cached(tmp_path):
    """No NaN passes silently: weights that blew up in training are an error, not a checkpoint."""
    model = models.build_model("small_resnet", 3, 4, 0)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    with pytest.raises(ValueError, match="diverged"):
        checkpoint.save(tmp_path / "m.pt", model, "{}", {})
    assert not (tmp_path / "m.pt").exists()


def test_a_learners_config_is_read_from_its_data_setting_and_recipe(tmp_path):
    """Since the recipe split a learner's config is saved as ``{"data": ..., "recipe": ...}``: the
    model and width come from the recipe, the image size from the data setting. The flat configs
    written before the split still load (the ``save_checkpoint`` fixture writes one)."""
    import dataclasses

    from anw_helpers.recipe import LearnerConfig

    config = LearnerConfig().with_(width=4, dataset="cub200", image_size=64)
    model = models.build_model("small_resnet", 3, 4, 0)
    path = tmp_path / "learner.pt"
    checkpoint.save(path, model, "{}", dataclasses.asdict(config))
    loaded = checkpoint.load(path)
    assert (loaded.num_classes, loaded.width, loaded.image_size) == (3, 4, 64)
    assert loaded.settings == json.loads(json.dumps(config.flat()))
    assert set(loaded.config) == {"data", "recipe"}
    assert cli.load_checkpoint(path)[1]["model"] == "small_resnet"
    saved = json.loads(torch.load(path, weights_only=True)["config"])
    hostile = _edit(path, tmp_path / "wide.pt", recipe={**saved["recipe"], "width": 3000})
    with pytest.raises(checkpoint.CheckpointError, match="says width 3000"):
        checkpoint.load(hostile)
    with pytest.raises(checkpoint.CheckpointError, match="'recipe' is not a JSON object"):
        checkpoint.load(_edit(path, tmp_path / "odd.pt", recipe=[1, 2]))
    assert checkpoint.flat_settings({"model": "small_resnet", "width": 4}) == {
        "model": "small_resnet",
        "width": 4,
    }


def test_load_or_train_leaves_who_decides_and_who_writes_to_its_caller(tmp_path):
    """The cache knows no processes: ``agree`` makes the shared decision, ``write_once`` writes
    (True: another process wrote, read its file back), ``on_miss`` runs on a miss only."""
    path = tmp_path / "m.pt"
    built = models.build_model("small_resnet", width=2)
    with torch.no_grad():
        next(built.parameters()).fill_(0.25)  # not what a fresh build holds
    missed: list = []

    def train(model: torch.nn.Module) -> str:
        return json.dumps({"epoch_loss": [1.0]})

    def elsewhere(write) -> bool:  # another process writes the file; this one reads it back
        checkpoint.save(path, built, json.dumps({"epoch_loss": [0.5]}), {"model": "small_resnet"})
        return True

    got = checkpoint.load_or_train(
        path, lambda _: models.build_model("small_resnet", width=2), train, {},
        on_miss=lambda: missed.append(1), write_once=elsewhere,
    )  # fmt: skip
    assert json.loads(got.record) == {"epoch_loss": [0.5]} and missed == [1]
    for a, b in zip(got.model.state_dict().values(), built.state_dict().values()):
        assert torch.equal(a, b)
    never = checkpoint.load_or_train(
        path, lambda _: models.build_model("small_resnet", width=2), train, {},
        on_miss=lambda: missed.append(1), agree=lambda flag: False, write_once=lambda w: False,
    )  # fmt: skip
    assert not never.from_cache and missed == [1]  # the file is there: no miss, but not agreed
