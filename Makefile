# The course's commands. On a fresh machine with Python 3.11-3.13:
#   make lab    set up .venv, install the course, open JupyterLab on notebooks/
#   make test   set up the same, run the unit tests and every notebook in fast size
# Other targets: make setup (only the .venv), make student (student versions into dist/),
# make sync (setup cells and Colab badges from the repository URL),
# make execute NB=notebooks/01_...ipynb (run a notebook in place, full size, to commit
# its outputs), make clean.

VENV ?= .venv
# The first Python on PATH that TensorFlow supports (3.11 to 3.13); override with PYTHON=...
PYTHON ?= $(shell for p in python3 python3.12 python3.11 python3.13; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null \
	&& { echo $$p; break; }; done)
PY := $(VENV)/bin/python
STAMP := $(VENV)/.course-installed

.PHONY: setup lab test student sync execute clean

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "No Python 3.11-3.13 found on PATH (TensorFlow supports those). Install one, or run: make PYTHON=/path/to/python3.12 ..."; exit 1; }
	@echo "Setting up $(VENV) with $$($(PYTHON) --version)"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt -e .
	touch $@

setup: $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

test: $(STAMP)
	COURSE_SIZE=$${COURSE_SIZE:-fast} $(PY) -m pytest

student: $(STAMP)
	$(VENV)/bin/course student

sync: $(STAMP)
	$(VENV)/bin/course sync

execute: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make execute NB=notebooks/NN_name.ipynb [COURSE_SIZE=fast]"; exit 1; }
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=-1 --ExecutePreprocessor.kernel_name=python3 $(NB)

clean:
	rm -rf $(VENV) dist notebooks/figures
