"""Both CIFAR-10 sources (the offline image folder, torchvision's pickled batches): the same users.

No network: a tiny CIFAR-10 is written in both layouts from the same pixels, the torchvision one
in an interleaved "original" order, the folder one numbered by rank within class (as the offline
copy is).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from anw_helpers import data
from anw_helpers.datasets import CIFAR10_CLASSES, ImageSet
from anw_helpers.recipe import LearnerConfig
from anw_helpers.train import model_cache_key

PER_CLASS = {"train": 8, "test": 4}


def _original(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) and labels in a shuffled, class-interleaved 'original' order."""
    rng = np.random.default_rng(1 if split == "train" else 2)
    labels = rng.permutation(np.repeat(np.arange(10), PER_CLASS[split]))
    return rng.integers(0, 256, (len(labels), 32, 32, 3), dtype=np.uint8), labels


def _write_torchvision(root, monkeypatch) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    train_x, train_y = _original("train")
    for b, part in enumerate(np.array_split(np.arange(len(train_y)), 5), start=1):
        batch = {
            "data": train_x[part].transpose(0, 3, 1, 2).reshape(len(part), -1),
            "labels": train_y[part].tolist(),
        }
        (folder / f"data_batch_{b}").write_bytes(pickle.dumps(batch))
    test_x, test_y = _original("test")
    test = {
        "data": test_x.transpose(0, 3, 1, 2).reshape(len(test_y), -1),
        "labels": test_y.tolist(),
    }
    (folder / "test_batch").write_bytes(pickle.dumps(test))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": list(CIFAR10_CLASSES)}))
    import torchvision.datasets.cifar

    monkeypatch.setattr(
        torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True
    )  # fake md5s


def _write_folder(root, numbering=lambda rank: f"{rank:04d}") -> None:
    for split in ("train", "test"):
        images, labels = _original(split)
        for c, name in enumerate(CIFAR10_CLASSES):
            (root / "cifar10-jpeg" / split / name).mkdir(parents=True)
            for rank, i in enumerate(
                np.flatnonzero(labels == c)
            ):  # lossless PNG: pixels compare exactly
                Image.fromarray(images[i]).save(
                    root / "cifar10-jpeg" / split / name / f"{numbering(rank)}.png"
                )


@pytest.fixture
def two_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("ANW_CACHE", str(tmp_path / "cache"))
    _write_torchvision(tmp_path / "tv", monkeypatch)
    _write_folder(tmp_path / "folder")
    return tmp_path / "tv", tmp_path / "folder"


def _learner_data(root):
    train = data.load_cifar10("train", root=root, download=False)
    test = data.load_cifar10("test", root=root, download=False)
    return data.build_learner_data(
        train,
        test,
        n_train=50,
        user_sizes=(6, 3),
        keys=(60.0, None),
        held_out_size=5,
        n_test=20,
        seed=3,
    )


def test_both_sources_load_in_the_canonical_order(two_sources):
    tv_root, folder_root = two_sources
    for split in ("train", "test"):
        tv = data.load_cifar10(split, root=tv_root, download=False)
        folder = data.load_cifar10(split, root=folder_root, download=False)
        assert torch.equal(tv.images, folder.images) and torch.equal(tv.labels, folder.labels)
        assert torch.equal(tv.labels, torch.arange(10).repeat_interleave(PER_CLASS[split]))
        assert tv.origin == folder.origin == f"cifar10-{split}" and tv.identity == folder.identity
        again = data.load_cifar10(
            split, root=tv_root, download=False
        )  # from the decoded-array cache
        assert torch.equal(again.images, tv.images) and again.origin == tv.origin


def test_both_sources_give_the_same_users_training_set_and_cache_key(two_sources):
    tv, folder = (_learner_data(root) for root in two_sources)
    assert torch.equal(tv.train.images, folder.train.images) and torch.equal(
        tv.train.labels, folder.train.labels
    )
    for a, b in zip(tv.users + [tv.held_out], folder.users + [folder.held_out]):
        assert torch.equal(a.indices, b.indices) and torch.equal(a.images, b.images), a.name
    assert torch.equal(tv.test.images, folder.test.images)
    assert tv.train.identity == folder.train.identity
    config = LearnerConfig().with_(
        n_train=50, user_sizes=(6, 3), keys=(60.0, None), color_space_seeds=(None, None)
    )
    assert model_cache_key(config, tv) == model_cache_key(config, folder)


def test_identity_names_the_selection_and_the_watermark(two_sources):
    """Different users, keys or subsets of canonical CIFAR-10 never share an identity; sets
    without an origin (a person's photos) are known by their pixels."""
    train = data.load_cifar10("train", root=two_sources[0], download=False)
    a, b = train.subset(torch.arange(40)), train.subset(torch.arange(1, 41))
    assert a.identity != b.identity and a.identity == train.subset(torch.arange(40)).identity
    assert (
        train.subset(torch.arange(len(train)) < 40).identity == a.identity
    )  # a mask names the same positions
    users = data.make_users(a, [5], [60.0], seed=0)
    marked = data.watermarked_training_set(a, users)
    other_key = data.watermarked_training_set(
        a, [data.User("u", users[0].images, users[0].labels, 90.0, None, users[0].indices)]
    )
    assert len({a.identity, marked.identity, other_key.identity}) == 3
    own = ImageSet(a.images.clone(), a.labels.clone(), a.classes)
    assert own.origin is None and own.identity == own.fingerprint()


def test_a_folder_not_numbered_in_cifar_order_is_known_by_its_pixels(tmp_path, monkeypatch):
    monkeypatch.setenv("ANW_CACHE", str(tmp_path / "cache"))
    _write_folder(tmp_path, numbering=lambda rank: f"img{rank}")
    with pytest.warns(UserWarning, match="not numbered"):
        train = data.load_cifar10("train", root=tmp_path, download=False)
    assert train.origin is None and train.identity == train.fingerprint()
