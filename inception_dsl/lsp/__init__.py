"""The language server (`inception-dsl lsp`): diagnostics, hover with live shapes,
navigation, completion, formatting, code actions and inlay hints for .incp files.

The server holds no knowledge of the language of its own: every answer comes from the
front end (parse, program, elaborate, the IR and its shapes, the lint rules, fmt) and
the layer signatures it exports. One module per feature; `server.py` wires them to the
protocol (pygls). Nothing here imports torch.

    analysis.py     text -> Analysis (program, graphs, diagnostics), parsed files cached by content
    positions.py    offsets <-> LSP positions (UTF-16 by default), spans -> ranges
    syntax_index.py what is under the cursor: statements, calls, labels, definitions
    instances.py    a statement's instances in the checked graphs: input/output shape, params, MACs
    diagnostics.py  front-end diagnostics -> LSP diagnostics (related information, help)
    hover.py, navigation.py, completion.py, actions.py, symbols.py, hints.py
"""
