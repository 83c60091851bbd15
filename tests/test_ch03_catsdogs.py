"""3.2 cats vs dogs: dataset layouts, synthetic generator, SmallResNet, training loop, checkpoint, app handlers."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ch03_gradio.cats_dogs import data as D
from ch03_gradio.cats_dogs.model import SmallResNet, count_parameters
from ch03_gradio.cats_dogs.train import TrainConfig, iter_training, load_checkpoint, predict


def _img(path: Path, color=(200, 100, 50)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 10), color).save(path)
    return path


# ---------------------------------------------------------------------------------------------- layouts
def test_kaggle_layout(tmp_path):
    _img(tmp_path / "cat.1.jpg")
    _img(tmp_path / "dog.2.jpg")
    _img(tmp_path / "Cat.3.JPG")
    (tmp_path / "cat.9.jpg").write_bytes(b"")                 # zero-byte file (as in PetImages): skipped
    (tmp_path / "readme.txt").write_text("not an image")
    _img(tmp_path / "test1" / "17.jpg")                       # unlabeled Kaggle test set: ignored
    samples = D.scan_kaggle(tmp_path)
    assert [(p.name, y) for p, y in samples] == [("Cat.3.JPG", 0), ("cat.1.jpg", 0), ("dog.2.jpg", 1)]
    found, layout = D.find_samples(tmp_path)
    assert found == samples and "kaggle" in layout


def test_class_folder_layouts(tmp_path):
    _img(tmp_path / "cats" / "a.jpg")
    _img(tmp_path / "dogs" / "nested" / "b.png")
    _img(tmp_path / "birds" / "c.jpg")                        # unknown class folder: ignored
    samples, layout = D.find_samples(tmp_path)
    assert [(p.name, y) for p, y in samples] == [("a.jpg", 0), ("b.png", 1)] and "class folders" in layout
    # Microsoft PetImages: PetImages/Cat, PetImages/Dog, found from the parent folder
    pet = tmp_path / "ms"
    _img(pet / "PetImages" / "Cat" / "0.jpg")
    _img(pet / "PetImages" / "Dog" / "0.jpg")
    samples, _ = D.find_samples(pet)
    assert [y for _, y in samples] == [0, 1]


def test_kaggle_train_subfolder_and_helpful_errors(tmp_path):
    _img(tmp_path / "train" / "cat.0.jpg")
    _img(tmp_path / "train" / "dog.0.jpg")
    assert len(D.find_samples(tmp_path)[0]) == 2
    with pytest.raises(FileNotFoundError, match="To fix"):
        D.find_samples(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="To fix"):
        D.find_samples(tmp_path / "empty")


def test_split_is_stratified_and_reproducible():
    samples = [(Path(f"{c}.{i}.jpg"), y) for y, c in enumerate(D.CLASSES) for i in range(10)]
    train, val = D.split_samples(samples, 0.2, seed=3)
    assert len(val) == 4 and sorted(y for _, y in val) == [0, 0, 1, 1]
    assert set(train).isdisjoint(val) and len(train) + len(val) == 20
    assert D.split_samples(samples, 0.2, seed=3) == (train, val)
    small = D.limit_per_class(samples, 3, seed=1)
    assert [y for _, y in small].count(0) == 3 and [y for _, y in small].count(1) == 3


# ---------------------------------------------------------------------------------------------- synthetic set
def test_synthetic_generator_is_deterministic_and_loadable(tmp_path):
    a = D.make_synthetic_dataset(tmp_path / "a", n_per_class=5, size=32, seed=7)
    b = D.make_synthetic_dataset(tmp_path / "b", n_per_class=5, size=32, seed=7)
    digest = lambda folder: {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.glob("*.png")}
    assert digest(a) == digest(b) and len(digest(a)) == 10
    samples, layout = D.find_samples(a)
    assert [y for _, y in samples].count(0) == 5 and "kaggle" in layout and D.is_synthetic(a)
    assert Image.open(samples[0][0]).size == (32, 32)
    stamp = (a / D.SYNTHETIC_MARKER).stat().st_mtime_ns
    D.make_synthetic_dataset(a, n_per_class=5, size=32, seed=7)          # same settings: reused, not redrawn
    assert (a / D.SYNTHETIC_MARKER).stat().st_mtime_ns == stamp
    D.make_synthetic_dataset(a, n_per_class=3, size=32, seed=7)          # new settings: redrawn
    assert len(list(a.glob("*.png"))) == 6
    # cats and dogs differ on average (the classes are separable), and seeds differ
    cat, dog = (np.asarray(D.synthetic_image(y, 0, 32, seed=1), np.float32) for y in (0, 1))
    assert cat.shape == dog.shape == (32, 32, 3) and np.abs(cat - dog).mean() > 5


# ---------------------------------------------------------------------------------------------- model
@pytest.mark.parametrize("size", [32, 50, 64])
def test_smallresnet_shapes_and_backward(size):
    torch.manual_seed(0)
    model = SmallResNet(num_classes=2, width=8, blocks=1)
    x = torch.randn(3, 3, size, size)
    out = model(x)
    assert out.shape == (3, 2)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert count_parameters(SmallResNet(width=16)) == 77_522            # the number model.py prints


# ---------------------------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cd")
    folder = D.make_synthetic_dataset(root / "data", n_per_class=12, size=32, seed=0)
    cfg = TrainConfig(data_dir=str(folder), image_size=32, width=8, epochs=3, batch_size=8, lr=5e-3,
                      weights=str(root / "w.safetensors"), device="cpu")
    return cfg, list(iter_training(cfg))


def test_training_yields_events_and_saves_best(trained):
    cfg, events = trained
    kinds = [e["event"] for e in events]
    assert kinds == ["start", "epoch", "epoch", "epoch", "done"]
    start, epochs, done = events[0], events[1:4], events[-1]
    assert start["synthetic"] and start["n_train"] + start["n_val"] == 24 and start["n_val"] == 4
    assert all(0 <= e["train_acc"] <= 1 and np.isfinite(e["train_loss"]) for e in epochs)
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]          # it learns something in 3 epochs
    assert done["best_val_acc"] == max(e["val_acc"] for e in epochs)
    assert Path(done["weights"]).is_file() and Path(done["plot"]).is_file()


def test_checkpoint_round_trip_and_predict(trained):
    cfg, events = trained
    model, meta = load_checkpoint(cfg.weights)
    best = max(events[1:4], key=lambda e: (e["val_acc"], e["epoch"]))
    assert meta["classes"] == ["cat", "dog"] and meta["val_acc"] == best["val_acc"] and meta["synthetic"]
    probs = predict(model, meta, D.synthetic_image(0, 99, size=80))      # any size, PIL in
    assert set(probs) == {"cat", "dog"} and sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    # the file holds tensors only: safetensors refuses nothing but tensors, so no pickle can hide in it
    from safetensors.torch import load_file
    assert all(isinstance(v, torch.Tensor) for v in load_file(cfg.weights).values())


def test_app_builds_and_handlers_work(trained, tmp_path, monkeypatch):
    import gradio as gr

    from ch03_gradio.cats_dogs import app

    monkeypatch.setenv("CHATGLM3_OUTPUT_DIR", str(tmp_path))           # examples go to tmp, not outputs/
    cfg, _ = trained
    demo = app.main(app.Config(launch=False, weights=cfg.weights, image_size=32, width=8, synthetic_per_class=4))
    assert isinstance(demo, gr.Blocks)
    holder = app.ModelHolder(Path(cfg.weights))
    assert "SYNTHETIC" in holder.status() and holder.get()[0] is not None
    assert "SYNTHETIC" in app.data_banner("") and app.data_banner("/x") == "数据 data: `/x`"
    loss, acc = app.curves([{"epoch": 1, "train_loss": 1.0, "val_loss": 2.0, "train_acc": 0.5, "val_acc": 0.25}])
    assert list(loss["split"]) == ["train", "val"] and list(acc["accuracy"]) == [0.5, 0.25]
    assert app.curves([]) == (None, None)
    assert "no model yet" in app.ModelHolder(tmp_path / "none.safetensors").status()
