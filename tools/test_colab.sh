#!/usr/bin/env bash
# make test-colab: the course on Colab's versions (constraints-colab.txt), from scratch.
#
#   tools/test_colab.sh VENV PYTHON3.13
#
# 1. A fresh virtual environment with Colab's Python and the versions Colab ships
#    (constraints-colab.txt): the "before" package list.
# 2. The setup cell's own install command (read from the lessons' setup cell; the
#    repository address replaced by this checkout's HEAD, git+file://), timed; then check
#    that it upgraded, downgraded or removed none of the packages that were there.
# 3. The test extra, constrained to the packages already there (so nothing of Colab's
#    changes for the tests either), then the unit tests and lessons 01, 02 and 07 in
#    fast size. Each step's time is printed at the end.
# KERAS_HOME must hold the MNIST files where the machine is offline (.ci/run sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv-colab}
PY=${2:-}
if [ -z "$PY" ] || ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
    echo "make test-colab needs Python 3.13 (Colab's): install it, or run make test-colab PYTHON_COLAB=/path/to/python3.13" >&2
    exit 1
fi
ROOT=$(pwd)
SOURCE="git+file://$ROOT@$(git rev-parse HEAD)"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "test-colab: note: the setup cell's install takes the last commit ($(git rev-parse --short HEAD)); uncommitted changes are not in it."
fi
TIMES=()
now() { date +%s.%N; }
took() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

rm -rf "$VENV"
t=$(now)
"$PY" -m venv "$VENV"
VPY="$VENV/bin/python"
"$VPY" -m pip install --quiet -r constraints-colab.txt
TIMES+=("Colab's packages (constraints-colab.txt) into a fresh venv: $(took "$t") s")
"$VPY" -m pip list --format=freeze > "$VENV/before.txt"
echo "Colab's versions: $(grep -i -E '^(tensorflow|keras|numpy|pandas|scikit-learn|scikit-image|matplotlib|statsmodels|wrapt)==' "$VENV/before.txt" | tr '\n' ' ')"

# The setup cell's arguments, one a line (-q, then the requirement).
mapfile -t ARGS < <(python3 tools/colab_env.py requirement --source "$SOURCE")
echo "Setup cell's install: pip install ${ARGS[*]}"
t=$(now)
"$VPY" -m pip install "${ARGS[@]}"
TIMES+=("the setup cell's install (pip install ${ARGS[*]}): $(took "$t") s")
"$VPY" -m pip list --format=freeze > "$VENV/after-setup-cell.txt"
python3 tools/colab_env.py compare "$VENV/before.txt" "$VENV/after-setup-cell.txt" --label "the setup cell's install"

mapfile -t TEST_EXTRA < <(python3 tools/colab_env.py extra test)
t=$(now)
"$VPY" -m pip install --quiet -c "$VENV/after-setup-cell.txt" "${TEST_EXTRA[@]}"
TIMES+=("the test extra: $(took "$t") s")
"$VPY" -m pip list --format=freeze > "$VENV/after-test-extra.txt"
python3 tools/colab_env.py compare "$VENV/before.txt" "$VENV/after-test-extra.txt" --label "the test extra" > /dev/null \
    || { python3 tools/colab_env.py compare "$VENV/before.txt" "$VENV/after-test-extra.txt" --label "the test extra"; exit 1; }

status=0
t=$(now)
COURSE_SIZE=fast "$VPY" -m pytest tests || status=$?
TIMES+=("unit tests: $(took "$t") s")
t=$(now)
COURSE_SIZE=fast "$VPY" -m pytest notebooks/01_convolution_basics.ipynb notebooks/02_mnist_cnn.ipynb \
    notebooks/07_causal_dilated_conv1d.ipynb || status=$?
TIMES+=("lessons 01, 02, 07 (fast size): $(took "$t") s")
echo "test-colab times:"
printf '  %s\n' "${TIMES[@]}"
exit $status
