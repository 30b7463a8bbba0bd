# The two commands a newcomer needs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: demo test bench lint messages clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP)
	bash scripts/test.sh

bench: $(STAMP)
	bash scripts/system-deps.sh
	bash scripts/with-services.sh $(VENV)/bin/python bench/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

messages: $(STAMP)
	$(VENV)/bin/python manage.py makemessages -l de -l en --ignore=.venv --ignore=var --ignore=pvesim --ignore=tests --ignore=bench --no-obsolete
	$(VENV)/bin/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) var
