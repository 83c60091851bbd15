"""Pluggable frame colourisers for the 3.1.6 video service.

Every colouriser has ``name``, ``label`` (shown in the UI), ``learned`` (is it a trained model?) and
``colorize(frames) -> frames`` on a list of RGB ``uint8`` arrays (H, W, 3). Three are provided:

``pseudo`` (default, offline, instant)
    :class:`PseudoColorizer` — classical pseudo-colour: the brightness of each pixel is kept and a tint is
    looked up from it (cool shadows, warm mid-tones, pale highlights; or sepia). It knows nothing about the
    content — grass does not become green — **it is not a learned colouriser**; it is here so the whole service
    runs without model files.

``zhang`` (real model: Zhang, Isola, Efros, "Colorful Image Colorization", ECCV 2016)
    :class:`ZhangColorizer` — the classic OpenCV-DNN colouriser. Put these three files in one folder and pass
    it with ``--model-dir``:
    ``colorization_deploy_v2.prototxt``, ``colorization_release_v2.caffemodel`` (≈129 MB),
    ``pts_in_hull.npy`` (the 313 ab colour bins) — the files OpenCV's ``samples/dnn/colorization.py`` uses
    (prototxt and pts_in_hull.npy are in github.com/richzhang/colorization; the caffemodel is the authors'
    "release v2" download). OpenCV 5 dropped the Caffe importer, so besides ``cv2.dnn.readNetFromCaffe``
    (OpenCV 4.x) this module carries a small PyTorch port of the same network that reads the ``.caffemodel``
    directly (a protobuf reader, no caffe needed); ``engine="auto"`` picks OpenCV when it can, else torch.

``modelscope`` (real model, if ``pip install modelscope`` and a local model folder)
    :class:`ModelScopeColorizer` — ModelScope's ``image-colorization`` pipeline (e.g. DDColor) applied per
    frame, or the ``video-colorization`` pipeline on the whole file; the task is read from the model folder's
    ``configuration.json``. Nothing is downloaded: the folder must already be on disk.
"""
from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np


class Colorizer(Protocol):
    name: str
    label: str
    learned: bool

    def colorize(self, frames: list[np.ndarray]) -> list[np.ndarray]: ...


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float32 Lab (L in [0, 100], a/b roughly [-110, 110])."""
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB)
    return (rgb.clip(0, 1) * 255 + 0.5).astype(np.uint8)


# --------------------------------------------------------------------------------------------------------------
# 1) classical pseudo-colour (the offline default)
# --------------------------------------------------------------------------------------------------------------
# (L, a, b) anchor points; the tint of every brightness is interpolated between them.
PALETTES = {
    "split-tone": [(0, 0, -12), (25, 4, -22), (55, 14, 22), (80, 6, 30), (100, 0, 8)],
    "sepia": [(0, 0, 0), (30, 8, 14), (60, 10, 24), (85, 6, 20), (100, 0, 4)],
}


class PseudoColorizer:
    """Brightness -> tint lookup in Lab space; brightness (L) is left exactly as it was."""

    name = "pseudo"
    learned = False

    def __init__(self, palette: str = "split-tone", strength: float = 1.0):
        if palette not in PALETTES:
            raise ValueError(f"unknown palette {palette!r}; choose one of {sorted(PALETTES)}")
        self.palette, self.strength = palette, float(strength)
        anchors = np.array(PALETTES[palette], np.float32)
        levels = np.linspace(0, 100, 1001, dtype=np.float32)
        self._lut_a = np.interp(levels, anchors[:, 0], anchors[:, 1]).astype(np.float32)
        self._lut_b = np.interp(levels, anchors[:, 0], anchors[:, 2]).astype(np.float32)
        self.label = (f"经典伪彩色 classical pseudo-colour ({palette}): brightness→tint lookup, "
                      f"NOT a learned colouriser")

    def colorize(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        out = []
        for frame in frames:
            lab = rgb_to_lab(frame[..., :3])
            idx = np.clip(lab[..., 0] * 10, 0, 1000).astype(np.int32)
            lab[..., 1] = self.strength * self._lut_a[idx]
            lab[..., 2] = self.strength * self._lut_b[idx]
            out.append(lab_to_rgb(lab))
        return out


# --------------------------------------------------------------------------------------------------------------
# 2) Zhang et al. ECCV 2016 — OpenCV DNN (4.x) or the PyTorch port below
# --------------------------------------------------------------------------------------------------------------
ZHANG_FILES = ("colorization_deploy_v2.prototxt", "colorization_release_v2.caffemodel", "pts_in_hull.npy")
ZHANG_INPUT = 224          # the network sees L at 224x224 and predicts ab at 56x56
ZHANG_L_MEAN = 50.0
ZHANG_SOFTMAX_SCALE = 2.606   # "conv8_313_rh" (annealed-mean temperature 0.38 -> 1/0.38)

# (caffe layer name, kind, stride, pad, dilation) of colorization_deploy_v2.prototxt; "relu" is implied after
# every conv/deconv except the last two; channel counts and kernel sizes come from the weights themselves.
ZHANG_LAYERS: list[tuple[str, str, int, int, int]] = [
    ("bw_conv1_1", "conv", 1, 1, 1), ("conv1_2", "conv", 2, 1, 1), ("conv1_2norm", "bn", 0, 0, 0),
    ("conv2_1", "conv", 1, 1, 1), ("conv2_2", "conv", 2, 1, 1), ("conv2_2norm", "bn", 0, 0, 0),
    ("conv3_1", "conv", 1, 1, 1), ("conv3_2", "conv", 1, 1, 1), ("conv3_3", "conv", 2, 1, 1),
    ("conv3_3norm", "bn", 0, 0, 0),
    ("conv4_1", "conv", 1, 1, 1), ("conv4_2", "conv", 1, 1, 1), ("conv4_3", "conv", 1, 1, 1),
    ("conv4_3norm", "bn", 0, 0, 0),
    ("conv5_1", "conv", 1, 2, 2), ("conv5_2", "conv", 1, 2, 2), ("conv5_3", "conv", 1, 2, 2),
    ("conv5_3norm", "bn", 0, 0, 0),
    ("conv6_1", "conv", 1, 2, 2), ("conv6_2", "conv", 1, 2, 2), ("conv6_3", "conv", 1, 2, 2),
    ("conv6_3norm", "bn", 0, 0, 0),
    ("conv7_1", "conv", 1, 1, 1), ("conv7_2", "conv", 1, 1, 1), ("conv7_3", "conv", 1, 1, 1),
    ("conv7_3norm", "bn", 0, 0, 0),
    ("conv8_1", "deconv", 2, 1, 1), ("conv8_2", "conv", 1, 1, 1), ("conv8_3", "conv", 1, 1, 1),
    ("conv8_313", "logits", 1, 0, 1),
]


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _fields(buf: memoryview) -> Iterator[tuple[int, int, object]]:
    """Protobuf wire format: yield (field number, wire type, value); length-delimited values stay zero-copy."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            length, i = _varint(buf, i)
            value, i = buf[i:i + length], i + length
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} (is this a .caffemodel?)")
        yield field, wire, value


def _parse_blob(buf: memoryview) -> np.ndarray:
    """caffe.BlobProto: shape=7 {dim=1}, data=5 (packed float), double_data=8, legacy num/channels/height/width=1..4."""
    shape: list[int] = []
    legacy = [0, 0, 0, 0]
    chunks: list[np.ndarray] = []
    for field, wire, value in _fields(buf):
        if field == 7:
            for f2, w2, v2 in _fields(value):
                if f2 == 1 and w2 == 2:            # packed dims
                    j = 0
                    while j < len(v2):
                        d, j = _varint(v2, j)
                        shape.append(d)
                elif f2 == 1:
                    shape.append(v2)
        elif field == 5:
            chunks.append(np.frombuffer(value, "<f4") if wire == 2 else np.array(struct.unpack("<f", value), "<f4"))
        elif field == 8:
            chunks.append(np.frombuffer(value, "<f8").astype(np.float32))
        elif field in (1, 2, 3, 4) and wire == 0:
            legacy[field - 1] = value
    data = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if not shape and any(legacy):
        shape = legacy
    return data.reshape(shape) if shape and int(np.prod(shape)) == data.size else data


def read_caffemodel(path: str | Path) -> dict[str, list[np.ndarray]]:
    """{layer name: [blob arrays]} from a binary .caffemodel (new ``layer`` and old V1 ``layers`` formats)."""
    raw = memoryview(Path(path).read_bytes())
    blobs: dict[str, list[np.ndarray]] = {}
    for field, wire, value in _fields(raw):
        if wire != 2 or field not in (100, 2):
            continue
        name_field, blob_field = (1, 7) if field == 100 else (4, 6)   # LayerParameter vs V1LayerParameter
        name, layer_blobs = None, []
        for f2, w2, v2 in _fields(value):
            if f2 == name_field and w2 == 2:
                name = bytes(v2).decode("utf-8")
            elif f2 == blob_field and w2 == 2:
                layer_blobs.append(_parse_blob(v2))
        if name is not None and layer_blobs:
            blobs[name] = layer_blobs
    return blobs


def build_zhang_net(blobs: dict[str, list[np.ndarray]], pts_in_hull: np.ndarray):
    """The ECCV16 network as a ``torch.nn.Module`` with the caffe weights loaded (eval mode).

    Input: L channel minus 50, shape (N, 1, 224, 224). Output: ab, shape (N, 2, 56, 56).
    """
    import torch
    from torch import nn

    class ZhangNet(nn.Module):
        def __init__(self):
            super().__init__()
            layers: list[nn.Module] = []
            for name, kind, stride, pad, dil in ZHANG_LAYERS:
                if name not in blobs:
                    raise KeyError(f"layer {name!r} missing from the caffemodel (is it colorization_release_v2?)")
                b = blobs[name]
                if kind == "bn":
                    scale = float(b[2].reshape(-1)[0]) if len(b) > 2 else 1.0
                    scale = 0.0 if scale == 0 else 1.0 / scale
                    bn = nn.BatchNorm2d(b[0].size, eps=1e-5, affine=False)
                    bn.running_mean.copy_(torch.from_numpy(b[0].reshape(-1) * scale))
                    bn.running_var.copy_(torch.from_numpy(b[1].reshape(-1) * scale))
                    layers.append(bn)
                    continue
                w = torch.from_numpy(np.ascontiguousarray(b[0], np.float32))
                if kind == "deconv":   # caffe Deconvolution weight: (in, out, k, k), as in ConvTranspose2d
                    conv = nn.ConvTranspose2d(w.shape[0], w.shape[1], w.shape[2], stride, pad, dilation=dil)
                else:
                    conv = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], stride, pad, dilation=dil)
                conv.weight.data.copy_(w)
                conv.bias.data.copy_(torch.from_numpy(b[1].reshape(-1).astype(np.float32)))
                layers.append(conv)
                if kind != "logits":
                    layers.append(nn.ReLU(inplace=True))
            self.body = nn.Sequential(*layers)
            pts = np.asarray(pts_in_hull, np.float32)            # (Q, 2) ab centre of every colour bin
            self.decode = nn.Conv2d(pts.shape[0], 2, 1, bias=False)   # "class8_ab": expectation over bins
            self.decode.weight.data.copy_(torch.from_numpy(pts.T.reshape(2, -1, 1, 1).copy()))

        def forward(self, l_centered):
            logits = self.body(l_centered) * ZHANG_SOFTMAX_SCALE   # "conv8_313_rh"
            return self.decode(torch.softmax(logits, dim=1))        # "class8_313_rh" -> "class8_ab"

    return ZhangNet().eval()


def find_zhang_files(model_dir: str | Path) -> dict[str, Path]:
    model_dir = Path(model_dir)
    found = {name: model_dir / name for name in ZHANG_FILES}
    missing = [n for n, p in found.items() if not p.is_file() and not n.endswith(".prototxt")]
    if missing:
        raise FileNotFoundError(
            f"{model_dir} lacks {', '.join(missing)}. To fix: put {', '.join(ZHANG_FILES)} in one folder "
            f"(see the module docstring of ch03_gradio/video_colorize/colorizers.py) and pass --model-dir.")
    return found


class ZhangColorizer:
    """Zhang et al. 2016 through OpenCV DNN (OpenCV 4.x) or the PyTorch port (any OpenCV, CPU or CUDA)."""

    name = "zhang"
    learned = True

    def __init__(self, model_dir: str | Path, engine: str = "auto", device: str = "cpu", batch_size: int = 8):
        files = find_zhang_files(model_dir)
        pts = np.load(files["pts_in_hull.npy"], allow_pickle=False).astype(np.float32)   # (313, 2)
        has_cv_caffe = hasattr(cv2.dnn, "readNetFromCaffe") and files["colorization_deploy_v2.prototxt"].is_file()
        if engine == "auto":
            engine = "opencv" if has_cv_caffe else "torch"
        if engine == "opencv" and not has_cv_caffe:
            raise RuntimeError("engine='opencv' needs OpenCV 4.x (cv2.dnn.readNetFromCaffe) and the .prototxt. "
                               "To fix: use engine='torch', or pip install 'opencv-python-headless<5'.")
        self.engine, self.batch_size, self.device = engine, int(batch_size), device
        if engine == "opencv":
            net = cv2.dnn.readNetFromCaffe(str(files["colorization_deploy_v2.prototxt"]),
                                           str(files["colorization_release_v2.caffemodel"]))
            net.getLayer(net.getLayerId("class8_ab")).blobs = [pts.T.reshape(2, -1, 1, 1).copy()]
            net.getLayer(net.getLayerId("conv8_313_rh")).blobs = [
                np.full((1, pts.shape[0]), ZHANG_SOFTMAX_SCALE, np.float32)]
            self._net = net
        else:
            self._net = build_zhang_net(read_caffemodel(files["colorization_release_v2.caffemodel"]), pts)
            self._net.to(device)
        self.label = f"Zhang et al. ECCV16 learned colouriser ({engine} engine)"

    def predict_ab(self, l_centered: np.ndarray) -> np.ndarray:
        """(N, 224, 224) L-50 -> (N, h, w, 2) ab predictions."""
        if self.engine == "opencv":
            outs = []
            for l_img in l_centered:
                self._net.setInput(cv2.dnn.blobFromImage(np.ascontiguousarray(l_img, np.float32)))
                outs.append(self._net.forward()[0].transpose(1, 2, 0))
            return np.stack(outs)
        import torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(l_centered, np.float32))[:, None].to(self.device)
            return self._net(x).permute(0, 2, 3, 1).float().cpu().numpy()

    def colorize(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for start in range(0, len(frames), self.batch_size):
            batch = frames[start:start + self.batch_size]
            small = [rgb_to_lab(cv2.resize(f[..., :3], (ZHANG_INPUT, ZHANG_INPUT), interpolation=cv2.INTER_AREA))
                     for f in batch]
            ab = self.predict_ab(np.stack([lab[..., 0] - ZHANG_L_MEAN for lab in small]))
            for frame, ab_small in zip(batch, ab):
                lab = rgb_to_lab(frame[..., :3])        # full-resolution L, predicted colour upsampled
                lab[..., 1:] = cv2.resize(ab_small, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_CUBIC)
                out.append(lab_to_rgb(lab))
        return out


# --------------------------------------------------------------------------------------------------------------
# 3) ModelScope pipelines (optional dependency, local model folder only)
# --------------------------------------------------------------------------------------------------------------
class ModelScopeColorizer:
    """ModelScope ``image-colorization`` (per frame) or ``video-colorization`` (whole file) from a local folder."""

    name = "modelscope"
    learned = True

    def __init__(self, model_dir: str | Path):
        model_dir = Path(model_dir)
        cfg_file = model_dir / "configuration.json"
        if not cfg_file.is_file():
            raise FileNotFoundError(f"{cfg_file} not found: pass a downloaded ModelScope model folder")
        try:
            from modelscope.outputs import OutputKeys
            from modelscope.pipelines import pipeline
        except ImportError as exc:
            raise ImportError("the modelscope colouriser needs ModelScope. To fix: pip install modelscope") from exc
        self.task = json.loads(cfg_file.read_text(encoding="utf-8")).get("task", "image-colorization")
        if self.task not in ("image-colorization", "video-colorization"):
            raise ValueError(f"{model_dir} is a {self.task!r} model, not image-/video-colorization")
        self._keys = OutputKeys
        self._pipe = pipeline(self.task, model=str(model_dir))
        self.label = f"ModelScope {self.task} ({model_dir.name}) learned colouriser"

    def colorize(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        if self.task != "image-colorization":
            raise TypeError("a video-colorization model works on whole files: use colorize_file()")
        out = []
        for frame in frames:
            bgr = self._pipe(np.ascontiguousarray(frame[..., ::-1]))[self._keys.OUTPUT_IMG]
            bgr = np.asarray(bgr)
            if bgr.shape[:2] != frame.shape[:2]:
                bgr = cv2.resize(bgr, (frame.shape[1], frame.shape[0]))
            out.append(np.ascontiguousarray(bgr[..., ::-1]).astype(np.uint8))
        return out

    def colorize_file(self, video_path: str | Path) -> Path | None:
        """Whole-file path for video-colorization models (returns the pipeline's output file)."""
        if self.task != "video-colorization":
            return None
        return Path(self._pipe(str(video_path))[self._keys.OUTPUT_VIDEO])


COLORIZERS = ("auto", "pseudo", "zhang", "modelscope")


def make_colorizer(kind: str = "auto", model_dir: str | Path | None = None, *, palette: str = "split-tone",
                   strength: float = 1.0, engine: str = "auto", device: str = "cpu") -> Colorizer:
    """``auto``: Zhang if ``model_dir`` holds its files, ModelScope if it holds configuration.json, else pseudo."""
    if kind == "auto":
        if model_dir and (Path(model_dir) / ZHANG_FILES[1]).is_file():
            kind = "zhang"
        elif model_dir and (Path(model_dir) / "configuration.json").is_file():
            kind = "modelscope"
        else:
            if model_dir:
                print(f"[colorize] no model files in {model_dir}; using the classical pseudo-colour fallback")
            kind = "pseudo"
    if kind == "pseudo":
        return PseudoColorizer(palette, strength)
    if not model_dir:
        raise ValueError(f"the {kind!r} colouriser needs --model-dir")
    if kind == "zhang":
        return ZhangColorizer(model_dir, engine=engine, device=device)
    if kind == "modelscope":
        return ModelScopeColorizer(model_dir)
    raise ValueError(f"unknown colouriser {kind!r}; choose one of {COLORIZERS}")
