"""The front end's caches, each named after what it holds:

* `parser_tables.py`: the LALR parser tables, on disk (a private per-user directory,
  keyed hash verified before unpickling);
* `large_file_parses.py`: clean parses of large files (64 KiB or more), on disk, by the
  SHA-256 of their text, in the parser-table directory under its rules;
* `parsed_files.py`: in one process, parsed files by (path, text hash) (`ParseCache`);
* `programs.py`: in one process, loaded programs by their files' texts (`ProgramCache`,
  `api.PROGRAMS`);
* `block_templates.py`: the nodes of each distinct block call, elaborated once and
  cloned (kept on the `Program`)."""
