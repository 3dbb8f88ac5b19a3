# The course's commands. On a fresh machine with Python 3.11-3.13:
#   make lab    set up .venv, install the course, open JupyterLab on notebooks/
#   make test   set up the same, run the unit tests and every notebook in fast size
#               (make test-grading: the grading and attack suites)
# Other targets: make setup (only the .venv), make student (student versions into dist/),
# make sync (setup cells and Colab badges from the repository URL), make site (the course
# website into dist/site/), make slides (one reveal.js deck per lesson into dist/slides/,
# from the stored outputs; notebooks/live/ for RISE), make execute NB=notebooks/01_...ipynb
# (run a notebook in place, full size, to commit its outputs), make test-web (the website
# and the slides built and loaded in a browser), make test-packaging (the wheel, installed
# without extras into a fresh venv), make test-lowest (the unit tests and lesson 01 on the
# oldest versions that pyproject.toml declares, in .venv-lowest), make test-colab (Colab's
# versions on Python 3.13, in .venv-colab: the setup cell changes none of them; unit tests,
# lessons 01, 02, 07), make test-online (lessons 03, 04, 05, 08, 09 on their online path in
# the smoke size: random ImageNet weights, generated data in the real formats), make clean.

VENV ?= .venv
# The first Python on PATH that TensorFlow supports (3.11 to 3.13); override with PYTHON=...
PYTHON ?= $(shell for p in python3 python3.12 python3.11 python3.13; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null \
	&& { echo $$p; break; }; done)
PY := $(VENV)/bin/python
STAMP := $(VENV)/.course-installed

.PHONY: setup lab test test-grading test-shortcuts test-online test-packaging test-web test-lowest test-colab student sync site slides execute clean

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "No Python 3.11-3.13 found on PATH (TensorFlow supports those). Install one, or run: make PYTHON=/path/to/python3.12 ..."; exit 1; }
	@echo "Setting up $(VENV) with $$($(PYTHON) --version)"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt -e .
	touch $@

setup: $(STAMP)

# Jupyter refuses to start as root (containers, cloud VMs) without --allow-root.
# LAB_ARGS passes more options, e.g. make lab LAB_ARGS="--no-browser --port=8899".
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ $$(test "$$(id -u)" = 0 && echo --allow-root) $(LAB_ARGS)

# Two pytest workers (pytest-xdist): one runs a notebook while the other runs another notebook
# or the unit tests. --dist loadscope keeps each notebook (and each test module) on one
# worker, in order, as nbval needs. TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2
# The grading suites (sandboxed runs of many submissions) have their own target, make
# test-grading, so that make test's time is the lessons' and the unit tests'.
# The shortcut suite (tests/test_shortcuts.py) is here too: its demo and on-the-cells parts run
# in make test-grading; grading the lessons with shortcuts end to end (01, 02, 03, 04, 06, 07, 09: minutes
# each) only in make test-shortcuts.
GRADING_TESTS := tests/test_grading.py tests/test_attacks.py tests/test_gradescope.py \
	tests/test_shortcuts.py
test: $(STAMP)
	COURSE_SIZE=$${COURSE_SIZE:-fast} $(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope \
		$(foreach t,$(GRADING_TESTS),--ignore=$(t))

# Grading end to end: the demo assignment's submissions, the attack suite, course grade's
# batches (resume, jobs, reports) and the Gradescope autograder in a stand-in /autograder.
test-grading: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope $(GRADING_TESTS)

# The shortcut suite in full: with every lesson that has shortcuts graded by course grade, in fast size
# (one submission each). In one process it took 23 min 31 s on the otherwise idle 2-core CPU (lesson 03
# 656 s, 02 330 s, 06 135 s, 07 103 s, 04 86 s, 09 49 s, 01 15 s, the rest 20 s); .ci/run runs it in
# two workers (--dist load hands each worker the next test; lesson 03 alone is about half the time).
test-shortcuts: $(STAMP)
	COURSE_SHORTCUT_LESSONS=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist load tests/test_shortcuts.py

# The path a student runs online, offline, in the smoke size (CI only; utils/runsize.py):
# keras.applications networks build with random weights, and a fresh temporary KERAS_HOME
# holds the offline copies ($(OFFLINE_DATA), as .ci/run copies them) plus generated files in
# the real formats where the real loaders look (python -m utils.standin --online: CIFAR-10
# for keras.datasets.cifar10, flower_photos for utils.transfer.load_flowers). In the smoke
# size, setup_notebook lets Keras's download check accept the generated CIFAR-10 archive
# (its sha256 cannot be the real one's; utils.standin.accept_generated_files). CIFAR10_DIR is
# unset, so lesson 03 loads through keras.datasets. The numbers mean nothing; a wrong layer
# name, a shape only the big networks produce or a broken online-only line fails.
OFFLINE_DATA ?= ../shared/offline-data
ONLINE_NOTEBOOKS ?= notebooks/03_cifar10.ipynb notebooks/04_transfer_learning.ipynb \
	notebooks/05_interpretability.ipynb notebooks/08_deep_dream.ipynb notebooks/09_style_transfer.ipynb
test-online: $(STAMP)
	tmp="$$(mktemp -d)" && trap 'rm -rf "$$tmp"' EXIT && \
	$(PY) tools/offline_cache.py $(OFFLINE_DATA) --keras-home "$$tmp/keras" && \
	$(PY) -m utils.standin --online "$$tmp/keras" && \
	env -u CIFAR10_DIR KERAS_HOME="$$tmp/keras" COURSE_SIZE=smoke \
		$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope $(ONLINE_NOTEBOOKS)

test-packaging: $(STAMP)
	$(PY) -m pytest tests/packaging

# The website and the lecture slides: built, then every page and slide loaded in headless Chromium.
test-web: $(STAMP)
	$(PY) -m pytest tests/web

# The oldest versions pyproject.toml claims (tools/lowest_constraints.py pins each
# dependency, each extra's and the build's setuptools to its minimum; what those pull in
# resolves as usual). PIP_CONSTRAINT reaches pip's isolated build environment too.
LOWEST ?= .venv-lowest
EXTRAS := instructor,test,site
test-lowest:
	@test -n "$(PYTHON)" || { echo "No Python 3.11-3.13 found on PATH."; exit 1; }
	test -x $(LOWEST)/bin/python || $(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python tools/lowest_constraints.py --all-extras --build-system > $(LOWEST)/constraints.txt
	PIP_CONSTRAINT=$(LOWEST)/constraints.txt $(LOWEST)/bin/python -m pip install --quiet -e ".[$(EXTRAS)]"
	$(LOWEST)/bin/python -m pip list --format=freeze > $(LOWEST)/installed.txt
	$(LOWEST)/bin/python tools/lowest_constraints.py --check $(LOWEST)/installed.txt --all-extras
	COURSE_SIZE=fast $(LOWEST)/bin/python -m pytest tests notebooks/01_convolution_basics.ipynb
	$(LOWEST)/bin/python -m pytest tests/web

# Colab's runtime (constraints-colab.txt, Python 3.13): the setup cell's install onto
# Colab's versions must change none of them; then the unit tests and lessons 01, 02, 07
# in fast size there. A fresh $(COLAB) each time (tools/test_colab.sh prints each step's time).
COLAB ?= .venv-colab
PYTHON_COLAB ?= $(shell for p in python3.13 $(HOME)/.pyenv/versions/3.13*/bin/python3.13; do \
	$$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && { echo $$p; break; }; done)
test-colab:
	bash tools/test_colab.sh $(COLAB) "$(PYTHON_COLAB)"

student: $(STAMP)
	$(VENV)/bin/course student

sync: $(STAMP)
	$(VENV)/bin/course sync

# The course website: README and lessons (stored outputs, no solutions) -> dist/site/.
site: $(STAMP)
	$(VENV)/bin/course site

# Lecture slides from the lessons' stored outputs (reveal.js and KaTeX from npm, pinned,
# copied beside the decks so they work offline), and each lesson with computed slide
# metadata into notebooks/live/, to present live with RISE in `make lab`. Then one PDF
# handout per deck, printed by headless Chromium (without Chromium: a warning, no PDFs;
# PDF_ARGS=--require makes that an error, as CI=true does).
slides: $(STAMP)
	$(VENV)/bin/course slides --live notebooks/live
	$(PY) -m instructor.slides pdf dist/slides $(PDF_ARGS)

execute: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make execute NB=notebooks/NN_name.ipynb [COURSE_SIZE=fast]"; exit 1; }
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=-1 --ExecutePreprocessor.kernel_name=python3 $(NB)

clean:
	rm -rf $(VENV) $(LOWEST) $(COLAB) dist build notebooks/figures notebooks/live
