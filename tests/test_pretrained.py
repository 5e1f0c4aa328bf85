"""Learners in one download (issue 28 item 4): ``tools.pretrain --archive`` and ``ANW_PRETRAINED``.

Every model here is a tiny untrained network saved with ``checkpoint.save``; the training
callables raise, so a test that passes trained nothing.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import tarfile
import threading
from pathlib import Path

import pytest
import torch

from anw_helpers import models
from anw_helpers.datasets import ImageSet
from anw_helpers.machinery import checkpoint, pretrained
from anw_helpers.machinery.paths import cache_dir
from anw_helpers.recipe import LearnerConfig
from anw_helpers.train import (
    ONE_PROCESS,
    TrainRecord,
    _cache_settings,
    _load_or_train,
    train_learner,
    trained_with,
)
from anw_helpers.users import build_learner_data
from tools import pretrain as tool

CONFIG = {"model": "small_resnet", "width": 4}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    """A fresh ``ANW_CACHE`` (and no memory of archives tried) per test."""
    monkeypatch.setenv("ANW_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(pretrained.ENV, raising=False)
    monkeypatch.setattr(pretrained, "_tried", set())
    return tmp_path / "cache"


def _tiny(bias: float = 0.0) -> torch.nn.Module:
    model = models.build_model("small_resnet", 3, 4, 0)
    with torch.no_grad():
        model.net.classifier.bias.fill_(bias)
    return model


def _archive(tmp_path: Path, names=("small_resnet-a.pt", "small_resnet-b.pt")) -> Path:
    """Save tiny checkpoints in the cache, archive them with tools.pretrain, empty the cache."""
    files = [cache_dir("models") / name for name in names]
    for i, path in enumerate(files):
        checkpoint.save(path, _tiny(0.25 * (i + 1)), json.dumps({"epoch_loss": [1.0]}), CONFIG)
    out = tmp_path / "anw-tiny.tar"
    tool.write_archive(files, out, "tiny")
    for path in files:
        path.unlink()
    return out


def _no_training(model: torch.nn.Module) -> str:
    raise AssertionError("trained, though the archive holds this model")


def _counting(calls: list):
    def train(model: torch.nn.Module) -> str:
        calls.append(1)
        return json.dumps({"epoch_loss": [0.5]})

    return train


def _build(for_training: bool) -> torch.nn.Module:
    return _tiny()


def _cached(path: Path, build, fit) -> checkpoint.Cached:
    """Load-or-train as ``train`` does it: ``checkpoint.load_or_train`` with the archive installed
    on a miss (``on_miss``), in one process."""
    return _load_or_train(path, build, fit, CONFIG, False, ONE_PROCESS)


def _rewrite(archive: Path, edit) -> Path:
    """A copy of ``archive`` whose manifest and members ``edit(manifest, members)`` changed."""
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    manifest = json.loads(members.pop(pretrained.MANIFEST))
    edit(manifest, members)
    out = archive.with_name("edited.tar")
    with tarfile.open(out, "w") as tar:
        for name, data in [(pretrained.MANIFEST, json.dumps(manifest).encode()), *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def test_the_archive_holds_the_files_and_a_manifest(tmp_path):
    archive = _archive(tmp_path)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(pretrained.MANIFEST).read())
    assert names == [pretrained.MANIFEST, "small_resnet-a.pt", "small_resnet-b.pt"]
    assert manifest["profile"] == "tiny" and manifest["torch"] == torch.__version__
    here = trained_with()
    entry = manifest["files"][0]
    assert entry["device"] == here["device"] and entry["precision"] == here["precision"]
    assert len(entry["sha256"]) == 64 and entry["size"] > 0


def test_a_cache_miss_installs_the_archive_and_loads_instead_of_training(tmp_path, monkeypatch):
    monkeypatch.setenv(pretrained.ENV, str(_archive(tmp_path)))
    path = cache_dir("models") / "small_resnet-a.pt"
    got = _cached(path, _build, _no_training)
    assert got.from_cache and float(got.model.net.classifier.bias[0].detach()) == 0.25
    assert (cache_dir("models") / "small_resnet-b.pt").exists()
    assert not [p for p in cache_dir("pretrained").iterdir() if p.name != "installed.json"]


def test_train_learner_with_the_archive_trains_nothing(tmp_path, monkeypatch):
    """Issue 28's done-when: a learner whose file is in ANW_PRETRAINED's archive is not trained."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.arange(40) % 3
    data = build_learner_data(
        ImageSet(images, labels, ("a", "b", "c")),
        ImageSet(images[:20].clone(), labels[:20].clone(), ("a", "b", "c")),
        30,
        (5,),
        (60.0,),
    )
    config = LearnerConfig().with_(n_train=30, user_sizes=(5,), width=4, epochs=1)
    path = checkpoint.cache_path("small_resnet", _cache_settings(config, data))
    checkpoint.save(path, _tiny(), TrainRecord(test_accuracy=0.5).to_json(), CONFIG)
    archive = tmp_path / "learners.tar"
    tool.write_archive([path], archive, "tiny")
    path.unlink()
    monkeypatch.setenv(pretrained.ENV, str(archive))
    monkeypatch.setattr("anw_helpers.train.fit", lambda *a, **k: pytest.fail("it trained"))
    learner = train_learner(config, data=data, progress=False)
    assert learner.from_cache and learner.record.test_accuracy == 0.5


def _flip_a_byte(archive: Path) -> Path:
    with tarfile.open(archive) as tar:
        member = tar.getmember("small_resnet-a.pt")
    data = bytearray(archive.read_bytes())
    data[member.offset_data + member.size // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    return archive


def _wrong_hash(archive: Path) -> Path:
    def edit(manifest, members):
        manifest["files"][1]["sha256"] = "0" * 64

    return _rewrite(archive, edit)


def _traversal(archive: Path) -> Path:
    def edit(manifest, members):
        manifest["files"][0]["name"] = "../small_resnet-a.pt"
        members["../small_resnet-a.pt"] = members.pop("small_resnet-a.pt")

    return _rewrite(archive, edit)


def _member_missing(archive: Path) -> Path:
    return _rewrite(archive, lambda manifest, members: members.pop("small_resnet-b.pt"))


def _a_link(archive: Path) -> Path:
    with tarfile.open(archive) as tar:
        members = [(m, tar.extractfile(m).read() if m.isreg() else None) for m in tar]
    with tarfile.open(archive, "w") as tar:
        for member, data in members:
            if member.name == "small_resnet-b.pt":
                member.type, member.linkname, member.size, data = tarfile.SYMTYPE, "/etc/x", 0, None
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    return archive


def _not_there(archive: Path) -> Path:
    return archive.with_name("no-such.tar")


def _not_a_tar(archive: Path) -> Path:
    archive.write_bytes(b"<html>404</html>")
    return archive


@pytest.mark.parametrize(
    "damage, why",
    [
        (_flip_a_byte, "sha256 is"),
        (_wrong_hash, "sha256 is"),
        (_traversal, "unsafe or repeated file '../small_resnet-a.pt'"),
        (_member_missing, "small_resnet-b.pt is in its manifest but not in the archive"),
        (_a_link, "small_resnet-b.pt in it is a link or a folder, not a file; refused"),
        (_not_there, "the archive does not exist"),
        (_not_a_tar, "not a tar archive, or a damaged one"),
    ],
)
def test_a_bad_archive_is_one_warning_and_the_model_trains(tmp_path, monkeypatch, damage, why):
    bad = damage(_archive(tmp_path))
    monkeypatch.setenv(pretrained.ENV, str(bad))
    calls: list = []
    path = cache_dir("models") / "small_resnet-a.pt"
    with pytest.warns(RuntimeWarning) as caught:
        got = _cached(path, _build, _counting(calls))
    message = str(caught[0].message)
    assert message.startswith(f"{pretrained.ENV}={str(bad)!r}: ") and why in message
    assert message.endswith("the lesson trains as usual.") and "\n" not in message
    assert not got.from_cache and calls == [1]
    assert sorted(p.name for p in cache_dir("models").iterdir()) == ["small_resnet-a.pt"]
    assert not list(cache_dir("pretrained").iterdir())  # nothing half-extracted, no marker
    other = cache_dir("models") / "small_resnet-b.pt"
    _cached(other, _build, _counting(calls))  # no second warning
    assert calls == [1, 1]


def test_a_second_miss_does_not_extract_again(tmp_path, monkeypatch):
    monkeypatch.setenv(pretrained.ENV, str(_archive(tmp_path)))
    models_dir = cache_dir("models")
    _cached(models_dir / "small_resnet-a.pt", _build, _no_training)
    monkeypatch.setattr(pretrained, "_tried", set())  # as in a new session
    monkeypatch.setattr(pretrained, "_extract", lambda *a: pytest.fail("extracted again"))
    calls: list = []
    _cached(models_dir / "other.pt", _build, _counting(calls))
    assert calls == [1]  # a model the archive lacks trains, without a new extraction


def test_an_existing_valid_model_is_not_overwritten(tmp_path, monkeypatch):
    archive = _archive(tmp_path)
    mine = cache_dir("models") / "small_resnet-b.pt"
    checkpoint.save(mine, _tiny(0.75), json.dumps({"epoch_loss": [2.0]}), CONFIG)
    before = mine.read_bytes()
    monkeypatch.setenv(pretrained.ENV, str(archive))
    path = cache_dir("models") / "small_resnet-a.pt"
    assert _cached(path, _build, _no_training).from_cache
    assert mine.read_bytes() == before


def test_an_archive_for_another_runtime_says_so_and_installs_nothing(tmp_path, monkeypatch):
    with monkeypatch.context() as built_on_a_gpu:
        built_on_a_gpu.setattr(
            "anw_helpers.train.trained_with", lambda: {"device": "cuda", "precision": "fp16"}
        )
        archive = _archive(tmp_path)
    monkeypatch.setenv(pretrained.ENV, str(archive))
    calls: list = []
    with pytest.warns(RuntimeWarning, match="cuda/fp16"):
        _cached(cache_dir("models") / "small_resnet-a.pt", _build, _counting(calls))
    assert calls == [1] and "they would not be used" in str(pretrained._other_runtime(["x/y"]))
    assert not (cache_dir("models") / "small_resnet-b.pt").exists()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    requests: list = []

    def do_GET(self) -> None:  # noqa: N802 - the handler's name
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


def test_a_url_is_downloaded_once(tmp_path, monkeypatch):
    archive = _archive(tmp_path)
    handler = functools.partial(_Quiet, directory=str(archive.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _Quiet.requests = []
        url = f"http://127.0.0.1:{server.server_port}/{archive.name}"
        monkeypatch.setenv(pretrained.ENV, url)
        path = cache_dir("models") / "small_resnet-a.pt"
        assert _cached(path, _build, _no_training).from_cache
        monkeypatch.setattr(pretrained, "_tried", set())
        _cached(cache_dir("models") / "c.pt", _build, _counting([]))
        assert _Quiet.requests == [f"/{archive.name}"]
        assert sorted(p.name for p in cache_dir("pretrained").iterdir()) == ["installed.json"]
        monkeypatch.setattr(pretrained, "_tried", set())
        monkeypatch.setenv(pretrained.ENV, url + ".missing")
        with pytest.warns(RuntimeWarning, match="the download failed"):
            _cached(cache_dir("models") / "d.pt", _build, _counting([]))
    finally:
        server.shutdown()
        server.server_close()
