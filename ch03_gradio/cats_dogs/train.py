"""3.2.3 PyTorch模型训练的基本流程 — dataset -> DataLoader -> model -> loss -> optimizer, epoch by epoch.

:func:`iter_training` is the loop written once for two callers: it *yields* a dict after every epoch (loss and
accuracy on train and val), so this script prints it and the gradio app (3.2.4) draws it. The best epoch
(highest val accuracy) is saved as safetensors — a plain tensor file, no pickle — with the settings needed to
rebuild the model in its metadata; :func:`load_checkpoint` / :func:`predict` are what 3.2.5 uses.

    python -m ch03_gradio.cats_dogs.train                                   # synthetic cartoons, ~8 CPU epochs
    python -m ch03_gradio.cats_dogs.train --data-dir ~/data/dogs-vs-cats/train --max-per-class 1000 \\
        --width 32 --blocks 2 --epochs 10                                   # real photos (Kaggle layout)
    python -m ch03_gradio.cats_dogs.train --data-dir ... --device cuda --max-per-class 0   # GPU, all 25k

Outputs: outputs/ch03/cats_dogs/cats_dogs_resnet.safetensors and training_curves.png.
"""
from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ch03_gradio.cats_dogs.data import (CLASSES, Sample, find_samples, is_synthetic, limit_per_class,
                                        make_synthetic_dataset, split_samples)
from ch03_gradio.cats_dogs.model import SmallResNet, count_parameters
from common.cli import arg, run
from common.paths import output_dir

MEAN, STD = 0.5, 0.25          # simple per-pixel normalisation to roughly [-2, 2]
WEIGHTS_NAME = "cats_dogs_resnet.safetensors"


@dataclass
class TrainConfig:
    data_dir: str | None = arg(None, "Kaggle-layout folder (cat.0.jpg ...) or one with cats/ and dogs/; empty = "
                                     "synthetic set", group="training")
    synthetic_per_class: int = arg(100, "synthetic images per class when no --data-dir is given", group="training")
    max_per_class: int | None = arg(None, "use at most this many images per class (0/None = all); keeps CPU runs "
                                          "short", group="training")
    image_size: int = arg(64, "images are resized to this square", group="training")
    width: int = arg(16, "SmallResNet width (channels of stage 1)", group="training")
    blocks: int = arg(1, "BasicBlocks per stage", group="training")
    epochs: int = arg(8, "passes over the training set", group="training")
    batch_size: int = arg(16, "images per optimisation step", group="training")
    lr: float = arg(5e-3, "peak learning rate (one-cycle schedule, AdamW)", group="training")
    weight_decay: float = arg(1e-4, "AdamW weight decay", group="training")
    val_fraction: float = arg(0.2, "share of images held out", group="training")
    seed: int = arg(0, "seed for split, shuffling, init, augmentation", group="training")
    device: str = arg("auto", "auto | cpu | cuda | mps", group="training")
    threads: int = arg(1, "torch CPU threads (0 = torch default); 1 is fastest for this small net", group="training")
    weights: str | None = arg(None, "where to save the best model (default: outputs/ch03/cats_dogs/"
                                    "cats_dogs_resnet.safetensors)", group="training")


def default_weights_path() -> Path:
    return output_dir("ch03", "cats_dogs") / WEIGHTS_NAME


def pick_device(name: str = "auto") -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def load_rgb(path_or_image, size: int) -> np.ndarray:
    """Any image (path or PIL) -> (size, size, 3) uint8, RGB."""
    img = path_or_image if isinstance(path_or_image, Image.Image) else Image.open(path_or_image)
    return np.asarray(img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR), np.uint8)


def to_tensor(arr: np.ndarray) -> torch.Tensor:
    return (torch.from_numpy(np.array(arr, np.uint8, copy=True)).permute(2, 0, 1).float() / 255.0 - MEAN) / STD


class CatsDogsDataset(Dataset):
    """Decodes each image once (then keeps the small uint8 copy); train mode flips and shifts randomly."""

    def __init__(self, samples: list[Sample], image_size: int, train: bool, seed: int = 0):
        self.samples, self.size, self.train = samples, image_size, train
        self.rng = random.Random(seed)
        self.cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if i not in self.cache:
            self.cache[i] = load_rgb(self.samples[i][0], self.size)
        arr = self.cache[i]
        if self.train:   # augmentation: the same cat, flipped or moved a little, is still a cat
            if self.rng.random() < 0.5:
                arr = arr[:, ::-1]
            pad = max(1, self.size // 16)
            dy, dx = self.rng.randint(0, 2 * pad), self.rng.randint(0, 2 * pad)
            arr = np.pad(arr, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")[dy:dy + self.size, dx:dx + self.size]
        return to_tensor(arr), self.samples[i][1]


def resolve_data(cfg: TrainConfig) -> tuple[Path, bool]:
    """(folder, synthetic?) — generates the synthetic set when no folder is given."""
    if cfg.data_dir:
        return Path(cfg.data_dir).expanduser(), is_synthetic(Path(cfg.data_dir).expanduser())
    return make_synthetic_dataset(n_per_class=cfg.synthetic_per_class, size=cfg.image_size, seed=cfg.seed), True


def run_epoch(model: nn.Module, loader: DataLoader, device: torch.device, optimizer=None,
              scheduler=None) -> tuple[float, float]:
    """One pass; trains when an optimizer is given, otherwise evaluates. Returns (mean loss, accuracy)."""
    training = optimizer is not None
    model.train(training)
    total_loss, correct, seen = 0.0, 0, 0
    with torch.set_grad_enabled(training):
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y)
            if training:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
            total_loss += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
    return total_loss / max(1, seen), correct / max(1, seen)


def save_checkpoint(model: nn.Module, meta: dict, path: str | Path) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp), metadata={"meta": json.dumps(meta, ensure_ascii=False)})
    tmp.replace(path)          # atomic: the app never reads a half-written file
    return path


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[SmallResNet, dict]:
    """Rebuild the model from a safetensors file written by :func:`save_checkpoint` (no pickle involved)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["meta"])
    model = SmallResNet(num_classes=len(meta["classes"]), width=meta["width"], blocks=meta["blocks"])
    model.load_state_dict(load_file(str(path)))
    return model.to(device).eval(), meta


@torch.no_grad()
def predict(model: nn.Module, meta: dict, image) -> dict[str, float]:
    """PIL image or path -> {class name: probability} (the dict gr.Label displays)."""
    device = next(model.parameters()).device
    x = to_tensor(load_rgb(image, meta["image_size"]))[None].to(device)
    probs = torch.softmax(model.eval()(x), dim=1)[0].cpu().tolist()
    return {name: float(p) for name, p in zip(meta["classes"], probs)}


def save_curves(history: list[dict], path: str | Path) -> Path:
    """Loss and accuracy per epoch, train vs val, side by side."""
    from common.plots import plot_curves

    epochs = [h["epoch"] for h in history]
    return plot_curves(path, {key: {split: (epochs, [h[f"{split}_{key}"] for h in history]) for split in ("train", "val")}
                              for key in ("loss", "acc")}, xlabel="epoch")


def iter_training(cfg: TrainConfig) -> Iterator[dict]:
    """Yield ``{"event": "start", ...}``, one ``{"event": "epoch", ...}`` per epoch, then ``{"event": "done", ...}``."""
    previous_threads = torch.get_num_threads()
    if cfg.threads > 0:
        # Tiny convolutions spend more time synchronising threads than computing: one thread is fastest
        # here (measured 10x faster on a busy 2-core machine). Raise it for width>=32 on real photos.
        torch.set_num_threads(cfg.threads)
    try:
        yield from _training_events(cfg)
    finally:
        torch.set_num_threads(previous_threads)


def _training_events(cfg: TrainConfig) -> Iterator[dict]:
    torch.manual_seed(cfg.seed)
    data_dir, synthetic = resolve_data(cfg)
    samples, layout = find_samples(data_dir)
    samples = limit_per_class(samples, cfg.max_per_class, cfg.seed)
    train_s, val_s = split_samples(samples, cfg.val_fraction, cfg.seed)
    device = pick_device(cfg.device)
    weights = Path(cfg.weights) if cfg.weights else default_weights_path()

    train_ds = CatsDogsDataset(train_s, cfg.image_size, train=True, seed=cfg.seed)
    val_ds = CatsDogsDataset(val_s, cfg.image_size, train=False)
    train_dl = DataLoader(train_ds, batch_size=cfg.batch_size, shuffle=True,
                          generator=torch.Generator().manual_seed(cfg.seed))
    val_dl = DataLoader(val_ds, batch_size=cfg.batch_size * 2)

    model = SmallResNet(len(CLASSES), cfg.width, cfg.blocks).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # one-cycle: warm up then anneal; forgiving about the learning rate for short runs
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr,
                                                    total_steps=max(1, cfg.epochs * len(train_dl)))
    meta = {"classes": list(CLASSES), "image_size": cfg.image_size, "width": cfg.width, "blocks": cfg.blocks,
            "data_dir": str(data_dir), "layout": layout, "synthetic": synthetic,
            "n_train": len(train_s), "n_val": len(val_s)}
    yield {"event": "start", **meta, "device": str(device), "parameters": count_parameters(model),
           "weights": str(weights), "config": asdict(cfg)}

    history, best = [], -1.0
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        train_loss, train_acc = run_epoch(model, train_dl, device, optimizer, scheduler)
        val_loss, val_acc = run_epoch(model, val_dl, device)
        saved = val_acc >= best
        if saved:        # keep the best epoch, not the last one
            best = val_acc
            save_checkpoint(model, {**meta, "epoch": epoch, "val_acc": val_acc}, weights)
        record = {"epoch": epoch, "epochs": cfg.epochs, "train_loss": train_loss, "train_acc": train_acc,
                  "val_loss": val_loss, "val_acc": val_acc, "seconds": round(time.perf_counter() - t0, 2),
                  "saved": saved}
        history.append(record)
        yield {"event": "epoch", **record}
    plot = save_curves(history, weights.parent / "training_curves.png")
    yield {"event": "done", "weights": str(weights), "best_val_acc": best, "history": history,
           "plot": str(plot), "synthetic": synthetic}


def format_event(ev: dict) -> str:
    """One log line per event (shared by the CLI and the app's log box)."""
    if ev["event"] == "start":
        src = "合成卡通数据 SYNTHETIC cartoons" if ev["synthetic"] else "真实图片 real images"
        return (f"data: {src} — {ev['layout']}; train {ev['n_train']} / val {ev['n_val']}; "
                f"device {ev['device']}; model {ev['parameters']:,} params")
    if ev["event"] == "epoch":
        return (f"epoch {ev['epoch']}/{ev['epochs']}  train loss {ev['train_loss']:.4f} acc {ev['train_acc']:.3f} | "
                f"val loss {ev['val_loss']:.4f} acc {ev['val_acc']:.3f}  ({ev['seconds']:.1f}s)"
                + ("  [saved]" if ev["saved"] else ""))
    return f"done: best val acc {ev['best_val_acc']:.3f}; weights {ev['weights']}; curves {ev['plot']}"


def main(cfg: TrainConfig) -> dict:
    result: dict = {}
    for ev in iter_training(cfg):
        print(format_event(ev), flush=True)
        result = ev
    return result


Config = TrainConfig

if __name__ == "__main__":
    run(main, Config, __doc__)
