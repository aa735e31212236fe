"""Notebook 08's self-checks accept right answers and name each usual mistake."""

from __future__ import annotations

import pytest
import torch

from course_lib.exercises import ExerciseFeedback
from course_lib.exercises.pretrained import check_mean_pool, check_rms_norm

# ---------------------------------------------------------------- RMSNorm


def rms_norm(x, weight, eps):
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def test_rms_norm_right_answer_passes(capsys) -> None:
    check_rms_norm(rms_norm)
    assert "Correct!" in capsys.readouterr().out


def test_rms_norm_pytorch_answer_passes(capsys) -> None:
    check_rms_norm(lambda x, w, eps: torch.nn.functional.rms_norm(x, (x.shape[-1],), w, eps))
    assert "Correct!" in capsys.readouterr().out


def test_rms_norm_placeholder_is_not_attempted(capsys) -> None:
    def placeholder(x, weight, eps): ...

    check_rms_norm(placeholder)
    assert "Not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (
            lambda x, w, eps: torch.nn.functional.layer_norm(x, (x.shape[-1],), eps=eps) * w,
            "that is LayerNorm",
        ),
        (lambda x, w, eps: x / torch.sqrt(x.pow(2).mean(-1, keepdim=True)) * w, "forgot eps"),
        (lambda x, w, eps: x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps), "forgot the weight"),
        (lambda x, w, eps: x / (x.pow(2).mean(-1, keepdim=True) + eps) * w, "square root is missing"),
        (lambda x, w, eps: x / torch.sqrt(x.pow(2).mean(1, keepdim=True) + eps) * w, "wrong dimension"),
        (
            lambda x, w, eps: x / (torch.sqrt(x.pow(2).mean(-1, keepdim=True)) + eps) * w,
            "after the square root",
        ),
        (lambda x, w, eps: x * w, "differs from"),
        (lambda x, w, eps: (x * w).tolist(), "Return a torch.Tensor"),
        (lambda x, w, eps: rms_norm(x, w, eps)[0], "expected shape"),
    ],
)
def test_rms_norm_each_mistake_gets_specific_feedback(answer, feedback: str) -> None:
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_rms_norm(answer)


# ---------------------------------------------------------------- mean pooling


def mean_pool(hidden, mask):
    weights = mask.unsqueeze(-1).float()
    return (hidden * weights).sum(1) / weights.sum(1)


def test_mean_pool_right_answer_passes(capsys) -> None:
    check_mean_pool(mean_pool)
    assert "Correct!" in capsys.readouterr().out


def test_mean_pool_placeholder_is_not_attempted(capsys) -> None:
    def placeholder(hidden, attention_mask): ...

    check_mean_pool(placeholder)
    assert "Not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (lambda h, m: h.mean(1), "counted the padding"),
        (lambda h, m: (h * m.unsqueeze(-1)).sum(1), "returned the masked sum"),
        (lambda h, m: (h * m.unsqueeze(-1)).sum(1) / h.shape[1], "padded length T"),
        (lambda h, m: h[:, 0], "first token"),
        (lambda h, m: h.mean(-1), "expected shape"),
        (lambda h, m: h.sum(1) / m.sum(1, keepdim=True), "differ from the mean"),
    ],
)
def test_mean_pool_each_mistake_gets_specific_feedback(answer, feedback: str) -> None:
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_mean_pool(answer)
