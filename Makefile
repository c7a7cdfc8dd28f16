# mmdet_dynamic — developer entry points. Every target installs what is
# missing first (tools/setup_env.sh is idempotent: seconds when up to date).
#
#   make demo    main job on the bundled raccoon data: Dy-Faster R-CNN joint +
#                router training, threshold calibration, trade-off table/plot
#   make test    the test suite (what CI runs)
#   make test-fast  the suite without the tests marked slow, dist or onnx
#   make venv    only create/update .venv
#   make data    raccoon and BCCD VOC -> COCO json (data/{raccoon,bccd}/coco/)
#   make balloon balloon VIA -> COCO json (data/balloon/), images linked
#   make wheel   build a wheel into dist/
#   make compat  the test suite on the common older stack (Python 3.10,
#                torch 2.1.2, lowest supported mmengine/mmdet) in .venv-compat

SHELL := /bin/bash
PY := .venv/bin/python
BALLOON_SRC ?= ../shared/datasets/balloon
DEMO_CFG := configs/dynamicdet/dy-faster-rcnn_r18_fpn_joint-router_raccoon.py
DEMO_DIR := work_dirs/demo
BENCH_SUMMARY := benchmarks/results/router_benchmark/bccd_dy-faster-rcnn_loss-target/summary.json
PYTEST_ARGS ?=

.PHONY: venv data balloon demo test test-fast wheel compat clean

venv:
	@bash tools/setup_env.sh

data: venv data/raccoon/coco/all.json data/bccd/coco/all.json

# `all` (every image) is what the k-fold router benchmark splits into folds.
data/raccoon/coco/all.json: data/raccoon/data/train_labels.csv data/raccoon/data/test_labels.csv
	$(PY) tools/dataset_converters/voc_to_coco.py data/raccoon \
		--split train=data/train_labels.csv --split test=data/test_labels.csv \
		--split all=data/train_labels.csv+data/test_labels.csv \
		--out-dir data/raccoon/coco

# BCCD has two zero-size boxes (BloodImage_00338, BloodImage_00343): dropped
# and reported.
data/bccd/coco/all.json: $(wildcard data/bccd/ImageSets/Main/*.txt)
	$(PY) tools/dataset_converters/voc_to_coco.py data/bccd \
		--ann-dir Annotations --img-dir JPEGImages --drop-invalid --classes RBC WBC Platelets \
		--split train=ImageSets/Main/train.txt --split val=ImageSets/Main/val.txt \
		--split test=ImageSets/Main/test.txt \
		--split all=ImageSets/Main/trainval.txt+ImageSets/Main/test.txt \
		--out-dir data/bccd/coco

balloon: venv
	@test -d "$(BALLOON_SRC)" || { echo "balloon data not found at $(BALLOON_SRC); set BALLOON_SRC=PATH" >&2; exit 1; }
	@mkdir -p data/balloon/annotations
	@for s in train val; do \
		$(PY) tools/dataset_converters/via_to_coco.py $(BALLOON_SRC)/$$s/via_region_data.json \
			--out-file data/balloon/annotations/$$s.json || exit 1; \
		ln -sfn "$$(cd $(BALLOON_SRC)/$$s && pwd)" data/balloon/$$s; \
	done

demo: venv data
	$(PY) tools/train.py $(DEMO_CFG) --work-dir $(DEMO_DIR)
	$(PY) tools/analysis_tools/router_threshold.py $(DEMO_CFG) \
		"$$(cat $(DEMO_DIR)/last_checkpoint)" --hard-ratio 0.5 --out-dir $(DEMO_DIR)
	$(PY) tools/analysis_tools/dynamic_tradeoff.py $(DEMO_CFG) \
		"$$(cat $(DEMO_DIR)/last_checkpoint)" --out-dir $(DEMO_DIR)/tradeoff
	@echo
	@echo "Above: this demo's own table (40 raccoon test images; read it with its intervals)."
	@echo "Below: the k-fold router benchmark, 364 pooled held-out BCCD images (README, Router benchmark):"
	@echo "there the router and a random split are a tie at every hard ratio, and so is the full cascade against detector 1."
	@$(PY) tools/analysis_tools/show_router_benchmark.py $(BENCH_SUMMARY)

# pytest exits 5 when no test is collected (e.g. PYTEST_ARGS='-k nothing'):
# reported, not treated as a failure.
test: venv
	@set +e; $(PY) -m pytest tests $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no tests were collected"; rc=0; fi; exit $$rc

test-fast: venv
	$(PY) -m pytest tests -m "not slow and not dist and not onnx" $(PYTEST_ARGS)

wheel: venv
	$(PY) -m pip wheel --no-deps --no-build-isolation -w dist .

compat:
	bash tools/compat_check.sh

clean:
	rm -rf build dist *.egg-info work_dirs data/raccoon/coco data/balloon
