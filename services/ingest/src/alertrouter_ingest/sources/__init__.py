"""Pure normalisers: each sender's wire format in, AlertEvents out (no I/O, no HTTP)."""
