"""Data loading (offline copy / torchvision), a person's own photos, and user splits."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from anw_helpers import data, datasets
from anw_helpers.color import color_space_from_seed, watermark
from anw_helpers.datasets import CIFAR10_CLASSES, ImageSet


@pytest.mark.slow  # reads all 60,000 photos (decodes the JPEGs on a fresh cache: about 15 s)
def test_cifar10_counts_order_and_range(cifar_train, cifar_test):
    assert len(cifar_train) == 50_000 and len(cifar_test) == 10_000
    assert cifar_train.images.dtype == torch.uint8 and cifar_train.images.shape[1:] == (3, 32, 32)
    assert cifar_train.labels.dtype == torch.int64
    assert cifar_train.classes == CIFAR10_CLASSES
    assert torch.bincount(cifar_train.labels).tolist() == [5000] * 10
    assert torch.bincount(cifar_test.labels).tolist() == [1000] * 10
    means = cifar_train.images[::10].float().div(255).mean(dim=(0, 2, 3))
    torch.testing.assert_close(means, torch.tensor([0.491, 0.482, 0.447]), atol=0.02, rtol=0)


@pytest.mark.slow  # reads all 50,000 training photos twice
def test_second_load_reads_the_cache_without_decoding(cifar_train, monkeypatch):
    """A second load never decodes a JPEG (it reads the cache)."""

    def no_decoding(*args, **kwargs):
        raise AssertionError("the second load decoded images instead of reading the cache")

    monkeypatch.setattr(datasets, "_decode_all", no_decoding)
    again = data.load_cifar10("train")
    assert torch.equal(again.labels, cifar_train.labels) and torch.equal(
        again.images[:100], cifar_train.images[:100]
    )


def test_unknown_split_and_missing_data_explain_the_fix(tmp_path):
    with pytest.raises(ValueError, match="split"):
        data.load_cifar10("validation")
    with pytest.raises(FileNotFoundError) as info:
        data.load_cifar10("train", root=tmp_path, download=False)
    assert "ANW_DATA" in str(info.value) and "internet" in str(info.value)


def test_data_root_and_cache_follow_environment(monkeypatch, tmp_path):
    from anw_helpers.machinery import paths

    monkeypatch.setenv("ANW_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("ANW_CACHE", str(tmp_path / "c"))
    assert paths.data_root() == tmp_path / "d"
    assert paths.cache_dir("x") == tmp_path / "c" / "x" and (tmp_path / "c" / "x").is_dir()


def _write_images(folder, n, color=(200, 30, 30), size=(40, 50)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", size, color).save(folder / f"img{i}.png")


def test_image_folder_of_own_photos(tmp_path):
    _write_images(tmp_path / "cats", 2)
    _write_images(tmp_path / "dogs", 3, color=(10, 10, 200))
    s = data.load_image_folder(tmp_path, size=32)
    assert s.images.shape == (5, 3, 32, 32) and s.classes == ("cats", "dogs")
    assert s.labels.tolist() == [0, 0, 1, 1, 1]


def test_flat_folder_with_labels_file(tmp_path):
    _write_images(tmp_path / "photos", 3)
    (tmp_path / "labels.csv").write_text(
        "filename,class\nimg0.png,cat\nimg1.png,dog\nimg2.png,cat\n"
    )
    s = data.load_image_folder(tmp_path / "photos", size=16, labels_file=tmp_path / "labels.csv")
    assert s.classes == ("cat", "dog") and s.labels.tolist() == [0, 1, 0]
    (tmp_path / "short.csv").write_text("img0.png,cat\n")
    with pytest.raises(ValueError, match="no label"):
        data.load_image_folder(tmp_path / "photos", labels_file=tmp_path / "short.csv")


def test_unreadable_image_is_named(tmp_path):
    _write_images(tmp_path / "a", 1)
    (tmp_path / "a" / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="broken.jpg"):
        data.load_image_folder(tmp_path)


def _toy_set(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8, generator=g)
    return ImageSet(images, torch.arange(n) % 10, CIFAR10_CLASSES)


def test_imageset_rejects_float_images():
    with pytest.raises(TypeError, match="uint8"):
        ImageSet(torch.rand(2, 3, 4, 4), torch.zeros(2, dtype=torch.int64), ("a",))


def test_users_are_disjoint_seeded_and_sized():
    src = _toy_set()
    users = data.make_users(src, [10, 0.1, 5], [60.0, None, 90.0], seed=3)
    assert [len(u) for u in users] == [10, 20, 5]
    all_idx = torch.cat([u.indices for u in users])
    assert len(set(all_idx.tolist())) == len(all_idx)
    again = data.make_users(src, [10, 0.1, 5], [60.0, None, 90.0], seed=3)
    assert all(torch.equal(a.indices, b.indices) for a, b in zip(users, again))
    assert torch.equal(users[0].images, src.images[users[0].indices])


@pytest.mark.parametrize(
    "sizes,keys", [([], []), ([0], [60.0]), ([10], [60.0, 90.0]), ([500], [60.0])]
)
def test_bad_user_requests_raise(sizes, keys):
    with pytest.raises(ValueError):
        data.make_users(_toy_set(), sizes, keys)


def test_training_set_carries_each_users_own_key():
    """Every image of user u carries u's key, even when few users watermark (the paper's release
    gave every image the first key when ratio x users < 1)."""
    src = _toy_set(400)
    keys, seeds = data.many_users_plan(20, 0.25, seed=1, user_specific_color_space=True)
    spaces = [color_space_from_seed(s) for s in seeds]
    users = data.make_users(src, [len(src) // 20] * 20, keys, spaces, seed=1)
    marking = [u for u in users if u.key is not None]
    assert len(marking) == 5 and len({u.key for u in marking}) > 1
    assert all(u.color_space is not None for u in marking)
    train = data.watermarked_training_set(src, users)
    for u in users:
        expected = (
            u.images if u.key is None else data.watermark_uint8(u.images, u.key, u.color_space)
        )
        assert torch.equal(train.images[u.indices], expected), u.name
    assert torch.equal(src.images, _toy_set(400).images), "the source set must not be changed"


def test_build_learner_data_places_watermarked_images_and_holds_out():
    train_set, test_set = _toy_set(2000, seed=1), _toy_set(1000, seed=2)
    d = data.build_learner_data(
        train_set, test_set, n_train=1000, user_sizes=[0.01], keys=[60.0], n_test=500, seed=0
    )
    user = d.users[0]
    assert len(d.train) == 1000 and len(user) == 10 and len(d.test) == 500
    marked = watermark(user.clean(), 60.0)
    got = data.to_float(d.train.images[user.indices])
    assert float((got - marked).abs().max()) <= 0.5 / 255 + 1e-6
    assert d.held_out.key == 60.0 and len(d.held_out) == 10
    assert not set(d.held_out.indices.tolist()) & set(range(0)), (
        "held-out indices refer to the test split"
    )
    test_ids = {tuple(x) for x in d.test.images[:, 0, 0, :4].tolist()}
    assert len(d.held_out) > 0 and len(test_ids) > 0


def test_many_users_plan_is_seeded_and_counts_the_fraction():
    keys, seeds = data.many_users_plan(20, 0.25, seed=3, user_specific_color_space=True)
    assert (keys, seeds) == data.many_users_plan(20, 0.25, seed=3, user_specific_color_space=True)
    marking = [k for k in keys if k is not None]
    assert len(marking) == 5 and all(k in range(30, 331, 30) for k in marking)
    assert [s is not None for s in seeds] == [k is not None for k in keys]
    assert all(s is None for s in data.many_users_plan(20, 0.25, seed=3)[1]), (
        "YIQ unless asked otherwise"
    )
    assert (
        data.many_users_plan(4, 0.0)[0] == (None,) * 4
        and None not in data.many_users_plan(4, 1.0)[0]
    )
    with pytest.raises(ValueError, match="watermark_fraction"):
        data.many_users_plan(4, 1.5)
    with pytest.raises(ValueError, match="n_users"):
        data.many_users_plan(0, 0.5)


def test_many_users_and_multi_user_configs():
    from anw_helpers.profiles import (
        MULTI_USER_KEYS,
        get_profile,
        many_users_config,
        multi_user_config,
    )

    base = get_profile("ci").config.with_(n_train=1000)
    cfg = many_users_config(base, 20, 0.5, user_specific_color_space=True)
    assert cfg.data.user_sizes == (50,) * 20 and sum(k is not None for k in cfg.data.keys) == 10
    assert cfg.data.color_space_seeds == data.many_users_plan(20, 0.5, base.recipe.seed, True)[1]
    with pytest.raises(ValueError, match="n_train >= n_users"):
        many_users_config(base.with_(n_train=None), 20, 0.5)
    multi = multi_user_config(base)
    assert set(MULTI_USER_KEYS) == set(range(30, 331, 30)) and len(multi.data.user_sizes) == len(
        multi.data.keys
    )
    assert multi.data.user_sizes[:5] == (50, 20, 10, 5, 2) and multi.recipe == base.recipe


def test_load_cub200_reads_the_official_split(tmp_path, monkeypatch, fake_cub):
    monkeypatch.setenv("ANW_CACHE", str(tmp_path / "cache"))
    fake_cub(tmp_path)
    train = data.load_cub200("train", size=16, root=tmp_path, download=False)
    test = data.load_cub200("test", size=16, root=tmp_path, download=False)
    assert train.images.shape == (2, 3, 16, 16) and train.images.dtype == torch.uint8
    assert train.labels.tolist() == [0, 1] and test.labels.tolist() == [0, 1]
    assert train.classes == ("Black_footed_Albatross", "Laysan_Albatross")
    again = data.load_cub200("train", size=16, root=tmp_path, download=False)  # from the cache
    assert torch.equal(again.images, train.images)


def test_load_cub200_offline_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="CUB-200-2011 not found"):
        data.load_cub200("train", root=tmp_path, download=False)
    with pytest.raises(ValueError, match="split must be"):
        data.load_cub200("val", root=tmp_path)


def _flat_photos(folder, names, write_photo):
    for i, name in enumerate(names):
        write_photo(folder / name, seed=i)
    return folder


def test_labels_csv_from_excel_with_a_bom_reads_its_header(tmp_path, write_photo):
    """Issue 20: an Excel 'CSV UTF-8' export starts with a BOM, which hid the header row."""
    flat = _flat_photos(tmp_path / "flat", ["a.png", "b.png"], write_photo)
    labels = tmp_path / "labels.csv"
    labels.write_bytes("filename,class\r\na.png,cat\r\nb.png,dog\r\n".encode("utf-8-sig"))
    got = data.load_image_folder(flat, size=8, labels_file=labels)
    assert got.classes == ("cat", "dog") and got.labels.tolist() == [0, 1]


def test_labels_csv_giving_one_file_two_classes_is_refused(tmp_path, write_photo):
    flat = _flat_photos(tmp_path / "flat", ["a.png", "b.png"], write_photo)
    labels = tmp_path / "labels.csv"
    labels.write_text("a.png,cat\nb.png,dog\na.png,ship\n")
    with pytest.raises(ValueError, match=r"labels\.csv.*a\.png.*'cat'.*'ship'"):
        data.load_image_folder(flat, size=8, labels_file=labels)
    labels.write_text("a.png,cat\nb.png,dog\na.png,cat\n")  # a repeated identical row is harmless
    assert len(data.load_image_folder(flat, size=8, labels_file=labels)) == 2


def test_labels_csv_that_is_not_utf8_names_the_file(tmp_path, write_photo):
    flat = _flat_photos(tmp_path / "flat", ["a.png"], write_photo)
    labels = tmp_path / "latin1.csv"
    labels.write_bytes("a.png,chat_fran\xe7ais\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.csv is not a UTF-8 CSV"):
        data.load_image_folder(flat, size=8, labels_file=labels)


def test_decode_errors_name_the_file_in_every_loader(tmp_path):
    folder = tmp_path / "set" / "cat"
    folder.mkdir(parents=True)
    (folder / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match=r"bad.jpg"):
        data._decode_all([folder / "bad.jpg"], 32, "decoding test")


def test_appears_in_finds_images_pixel_for_pixel_and_lives_with_the_data_sets():
    """datasets.appears_in (an image's identity, as ImageSet.fingerprint); stats re-exports it
    for lessons 08 and 09."""
    from anw_helpers import stats

    g = torch.Generator().manual_seed(2)
    pool = torch.randint(0, 256, (6, 3, 4, 4), dtype=torch.uint8, generator=g)
    assert datasets.appears_in(pool[:3], pool[2:]).tolist() == [False, False, True]
    changed = pool[:1].clone()
    changed[0, 0, 0, 0] ^= 1  # one bit of one pixel
    assert not bool(datasets.appears_in(changed, pool).any())
    # other shapes or dtypes share nothing; an empty batch nothing either
    assert datasets.appears_in(pool, pool[:, :2]).tolist() == [False] * 6
    assert datasets.appears_in(pool, pool.float()).tolist() == [False] * 6
    assert datasets.appears_in(pool, pool[:0]).tolist() == [False] * 6
    with pytest.raises(ValueError, match="two batches"):
        datasets.appears_in(pool[0, 0, 0], pool)  # one row of pixels, not a batch
    assert stats.appears_in is datasets.appears_in
