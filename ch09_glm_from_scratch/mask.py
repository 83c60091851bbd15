"""9.1.4 GLM“三角掩码”与“错位”输入输出格式 — the causal mask and the shifted input/label layout.

* Triangular (causal) mask: position t may attend to positions 0..t only. ChatGLM3 uses this plain lower
  triangle everywhere (plus the padding columns). The original GLM / ChatGLM-6B v1 used a *prefix-LM* mask
  instead: the prompt sees itself bidirectionally and only the generated part is causal; both are drawn here.
* With a KV cache, the new queries are the LAST rows of a bigger triangle: query i (absolute position past+i)
  sees keys 0..past+i.
* Shifted ("错位") layout: the model reads tokens 0..n-2 and is trained to predict tokens 1..n-1 — the label
  at position t is the input at position t+1. ChatGLM3's own loss shifts inside the model
  (``logits[:, :-1]`` vs ``labels[:, 1:]``); our trainer cuts windows already shifted (``x = w[:-1], y = w[1:]``).

Run:  python ch09_glm_from_scratch/mask.py      (prints both, writes outputs/ch09/mask.png)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

if __package__ in (None, ""):
    import sys  # run as a script (`python chNN/x.py`): make the repository importable
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import arg

IGNORE_INDEX = -100  # 不参与 loss 的标签（PyTorch cross_entropy 的默认 ignore_index）


def causal_mask(query_len: int, past_len: int = 0, device=None) -> torch.Tensor:
    """Bool ``[query_len, past_len + query_len]``; True = may attend. Query i sits at position past_len + i."""
    keys = torch.arange(past_len + query_len, device=device)
    queries = torch.arange(past_len, past_len + query_len, device=device)
    return keys[None, :] <= queries[:, None]


def prefix_lm_mask(seq_len: int, prefix_len: int) -> torch.Tensor:
    """GLM-130B / ChatGLM-6B v1 style: the first ``prefix_len`` tokens see each other both ways (not ChatGLM3)."""
    mask = causal_mask(seq_len)
    mask[:, :prefix_len] = True
    return mask


def attention_mask_4d(query_len: int, past_len: int = 0, padding_mask: torch.Tensor | None = None,
                      device=None) -> torch.Tensor:
    """The mask the attention layers take: bool ``[batch or 1, 1, query_len, past_len + query_len]``.

    ``padding_mask`` (``[batch, past_len + query_len]``, 1 = real token, 0 = padding) hides padded keys.
    """
    mask = causal_mask(query_len, past_len, device=device)[None, None]
    if padding_mask is not None:
        mask = mask & padding_mask.bool()[:, None, None, :]
    return mask


def shift_for_next_token(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, labels) = (ids[..., :-1], ids[..., 1:])``: label t is the token that follows input t."""
    return ids[..., :-1], ids[..., 1:]


def masked_labels(ids: torch.Tensor, prompt_len: int) -> torch.Tensor:
    """Labels for SFT: the prompt positions get ``IGNORE_INDEX`` so only the answer is learned."""
    labels = ids.clone()
    labels[..., :prompt_len] = IGNORE_INDEX
    return labels


@dataclass
class MaskDemoConfig:
    text: str = arg("床前明月光，疑是地上霜。", "the text shown as input/label rows (one character = one token)")
    prompt_len: int = arg(6, "prompt length for the prefix-LM comparison and the SFT label example")
    plot: bool = arg(True, "write the PNG")


def main(cfg: MaskDemoConfig | None = None) -> dict:
    """Print the masks and the shifted layout for a short text; return them."""
    cfg = cfg or MaskDemoConfig()
    chars = list(cfg.text)
    ids = torch.arange(len(chars))  # 演示用：第 i 个字的 id 就是 i
    inputs, labels = shift_for_next_token(ids)
    n = len(inputs)
    print("错位 (shifted) layout: the model reads row 'input' and must predict row 'label'")
    print("  position " + " ".join(f"{i:>2d}" for i in range(n)))
    print("  input    " + " ".join(f"{chars[i]:>1s}" for i in inputs.tolist()))
    print("  label    " + " ".join(f"{chars[i]:>1s}" for i in labels.tolist()))

    mask = causal_mask(n)
    print(f"\n三角 (causal) mask, {n}x{n}, 1 = may attend (row = query, column = key):")
    for row in mask.int().tolist():
        print("  " + " ".join(map(str, row)))
    additive = torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))
    print("  as added to the scores before softmax (first 4 rows/cols):")
    print("  " + str(additive[:4, :4]).replace("\n", "\n  "))

    cached = causal_mask(2, past_len=n - 2)
    print(f"\nwith a KV cache of {n - 2} tokens, 2 new queries use the last 2 rows:")
    for row in cached.int().tolist():
        print("  " + " ".join(map(str, row)))

    sft = masked_labels(ids, cfg.prompt_len)
    print(f"\nSFT labels (prompt of {cfg.prompt_len} tokens masked with {IGNORE_INDEX}): {sft.tolist()}")
    results = {"inputs": inputs, "labels": labels, "mask": mask, "cached_mask": cached, "sft_labels": sft}
    if cfg.plot:
        results["png"] = str(_plot(chars, mask, prefix_lm_mask(n, cfg.prompt_len), cfg))
        print(f"picture: {results['png']}")
    return results


def _plot(chars, mask, prefix_mask, cfg):
    from common.paths import output_dir
    from common.plots import pyplot, save

    plt = pyplot()
    n = mask.shape[0]
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.8), gridspec_kw={"width_ratios": [1, 1, 1.2]})
    ticks = [f"{i}\n{chars[i]}" for i in range(n)]
    for ax, m, title in [(axes[0], mask, "ChatGLM3: causal mask 三角掩码"),
                         (axes[1], prefix_mask, f"GLM / ChatGLM-6B v1: prefix-LM mask\n(prefix = {cfg.prompt_len})")]:
        ax.imshow(m.numpy(), cmap="Blues", vmin=0, vmax=1.4)
        ax.set_xticks(range(n), ticks, fontsize=8)
        ax.set_yticks(range(n), ticks, fontsize=8)
        ax.set_xlabel("key (being looked at)")
        ax.set_ylabel("query (looking)")
        ax.set_title(title)
    # 错位：输入行与标签行，箭头表示“读到第 t 个字，预测第 t+1 个字”
    ax = axes[2]
    for t in range(n):
        ax.text(t, 1, chars[t], ha="center", va="center", fontsize=15,
                bbox=dict(boxstyle="round", fc="#dbe9f6"))
        ax.text(t, 0, chars[t + 1], ha="center", va="center", fontsize=15,
                bbox=dict(boxstyle="round", fc="#fde0c5"))
        ax.annotate("", xy=(t, 0.25), xytext=(t, 0.75), arrowprops=dict(arrowstyle="->"))
    ax.text(-0.8, 1, "input", ha="right", va="center")
    ax.text(-0.8, 0, "label", ha="right", va="center")
    ax.set_xlim(-2.5, n)
    ax.set_ylim(-0.6, 1.6)
    ax.axis("off")
    ax.set_title("“错位” layout: label[t] = input[t+1]\n读到第 t 个字，预测第 t+1 个字")
    return save(fig, output_dir("ch09") / "mask.png")


if __name__ == "__main__":
    from common.cli import run

    run(main, MaskDemoConfig, __doc__)
