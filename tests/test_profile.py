"""lthlib.core.profile: exact counts of what training and evaluation do, across processes."""
from __future__ import annotations

import pytest

from lthlib.core import profile
from lthlib.engine.parallel import parallel_map
from lthlib.engine.population import train_population
from lthlib.engine.training import TRAIN_EVAL_SIZE, evaluate, model_for, train


@pytest.fixture
def counting(tmp_path):
    path = tmp_path / "profile" / "counts.jsonl"
    profile.enable(path)
    yield path
    profile.disable()


def examples_per_evaluation(data) -> int:
    return min(TRAIN_EVAL_SIZE, len(data.y_train)) + len(data.y_val) + len(data.y_test)


def test_train_counts_steps_evaluations_and_examples(mnist1d_small, tiny_settings, counting):
    s = tiny_settings  # 40 iterations, evaluated every 10
    train(model_for(s, mnist1d_small), mnist1d_small, s, progress=False)
    train(model_for(s, mnist1d_small), mnist1d_small, s, start_iteration=20, progress=False)
    evaluate(model_for(s, mnist1d_small), mnist1d_small.x_test, mnist1d_small.y_test)
    profile.flush()  # a lone evaluation waits for FLUSH_SECONDS (or the exit) before its line
    p = profile.read(counting)
    evaluations = (40 // 10 + 1) + (20 // 10 + 1)  # a rewound run: from its start to the end
    assert (p["runs"], p["steps"], p["evaluations"]) == (2, 40 + 20, evaluations)
    assert p["passes"] == 3 * evaluations + 1  # train subset, validation, test; + the lone evaluate
    assert p["examples"] == evaluations * examples_per_evaluation(mnist1d_small) + len(mnist1d_small.y_test)
    assert p["train_seconds"] > 0 and p["eval_seconds"] > 0 and p["processes"] == 1
    assert len(counting.read_text().splitlines()) == 3  # one line per outermost call


def test_population_counts_every_member(mnist1d_small, tiny_settings, counting):
    settings = [tiny_settings.replace(seed=i) for i in range(3)]
    models = [model_for(s, mnist1d_small) for s in settings]
    train_population(models, mnist1d_small, settings, start_iterations=[0, 0, 10], progress=False,
                     batched=True)
    p = profile.read(counting)
    evaluations = 5 + 5 + 4  # the member rewound to 10 is evaluated at 10, 20, 30, 40
    assert (p["runs"], p["steps"], p["evaluations"]) == (3, 40 + 40 + 30, evaluations)
    assert p["passes"] == 3 * evaluations
    assert p["examples"] == evaluations * examples_per_evaluation(mnist1d_small)


def _train_and_evaluate(job: tuple[int, str]) -> int:
    """Train and evaluate a little, once the other job has started too: each job blocks until
    both are running, so the two run in two worker processes however fast a job is."""
    import time
    from pathlib import Path

    from lthlib.engine.training import data_for
    from lthlib.settings import TrainSettings

    seed, folder = job
    (Path(folder) / f"started_{seed}").touch()
    deadline = time.monotonic() + 120
    while len(list(Path(folder).glob("started_*"))) < 2:
        assert time.monotonic() < deadline, "the other job never started"
        time.sleep(0.01)

    s = TrainSettings(model="mlp_mnist1d", dataset="mnist1d", iterations=20, eval_every=10,
                      batch_size=32, train_size=600, validation_size=200,
                      model_kwargs={"hidden": (16,)}, seed=seed)
    data = data_for(s, "cpu")
    model = model_for(s, data)
    run = train(model, data, s, progress=False)
    evaluate(model, data.x_test[:100], data.y_test[:100])  # pending until the worker exits
    return len(run.iterations)


def test_worker_processes_add_their_counts(counting, tmp_path):
    assert parallel_map(_train_and_evaluate, [(0, str(tmp_path)), (1, str(tmp_path))], workers=2) == [3, 3]
    p = profile.read(counting)
    assert p["processes"] == 2  # two spawned workers; this process trained nothing
    assert (p["runs"], p["steps"], p["evaluations"], p["passes"]) == (2, 40, 6, 2 * (9 + 1))


def test_off_writes_nothing(mnist1d_small, tiny_settings, tmp_path):
    path = tmp_path / "counts.jsonl"
    profile.enable(path)
    profile.disable()
    s = tiny_settings.replace(iterations=5, eval_every=5)
    train(model_for(s, mnist1d_small), mnist1d_small, s, progress=False)
    assert profile._file is None and not path.exists()
    assert profile.read(path)["runs"] == 0
