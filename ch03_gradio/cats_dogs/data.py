"""3.2.1 运行环境与数据集的准备 — find cat/dog images on disk, or draw a synthetic set in seconds.

Two on-disk layouts are understood (:func:`find_samples` picks the one it sees):

    Kaggle "Dogs vs. Cats" (train.zip):      train/cat.0.jpg  train/cat.1.jpg ... train/dog.12499.jpg
    class folders (Microsoft PetImages, ...): cats/ dogs/   or   Cat/ Dog/   (images anywhere below them)

No download happens here: put the images somewhere and pass the folder. Without one, :func:`make_synthetic_dataset`
draws a deterministic two-class set with Pillow — cartoon *cat* faces (pointed ears, whiskers) and *dog* faces
(floppy ears, round muzzle, tongue) in random fur colours, sizes, positions and backgrounds — written in the Kaggle
layout, so the same loader reads it. It exists so the chapter runs offline; a model trained on it knows cartoons,
not photos, and the UI says so.

    python -m ch03_gradio.cats_dogs.data                       # writes outputs/ch03/cats_dogs/synthetic/
    python -m ch03_gradio.cats_dogs.data --check ~/data/dogs-vs-cats/train   # count what the loader finds
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from common.cli import arg, run
from common.paths import output_dir

CLASSES = ("cat", "dog")
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
KAGGLE_NAME = re.compile(r"^(cat|dog)[._-]", re.IGNORECASE)
FOLDER_LABELS = {"cat": 0, "cats": 0, "dog": 1, "dogs": 1}
SYNTHETIC_MARKER = "SYNTHETIC.txt"

Sample = tuple[Path, int]


def _is_image(p: Path) -> bool:
    # zero-byte files exist in the public PetImages archive; skip them instead of crashing mid-epoch
    return p.is_file() and p.suffix.lower() in IMAGE_EXTS and p.stat().st_size > 0


def scan_kaggle(folder: str | Path) -> list[Sample]:
    """``cat.123.jpg`` / ``dog.45.jpg`` files directly inside ``folder`` (other files are ignored)."""
    out = []
    for p in sorted(Path(folder).iterdir()):
        m = KAGGLE_NAME.match(p.name)
        if m and _is_image(p):
            out.append((p, CLASSES.index(m.group(1).lower())))
    return out


def scan_class_folders(root: str | Path) -> list[Sample]:
    """Images below ``root/cats`` and ``root/dogs`` (also ``cat``/``dog``, any capitalisation)."""
    out = []
    for sub in sorted(Path(root).iterdir()):
        label = FOLDER_LABELS.get(sub.name.lower()) if sub.is_dir() else None
        if label is not None:
            out += [(p, label) for p in sorted(sub.rglob("*")) if _is_image(p)]
    return out


def find_samples(root: str | Path) -> tuple[list[Sample], str]:
    """Return ``(samples, layout)``; looks at ``root``, then ``root/train`` and ``root/PetImages``."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder. To fix: pass the folder that holds cat.*.jpg/dog.*.jpg "
                                f"or cats/ and dogs/ sub-folders (or leave it empty for the synthetic set).")
    for folder in (root, root / "train", root / "PetImages"):
        if not folder.is_dir():
            continue
        samples = scan_class_folders(folder)
        if samples:
            return samples, f"class folders ({folder})"
        samples = scan_kaggle(folder)
        if samples:
            return samples, f"kaggle file names ({folder})"
    raise FileNotFoundError(f"no cat/dog images found under {root}. To fix: use the Kaggle layout "
                            f"(cat.0.jpg, dog.0.jpg in one folder) or class folders (cats/, dogs/).")


def is_synthetic(folder: str | Path) -> bool:
    return (Path(folder) / SYNTHETIC_MARKER).is_file()


def limit_per_class(samples: list[Sample], max_per_class: int | None, seed: int = 0) -> list[Sample]:
    """Keep at most ``max_per_class`` images of each class (a random, reproducible subset)."""
    if not max_per_class:
        return samples
    rng = random.Random(seed)
    out = []
    for label in range(len(CLASSES)):
        items = [s for s in samples if s[1] == label]
        rng.shuffle(items)
        out += items[:max_per_class]
    return sorted(out)


def split_samples(samples: list[Sample], val_fraction: float = 0.2, seed: int = 0) -> tuple[list[Sample], list[Sample]]:
    """Stratified, reproducible train/val split (every class keeps the same val fraction)."""
    rng = random.Random(seed)
    train, val = [], []
    for label in range(len(CLASSES)):
        items = sorted(s for s in samples if s[1] == label)
        rng.shuffle(items)
        n_val = max(1, round(len(items) * val_fraction)) if len(items) > 1 and val_fraction > 0 else 0
        val += items[:n_val]
        train += items[n_val:]
    return train, val


# ---------------------------------------------------------------------------------------------- synthetic set
FUR = [(236, 170, 90), (120, 80, 50), (60, 60, 60), (230, 230, 225), (200, 120, 60), (150, 150, 160),
       (250, 220, 170), (90, 60, 40)]


def _draw_animal(label: int, size: int, rng: random.Random) -> Image.Image:
    s = size * 2                                    # draw large, shrink: smooth edges
    bg = tuple(rng.randint(120, 255) for _ in range(3))
    img = Image.new("RGB", (s, s), bg)
    d = ImageDraw.Draw(img)
    for _ in range(rng.randint(2, 5)):              # background clutter so the task is not trivial
        x, y, r = rng.uniform(0, s), rng.uniform(0, s), rng.uniform(s * 0.05, s * 0.2)
        d.ellipse([x - r, y - r, x + r, y + r], fill=tuple(rng.randint(90, 255) for _ in range(3)))
    fur = rng.choice(FUR)
    dark = tuple(max(0, c - 70) for c in fur)
    cx, cy = s * rng.uniform(0.4, 0.6), s * rng.uniform(0.45, 0.62)
    r = s * rng.uniform(0.2, 0.28)
    if label == 0:   # cat: pointed triangular ears above the head
        for side in (-1, 1):
            bx = cx + side * r * 0.6
            d.polygon([(bx - r * 0.38, cy - r * 0.55), (bx + r * 0.38, cy - r * 0.55),
                       (bx + side * r * 0.15, cy - r * 1.45)], fill=fur)
            d.polygon([(bx - r * 0.2, cy - r * 0.6), (bx + r * 0.2, cy - r * 0.6),
                       (bx + side * r * 0.1, cy - r * 1.15)], fill=(240, 160, 170))
        d.ellipse([cx - r, cy - r * 0.9, cx + r, cy + r * 0.9], fill=fur)
    else:            # dog: wider head, long floppy ears hanging down the sides
        d.ellipse([cx - r * 1.05, cy - r, cx + r * 1.05, cy + r], fill=fur)
        for side in (-1, 1):
            ex = cx + side * r * 0.95
            d.ellipse([ex - r * 0.32, cy - r * 0.75, ex + r * 0.32, cy + r * 0.75], fill=dark)
        d.ellipse([cx - r * 0.5, cy + r * 0.05, cx + r * 0.5, cy + r * 0.7], fill=tuple(min(255, c + 40) for c in fur))
    eye_y, eye_dx = cy - r * 0.2, r * 0.42
    for side in (-1, 1):
        ex = cx + side * eye_dx
        if label == 0:   # almond eyes, slit pupils
            d.ellipse([ex - r * 0.2, eye_y - r * 0.12, ex + r * 0.2, eye_y + r * 0.12], fill=(170, 200, 60))
            d.ellipse([ex - r * 0.04, eye_y - r * 0.11, ex + r * 0.04, eye_y + r * 0.11], fill=(10, 10, 10))
        else:            # round dark eyes
            d.ellipse([ex - r * 0.13, eye_y - r * 0.13, ex + r * 0.13, eye_y + r * 0.13], fill=(25, 20, 15))
    if label == 0:   # small pink triangle nose + whiskers
        ny = cy + r * 0.15
        d.polygon([(cx - r * 0.1, ny), (cx + r * 0.1, ny), (cx, ny + r * 0.12)], fill=(230, 120, 140))
        for side in (-1, 1):
            for k in (-1, 0, 1):
                d.line([(cx + side * r * 0.15, ny + r * 0.1), (cx + side * r * 1.1, ny + k * r * 0.2)],
                       fill=(30, 30, 30), width=max(1, s // 96))
    else:            # big black nose, mouth, sometimes a tongue
        d.ellipse([cx - r * 0.2, cy + r * 0.12, cx + r * 0.2, cy + r * 0.35], fill=(15, 15, 15))
        if rng.random() < 0.6:
            d.ellipse([cx - r * 0.13, cy + r * 0.5, cx + r * 0.13, cy + r * 0.85], fill=(235, 90, 110))
    img = img.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BILINEAR, fillcolor=bg)
    img = img.resize((size, size), Image.Resampling.LANCZOS)
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
    arr = np.asarray(img, np.int16) + np.random.default_rng(rng.randint(0, 2**31)).integers(-8, 9, (size, size, 3))
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def synthetic_image(label: int, index: int, size: int = 64, seed: int = 0) -> Image.Image:
    """One synthetic cat (label 0) or dog (label 1) picture; the same arguments give the same pixels."""
    return _draw_animal(label, size, random.Random(f"{seed}-{label}-{index}"))


def make_synthetic_dataset(out_dir: str | Path | None = None, n_per_class: int = 100, size: int = 64,
                           seed: int = 0) -> Path:
    """Write ``cat.{i}.png`` / ``dog.{i}.png`` (Kaggle layout) plus a SYNTHETIC.txt marker; returns the folder.

    Reuses the folder when it already holds the same set (same count, size and seed).
    """
    out = Path(out_dir) if out_dir else output_dir("ch03", "cats_dogs", "synthetic")
    out.mkdir(parents=True, exist_ok=True)
    stamp = f"synthetic cats-vs-dogs cartoons: n_per_class={n_per_class} size={size} seed={seed}\n"
    marker = out / SYNTHETIC_MARKER
    if marker.is_file() and marker.read_text() == stamp:
        return out
    for old in out.glob("*.png"):
        old.unlink()
    for label, name in enumerate(CLASSES):
        for i in range(n_per_class):
            synthetic_image(label, i, size, seed).save(out / f"{name}.{i}.png")   # PNG: byte-identical reruns
    marker.write_text(stamp)
    return out


@dataclass
class Config:
    out: str | None = arg(None, "output folder (default: outputs/ch03/cats_dogs/synthetic)")
    n_per_class: int = arg(100, "synthetic images per class")
    size: int = arg(64, "image side in pixels")
    seed: int = arg(0, "random seed (same seed -> same pictures)")
    check: str | None = arg(None, "instead of generating, report what the loader finds in FOLDER", metavar="FOLDER")


def main(cfg: Config) -> dict:
    if cfg.check:
        samples, layout = find_samples(cfg.check)
        counts = {c: sum(lab == i for _, lab in samples) for i, c in enumerate(CLASSES)}
        print(f"{cfg.check}: {len(samples)} images, layout = {layout}, per class = {counts}")
        return {"folder": Path(cfg.check), "layout": layout, "counts": counts}
    folder = make_synthetic_dataset(cfg.out, cfg.n_per_class, cfg.size, cfg.seed)
    samples, layout = find_samples(folder)
    print(f"synthetic set: {len(samples)} images ({cfg.n_per_class} per class, {cfg.size}px) in {folder}")
    return {"folder": folder, "layout": layout, "counts": {c: cfg.n_per_class for c in CLASSES}}


if __name__ == "__main__":
    run(main, Config, __doc__)
