"""Every file a tool reads goes through one safe reader (core/files.py; issue 26, rows
4 and 7 and the family): each command-line option and API argument that takes a path to
read is found here from the argparse parsers and the public signatures, so that a new one
cannot be forgotten, and each is fed /dev/zero, a FIFO, a directory and symlinks to them:
each is refused at once with a message, never read, never a hang or a traceback."""

from __future__ import annotations

import argparse
import inspect
import os
import signal
from pathlib import Path

import pytest

import inception_dsl
from inception_dsl.cli import build_parser, main

SPEC = "network n(width = 8) {\n  input 3x8x8\n  conv(width, 1x1)\n  global_avgpool\n  flatten\n  linear(4)\n}\n"

# (command, option) -> the arguments around it; "{spec}" is a good spec, "{path}" the hostile one.
# An option that reads a file is listed here with what exercises it.
READS = {
    ("check", "specs"): ["{path}"],
    ("lint", "specs"): ["{path}"],
    ("fmt", "specs"): ["--check", "{path}"],
    ("diff", "spec_a"): ["{path}", "{spec}"],
    ("diff", "spec_b"): ["{spec}", "{path}"],
    ("render", "--diff"): ["{spec}", "-o", "out.svg", "--diff", "{path}"],
    ("render", "--heat-from"): ["{spec}", "-o", "out.svg", "--heat", "time", "--heat-from", "{path}"],
    ("convert", "--weights"): ["{spec}", "--from", "timm:inception_v4", "-o", "out.pth", "--weights", "{path}"],
    ("sweep", "--grid"): ["{spec}", "--grid", "{path}"],
}
for command in ("check", "compile", "export", "render", "summary", "lint", "convert", "diff", "profile"):
    READS[(command, "--params-file")] = ["{spec}", "--params-file", "{path}"]
for command in ("compile", "export", "render", "summary", "convert", "sweep", "profile"):
    READS[(command, "spec")] = ["{path}"]
EXTRA = {"compile": ["-o", "out.py"], "export": ["--onnx", "out.onnx"], "render": ["-o", "out.svg"],
         "convert": ["--from", "timm:inception_v4", "--weights", "{spec}", "-o", "out.pth"], "sweep": ["-p", "width=4,8"]}

# options that take a path but do not read it: outputs (commands/common.write_output refuses
# to write over an input or through a special file), the import root (a directory, never
# read itself) and the name shown for standard input
NOT_READ = {"--output", "--onnx", "--chart", "--import-root", "--stdin-filename"}
# every other option, by name: none of them takes a path. A new option fails
# test_every_option_is_classified until it is put in READS, NOT_READ or here.
NO_PATH = {
    "--arg", "--batch", "--diff", "--block", "--check", "--color", "--compile", "--debounce", "--debug", "--depth", "--device",
    "--diagnostics", "--diff-network", "--diff-param", "--dtype", "--emit", "--error-on-warning", "--expand",
    "--extend-select", "--format", "--from", "--heat", "--help", "--ignore", "--input", "--measure", "--network",
    "--network-a", "--network-b", "--no-fold", "--no-source-comments", "--opset", "--optimize", "--param",
    "--param-a", "--param-b", "--quiet", "--repeats", "--sample", "--seed", "--select", "--sort", "--stdio",
    "--warmup", "--where", "--partial", "--verify", "--name",
    "source",  # decompile's SOURCE: `timm:NAME` or `package.module:callable`, imported, never read as a file
}


def _options():
    """(command, name, action) for every argument of every command."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for command, sub in commands.items():
        for action in sub._actions:
            yield command, max(action.option_strings, key=len) if action.option_strings else action.dest, action


def test_every_option_is_classified():
    from inception_dsl.commands.limit_options import LIMIT_OPTIONS

    limits = {option for option, _, _ in LIMIT_OPTIONS.values()} - NOT_READ
    unclassified = [(command, name) for command, name, _ in _options()
                    if (command, name) not in READS and name not in NOT_READ | NO_PATH | limits]
    assert not unclassified, f"does it take a path? add each to READS (with arguments), NOT_READ or NO_PATH: {unclassified}"
    known = {(command, name) for command, name, _ in _options()}
    assert set(READS) <= known, set(READS) - known


@pytest.fixture
def hostile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.incp").write_text(SPEC)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    directory = tmp_path / "directory"
    directory.mkdir()
    paths = {"/dev/zero": Path("/dev/zero"), "fifo": fifo, "directory": directory}
    for name, target in list(paths.items()):
        link = tmp_path / f"link-to-{name.strip('/').replace('/', '-')}"
        link.symlink_to(target)
        paths[f"symlink to {name}"] = link

    def expire(*_):
        raise TimeoutError("blocked on a hostile file")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield str(tmp_path / "good.incp"), paths
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("command, option", sorted(READS), ids=lambda v: str(v))
def test_each_path_option_refuses_special_files(hostile, capsys, command, option):
    spec, paths = hostile
    for name, path in paths.items():
        args = [a.format(spec=spec, path=path) for a in READS[(command, option)]]
        if option in ("spec", "--params-file"):
            args += [a.format(spec=spec) for a in EXTRA.get(command, [])]
        code = main([command, *args])
        out, err = capsys.readouterr()
        text = out + err
        assert code in (1, 2), (name, text)
        assert "Traceback" not in text and "internal error" not in text, (name, text)
        if command in ("fmt", "lint") and option == "specs" and "directory" in name:
            assert "no .incp files" in text, text  # fmt and lint walk directories
            continue
        assert "not a regular file" in text, (name, text)


# -- the API ------------------------------------------------------------------------------
def _load(argument: str, listed: bool = False):
    from inception_dsl.runtime.module import load

    return lambda spec, path: load(spec, **{argument: [path] if listed else path})


API_READS = {
    ("analyze", "path"): lambda spec, path: inception_dsl.analyze(path),
    ("analyze", "params"): lambda spec, path: inception_dsl.analyze(spec, params=[path]),
    ("load", "spec"): lambda spec, path: inception_dsl.load(path),
    ("load", "params"): _load("params", listed=True),
    ("load", "weights"): _load("weights"),
    ("load", "pretrained"): _load("pretrained"),
    ("loads", "params"): lambda spec, path: inception_dsl.loads(SPEC, params=[path]),
    ("loads", "weights"): lambda spec, path: inception_dsl.loads(SPEC, weights=path),
    ("loads", "pretrained"): lambda spec, path: inception_dsl.loads(SPEC, pretrained=path),
    ("optimize", "model_or_spec"): lambda spec, path: inception_dsl.optimize(path),
    ("optimize", "params"): lambda spec, path: inception_dsl.optimize(spec, params=[path]),
    ("show", "spec"): lambda spec, path: inception_dsl.show(Path(path)),  # a str that is no file is spec text
    ("sweep", "spec"): lambda spec, path: inception_dsl.sweep(path, width=[4]),
    ("profile", "spec"): lambda spec, path: inception_dsl.profile(path),
    ("diff", "a"): lambda spec, path: inception_dsl.diff(path, spec),
    ("diff", "b"): lambda spec, path: inception_dsl.diff(spec, path),
}


def test_every_api_path_argument_is_exercised():
    found = set()
    for name in inception_dsl.__all__:
        function = getattr(inception_dsl, name)
        if not inspect.isfunction(function):
            continue
        for parameter in inspect.signature(function).parameters.values():
            annotation = str(parameter.annotation)
            if "Path" in annotation or "ParamsArg" in annotation or (name == "diff" and parameter.name in "ab"):
                found.add((name, parameter.name))
    assert found == set(API_READS), (found ^ set(API_READS))


@pytest.mark.parametrize("function, argument", sorted(API_READS), ids=lambda v: str(v))
def test_each_api_path_argument_refuses_special_files(hostile, function, argument):
    spec, paths = hostile
    for name, path in paths.items():
        try:
            result = API_READS[(function, argument)](spec, str(path))
        except Exception as error:  # noqa: BLE001 - CompileError, CheckpointError, ...
            result = error
        text = str(result) + " ".join(d.message for d in getattr(result, "diagnostics", []))
        assert "not a regular file" in text, (name, result)
