# Keyward: `make run` for a live demo, `make test` for the whole suite.
SHELL := /bin/bash
PREFIX ?= /usr/local
CONFDIR ?= /etc/keyward
SWIFT ?= swift
DEBIAN_PACKAGES := libfcgi-dev libfcgi-bin libssl-dev libsqlite3-dev nginx-light apache2 lighttpd wrk spawn-fcgi curl openssl python3 gcc \
	python3-authlib python3-jwt python3-requests python3-cryptography systemd \
	openjdk-17-jdk-headless libtomcat10-embed-java libjakarta-annotation-api-java

.PHONY: all deps build release test lint format unit e2e run stop bench bench-idle bench-lockout bench-pages install clean

all: build

deps:
	@.ci/install-deps $(DEBIAN_PACKAGES)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

unit: build
	$(SWIFT) test

e2e: build
	@set -e; for t in Tests/EndToEnd/[0-9][0-9]-*.sh; do \
		echo "# $$t"; KEYWARD_BIN=$(CURDIR)/.build/debug/keyward $$t; \
	done

# The style of .swift-format; `make format` applies it.
SWIFT_SOURCES := Sources Tests bench/Sources Package.swift

lint:
	$(SWIFT) format lint --strict --recursive $(SWIFT_SOURCES)

format:
	$(SWIFT) format format --in-place --recursive $(SWIFT_SOURCES)

test: lint unit e2e

run: release
	nginx/demo/run.sh $(CURDIR)/.build/release/keyward

stop:
	nginx/demo/run.sh --stop

bench: release
	KEYWARD_BIN=$(CURDIR)/.build/release/keyward bench/run.sh

bench-idle: release
	KEYWARD_BIN=$(CURDIR)/.build/release/keyward bench/idle.sh

bench-lockout: release
	KEYWARD_BIN=$(CURDIR)/.build/release/keyward bench/lockout.sh

bench-pages: release
	.build/release/keyward-pages-bench 1000

install: release
	install -D -m 0755 .build/release/keyward $(DESTDIR)$(PREFIX)/bin/keyward
	install -d $(DESTDIR)$(CONFDIR)/nginx $(DESTDIR)$(CONFDIR)/apache $(DESTDIR)$(CONFDIR)/lighttpd $(DESTDIR)$(CONFDIR)/systemd
	install -m 0644 nginx/*.conf $(DESTDIR)$(CONFDIR)/nginx/
	install -m 0644 apache/*.conf $(DESTDIR)$(CONFDIR)/apache/
	install -m 0644 lighttpd/*.conf $(DESTDIR)$(CONFDIR)/lighttpd/
	install -m 0644 systemd/keyward.service systemd/keyward.socket $(DESTDIR)$(CONFDIR)/systemd/
	[ -e $(DESTDIR)$(CONFDIR)/keyward.conf ] || install -m 0640 systemd/keyward.conf $(DESTDIR)$(CONFDIR)/keyward.conf

clean:
	rm -rf .build .demo bench/.out
