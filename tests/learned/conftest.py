"""Tiny, randomly initialised models saved in the exact official formats, and a models folder
that points the learned backends at them. Nothing is downloaded.

- SAM: a `segment_anything.modeling.Sam` with tiny encoder dims, saved as a plain state dict with
  the official keys under the ViT-B file name (the loader reads the architecture from the shapes).
- SAM 2: `{"model": state_dict}` of a tiny SAM2Base built from a hydra config (sam2_tiny_test.yaml,
  same classes as sam2.1_hiera_t.yaml), the config saved next to the weights.
- LaMa: a TorchScript module with big-lama.pt's call signature that insists on padded inputs.
A test registry carries the tiny files' sha256, so the real verification path runs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TINY_SAM2_CONFIG = HERE / "sam2_tiny_test.yaml"
LAMA_FILL = (0.25, 0.5, 0.75)  # the tiny LaMa paints holes this colour: proof that it ran


def build_tiny_sam(seed: int = 0):
    import torch
    from engine.backends.learned.sam import build_sam

    torch.manual_seed(seed)
    arch = {"img_size": 256, "patch_size": 16, "embed_dim": 32, "depth": 2, "num_heads": 2, "mlp_ratio": 2.0,
            "global_attn_indexes": [1], "window_size": 4, "prompt_embed_dim": 32, "mask_in_chans": 8,
            "decoder_depth": 1, "decoder_mlp_dim": 32, "num_multimask_outputs": 3, "iou_head_depth": 3,
            "iou_head_hidden_dim": 32}
    return build_sam(arch), arch


def build_tiny_sam2_state():
    import torch
    from hydra import compose, initialize_config_dir, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.utils import instantiate

    import sam2  # noqa: F401  (registers its config module)

    torch.manual_seed(0)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(HERE), version_base="1.2"):
            model = instantiate(compose(config_name=TINY_SAM2_CONFIG.name).model, _recursive_=True)
    finally:
        GlobalHydra.instance().clear()
        initialize_config_module("sam2", version_base="1.2")
    return model.state_dict()


def build_tiny_lama():
    import torch

    class TinyLama(torch.nn.Module):
        """big-lama.pt's signature: (image [1,3,H,W] 0..1, mask [1,1,H,W] 0/1) -> [1,3,H,W] 0..1."""

        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(4, 3, 3, padding=1)
            torch.nn.init.zeros_(self.conv.weight)
            with torch.no_grad():
                self.conv.bias.copy_(torch.logit(torch.tensor(LAMA_FILL)))

        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            if image.shape[2] % 8 != 0 or image.shape[3] % 8 != 0:
                raise RuntimeError("LaMa input must be padded to a multiple of 8")
            fill = torch.sigmoid(self.conv(torch.cat([image * (1 - mask), mask], 1)))
            return image * (1 - mask) + fill * mask

    return torch.jit.script(TinyLama())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict:
    torch = pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("tiny_models")
    registry = json.loads((ROOT / "models" / "registry.json").read_text())
    by_name = {m["name"]: m for m in registry["models"]}

    sam, arch = build_tiny_sam()
    torch.save(sam.state_dict(), folder / by_name["sam_vit_b"]["file"])
    files = {"sam_vit_b": by_name["sam_vit_b"]["file"]}
    try:
        import sam2  # noqa: F401
        sam2_file = folder / by_name["sam2.1_hiera_tiny"]["file"]
        torch.save({"model": build_tiny_sam2_state()}, sam2_file)
        shutil.copy(TINY_SAM2_CONFIG, sam2_file.with_suffix(".yaml"))
        files["sam2.1_hiera_tiny"] = sam2_file.name
    except ImportError:
        pass
    build_tiny_lama().save(str(folder / by_name["big_lama"]["file"]))
    files["big_lama"] = by_name["big_lama"]["file"]

    for name, file in files.items():
        by_name[name]["sha256"] = _sha(folder / file)
        by_name[name]["size"] = (folder / file).stat().st_size
    reg_path = folder.parent / f"{folder.name}_registry.json"
    reg_path.write_text(json.dumps(registry))
    return {"dir": folder, "registry": reg_path, "files": files, "sam_arch": arch}


@pytest.fixture(scope="module")
def learned_env(tiny_models):
    """VTA_MODELS_DIR/VTA_MODELS_REGISTRY pointing at the tiny models, for one test module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VTA_MODELS_DIR", str(tiny_models["dir"]))
        mp.setenv("VTA_MODELS_REGISTRY", str(tiny_models["registry"]))
        mp.setenv("VTA_DEVICE", "cpu")
        for var in ("VTA_SAM_WEIGHTS", "VTA_SAM2_WEIGHTS", "VTA_LAMA_WEIGHTS", "VTA_MODELS_BASE_URL"):
            mp.delenv(var, raising=False)
        yield tiny_models


@pytest.fixture(scope="module")
def clip_video(tmp_path_factory):
    """A short synthetic clip as a PNG sequence, opened through the engine's reader."""
    from engine.evaluation.synthetic import SyntheticClip
    from engine.video_io import open_video

    clip = SyntheticClip(160, 96, 10, seed=3)
    folder = clip.write_frames(tmp_path_factory.mktemp("seq"))
    with open_video(folder) as video:
        yield clip, video
