"""The classifier under test: preprocessing, device placement and output checks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any
from typing import Literal

import torch

from pytest_visionguard.errors import VisionGuardError

Outputs = Literal["logits", "probabilities"]

# Row sums of probabilities may drift from 1 by float32 rounding; a softmax in
# float32 over 1,000 classes stays within about 1e-5 of 1.
PROBABILITY_SUM_TOLERANCE = 1e-3


class Classifier:
    """A model wrapped with the facts that evaluation needs.

    Args:
        model: a `torch.nn.Module` or any callable from an N×C×H×W float
            tensor to an N×K tensor.
        preprocess: a callable applied to float images in [0, 1] after any
            corruption and before the model, such as a normalisation, because
            corruptions act on raw pixels.
        outputs: `"logits"` (softmax is applied) or `"probabilities"` (rows
            must lie in [0, 1] and sum to 1).
        batch_size: images per forward pass, unless `--visionguard-batch-size`
            sets it for the run.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
        >>> classifier = Classifier(net, batch_size=32)
        >>> classifier.outputs
        'logits'
    """

    def __init__(
        self,
        model: torch.nn.Module | Callable[[torch.Tensor], torch.Tensor],
        *,
        preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
        outputs: Outputs = "logits",
        batch_size: int | None = None,
    ) -> None:
        if isinstance(model, Classifier):
            raise VisionGuardError(
                "the model is already a Classifier; do not wrap it twice"
            )
        if not callable(model):
            raise VisionGuardError(
                f"the model must be a torch.nn.Module or a callable, got "
                f"{type(model).__name__}"
            )
        if preprocess is not None and not callable(preprocess):
            raise VisionGuardError(
                f"preprocess must be callable, got {type(preprocess).__name__}"
            )
        if outputs not in ("logits", "probabilities"):
            raise VisionGuardError(
                f"outputs must be 'logits' or 'probabilities', got {outputs!r}"
            )
        if batch_size is not None and (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, int)
            or batch_size < 1
        ):
            raise VisionGuardError(
                f"batch_size must be a positive integer, got {batch_size!r}"
            )
        self.model = model
        self.preprocess = preprocess
        self.outputs: Outputs = outputs
        self.batch_size = batch_size

    def __repr__(self) -> str:
        return f"Classifier({type(self.model).__name__}, outputs={self.outputs!r})"

    def to(self, device: torch.device) -> Classifier:
        """Move the wrapped module (when it is one) to `device`, in place."""
        if isinstance(self.model, torch.nn.Module):
            self.model.to(device)
        return self

    def input_dtype(self) -> torch.dtype:
        """Return the floating dtype of the module's first parameter, or float32."""
        if isinstance(self.model, torch.nn.Module):
            for parameter in self.model.parameters():
                if parameter.is_floating_point():
                    return parameter.dtype
        return torch.float32

    def predict_probabilities(
        self, images: torch.Tensor, *, first_index: int
    ) -> torch.Tensor:
        """Return the N×K class probabilities for float images in [0, 1].

        Args:
            images: an N×C×H×W floating tensor on the model's device.
            first_index: the evaluation-set index of `images[0]`, for messages.

        Raises:
            VisionGuardError: when the output is not N×K, contains NaN or
                infinity, or is not a probability distribution although
                `outputs="probabilities"`.
        """
        inputs = self.preprocess(images) if self.preprocess is not None else images
        raw = self.model(inputs)
        if not isinstance(raw, torch.Tensor):
            raise VisionGuardError(
                f"the model returned a {type(raw).__name__}; it must return an N×K "
                "tensor of class scores (unwrap dicts or tuples in a small wrapper)"
            )
        if not raw.is_floating_point():
            raise VisionGuardError(
                f"the model returned {raw.dtype} outputs; return floating class "
                "scores (logits or probabilities) per class, not predicted labels"
            )
        scores = raw.detach().to(torch.float64)
        _check_output_shape(scores, len(images))
        _check_finite(scores, first_index, self.outputs)
        if self.outputs == "logits":
            return torch.softmax(scores, dim=1)
        _check_probabilities(scores, first_index)
        return scores


def model_fingerprint(model: Any) -> str:
    """Return a hash of a module's state dict, or of a callable's qualified name."""
    target = model.model if isinstance(model, Classifier) else model
    digest = hashlib.blake2b(digest_size=16)
    if isinstance(target, torch.nn.Module):
        for key, value in sorted(target.state_dict().items()):
            digest.update(key.encode())
            digest.update(str(value.dtype).encode())
            digest.update(str(tuple(value.shape)).encode())
            digest.update(
                value.detach()
                .cpu()
                .contiguous()
                .reshape(-1)
                .view(torch.uint8)
                .numpy()
                .tobytes()
            )
        return digest.hexdigest()
    name = f"{type(target).__module__}.{getattr(target, '__qualname__', type(target).__qualname__)}"
    digest.update(name.encode())
    return digest.hexdigest()


def as_classifier(model: Any) -> Classifier:
    """Return `model` as a Classifier, wrapping a bare module or callable."""
    if isinstance(model, Classifier):
        return model
    if model is None:
        raise VisionGuardError(
            "the visionguard_model fixture returned None; return a torch.nn.Module "
            "or a pytest_visionguard.Classifier"
        )
    return Classifier(model)


def _check_output_shape(scores: torch.Tensor, batch_size: int) -> None:
    if scores.ndim != 2 or scores.shape[0] != batch_size:
        raise VisionGuardError(
            f"the model returned shape {tuple(scores.shape)} for a batch of "
            f"{batch_size} images; it must return N×K class scores"
        )
    if scores.shape[1] < 2:
        raise VisionGuardError(
            f"the model returned {scores.shape[1]} score per image; a classifier "
            "needs K >= 2 classes (for one binary logit z, return "
            "torch.cat([-z, z], dim=1))"
        )


def _check_finite(scores: torch.Tensor, first_index: int, outputs: str) -> None:
    finite = torch.isfinite(scores).all(dim=1)
    if bool(finite.all()):
        return
    row = int(torch.nonzero(~finite)[0, 0])
    raise VisionGuardError(
        f"the model returned NaN or infinite {outputs} for image {first_index + row} "
        f"({scores[row].tolist()[:5]}...); check the weights and the preprocessing "
        "instead of counting these as mistakes"
    )


def _check_probabilities(scores: torch.Tensor, first_index: int) -> None:
    out_of_range = ((scores < 0) | (scores > 1)).any(dim=1)
    sums = scores.sum(dim=1)
    bad = out_of_range | ((sums - 1).abs() > PROBABILITY_SUM_TOLERANCE)
    if not bool(bad.any()):
        return
    row = int(torch.nonzero(bad)[0, 0])
    raise VisionGuardError(
        f"outputs='probabilities' but the row for image {first_index + row} sums to "
        f"{float(sums[row]):.4f} (values in [{float(scores[row].min()):.3f}, "
        f"{float(scores[row].max()):.3f}]); return a softmax, or use "
        "outputs='logits'"
    )
