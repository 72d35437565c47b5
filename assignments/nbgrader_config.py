"""nbgrader settings of the lthlib assignments.

``python -m lthlib assignments release|check`` read this file (and set the course folder to a
temporary one). Instructors can also run nbgrader itself from this folder, which is then the
course folder: ``cd assignments && nbgrader generate_assignment a1_magnitude_pruning``
writes ``release/a1_magnitude_pruning/`` (see README.md).
"""
c = get_config()  # noqa: F821 (nbgrader's config loader provides get_config)

c.CourseDirectory.course_id = "lthlib"
# Only the notebooks are released: the paired percent scripts live in scripts/, never in
# source/, and these patterns keep editor and build leftovers out of a release.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "*.py", "feedback", ".*"]
# Seconds a cell may run while autograding. At SCALE="smoke" every cell takes seconds; a
# submission left at SCALE="quick" takes about two minutes in its slowest cell.
c.Execute.timeout = 300
# Once a submission has run, its kernel is stopped at once instead of asked to exit and
# waited for: the outputs are already collected, and a graceful exit (with torch loaded)
# took ~0.9 s of each ~5 s autograde (docs/population.md).
c.Execute.shutdown_kernel = "immediate"
# What students see in place of a solution (nbgrader's default, stated here).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# Feedback (generate_feedback, and formgrader's feedback button): nbgrader's default shows each
# test cell as autograded, hidden tests included, and a failing test's traceback prints its
# lines. HideHiddenTests (lthlib.report.grading) replaces a failing test cell's output by the test's
# own message, drops output lines that quote a hidden test, then removes the hidden tests.
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402

from lthlib.report.grading import HideHiddenTests  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, HideHiddenTests]
