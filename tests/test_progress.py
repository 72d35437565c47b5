from lthlib.core.progress import progress_bar, progress_enabled


def test_env_switch(monkeypatch):
    monkeypatch.setenv("LTHLIB_PROGRESS", "0")
    assert progress_enabled() is False
    assert progress_bar(10, "x").disable
    monkeypatch.setenv("LTHLIB_PROGRESS", "1")
    assert progress_enabled() is True
    assert progress_enabled(False) is False


def test_quiet_when_output_is_not_a_terminal(monkeypatch):
    monkeypatch.delenv("LTHLIB_PROGRESS", raising=False)
    assert progress_enabled() is False  # pytest captures stderr: not a TTY, not a notebook
