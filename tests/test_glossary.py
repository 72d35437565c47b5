import pytest

from lthlib.report.glossary import TERMS, define


def test_define_returns_the_terms_asked_for():
    text = define("matching", "stable")
    assert "**matching**" in text and "**stable**" in text and "winning" not in text.split("**stable**")[0].split("**matching**")[0]
    assert all(t in define() for t in TERMS)


def test_unknown_term_is_named():
    with pytest.raises(KeyError, match="matchng"):
        define("matchng")
