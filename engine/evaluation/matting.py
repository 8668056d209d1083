"""Video-matting scores, as the field reports them (alpha in 0..1 per frame):
MAD and MSE (×10³), Grad (the gradient-magnitude error, ÷10³, Gaussian derivatives of σ 1.4) and
dtSSD (×10², how differently the predicted and the true alpha change from frame to frame: the
boiling an artist sees). Lower is better for all four."""

from __future__ import annotations

import math

import cv2
import numpy as np

GRAD_SIGMA = 1.4


def _gaussian_derivative_kernels(sigma: float = GRAD_SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """x and y first-derivative-of-Gaussian kernels, each scaled to unit L2 norm."""
    half = int(math.ceil(sigma * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi) * sigma * 1e-2))))
    ax = np.arange(-half, half + 1, dtype=np.float64)
    xx, yy = np.meshgrid(ax, ax)
    gauss = np.exp(-(xx ** 2 + yy ** 2) / (2 * sigma ** 2))
    kx = -xx * gauss
    kx /= np.sqrt((kx ** 2).sum())
    return kx.astype(np.float32), kx.T.copy().astype(np.float32)


_KX, _KY = _gaussian_derivative_kernels()


def gradient_magnitude(alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.float32)
    gx = cv2.filter2D(a, -1, _KX, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.filter2D(a, -1, _KY, borderType=cv2.BORDER_REPLICATE)
    return np.sqrt(gx * gx + gy * gy)


def mad(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.abs(pred.astype(np.float64) - true).mean() * 1e3)


def mse(pred: np.ndarray, true: np.ndarray) -> float:
    return float(((pred.astype(np.float64) - true) ** 2).mean() * 1e3)


def grad(pred: np.ndarray, true: np.ndarray) -> float:
    diff = gradient_magnitude(pred).astype(np.float64) - gradient_magnitude(true)
    return float((diff ** 2).sum() / 1e3)


def dtssd(pred: np.ndarray, true: np.ndarray, pred_before: np.ndarray, true_before: np.ndarray) -> float:
    change = (pred.astype(np.float64) - pred_before) - (true.astype(np.float64) - true_before)
    return float(math.sqrt((change ** 2).sum() / change.size) * 1e2)


class MattingScores:
    """Feed frames in order with `add`; `means()` averages each score over the frames (dtSSD over
    the frames that have a previous one)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[float]] = {"MAD": [], "MSE": [], "Grad": [], "dtSSD": []}
        self._before: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, pred: np.ndarray, true: np.ndarray) -> None:
        if pred.shape != true.shape:
            raise ValueError(f"alpha of shape {pred.shape} scored against truth of shape {true.shape}")
        self.rows["MAD"].append(mad(pred, true))
        self.rows["MSE"].append(mse(pred, true))
        self.rows["Grad"].append(grad(pred, true))
        if self._before is not None:
            self.rows["dtSSD"].append(dtssd(pred, true, *self._before))
        self._before = (pred, true)

    def means(self) -> dict[str, float]:
        return {k: float(np.mean(v)) if v else float("nan") for k, v in self.rows.items()}
