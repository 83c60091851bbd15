"""3.2.2 模型的设计 — a small ResNet in plain PyTorch (no torchvision).

    stem      conv3x3 stride 2 -> BN -> ReLU                  (H/2)
    stage 1   BasicBlock x n, width w                          (H/2)
    stage 2   BasicBlock x n, width 2w, first block stride 2   (H/4)
    stage 3   BasicBlock x n, width 4w, first block stride 2   (H/8)
    head      global average pool -> dropout -> linear(num_classes)

A BasicBlock is two 3x3 convs with BatchNorm and a *shortcut* that adds the block's input to its output
(a 1x1 conv when the shape changes) — the residual connection that lets deep nets train (He et al., 2015).
Global average pooling makes the net accept any input size. ``width=16`` (~78 k parameters) learns the
synthetic set in a few CPU epochs; use ``width=32``/``blocks=2`` for real photos.

    python -m ch03_gradio.cats_dogs.model --width 16 --image-size 64     # prints the layer table and shapes
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from common.cli import arg, run


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class SmallResNet(nn.Module):
    def __init__(self, num_classes: int = 2, width: int = 16, blocks: int = 1, dropout: float = 0.2):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        stages, c_in = [], width
        for i, c_out in enumerate((width, 2 * width, 4 * width)):
            for j in range(blocks):
                stages.append(BasicBlock(c_in, c_out, stride=2 if (i > 0 and j == 0) else 1))
                c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(c_in, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised images -> (N, num_classes) logits."""
        return self.head(self.stages(self.stem(x)))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@dataclass
class Config:
    width: int = arg(16, "channels of the first stage (x2, x4 later)")
    blocks: int = arg(1, "BasicBlocks per stage")
    image_size: int = arg(64, "input side in pixels")


def main(cfg: Config) -> dict:
    model = SmallResNet(width=cfg.width, blocks=cfg.blocks).eval()
    x = torch.zeros(1, 3, cfg.image_size, cfg.image_size)
    shapes = {}
    with torch.no_grad():
        for name, module in [("stem", model.stem), *[(f"stages.{i}", b) for i, b in enumerate(model.stages)],
                             ("head", model.head)]:
            x = module(x)
            shapes[name] = tuple(x.shape)
            print(f"{name:10s} -> {tuple(x.shape)}")
    n = count_parameters(model)
    print(f"SmallResNet(width={cfg.width}, blocks={cfg.blocks}): {n:,} parameters")
    return {"parameters": n, "shapes": shapes}


if __name__ == "__main__":
    run(main, Config, __doc__)
