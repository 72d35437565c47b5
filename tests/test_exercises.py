import pytest

from lthlib.report.exercises import check


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


def test_numeric_answers_are_checked_by_digest_not_kept_in_plain_text():
    from pathlib import Path

    import lthlib.report.exercises as ex

    answers = {"lenet_prunable_weights": 784 * 300 + 300 * 100 + 100 * 10,
               "hidden_fraction_after_5_rounds": 0.8 ** 5, "output_fraction_after_5_rounds": 0.9 ** 5,
               "hidden_fraction_after_7_rounds_at_40": 0.6 ** 7, "rewind_fraction_100_of_3000": 100 / 3000,
               "chance_iou_two_20_percent_masks": 0.04 / 0.36, "error_barrier_by_hand": 0.25 - 0.11}
    source = Path(ex.__file__).read_text()
    for name, value in answers.items():
        assert check(name, value) is True
        assert check(name, value * (1 + 1e-12)) is True  # float noise is not a wrong answer
        assert check(name, value * 1.001) is False
        assert f"{value:.6g}" not in source and repr(value) not in source  # no answer in plain text
    for name, exercise in ex.EXERCISES.items():  # hints teach: none quotes a right answer
        for value in answers.values():
            assert f"{value:.4g}" not in exercise.hint, (name, value)
    assert ex.answer_digest(0.32768) == ex.answer_digest(0.3276800000001) != ex.answer_digest(0.3277)
