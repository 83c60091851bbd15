"""3.1.6 video colourisation: video I/O round trip, colourisers, the Zhang caffemodel reader/port, the UI handler."""
from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest

from ch03_gradio.video_colorize import colorizers as C
from ch03_gradio.video_colorize.colorize import Config, colorize_video, main
from ch03_gradio.gradio_basics.video_io import iter_frames, make_sample_video, probe, write_video


# ---------------------------------------------------------------------------------------------- video I/O
def test_write_and_read_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(7)]
    path = write_video(tmp_path / "noise.mp4", frames, fps=7)
    info = probe(path)
    assert (info.width, info.height) == (64, 48)
    assert info.fps == pytest.approx(7)
    back = list(iter_frames(path))
    assert len(back) == 7 and back[0].shape == (48, 64, 3) and back[0].dtype == np.uint8
    assert len(list(iter_frames(path, max_frames=3))) == 3


def test_written_video_is_browser_playable_h264(tmp_path):
    import subprocess

    import imageio_ffmpeg

    path = make_sample_video(tmp_path / "s.mp4", seconds=0.5, fps=8, width=32, height=24)
    err = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                         capture_output=True, text=True).stderr
    assert "h264" in err and "yuv420p" in err


def test_sample_video_is_grey_and_deterministic(tmp_path):
    a = list(iter_frames(make_sample_video(tmp_path / "a.mp4", seconds=0.5, fps=8, width=32, height=24)))
    b = list(iter_frames(make_sample_video(tmp_path / "b.mp4", seconds=0.5, fps=8, width=32, height=24)))
    assert len(a) == 4 and all(np.array_equal(x, y) for x, y in zip(a, b))
    spread = np.abs(a[0].astype(int) - a[0].mean(axis=-1, keepdims=True)).max()
    assert spread <= 6          # grey up to codec rounding


# ---------------------------------------------------------------------------------------------- colourisers
def test_pseudo_colorizer_keeps_brightness_and_adds_colour():
    grey = np.repeat(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], 3, axis=2).repeat(8, axis=0)
    out = C.PseudoColorizer("split-tone").colorize([grey])[0]
    assert out.shape == grey.shape and out.dtype == np.uint8
    l_in, l_out = C.rgb_to_lab(grey)[..., 0], C.rgb_to_lab(out)[..., 0]
    assert np.abs(l_in - l_out)[:, 8:56].mean() < 3.0              # luminance preserved (gamut clipping aside)
    assert np.abs(out.astype(int) - out.mean(axis=-1, keepdims=True)).max() > 10   # it is no longer grey
    assert C.PseudoColorizer("split-tone", strength=0).colorize([grey])[0].std(axis=-1).max() < 2
    assert not C.PseudoColorizer().learned and "NOT a learned" in C.PseudoColorizer().label


def test_make_colorizer_auto_falls_back_to_pseudo(tmp_path):
    assert isinstance(C.make_colorizer("auto"), C.PseudoColorizer)
    assert isinstance(C.make_colorizer("auto", tmp_path), C.PseudoColorizer)
    with pytest.raises(FileNotFoundError, match="To fix"):
        C.make_colorizer("zhang", tmp_path)


def test_colorize_video_round_trips_frame_count_and_size(tmp_path):
    src = make_sample_video(tmp_path / "grey.mp4", seconds=1.0, fps=10, width=48, height=32)
    seen = []
    res = colorize_video(src, C.PseudoColorizer(), tmp_path / "out.mp4", batch_size=3,
                         progress=lambda i, n: seen.append((i, n)))
    info = probe(res["output"])
    assert res["frames"] == 10 and len(list(iter_frames(res["output"]))) == 10
    assert (info.width, info.height) == (48, 32) and res["size"] == (48, 32)
    assert seen[-1] == (10, 10) and [i for i, _ in seen] == [3, 6, 9, 10]


def test_colorize_video_respects_max_seconds_and_keeps_audio(tmp_path):
    import subprocess

    import imageio_ffmpeg

    src = tmp_path / "with_audio.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=size=32x24:rate=10", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "2",
                    "-pix_fmt", "yuv420p", "-c:v", "libx264", "-c:a", "aac", str(src)], check=True)
    res = colorize_video(src, C.PseudoColorizer(), tmp_path / "out.mp4", max_seconds=0.5)
    assert res["frames"] == 5
    assert probe(res["output"]).has_audio


def test_cli_main_runs_on_the_sample(tmp_path):
    res = main(Config(output=str(tmp_path / "o.mp4"), max_seconds=0.5))
    assert Path(res["output"]).is_file() and res["learned"] is False and res["frames"] >= 5


# ---------------------------------------------------------------------------------------------- Zhang et al.
def _pb_key(field: int, wire: int) -> bytes:
    return _pb_varint(field << 3 | wire)


def _pb_varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _pb_bytes(field: int, payload: bytes) -> bytes:
    return _pb_key(field, 2) + _pb_varint(len(payload)) + payload


def _caffe_blob(arr: np.ndarray) -> bytes:
    dims = b"".join(_pb_varint(d) for d in arr.shape)
    shape = _pb_bytes(1, dims)                                  # BlobShape.dim (packed)
    return _pb_bytes(7, shape) + _pb_bytes(5, np.asarray(arr, "<f4").tobytes())


def _caffe_layer(name: str, typ: str, blobs: list[np.ndarray]) -> bytes:
    body = _pb_bytes(1, name.encode()) + _pb_bytes(2, typ.encode())
    body += b"".join(_pb_bytes(7, _caffe_blob(b)) for b in blobs)
    return _pb_bytes(100, body)


def make_tiny_zhang(folder: Path, width: int = 4, bins: int = 11, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """A random colorization_release_v2-shaped model with thin layers (same names/topology, tiny channels)."""
    rng = np.random.default_rng(seed)
    chans = {1: width, 2: 2 * width, 3: 4 * width, 4: 8 * width, 5: 8 * width, 6: 8 * width, 7: 8 * width,
             8: 4 * width}
    blobs, c_in, layers = {}, 1, b""
    for name, kind, *_ in C.ZHANG_LAYERS:
        block = int(name.replace("bw_", "")[4])
        if kind == "bn":
            mean, var = rng.normal(0, 0.1, c_in), rng.uniform(0.5, 1.5, c_in)
            b = [(mean * 2).astype(np.float32), (var * 2).astype(np.float32), np.array([2.0], np.float32)]
            typ = "BatchNorm"
        else:
            c_out = bins if kind == "logits" else chans[block]
            k = 1 if kind == "logits" else (4 if kind == "deconv" else 3)
            shape = (c_in, c_out, k, k) if kind == "deconv" else (c_out, c_in, k, k)
            w = rng.normal(0, (2.0 / (c_in * k * k)) ** 0.5, shape).astype(np.float32)
            b = [w, rng.normal(0, 0.05, c_out).astype(np.float32)]
            typ = "Deconvolution" if kind == "deconv" else "Convolution"
            c_in = c_out
        blobs[name] = b
        layers += _caffe_layer(name, typ, b)
    (folder / "colorization_release_v2.caffemodel").write_bytes(_pb_bytes(1, b"LtoAB") + layers)
    pts = rng.uniform(-90, 90, (bins, 2)).astype(np.float64)
    np.save(folder / "pts_in_hull.npy", pts)
    return blobs


def tiny_zhang_prototxt(width: int = 4, bins: int = 11) -> str:
    """The matching deploy prototxt (what OpenCV 4's readNetFromCaffe needs)."""
    chans = {1: width, 2: 2 * width, 3: 4 * width, 4: 8 * width, 5: 8 * width, 6: 8 * width, 7: 8 * width,
             8: 4 * width}
    lines = ['name: "LtoAB"', 'layer { name: "data_l" type: "Input" top: "data_l" '
             'input_param { shape { dim: 1 dim: 1 dim: 224 dim: 224 } } }']
    bottom = "data_l"
    for name, kind, stride, pad, dil in C.ZHANG_LAYERS:
        block = int(name.replace("bw_", "")[4])
        top = name.replace("bw_", "")
        if kind == "bn":
            lines.append(f'layer {{ name: "{name}" type: "BatchNorm" bottom: "{bottom}" top: "{top}" '
                         f'batch_norm_param {{ }} }}')
        else:
            typ = "Deconvolution" if kind == "deconv" else "Convolution"
            n_out = bins if kind == "logits" else chans[block]
            k = 1 if kind == "logits" else (4 if kind == "deconv" else 3)
            lines.append(f'layer {{ name: "{name}" type: "{typ}" bottom: "{bottom}" top: "{top}" '
                         f'convolution_param {{ num_output: {n_out} kernel_size: {k} stride: {stride} '
                         f'pad: {pad} dilation: {dil} }} }}')
            if kind != "logits":
                lines.append(f'layer {{ name: "relu_{top}" type: "ReLU" bottom: "{top}" top: "{top}" }}')
        bottom = top
    lines.append(f'layer {{ name: "conv8_313_rh" type: "Scale" bottom: "{bottom}" top: "conv8_313_rh" '
                 f'scale_param {{ bias_term: false filler {{ type: "constant" value: 2.606 }} }} }}')
    lines.append('layer { name: "class8_313_rh" type: "Softmax" bottom: "conv8_313_rh" top: "class8_313_rh" }')
    lines.append('layer { name: "class8_ab" type: "Convolution" bottom: "class8_313_rh" top: "class8_ab" '
                 'convolution_param { num_output: 2 kernel_size: 1 bias_term: false } }')
    return "\n".join(lines) + "\n"


def test_read_caffemodel_recovers_every_blob(tmp_path):
    blobs = make_tiny_zhang(tmp_path)
    parsed = C.read_caffemodel(tmp_path / "colorization_release_v2.caffemodel")
    assert set(parsed) == set(blobs)
    for name, arrays in blobs.items():
        for want, got in zip(arrays, parsed[name]):
            np.testing.assert_array_equal(got, want)


def test_protobuf_reader_handles_legacy_and_unpacked_fields():
    legacy = (_pb_key(1, 0) + _pb_varint(2) + _pb_key(2, 0) + _pb_varint(3) + _pb_key(3, 0) + _pb_varint(1)
              + _pb_key(4, 0) + _pb_varint(1))
    legacy += b"".join(_pb_key(5, 5) + struct.pack("<f", v) for v in range(6))   # unpacked floats
    arr = C._parse_blob(memoryview(legacy))
    np.testing.assert_array_equal(arr, np.arange(6, dtype=np.float32).reshape(2, 3, 1, 1))


@pytest.fixture
def one_thread():
    """Small convolutions run much faster single-threaded on a busy 2-core machine."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_zhang_torch_port_forward_matches_a_manual_computation(tmp_path, one_thread):
    import torch

    blobs = make_tiny_zhang(tmp_path)
    pts = np.load(tmp_path / "pts_in_hull.npy").astype(np.float32)
    net = C.build_zhang_net(blobs, pts)
    x = torch.randn(2, 1, 224, 224) * 20
    ab = net(x)
    assert ab.shape == (2, 2, 56, 56)
    # the decode step is an expectation over colour bins: every ab lies inside the bins' bounding box
    assert ab[:, 0].min() >= pts[:, 0].min() - 1e-3 and ab[:, 0].max() <= pts[:, 0].max() + 1e-3
    # first conv + relu by hand equals the first two modules
    w, b = (torch.from_numpy(a) for a in blobs["bw_conv1_1"])
    torch.testing.assert_close(net.body[1](net.body[0](x)), torch.relu(torch.nn.functional.conv2d(x, w, b, padding=1)))
    # caffe BatchNorm: blobs are (mean*s, var*s, s)
    bn = next(m for m in net.body if isinstance(m, torch.nn.BatchNorm2d))
    torch.testing.assert_close(bn.running_mean, torch.from_numpy(blobs["conv1_2norm"][0] / 2))


def test_zhang_colorizer_torch_engine_end_to_end(tmp_path, one_thread):
    make_tiny_zhang(tmp_path)
    col = C.make_colorizer("auto", tmp_path, engine="torch")
    assert isinstance(col, C.ZhangColorizer) and col.learned and col.engine == "torch"
    frames = [np.full((30, 40, 3), v, np.uint8) for v in (40, 200)]
    out = col.colorize(frames)
    assert [o.shape for o in out] == [(30, 40, 3)] * 2 and out[0].dtype == np.uint8
    l_in = C.rgb_to_lab(frames[1])[..., 0].mean()
    assert abs(C.rgb_to_lab(out[1])[..., 0].mean() - l_in) < 12    # brightness comes from the input


@pytest.mark.skipif(not hasattr(__import__("cv2").dnn, "readNetFromCaffe"),
                    reason="OpenCV >= 5 has no Caffe importer; run with opencv-python-headless<5 to compare")
def test_zhang_torch_port_equals_opencv_dnn(tmp_path, one_thread):
    make_tiny_zhang(tmp_path)
    (tmp_path / "colorization_deploy_v2.prototxt").write_text(tiny_zhang_prototxt())
    rng = np.random.default_rng(1)
    l_centered = (rng.uniform(0, 100, (2, 224, 224)) - 50).astype(np.float32)
    ab_cv = C.ZhangColorizer(tmp_path, engine="opencv").predict_ab(l_centered)
    ab_torch = C.ZhangColorizer(tmp_path, engine="torch").predict_ab(l_centered)
    # ab is in Lab units (roughly -110..110); OpenCV's own conv kernels differ by float rounding only
    np.testing.assert_allclose(ab_torch, ab_cv, atol=0.05, rtol=0)


def test_modelscope_colorizer_explains_missing_pieces(tmp_path):
    with pytest.raises(FileNotFoundError):
        C.ModelScopeColorizer(tmp_path)
    (tmp_path / "configuration.json").write_text('{"task": "image-colorization"}')
    if importlib.util.find_spec("modelscope") is None:
        with pytest.raises(ImportError, match="pip install modelscope"):
            C.ModelScopeColorizer(tmp_path)
