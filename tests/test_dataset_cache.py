"""Issue 30: the cache of decoded photos never serves stale pixels: a photo overwritten in place
is decoded again (the cache is keyed by every file's size and modification time), and a cached
images file zeroed in place with the same shape is reported and decoded again."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from anw_helpers import data


@pytest.fixture
def cub(tmp_path, monkeypatch, fake_cub):
    fake_cub(tmp_path)
    monkeypatch.setenv("ANW_DATA", str(tmp_path))
    monkeypatch.setenv("ANW_CACHE", str(tmp_path / "cache"))
    return tmp_path / "CUB_200_2011"


def test_a_photo_overwritten_in_place_is_decoded_again(cub):
    first = data.load_cub200("train", 16)
    (photo,) = [p for p in (cub / "images").rglob("p1.jpg")]
    folder_time = photo.parent.stat().st_mtime_ns
    Image.new("RGB", (41, 30), (0, 255, 0)).save(photo)  # same name, same folder
    os.utime(photo.parent, ns=(folder_time, folder_time))  # the folder looks untouched
    again = data.load_cub200("train", 16)
    assert not torch.equal(again.images, first.images)
    assert again.images[0, 1].float().mean() > 200  # the new green photo, not the cached one


def test_a_zeroed_cache_file_of_the_same_shape_is_not_served(cub):
    first = data.load_cub200("train", 16)
    (images_file,) = (cub.parent / "cache" / "datasets").glob("*.images.npy")
    np.save(images_file, np.zeros(tuple(first.images.shape), dtype=np.uint8))
    with pytest.warns(RuntimeWarning, match=f"cached dataset file {images_file}.*changed"):
        healed = data.load_cub200("train", 16)
    assert torch.equal(healed.images, first.images)
    assert torch.equal(data.load_cub200("train", 16).images, first.images)  # rewritten, served
