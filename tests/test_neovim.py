"""docs/editors.md's Neovim configuration, as written there, in a real headless Neovim
(Debian 12's 0.7.2 in CI: `.ci/run` installs the `neovim` package, as the README's test
command does): the server starts, publishes a located diagnostic and answers a hover."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT
from .test_lsp import BROKEN  # an E201 at 2:3 (the README's broken.incp)

# After the documented configuration: wait for the diagnostics, ask for a hover on line 3's
# conv, write both to $PROBE_OUT and quit (APIs that exist from Neovim 0.7 on).
PROBE = """
local ok = vim.wait(60000, function() return #vim.diagnostic.get(0) > 0 end, 50)
local lines = { "filetype " .. vim.bo.filetype }
for _, d in ipairs(vim.diagnostic.get(0)) do
  table.insert(lines, string.format("diagnostic %d:%d %s", d.lnum + 1, d.col + 1, tostring(d.code)))
end
local params = { textDocument = { uri = vim.uri_from_bufnr(0) }, position = { line = 2, character = 4 } }
for _, reply in pairs(vim.lsp.buf_request_sync(0, "textDocument/hover", params, 30000) or {}) do
  if reply.result and reply.result.contents then
    table.insert(lines, "hover " .. (reply.result.contents.value or ""):gsub("\\n", " "))
  end
end
vim.fn.writefile(lines, os.getenv("PROBE_OUT"))
vim.cmd("qa!")
"""


def _documented_config() -> str:
    text = (ROOT / "docs" / "editors.md").read_text(encoding="utf-8")
    section = text[text.index("## Neovim"):text.index("## Helix")]
    return re.search(r"```lua\n(.*?)```", section, re.S).group(1)


def test_the_documented_neovim_config_gives_diagnostics_and_hovers(tmp_path):
    nvim = shutil.which("nvim")
    assert nvim is not None, "Neovim is part of the test setup: apt-get install neovim (README, .ci/run)"
    version = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=60).stdout.splitlines()[0]
    (tmp_path / "init.lua").write_text(_documented_config(), encoding="utf-8")
    (tmp_path / "probe.lua").write_text(PROBE, encoding="utf-8")
    (tmp_path / "broken.incp").write_text(BROKEN, encoding="utf-8")
    env = {**os.environ, "PROBE_OUT": str(tmp_path / "out.txt"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_STATE_HOME": str(tmp_path / "state"),
           "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run([nvim, "--headless", "-u", str(tmp_path / "init.lua"), "-c", f"luafile {tmp_path / 'probe.lua'}",
                           "broken.incp"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["filetype incp", "diagnostic 2:3 E201"], (version, lines)
    assert any(line.startswith("hover ") and "384x35x35 → 384x18x18" in line for line in lines), (version, lines)
