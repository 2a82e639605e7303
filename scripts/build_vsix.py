"""Build the VS Code extension (editors/vscode/) into a .vsix with the official packager.

The TextMate grammar has one home, editors/incp.tmLanguage.json; it is copied into the
extension's syntaxes/ folder when the extension is staged, never kept twice in git.
The build runs in a temporary copy of editors/vscode (npm's node_modules stay out of the
checkout): `npm install` fetches vscode-languageclient, then `npx @vscode/vsce package`.
Needs node >= 20 and the npm registry. Run from anywhere:

    python scripts/build_vsix.py                 # -> build/inception-dsl-<version>.vsix
    python scripts/build_vsix.py --stage-only    # copy the grammar into editors/vscode/syntaxes
                                                 # (to run the extension from the checkout, F5)
Exit status 0 built, 1 the build failed, 2 node/npx missing (the message says which).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTENSION = ROOT / "editors" / "vscode"
GRAMMAR = ROOT / "editors" / "incp.tmLanguage.json"
VSCE = "@vscode/vsce@3"  # 3.x runs on node 20; 4.x needs node 22


def stage(target: Path) -> Path:
    """Copy the extension's files and the grammar where package.json expects it."""
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    if target != EXTENSION:
        shutil.copytree(EXTENSION, target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("node_modules", "syntaxes", "*.vsix", "package-lock.json"))
    for grammar in manifest["contributes"]["grammars"]:
        destination = target / grammar["path"]
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(GRAMMAR, destination)
    return target


def _run(command: list[str], cwd: Path) -> bool:
    print("$", " ".join(command), flush=True)
    try:
        done = subprocess.run(command, cwd=cwd, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        print(f"build_vsix: {command[0]} failed: {error}", file=sys.stderr)
        return False
    return done.returncode == 0


def build(output_dir: Path) -> int:
    for tool in ("node", "npm", "npx"):
        if shutil.which(tool) is None:
            print(f"build_vsix: `{tool}` is not installed: the .vsix needs node >= 20 and npm", file=sys.stderr)
            return 2
    version = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))["version"]
    output = output_dir.resolve() / f"inception-dsl-{version}.vsix"
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="inception-dsl-vsix-") as tmp:
        staged = stage(Path(tmp) / "extension")
        if not _run(["npm", "install", "--omit=dev", "--no-audit", "--no-fund"], staged):
            return 1
        if not _run(["npx", "--yes", VSCE, "package", "--allow-missing-repository", "--skip-license",
                     "--out", str(output)], staged):
            return 1
    print(f"wrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="Build the VS Code extension (.vsix).")
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="output folder (default build/)")
    parser.add_argument("--stage-only", action="store_true", help="only copy the grammar into editors/vscode/syntaxes")
    args = parser.parse_args()
    if args.stage_only:
        stage(EXTENSION)
        print(f"copied {GRAMMAR.relative_to(ROOT)} into {EXTENSION.relative_to(ROOT)}/syntaxes/")
        return 0
    return build(args.out)


if __name__ == "__main__":
    sys.exit(main())
