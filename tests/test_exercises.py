import pytest

from lthlib.exercises import check


def test_unanswered_right_and_wrong(capsys):
    assert check("lenet_prunable_weights", None) is None
    assert "not answered" in capsys.readouterr().out
    assert check("lenet_prunable_weights", 266_200) is True
    assert check("lenet_prunable_weights", 266_610) is False
    assert "Hint" in capsys.readouterr().out
    assert check("hidden_fraction_after_5_rounds", 0.32768) is True


def test_function_exercise():
    def template(iterations, losses):
        return None

    def solution(iterations, losses):
        return iterations[min(range(len(losses)), key=lambda i: (losses[i], i))]

    def last(iterations, losses):
        return iterations[len(losses) - 1 - min(range(len(losses)), key=lambda i: (losses[::-1][i], i))]

    assert check("early_stopping_iteration", template) is None
    assert check("early_stopping_iteration", solution) is True
    assert check("early_stopping_iteration", last) is False  # ties must take the earliest


def test_strict_and_unknown():
    with pytest.raises(AssertionError):
        check("output_fraction_after_5_rounds", 0.5, strict=True)
    with pytest.raises(KeyError, match="lenet_prunable_weights"):
        check("nope", 1)


def test_pruning_exercise_accepts_a_correct_implementation():
    import torch

    def my_prune(weights, mask, rate):
        alive = mask.flatten().nonzero().flatten()
        n = int(rate * len(alive) + 0.5)
        order = torch.sort(weights.flatten().abs()[alive], stable=True).indices
        out = mask.flatten().clone()
        out[alive[order[:n]]] = False
        return out.reshape(mask.shape)

    def off_by_one(weights, mask, rate):
        out = my_prune(weights, mask, rate).flatten()
        out[out.nonzero()[0]] = False
        return out.reshape(mask.shape)

    assert check("layerwise_magnitude_pruning", lambda w, m, r: None) is None
    assert check("layerwise_magnitude_pruning", my_prune) is True
    assert check("layerwise_magnitude_pruning", off_by_one) is False
