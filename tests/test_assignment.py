"""The lesson format, read in one place (instructor/assignment.py): every role on toy
notebooks, otter-grader's rule for hidden tests with its edge cases, the format errors,
one test that the grader, the student version, the website and the slides agree on every
cell, and the instructor package's import structure (nothing imports the command line)."""

import ast
import re
from pathlib import Path

import nbformat
import pytest

from demo_assignment import SOURCE
from instructor import assignment, course, grading, site, slides
from instructor.assignment import (ANSWER, CONFIG, CONTENT, MARKER, PROBE, PROMPT, PUBLIC_TEST,
                                   SETUP, SOLUTION, FormatError)

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTOR = ROOT / "instructor"
C = nbformat.v4


def notebook(*cells):
    nb = C.new_notebook()
    nb.cells = list(cells)
    return nb


def question(name, *inner, points=1):
    return [C.new_raw_cell(f"# BEGIN QUESTION\nname: {name}\npoints: {points}"), *inner,
            C.new_raw_cell("# END QUESTION")]


def block(kind, *inner):
    return [C.new_raw_cell(f"# BEGIN {kind}"), *inner, C.new_raw_cell(f"# END {kind}")]


# ------------------------------------------------------------------ every role
def every_role():
    """A toy lesson with one cell of each role, and the roles expected, in order."""
    cells = [
        (C.new_markdown_cell("# 00 · Toy lesson"), CONTENT),
        (C.new_code_cell(f"{assignment.SETUP_MARKER}: ...\nSIZE = 'fast'"), SETUP),
        (C.new_raw_cell("# ASSIGNMENT CONFIG\nname: toy"), CONFIG),
        (C.new_raw_cell("# BEGIN QUESTION\nname: q1_f\npoints: 2"), MARKER),
        (C.new_markdown_cell("**Question 1.** Write `f`."), PROMPT),
        (C.new_raw_cell("# BEGIN PROMPT"), MARKER),
        (C.new_code_cell("def f(x):\n    ..."), ANSWER),
        (C.new_raw_cell("# END PROMPT"), MARKER),
        (C.new_raw_cell("# BEGIN SOLUTION"), MARKER),
        (C.new_code_cell("def f(x):\n    return x * 42  # SOLUTION"), SOLUTION),
        (C.new_markdown_cell("Because 42 is the answer."), SOLUTION),
        (C.new_raw_cell("# END SOLUTION"), MARKER),
        (C.new_raw_cell("# BEGIN TESTS"), MARKER),
        (C.new_code_cell("assert f(1) == 42"), PUBLIC_TEST),
        (C.new_code_cell("# HIDDEN\nresult = f(rng.normal())"), PROBE),
        (C.new_raw_cell("# END TESTS"), MARKER),
        (C.new_raw_cell("# END QUESTION"), MARKER),
        (C.new_code_cell("# HIDDEN\nprint('outside a tests block, no probe')"), CONTENT),
        (C.new_raw_cell("a raw cell of the lesson"), CONTENT),
    ]
    return notebook(*(c for c, _ in cells)), [r for _, r in cells]


def test_walk_gives_every_cell_its_role_and_question():
    nb, expected = every_role()
    parts = list(assignment.walk(nb))
    assert [p.role for p in parts] == expected
    assert assignment.roles(nb) == expected
    assert [p.index for p in parts] == list(range(len(nb.cells)))
    inside = [p.question for p in parts[3:17]]
    assert inside == ["q1_f"] * 14
    assert {p.question for p in parts[:3] + parts[17:]} == {None}


def test_the_setup_cell_is_only_the_first_code_cell():
    nb = notebook(C.new_code_cell("x = 1"), C.new_code_cell(f"{assignment.SETUP_MARKER}: ..."))
    assert assignment.roles(nb) == [CONTENT, CONTENT]


def test_markers_are_read_in_any_case_and_spacing_as_otter_reads_them():
    nb = notebook(C.new_raw_cell("#  begin   question\nname: q"), C.new_raw_cell("# Begin Tests"),
                  C.new_code_cell("#hidden\nresult = 1"), C.new_raw_cell("# end tests"),
                  C.new_raw_cell("# END question"))
    assert assignment.roles(nb) == [MARKER, MARKER, PROBE, MARKER, MARKER]
    assert assignment.is_assignment(notebook(C.new_raw_cell("# assignment config\nname: x")))
    assert not assignment.is_assignment(notebook(C.new_markdown_cell("# ASSIGNMENT CONFIG")))


def test_question_config_reads_top_level_name_and_points():
    cell = C.new_raw_cell("# BEGIN QUESTION\nname: q2_mean\npoints: 2.5\nmanual: false")
    assert assignment.question_config(cell) == {"name": "q2_mean", "points": 2.5, "forbid": ()}
    cell = C.new_raw_cell("# BEGIN QUESTION\nname: q3")
    assert assignment.question_config(cell) == {"name": "q3", "points": 1.0, "forbid": ()}


def test_forbid_is_a_list_of_names_that_otter_never_sees():
    """The course's own question key (a stated rule, utils/rules.py): a flow or block YAML
    list of Python names; removed from the copy that otter-grader reads (otter refuses it)."""
    flow = C.new_raw_cell("# BEGIN QUESTION\nname: q3\nforbid: [sklearn, 'GradientTape']\npoints: 2")
    assert assignment.question_config(flow)["forbid"] == ("sklearn", "GradientTape")
    block = C.new_raw_cell("# BEGIN QUESTION\nname: q3\nforbid:\n  - sklearn\n  - grad\npoints: 2")
    assert assignment.question_config(block) == {"name": "q3", "points": 2.0, "forbid": ("sklearn", "grad")}
    for bad in ("forbid: sklearn", "forbid: [sklearn.metrics]", "forbid: []"):
        with pytest.raises(assignment.FormatError, match="forbid"):
            assignment.question_config(C.new_raw_cell(f"# BEGIN QUESTION\nname: q3\n{bad}"))
    nb = notebook(block, C.new_raw_cell("# END QUESTION"))
    assert [c.source for c in assignment.otter_source(nb).cells] == [
        "# BEGIN QUESTION\nname: q3\npoints: 2", "# END QUESTION"]
    assert "forbid" in nb.cells[0].source       # the source itself is left as it is


def test_a_questions_rule_checks_the_names_its_solution_defines():
    qs = assignment.questions_of(nbformat.read(SOURCE, as_version=4))
    assert [(q.name, q.answer, q.forbid) for q in qs] == [
        ("q1_square", ["square"], ()), ("q2_mean", ["mean_of"], ("statistics", "mean", "fmean"))]
    assert qs[0].rule is None and qs[1].rule.answer == ("mean_of",)


# ------------------------------------------------------------- hidden or public
@pytest.mark.parametrize("first, role", [
    ("# HIDDEN", PROBE),
    ("#HIDDEN", PROBE),
    ("# Hidden", PROBE),
    ("# hidden: edge cases", PROBE),      # the issue's case: a probe everywhere now
    ("   # HIDDEN", PROBE),               # indented comment: otter strips it
    ("# an edge case, hidden from students", PROBE),   # otter: the word anywhere in the comment
    ("# HIDDEN_CASES", PUBLIC_TEST),      # no word "hidden"
    ("# not a probe", PUBLIC_TEST),
    ("assert f(3) == 126  # hidden", PUBLIC_TEST),     # not a comment line
])
def test_hidden_is_otters_rule_on_the_first_line(first, role):
    nb = notebook(*question("q", *block("TESTS", C.new_code_cell(f"{first}\nresult = f(3)"))))
    assert assignment.roles(nb)[2] == role


@pytest.mark.parametrize("source", ["\n# HIDDEN\nresult = f(3)", "  \n# hidden\nresult = 1"])
def test_a_blank_line_before_the_hidden_marker_is_refused(source):
    """Otter reads only the very first line: it would show this probe to students."""
    nb = notebook(*question("q", *block("TESTS", C.new_code_cell(source))))
    with pytest.raises(FormatError, match="blank line"):
        list(assignment.walk(nb))


def test_a_public_test_may_start_with_a_blank_line():
    nb = notebook(*question("q", *block("TESTS", C.new_code_cell("\nassert f(1) == 42"))))
    assert assignment.roles(nb)[2] == PUBLIC_TEST


@pytest.mark.parametrize("cells, why", [
    (block("SOLUTION", C.new_code_cell("x = 1")), "outside a question"),
    (question("a", *question("b")), "inside another question"),
    (question("q", *block("TESTS", C.new_markdown_cell("text"))), "not code"),
    (question("q", C.new_raw_cell("# BEGIN TESTS")), "END QUESTION inside an unended TESTS"),
    ([C.new_raw_cell("# BEGIN QUESTION\nname: q")], "ends inside a QUESTION block"),
    (question("q", C.new_raw_cell("# END SOLUTION")), "END SOLUTION without"),
    (question("q", *block("SOLUTION", *block("TESTS"))), "inside a SOLUTION block"),
    ([C.new_raw_cell("# BEGIN QUESTION\npoints: 1"), C.new_raw_cell("# END QUESTION")], "no name"),
    ([C.new_raw_cell("\n# BEGIN QUESTION\nname: q")], "blank line"),
    ([C.new_raw_cell("  # BEGIN QUESTION\nname: q")], "spaces before it"),
    (question("q", *block("TESTS", C.new_code_cell('""" # BEGIN TEST CONFIG\nhidden: true\n'
                                                   '""" # END TEST CONFIG\nassert True'))),
     "test configuration"),
    ([C.new_markdown_cell("```otter\n# BEGIN QUESTION\nname: q\n```")], "fenced"),
    ([C.new_markdown_cell("Text.\n\n```otter\n# END QUESTION\n```")], "fenced"),
])
def test_what_otter_would_refuse_or_read_otherwise_is_refused(cells, why):
    with pytest.raises(FormatError, match=why):
        list(assignment.walk(notebook(*cells)))


def test_probe_parts_split_the_marker_line_and_the_check():
    cell = C.new_code_cell("# hidden: edge cases\nresult = f(0)\n# CHECK\nassert got == want")
    assert assignment.probe_parts(cell) == ("result = f(0)\n", "\nassert got == want")
    assert assignment.probe_parts(C.new_code_cell("# HIDDEN\nresult = 1")) == ("result = 1", None)


# ------------------------------------------------------------ consumers agree
def toy_lesson():
    """Every kind of test cell, each tagged with a line naming it, and solutions of each
    kind. Returns the notebook and the tags of its hidden, public and solution cells."""
    def tagged(tag, first=None, body="assert f(1) == 42"):
        return C.new_code_cell((f"{first}\n" if first else "") + f"{tag} = 1\n{body}")

    hidden = {"h_plain": "# HIDDEN", "h_lower": "# hidden: edge cases", "h_tight": "#HIDDEN",
              "h_title": "# Hidden", "h_indented": "  # HIDDEN"}
    public = {"p_plain": None, "p_comment": "# a public test", "p_suffix": "# HIDDEN_CASES"}
    nb = notebook(
        C.new_markdown_cell("# 00 · Toy"),
        C.new_code_cell(f"{assignment.SETUP_MARKER}: ...\nSIZE = 'fast'"),
        C.new_raw_cell("# ASSIGNMENT CONFIG\nname: toy"),
        *question("q1_f",
                  C.new_markdown_cell("**Question 1.** Write `f`."),
                  *block("SOLUTION",
                         C.new_code_cell("def f(x):\n    # BEGIN SOLUTION\n    s_body = x * 42\n"
                                         "    return s_body\n    # END SOLUTION"),
                         C.new_markdown_cell("s_markdown: the reason why.")),
                  *block("TESTS", *(tagged(t, first=f, body="result = f(rng.normal())")
                                    for t, f in hidden.items()),
                         *(tagged(t, first=f) for t, f in public.items()))),
        C.new_code_cell("lesson_code = f(2)"),
    )
    return nb, set(hidden), set(public), {"s_body", "s_markdown"}


def _tags(text):
    return set(re.findall(r"\b([hps]_\w+)\b", text))


def test_every_consumer_agrees_on_hidden_public_and_solution_cells():
    nb, hidden, public, solution = toy_lesson()
    every_test = hidden | public

    # the grader: probes, public test cells, the reference solution
    (q,) = grading.questions_of(nb)
    assert set().union(*(_tags(p.code) for p in q.probes)) == hidden
    assert set().union(*(_tags(nb.cells[i].source) for i in q.public_cells)) == public
    reference, where = grading.solution_notebook(nb)
    assert _tags("\n".join(c.source for c in reference.cells)) == solution
    with_tests, where = grading.solution_notebook(nb, public_tests=True)
    assert _tags("\n".join(c.source for c in with_tests.cells)) == solution | public
    assert set(where.values()) == {"q1_f"} and len(where) == len(public)

    # the student version: its check cell's public tests, and the leak scan's secrets
    assert set().union(*map(_tags, course.public_tests(nb)["q1_f"])) == public
    secret = course.secret_lines(nb)
    assert _tags("\n".join(secret)) == hidden | solution
    assert not any(line.startswith("#") and "HIDDEN" in line.upper() for line in secret)

    # the website: public tests shown, probes and solutions not, and its scan passes
    page = site.student_page(nb)
    assert _tags("\n".join(c.source for c in page.cells)) == public
    assert course.find_leaks(nb, page) == []

    # the slides: tests are left out, solutions shown as the student sees them
    roles = slides.cell_roles(nb)
    assert _tags("\n".join(c.source for c, r in zip(nb.cells, roles) if r == "test")) == every_test
    assert _tags("\n".join(c.source for c, r in zip(nb.cells, roles) if r == "solution")) == solution
    deck = slides.slide_notebook(nb)
    assert _tags("\n".join(c.source for c in deck.cells)) == set()
    assert roles[1] == "setup" and roles[2] == "raw"


def test_the_issue_case_is_hidden_to_every_consumer():
    """`# hidden: edge cases` was a public test to grading (and so shown in the student's
    check cell) and hidden to the site, the slides and the leak scan (issue 30)."""
    nb = notebook(*question("q", *block("TESTS", C.new_code_cell("assert True"),
                                        C.new_code_cell("# hidden: edge cases\nresult = 1"))))
    (q,) = grading.questions_of(nb)
    assert [p.code for p in q.probes] == ["result = 1"]
    assert course.public_tests(nb) == {"q": ["assert True"]}
    assert "result = 1" in course.secret_lines(nb)
    assert not any("result = 1" in c.source for c in site.student_page(nb).cells)
    assert assignment.roles(nb)[3] == PROBE


# ------------------------------------------------------------ one reader, no cycle
def _modules():
    return sorted(INSTRUCTOR.glob("*.py"))


def _imported_instructor_modules(path: Path) -> set[str]:
    """The instructor modules that ``path`` imports (relative or absolute, anywhere in it)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names
                      if a.name.startswith("instructor.")}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1 and module:
                names.add(module.split(".")[0])
            elif node.level == 1 or module == "instructor":
                names |= {a.name for a in node.names}
            elif module.startswith("instructor."):
                names.add(module.split(".")[1])
    return names


def test_nothing_imports_the_command_line():
    importers = [p.name for p in _modules()
                 if p.stem != "course" and "course" in _imported_instructor_modules(p)]
    assert importers == []
    assert _imported_instructor_modules(INSTRUCTOR / "site.py") >= {"assignment", "repo"}
    assert _imported_instructor_modules(INSTRUCTOR / "course.py") >= {"assignment", "repo", "site",
                                                                      "slides", "grading"}


_MARKERS = ("# BEGIN", "# END", "BEGIN SOLUTION", "BEGIN TESTS", "BEGIN QUESTION", "# HIDDEN",
            "ASSIGNMENT CONFIG", "# SOLUTION", "# CHECK", assignment.SETUP_MARKER.upper(),
            assignment.OTTER_INIT_MARKER.upper(), assignment.CHECK_INIT_MARKER.upper())


def _marker_strings(source: str) -> list[tuple[int, str]]:
    """(line, marker) for each string constant of a module's source, outside docstrings, that
    holds a lesson-format marker in any case and spacing, also spelled as a regular expression
    (``#\\s+begin\\s+tests``)."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                  and ast.get_docstring(node, clean=False) is not None}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = re.sub(r"(\\s[*+?]?|\s)+", " ", node.value).upper()   # regex and real whitespace alike
            text = re.sub(r"# ?", "# ", text)
            found += [(node.lineno, m) for m in _MARKERS if m in text]
    return found


def test_the_marker_scan_sees_markers_in_any_case_spacing_and_regex():
    assert _marker_strings('x = "#  hidden"') == [(1, "# HIDDEN")]
    assert (1, "BEGIN TESTS") in _marker_strings('x = r"#\\s*begin\\s+tests"')
    assert _marker_strings('def f():\n    """# BEGIN QUESTION in a docstring is prose."""') == []


def test_the_lesson_format_is_read_only_in_assignment_py():
    """No marker string (outside docstrings, in any case or spacing) and no first_line of its
    own in any other module: each asks instructor.assignment."""
    found = []
    for path in _modules():
        if path.name == "assignment.py":
            continue
        source = path.read_text()
        found += [(path.name, line, m) for line, m in _marker_strings(source)]
        found += [(path.name, node.lineno, "def first_line") for node in ast.walk(ast.parse(source))
                  if isinstance(node, ast.FunctionDef) and node.name.lstrip("_") == "first_line"]
    assert found == []


def test_old_names_stay_importable():
    assert course.first_line is assignment.first_line
    assert course.find_leaks is assignment.find_leaks and course.public_tests is assignment.public_tests
    assert grading.questions_of is assignment.questions_of
    assert grading.CHECK_MARKER is assignment.CHECK_MARKER
    assert grading.check is grading.check_solutions
    assert site.strip_solution_code is slides.strip_solution_code is assignment.strip_solution_code
    assert slides.SETUP_MARKER == course.SETUP_MARKER == assignment.SETUP_MARKER
    from instructor import npm, repo
    assert slides.VENDORED is npm.VENDORED and slides.fetch_tarball is npm.fetch_tarball
    assert course.lesson_notebooks is repo.lesson_notebooks and course.find_lesson is repo.find_lesson


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
                         + [ROOT / "tests" / "assignment" / "grading_demo.ipynb"],
                         ids=lambda p: p.name)
def test_every_lesson_reads_without_a_format_error(path):
    nb = nbformat.read(path, as_version=4)
    roles = assignment.roles(nb)
    assert roles.count(SETUP) == (0 if path.parent.name == "assignment" else 1)
    if assignment.is_assignment(nb):
        assert PROBE in roles and PUBLIC_TEST in roles and SOLUTION in roles


def test_a_probe_outside_its_tests_block_is_refused_not_shown():
    """Otter shows a `# HIDDEN` cell that is not in a tests block to students: inside a
    question that is a misplaced probe, refused loudly (it used to be hidden by the site and
    counted secret by the leak scan, while otter showed it)."""
    for first in ("# HIDDEN", "# hidden: edge cases", "#Hidden"):
        nb = notebook(*question("q", *block("SOLUTION", C.new_code_cell(f"{first}\nresult = 1"))))
        with pytest.raises(FormatError, match="outside the question's tests block"):
            assignment.roles(nb)
    # a comment that only mentions the word stays the solution's code
    nb = notebook(*question("q", *block("SOLUTION", C.new_code_cell("# hidden layer sizes\nh = 8"))))
    assert assignment.roles(nb)[2] == SOLUTION


def test_the_site_keeps_a_raw_cell_of_a_solution_as_otter_does():
    nb = notebook(*question("q", C.new_markdown_cell("Write f."),
                            *block("SOLUTION", C.new_code_cell("def f():\n    return 1  # SOLUTION"),
                                   C.new_raw_cell("a raw note"),
                                   C.new_markdown_cell("the solution's explanation"))))
    sources = [c.source for c in site.student_page(nb).cells]
    assert "a raw note" in sources
    assert "the solution's explanation" not in sources


def test_the_grader_reads_a_broken_rule_from_the_submitted_cells():
    """grading.rule_breaks: in the grader's process, on the submission's code cells; only
    the question whose rule is broken, with a reason that says what and where."""
    qs = assignment.questions_of(nbformat.read(SOURCE, as_version=4))
    sub = notebook(C.new_code_cell("import statistics as st"),
                   C.new_code_cell("def square(x):\n    return st.fmean([x]) * x"),
                   C.new_code_cell("def mean_of(values):\n    return st.fmean(values)"))
    assert grading.rule_breaks(qs, sub) == {"q2_mean": "uses fmean (cell 2, line 2), "
                                            "which q2_mean forbids (its stated rule: no statistics, mean, fmean)"}
    sub.cells[2].source = "def mean_of(values):\n    '''Not statistics.mean: by hand.'''\n    return sum(values) / len(values)"
    assert grading.rule_breaks(qs, sub) == {}
    reference, _ = assignment.solution_notebook(nbformat.read(SOURCE, as_version=4), public_tests=True)
    assert grading.rule_breaks(qs, reference) == {}


def test_function_sources_reads_the_last_definition_and_names_what_is_missing():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def f(x):\n    return 1\n\nx = 2"),
        nbformat.v4.new_markdown_cell("def f(x): not code"),
        nbformat.v4.new_code_cell("%%time\nnot python"),
        nbformat.v4.new_code_cell("def f(x):\n    return 2\n\n\ndef g():\n    pass")])
    assert assignment.function_sources(nb, ["g", "f"]) == {"g": "def g():\n    pass",
                                                           "f": "def f(x):\n    return 2"}
    with pytest.raises(LookupError, match=r"\['h'\]"):
        assignment.function_sources(nb, ["f", "h"])
