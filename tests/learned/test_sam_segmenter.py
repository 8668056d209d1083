"""SAM segmenter on a tiny random model saved as an official segment-anything checkpoint: loading,
architecture inference, ONNX export with segment-anything's exporter and its cache, embedding LRU
and prefetch, clicks/box/mask_input decoding, and agreement with the torch model."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("segment_anything")
pytest.importorskip("onnxruntime")

import numpy as np  # noqa: E402
import onnx  # noqa: E402

import models  # noqa: E402
from engine.backends.learned import sam as ss  # noqa: E402
from engine.errors import EngineError  # noqa: E402

OFFICIAL_SHAPES = {  # tensor shapes of the published ViT-B checkpoint that decide the architecture
    "image_encoder.pos_embed": (1, 64, 64, 768),
    "image_encoder.patch_embed.proj.weight": (768, 3, 16, 16),
    "image_encoder.neck.0.weight": (256, 768, 1, 1),
    "image_encoder.blocks.0.mlp.lin1.weight": (3072, 768),
    "prompt_encoder.mask_downscaling.3.weight": (16, 4, 2, 2),
    "mask_decoder.transformer.layers.0.mlp.lin1.weight": (2048, 256),
    "mask_decoder.transformer.layers.1.mlp.lin1.weight": (2048, 256),
    "mask_decoder.mask_tokens.weight": (4, 256),
    "mask_decoder.iou_prediction_head.layers.0.weight": (256, 256),
    "mask_decoder.iou_prediction_head.layers.1.weight": (256, 256),
    "mask_decoder.iou_prediction_head.layers.2.weight": (4, 256),
    **{f"image_encoder.blocks.{i}.attn.rel_pos_h": ((127 if i in (2, 5, 8, 11) else 27), 64) for i in range(12)},
}


def test_architecture_read_from_official_shapes():
    arch = ss.sam_arch_from_shapes(OFFICIAL_SHAPES)
    assert arch["embed_dim"] == 768 and arch["depth"] == 12 and arch["num_heads"] == 12
    assert arch["global_attn_indexes"] == [2, 5, 8, 11] and arch["window_size"] == 14
    assert arch["img_size"] == 1024 and arch["prompt_embed_dim"] == 256 and arch["mask_in_chans"] == 16
    assert ss.official_arch(arch) == "vit_b"  # real files go through sam_model_registry


def test_architecture_of_tiny_checkpoint_round_trips(learned_env):
    path = learned_env["dir"] / learned_env["files"]["sam_vit_b"]
    state = torch.load(path, weights_only=True)
    assert ss.sam_arch_from_shapes({k: tuple(v.shape) for k, v in state.items()}) == learned_env["sam_arch"]
    with pytest.raises(EngineError, match="not a segment-anything checkpoint"):
        ss.sam_arch_from_shapes({"foo": (1,)})


def test_pure_mappings():
    assert ss.resized_shape(1080, 1920, 1024) == (576, 1024)
    pts = ss.points_to_model(np.array([[1920, 1080]]), 1080, 1920, 1024)
    assert np.allclose(pts, [[1024, 576]])
    logits = np.full((64, 64), -5.0, np.float32)
    logits[:8, :16] = 5.0  # top-left corner of the padded model frame
    up = ss.lowres_to_image(logits, 90, 160, 256)
    assert up.shape == (90, 160) and up[5, 5] > 0 and up[80, 150] < 0
    low = ss.mask_to_lowres(up > 0, 256, 64)
    assert low.shape == (64, 64) and low[1, 1] > 0 and low[60, 60] < 0
    img = ss.prepare_image(np.zeros((90, 160, 3), np.uint8), 256)
    assert img.shape == (3, 256, 256) and img[0, 200, 10] == 0 and img[0, 10, 10] < 0


@pytest.fixture(scope="module")
def segmenter(learned_env):
    return ss.SamSegmenter()


def test_loads_exports_and_caches_decoder(learned_env, segmenter):
    onnx_file = segmenter.decoder_file
    assert onnx_file.parent == learned_env["dir"] and onnx_file.is_file()
    sha = models.read_manifest()[learned_env["files"]["sam_vit_b"]]["sha256"]
    assert sha[:16] in onnx_file.name  # keyed by the weights' hash
    graph = onnx.load(str(onnx_file)).graph
    assert [i.name for i in graph.input] == ["image_embeddings", "point_coords", "point_labels", "mask_input",
                                              "has_mask_input", "orig_im_size"]
    assert [o.name for o in graph.output] == ["masks", "iou_predictions", "low_res_masks"]
    again = ss.SamSegmenter()
    assert not again.exported_now  # second load reuses the cached export
    desc = segmenter.describe()
    assert desc["learned"] and desc["weights"] == "sam_vit_b" and desc["decoder_provider"] == "CPUExecutionProvider"


def test_embedding_cache_and_prefetch(segmenter, clip_video):
    _, video = clip_video
    before = segmenter.encoder_runs
    assert segmenter.prefetch(video.read(1), ("clip", 1)) is True
    assert segmenter.prefetch(video.read(1), ("clip", 1)) is False
    segmenter.segment(video.read(1), np.array([[40.0, 30.0]]), np.array([1]), cache_key=("clip", 1))
    segmenter.segment(video.read(1), np.array([[40.0, 30.0], [90, 60]]), np.array([1, 0]), cache_key=("clip", 1))
    assert segmenter.encoder_runs == before + 1  # clicks on a prefetched frame pay only the decoder
    # the same key with a frame of another size is encoded again, not served stale
    assert segmenter.prefetch(video.read(1)[:64, :96].copy(), ("clip", 1)) is True


def test_embedding_cache_is_bounded(learned_env, clip_video):
    _, video = clip_video
    small = ss.SamSegmenter.with_options({"cache_frames": 2})
    for k in range(3):
        small.prefetch(video.read(k), ("clip", k))
    assert small.cache.keys() == [("clip", 1), ("clip", 2)] and small.encoder_runs == 3


def test_segment_outputs_and_mask_input(segmenter, clip_video):
    clip, video = clip_video
    image = video.read(0)
    x, y = clip.click(0)
    first = segmenter.segment(image, np.array([[x, y]], float), np.array([1]), cache_key="f0")
    assert first.mask.shape == image.shape[:2] and first.mask.dtype == bool
    assert 0.0 <= first.confidence <= 1.0
    emb = segmenter.embedding(image, "f0")
    assert emb.logits is not None  # kept for the next click on this frame
    second = segmenter.segment(image, np.array([[x, y], [5, 5]], float), np.array([1, 0]),
                               prev_mask=first.mask, cache_key="f0")
    assert second.mask.shape == image.shape[:2]
    logits, iou, low = segmenter.decode(image, None, None, box=np.array([10, 10, 80, 60]), cache_key="f0")
    assert logits.shape == image.shape[:2] and low.shape == (segmenter.lowres, segmenter.lowres)
    with pytest.raises(EngineError):
        segmenter.decode(image, None, None, cache_key="f0")


def test_onnx_decoder_matches_torch(segmenter, clip_video):
    from segment_anything.utils.onnx import SamOnnxModel

    _, video = clip_video
    image = video.read(2)
    emb = segmenter.embedding(image, "f2")
    pts = np.array([[30.0, 20.0], [100.0, 70.0]])
    _, _, low = segmenter.decode(image, pts, np.array([1, 0]), cache_key="f2")
    coords = np.concatenate([ss.points_to_model(pts, 96, 160, segmenter.img_size), [[0, 0]]])[None]
    ref = SamOnnxModel(segmenter.sam, return_single_mask=True)
    _, _, ref_low = ref(torch.from_numpy(emb.features), torch.tensor(coords, dtype=torch.float),
                        torch.tensor([[1, 0, -1]], dtype=torch.float), torch.zeros(1, 1, *low.shape),
                        torch.tensor([0.0]), torch.tensor([96.0, 160.0]))
    assert np.allclose(ref_low[0, 0].numpy(), low, atol=1e-3)


def test_corrupt_weights_are_refused(learned_env, tmp_path, monkeypatch):
    import json
    import shutil

    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(learned_env["dir"] / learned_env["files"]["sam_vit_b"], folder / learned_env["files"]["sam_vit_b"])
    with open(folder / learned_env["files"]["sam_vit_b"], "ab") as handle:
        handle.write(b"tampered")
    monkeypatch.setenv("VTA_MODELS_DIR", str(folder))
    with pytest.raises(EngineError, match="do not match the registry sha256"):
        ss.SamSegmenter()
    assert "failed the sha256 check" in ss.SamSegmenter.availability()
    assert json.loads((folder / "verified.json").read_text())[learned_env["files"]["sam_vit_b"]]["status"] == "mismatch"


@pytest.mark.gpu
def test_encoder_half_precision_on_cuda(learned_env, clip_video):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    import os

    os.environ["VTA_DEVICE"] = "cuda"
    try:
        seg = ss.SamSegmenter()
        assert seg.dtype in ("float16", "bfloat16")
        assert next(seg.encoder.parameters()).dtype != torch.float32
        _, video = clip_video
        res = seg.segment(video.read(0), np.array([[40.0, 30.0]]), np.array([1]), cache_key="gpu0")
        assert res.mask.shape == (96, 160)
    finally:
        os.environ["VTA_DEVICE"] = "cpu"
