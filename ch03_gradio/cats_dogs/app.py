"""3.2.4 可视化训练流程 + 3.2.5 使用训练好的模型完成gradio可视化图像分类 — train and predict in one page.

Tab "训练 Train": pick a data folder (empty = the synthetic cartoon set), press the button; the handler is a
generator around :func:`train.iter_training`, so after every epoch it yields new loss/accuracy curves
(``gr.LinePlot``) and a log line — the page updates while the model trains. "停止 Stop" cancels it.
Tab "预测 Predict": upload a picture (or click an example) -> class probabilities in ``gr.Label``.

The best epoch is saved to ``outputs/ch03/cats_dogs/cats_dogs_resnet.safetensors`` (or ``--weights``) and loaded
again at start-up, so predictions work right after a restart; the page says which data the loaded model saw.

    python -m ch03_gradio.cats_dogs.app                                   # synthetic data, CPU, ~3 s/epoch
    python -m ch03_gradio.cats_dogs.app --data-dir ~/data/dogs-vs-cats/train --max-per-class 1000 --width 32
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, fields, replace
from pathlib import Path

import gradio as gr
import pandas as pd

from ch03_gradio.cats_dogs.data import CLASSES, make_synthetic_dataset
from ch03_gradio.cats_dogs.train import (TrainConfig, default_weights_path, format_event,
                                         iter_training, load_checkpoint, predict)
from ch03_gradio.gradio_basics.launching import LaunchConfig, serve
from common.cli import run

SYNTHETIC_WARNING = ("⚠️ **合成数据 SYNTHETIC data**: 训练用的是 `data.py` 画出来的卡通猫狗，模型认不出真实照片。"
                     "Training on cartoon cats/dogs drawn by `data.py` — the model will not recognise real photos. "
                     "Put the Kaggle *Dogs vs. Cats* `train/` folder (or `cats/` + `dogs/`) in the data box "
                     "for the real thing.")


@dataclass
class Config(LaunchConfig, TrainConfig):
    pass


class ModelHolder:
    """The model the Predict tab uses; reloads by itself when the weights file changes (after training)."""

    def __init__(self, path: Path):
        self.path, self.model, self.meta, self._mtime = path, None, None, None
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            mtime = self.path.stat().st_mtime_ns if self.path.is_file() else None
            if mtime != self._mtime:
                self.model, self.meta = load_checkpoint(self.path) if mtime else (None, None)
                self._mtime = mtime
            return self.model, self.meta

    def status(self) -> str:
        _, meta = self.get()
        if meta is None:
            return f"还没有模型 no model yet at `{self.path}` — 先在“训练”页训练 / train in the first tab."
        data = "合成卡通 SYNTHETIC cartoons" if meta.get("synthetic") else f"真实图片 real images ({meta['layout']})"
        return (f"已加载 loaded `{self.path.name}`: epoch {meta['epoch']}, val acc {meta['val_acc']:.3f}, "
                f"{meta['image_size']}px, width {meta['width']}; trained on {data}")


def data_banner(data_dir: str | None) -> str:
    return SYNTHETIC_WARNING if not (data_dir or "").strip() else f"数据 data: `{data_dir}`"


def curves(history: list[dict]) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Long-format tables for LinePlot (one row per epoch and split)."""
    if not history:
        return None, None   # None, not an empty frame: a LinePlot that starts empty never draws lines later
    loss = pd.DataFrame([{"epoch": h["epoch"], "loss": h[f"{s}_loss"], "split": s}
                         for h in history for s in ("train", "val")])
    acc = pd.DataFrame([{"epoch": h["epoch"], "accuracy": h[f"{s}_acc"], "split": s}
                        for h in history for s in ("train", "val")])
    return loss, acc


def main(cfg: Config) -> gr.Blocks:
    train_defaults = TrainConfig(**{f.name: getattr(cfg, f.name) for f in fields(TrainConfig)})
    weights = Path(cfg.weights) if cfg.weights else default_weights_path()
    holder = ModelHolder(weights)
    print(f"[cats_dogs] {holder.status()}")
    example_dir = make_synthetic_dataset(n_per_class=cfg.synthetic_per_class, size=cfg.image_size, seed=cfg.seed)
    examples = [[str(example_dir / f"{c}.{i}.png")] for i in (0, 1) for c in CLASSES]

    def train_ui(data_dir: str, epochs: float, lr: float, batch_size: float):
        tcfg = replace(train_defaults, data_dir=data_dir.strip() or None, epochs=int(epochs), lr=float(lr),
                       batch_size=int(batch_size), weights=str(weights))
        history, log = [], []
        banner = data_banner(data_dir)
        try:
            for ev in iter_training(tcfg):
                log.append(format_event(ev))
                if ev["event"] == "start" and ev["synthetic"]:
                    banner = SYNTHETIC_WARNING
                elif ev["event"] == "start":
                    banner = f"真实数据 real images: {ev['layout']} — train {ev['n_train']} / val {ev['n_val']}"
                if ev["event"] == "epoch":
                    history.append(ev)
                loss_df, acc_df = curves(history)
                yield loss_df, acc_df, "\n".join(log), banner, holder.status()
        except FileNotFoundError as exc:     # a wrong folder: show the fix in the page, not a stack trace
            raise gr.Error(str(exc)) from exc

    def predict_ui(image):
        if image is None:
            raise gr.Error("请先上传图片 / upload a picture first")
        model, meta = holder.get()
        if model is None:
            raise gr.Error("还没有训练好的模型 / no trained model yet: press 开始训练 in the first tab")
        return predict(model, meta, image), holder.status()

    with gr.Blocks(title="3.2 猫狗分类 cats vs dogs", analytics_enabled=False) as demo:
        gr.Markdown("# 3.2 猫狗分类：可视化训练与预测 cats vs dogs — train and predict")
        with gr.Tab("训练 Train"):
            banner = gr.Markdown(data_banner(cfg.data_dir), elem_id="data-banner")
            with gr.Row():
                data_dir = gr.Textbox(value=cfg.data_dir or "", label="数据文件夹 data folder",
                                      placeholder="留空 = 合成卡通数据 / empty = synthetic cartoons", scale=3)
                epochs = gr.Slider(1, 50, value=cfg.epochs, step=1, label="轮数 epochs")
                lr = gr.Number(value=cfg.lr, label="学习率 learning rate")
                batch = gr.Slider(4, 256, value=cfg.batch_size, step=4, label="批大小 batch size")
            with gr.Row():
                start = gr.Button("开始训练 Start training", variant="primary", elem_id="train-btn")
                stop = gr.Button("停止 Stop", elem_id="stop-btn")
            with gr.Row():
                loss_plot = gr.LinePlot(None, x="epoch", y="loss", color="split", title="损失 loss",
                                        color_map={"train": "#2563eb", "val": "#f97316"}, height=280,
                                        elem_id="loss-plot")
                acc_plot = gr.LinePlot(None, x="epoch", y="accuracy", color="split", title="准确率 accuracy",
                                       color_map={"train": "#2563eb", "val": "#f97316"}, y_lim=[0, 1],
                                       height=280, elem_id="acc-plot")
            log = gr.Textbox(label="训练日志 log", lines=10, max_lines=20, autoscroll=True, elem_id="train-log")
        with gr.Tab("预测 Predict"):
            status = gr.Markdown(holder.status(), elem_id="model-status")
            with gr.Row():
                with gr.Column():
                    image = gr.Image(type="pil", label="上传图片 upload a cat or dog", height=260,
                                     elem_id="predict-image")
                    go = gr.Button("预测 Predict", variant="primary", elem_id="predict-btn")
                label = gr.Label(num_top_classes=len(CLASSES), label="类别概率 class probabilities",
                                 elem_id="predict-label")
            gr.Examples(examples, inputs=image, label="合成示例 synthetic examples (cat, dog, cat, dog)")

        train_event = start.click(train_ui, inputs=[data_dir, epochs, lr, batch],
                                  outputs=[loss_plot, acc_plot, log, banner, status])
        stop.click(None, cancels=[train_event])
        go.click(predict_ui, inputs=image, outputs=[label, status])
        demo.load(holder.status, outputs=status)      # fresh status for every new browser tab
    return serve(demo, cfg)   # starts the server unless --no-launch


if __name__ == "__main__":
    # the training flags pre-fill the page (data folder, epochs, ...); the launch flags start the server
    run(main, Config, __doc__)
