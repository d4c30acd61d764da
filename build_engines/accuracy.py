"""Accuracy of a built network against its FP32 ONNX model: error statistics and mask IoU (pure numpy).

Per network: max and mean absolute error of every output over all recorded calls. For the SAM decoder
and the whole pipeline, the masks themselves are compared by IoU (what a viewer sees), since logits can
differ in size yet give the same mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gazesam.contracts import Status


@dataclass(frozen=True)
class ErrorStats:
    """Absolute error of one output over ``count`` elements: max, sum (for the mean) and reference scale."""

    max_abs: float = 0.0
    sum_abs: float = 0.0
    count: int = 0
    max_ref: float = 0.0

    @classmethod
    def of(cls, reference: np.ndarray, candidate: np.ndarray) -> "ErrorStats":
        """Error of ``candidate`` against ``reference``; ValueError when their shapes differ."""
        reference = np.asarray(reference, np.float64)
        candidate = np.asarray(candidate, np.float64)
        if reference.shape != candidate.shape:
            raise ValueError(f"shape {candidate.shape} differs from the reference's {reference.shape}")
        diff = np.abs(candidate - reference)
        return cls(
            max_abs=float(diff.max(initial=0.0)),
            sum_abs=float(diff.sum()),
            count=int(diff.size),
            max_ref=float(np.abs(reference).max(initial=0.0)),
        )

    def merge(self, other: "ErrorStats") -> "ErrorStats":
        return ErrorStats(
            max(self.max_abs, other.max_abs),
            self.sum_abs + other.sum_abs,
            self.count + other.count,
            max(self.max_ref, other.max_ref),
        )

    @property
    def mean_abs(self) -> float:
        return self.sum_abs / self.count if self.count else 0.0


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean (or 0/nonzero) masks of one shape; 1.0 when both are empty."""
    a, b = np.asarray(a) != 0, np.asarray(b) != 0
    if a.shape != b.shape:
        raise ValueError(f"mask shapes differ: {a.shape} vs {b.shape}")
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def logits_mask_iou(reference: np.ndarray, candidate: np.ndarray) -> list[float]:
    """IoU per mask of (N, 1, h, w) decoder logits, each thresholded at 0 as ``gazesam.sam`` does."""
    return [mask_iou(r > 0, c > 0) for r, c in zip(reference, candidate)]


@dataclass
class NetworkAccuracy:
    """One network's comparison over all recorded calls."""

    network: str
    precision: str
    calls: int = 0
    errors: dict[str, ErrorStats] = field(default_factory=dict)  # output name -> stats
    mask_ious: list[float] = field(default_factory=list)  # decoder only

    def add(self, reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray], masks_output: str | None) -> None:
        """Fold one call's outputs in; ``masks_output`` names the logits output to compare as masks."""
        self.calls += 1
        for name, ref in reference.items():
            stats = ErrorStats.of(ref, candidate[name])
            self.errors[name] = self.errors[name].merge(stats) if name in self.errors else stats
        if masks_output is not None:
            self.mask_ious += logits_mask_iou(reference[masks_output], candidate[masks_output])


@dataclass(frozen=True)
class PipelineAgreement:
    """How the pipeline's final answers agree between two runtimes over the same frames."""

    frames: int
    same_status: int
    mask_ious: tuple[float, ...]  # frames where both answered with a mask (OK or HELD)

    @property
    def mean_mask_iou(self) -> float | None:
        return float(np.mean(self.mask_ious)) if self.mask_ious else None


def pipeline_agreement(reference: list[dict[str, np.ndarray]], candidate: list[dict[str, np.ndarray]]) -> PipelineAgreement:
    """Compare per-frame ensemble outputs (``STATUS``, ``MASK``) of a reference run and a candidate run."""
    if len(reference) != len(candidate):
        raise ValueError(f"{len(candidate)} candidate frames for {len(reference)} reference frames")
    with_mask = (Status.OK, Status.HELD)
    same, ious = 0, []
    for ref, cand in zip(reference, candidate):
        ref_status, cand_status = int(ref["STATUS"][0]), int(cand["STATUS"][0])
        same += ref_status == cand_status
        if ref_status in with_mask and cand_status in with_mask:
            ious.append(mask_iou(ref["MASK"], cand["MASK"]))
    return PipelineAgreement(len(reference), same, tuple(ious))


def format_network_rows(results: list[NetworkAccuracy]) -> list[str]:
    """One line per network output: max / mean absolute error (and the reference's scale), mask IoU."""
    lines = [f"{'network':12} {'prec':5} {'output':16} {'calls':>5} {'max|err|':>10} {'mean|err|':>10} {'max|ref|':>10}"]
    for result in results:
        for name, stats in result.errors.items():
            lines.append(
                f"{result.network:12} {result.precision:5} {name:16} {result.calls:5d} "
                f"{stats.max_abs:10.4g} {stats.mean_abs:10.4g} {stats.max_ref:10.4g}"
            )
        if result.mask_ious:
            ious = np.asarray(result.mask_ious)
            lines.append(f"{result.network:12} {'':5} {'mask IoU':16} {len(ious):5d} "
                         f"mean {ious.mean():.4f}  min {ious.min():.4f}")
    return lines


def format_pipeline_row(agreement: PipelineAgreement) -> str:
    iou = agreement.mean_mask_iou
    iou_text = "no frame with a mask in both" if iou is None else f"mean mask IoU {iou:.4f} over {len(agreement.mask_ious)}"
    return f"whole pipeline: same status on {agreement.same_status}/{agreement.frames} frames; {iou_text}"
