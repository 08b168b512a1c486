# Sourced by scripts/test.sh. Placeholder until the accounting work provides the real one.
:
