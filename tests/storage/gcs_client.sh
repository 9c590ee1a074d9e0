#!/usr/bin/env bash
# Runs gcs-client.test.mjs (gcs-server.js driven by Google's official Node
# client) under node:test. Skips (77) without node.
set -euo pipefail
case "${BASH_SOURCE[0]}" in */*) DIR=${BASH_SOURCE[0]%/*} ;; *) DIR=. ;; esac
DIR=$(cd "$DIR" && pwd)
command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed"; exit 77; }
if [ ! -d "$DIR/node_modules/@google-cloud/storage" ]; then
	command -v npm >/dev/null 2>&1 || { echo "SKIP: npm is not installed"; exit 77; }
	npm ci --prefix "$DIR" --no-audit --no-fund >/dev/null
fi
cd "$DIR"
exec node --test gcs-client.test.mjs
