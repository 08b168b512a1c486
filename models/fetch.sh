#!/usr/bin/env bash
# Placeholder until the model supply lands.
exit 0
