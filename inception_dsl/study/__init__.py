"""Design studies on elaborated networks: `diff` (two networks compared structurally),
`sweep` (a grid of network parameters, each variant checked in process) and the safe
row-filter expressions they share. No torch here (sweep's `measure` imports it lazily)."""
