"""Instructor tooling: the ``course`` command (student versions, checks, grading, slides, upkeep).

Separate from ``utils/``, which is what the lessons import: nothing here is needed to take
the course, and nothing in ``utils/`` imports from here.

- :mod:`instructor.course`: the command line, student versions, ``course sync``;
- :mod:`instructor.grading`: trusted grading (verdicts computed outside students' processes);
- :mod:`instructor.sandbox`: running untrusted code confined (bubblewrap and limits);
- :mod:`instructor.runner`: what runs inside the sandbox;
- :mod:`instructor.site`: the course website (``course site``).
- :mod:`instructor.slides`: reveal.js lecture decks built from the lessons' stored outputs.
"""
