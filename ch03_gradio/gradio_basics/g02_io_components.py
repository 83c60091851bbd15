"""3.1.2 gradio输入与输出组件 — what each component hands to your function, and what it accepts back.

A component is used as an *input* (its value is preprocessed into a Python object for your function) or as an
*output* (your return value is postprocessed for the browser). The ``type=`` argument picks the Python form:

    gr.Textbox()                 -> str
    gr.Number(precision=0)       -> int            gr.Slider()  -> float
    gr.Checkbox()                -> bool           gr.Radio / gr.Dropdown -> str (or list with multiselect)
    gr.Image(type="numpy")       -> np.ndarray HxWx3 uint8  ("pil" -> PIL.Image, "filepath" -> str path)
    outputs: gr.Image accepts numpy / PIL / path; gr.Dataframe a pandas.DataFrame; gr.JSON any dict/list

Tab "图像 Image": numpy image in -> filtered numpy image out (sepia, invert, flip, blur — done with numpy/PIL).
Tab "表单 Form": typed inputs -> a DataFrame and a JSON document that show exactly what the function received.

Run:  python -m ch03_gradio.gradio_basics.g02_io_components
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image, ImageFilter

from ch03_gradio.gradio_basics.launching import LaunchConfig, serve
from common.cli import run

FILTERS = ["sepia 怀旧", "invert 反色", "flip 左右翻转", "blur 模糊"]


@dataclass
class Config(LaunchConfig):
    pass


def sample_image(size: int = 160) -> np.ndarray:
    """A colourful test picture drawn with numpy (no download needed)."""
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    img = np.stack([x, y, 1 - x * y], axis=-1)
    img[(x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.08] = [1.0, 0.85, 0.1]
    return (img * 255).astype(np.uint8)


def apply_filter(image: np.ndarray | None, name: str, strength: float) -> np.ndarray | None:
    """``gr.Image(type="numpy")`` gives an HxWx3 uint8 array (or None when empty)."""
    if image is None:
        return None
    if name.startswith("flip"):
        return image[:, ::-1]
    img = image.astype(np.float32)
    if name.startswith("sepia"):
        m = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)
        out = img @ m.T
    elif name.startswith("invert"):
        out = 255 - img
    else:
        out = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(1 + 4 * strength)), np.float32)
    mixed = (1 - strength) * img + strength * out   # strength blends the original and the filtered picture
    return np.clip(mixed, 0, 255).astype(np.uint8)


def describe_inputs(text: str, count: int, ratio: float, agree: bool, color: str, tags: list[str]):
    """Return what arrived, twice: as a table (gr.Dataframe) and as a document (gr.JSON)."""
    values = {"text": text, "count": count, "ratio": ratio, "agree": agree, "color": color, "tags": tags}
    table = pd.DataFrame(
        [{"component": k, "python type": type(v).__name__, "value": repr(v)} for k, v in values.items()]
    )
    return table, values


def main(cfg: Config) -> gr.Blocks:
    image_tab = gr.Interface(
        fn=apply_filter,
        inputs=[
            gr.Image(type="numpy", label="输入图像 input", value=sample_image()),
            gr.Radio(FILTERS, value=FILTERS[0], label="滤镜 filter"),
            gr.Slider(0, 1, value=1.0, step=0.05, label="强度 strength"),
        ],
        outputs=gr.Image(type="numpy", label="输出图像 output"),
        flagging_mode="never",
        analytics_enabled=False,
    )
    form_tab = gr.Interface(
        fn=describe_inputs,
        inputs=[
            gr.Textbox(label="Textbox", value="ChatGLM3"),
            gr.Number(label="Number (precision=0 -> int)", value=6, precision=0),
            gr.Slider(0, 1, value=0.5, label="Slider -> float"),
            gr.Checkbox(label="Checkbox -> bool", value=True),
            gr.Dropdown(["red", "green", "blue"], value="green", label="Dropdown -> str"),
            gr.CheckboxGroup(["gradio", "torch", "fastapi"], value=["gradio"], label="CheckboxGroup -> list"),
        ],
        outputs=[gr.Dataframe(label="收到的值 what the function received"), gr.JSON(label="JSON")],
        flagging_mode="never",
        analytics_enabled=False,
    )
    demo = gr.TabbedInterface([image_tab, form_tab], ["图像 Image", "表单 Form"],
                              title="3.1.2 输入与输出组件", analytics_enabled=False)
    return serve(demo, cfg)   # starts the server unless --no-launch


if __name__ == "__main__":
    run(main, Config, __doc__)
