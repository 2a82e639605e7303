"""One module per CLI command; cli.COMMANDS lists them. common.py holds the options
and helpers they share (spec loading, --param parsing, atomic output)."""
