"""Instructor tooling: the ``course`` command (student versions, checks, grading, slides, upkeep).

Separate from ``utils/``, which is what the lessons import: nothing here is needed to take
the course, and nothing in ``utils/`` imports from here.

- :mod:`instructor.course`: the command line (it imports the others; nothing imports it),
  student versions, ``course sync``;
- :mod:`instructor.assignment`: the lesson format (markers, cell roles, questions, probes),
  read here for every command;
- :mod:`instructor.repo`: where the lessons are (repository root, lesson files, addresses);
- :mod:`instructor.grading`: trusted grading (verdicts computed outside students' processes);
- :mod:`instructor.sandbox`: running untrusted code confined (bubblewrap and limits);
- :mod:`instructor.runner`: what runs inside the sandbox;
- :mod:`instructor.gradescope`: the Gradescope autograder (``course gradescope``);
- :mod:`instructor.site`: the course website (``course site``);
- :mod:`instructor.slides`: reveal.js lecture decks built from the lessons' stored outputs;
- :mod:`instructor.npm`: reveal.js and KaTeX fetched from the npm registry, pinned and cached.
"""
